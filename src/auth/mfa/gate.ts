/**
 * The gate between a right password and a token (src/auth/login.ts calls it): a user with a second
 * factor gets 401 MFA_REQUIRED and a sign-in challenge; a user the tenant requires to have one and
 * who has none gets 401 MFA_ENROLMENT_REQUIRED and an enrolment challenge (see sign-in.ts).
 */
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { User } from '../../storage/tables.js';
import { createChallenge } from './challenges.js';
import { activeFactors, factorsOf, methodsOf, mfaRequiredFor } from './factors.js';

/**
 * Called once the password is right and the user may sign in: returns when no second factor is
 * needed, otherwise throws MFA_REQUIRED or MFA_ENROLMENT_REQUIRED with a challenge.
 */
export async function requireSecondFactor(svc: Services, user: User): Promise<void> {
  const factors = activeFactors(await factorsOf(svc.db, user.tenant_id, user.id));
  if (factors.length > 0) {
    const methods = await methodsOf(svc.db, user.id, factors);
    const { challenge, expiresAt } = await createChallenge(svc, user, 'sign-in');
    throw new AppError('MFA_REQUIRED', 'the password is right; finish signing in with a second factor', {
      challenge,
      methods,
      expiresAt,
    });
  }
  if (await mfaRequiredFor(svc.db, user.tenant_id, user.id)) {
    const { challenge, expiresAt } = await createChallenge(svc, user, 'enrol');
    throw new AppError(
      'MFA_ENROLMENT_REQUIRED',
      'this tenant requires a second factor: set up an authenticator app (POST /iam/login/mfa-enrolment with the challenge), then sign in with auth_mode "mfa" and a code from it',
      { challenge, methods: ['totp'], expiresAt },
    );
  }
}
