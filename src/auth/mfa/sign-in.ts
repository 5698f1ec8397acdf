/**
 * The second step of a password sign-in. After the right password, a user with a second factor
 * gets 401 MFA_REQUIRED and a challenge instead of a token; `POST /iam/login` with
 * `{"auth_mode":"mfa","challenge","code"}` (a TOTP code or a recovery code) or `"webauthn"` (a
 * passkey assertion) finishes it with the usual token answer.
 *
 * A tenant that requires MFA (setting `mfaRequired`) and a user without a factor yet: the password
 * answers 401 MFA_ENROLMENT_REQUIRED with an enrolment challenge instead. That challenge allows
 * exactly two calls: `POST /iam/login/mfa-enrolment {"challenge"}` (a new authenticator secret) and
 * `POST /iam/login {"auth_mode":"mfa","challenge","code"}` with a code from it, which activates the
 * app and answers the token with the recovery codes. No token exists before the second factor does,
 * so nothing else can be reached with the password alone.
 */
import { AppError } from '../../errors.js';
import { PermissionSet } from '../../identity/permissions.js';
import type { Services } from '../../services.js';
import type { MfaChallengeRow, User } from '../../storage/tables.js';
import { type AuthDeps, passwordSession } from '../login.js';
import { secondFactorKeys } from '../throttle-keys.js';
import type { IssuedToken } from '../tokens/tokens.js';
import { challengeFailed, consumeChallenge, findChallenge } from './challenges.js';
import {
  acceptTotp,
  activateTotp,
  activeFactors,
  assertSecondFactorNotBlocked,
  beginTotp,
  factorsOf,
  invalidCode,
  recordSecondFactorFailure,
  type SecondFactorDeps,
  spendRecoveryCode,
} from './factors.js';
import { looksLikeTotp } from './totp.js';
import { type RelyingParty, verifyPasskeyAssertion } from './webauthn.js';

const challengeInvalid = () =>
  new AppError(
    'MFA_CHALLENGE_INVALID',
    'the sign-in challenge is unknown, used, expired or ended by too many wrong codes: sign in with the password again',
  );

/** The challenge's user, if they may still sign in as when it was made. */
async function challengeUser(svc: Services, row: MfaChallengeRow): Promise<User> {
  const user = await svc.db
    .selectFrom('users')
    .selectAll()
    .where('tenant_id', '=', row.tenant_id)
    .where('id', '=', row.user_id)
    .executeTakeFirst();
  if (user?.status !== 'active' || user.api_user === 1 || user.session_epoch !== row.session_epoch) {
    await consumeChallenge(svc.db, row);
    throw challengeInvalid();
  }
  return user;
}

/** `POST /iam/login/mfa-enrolment`: the authenticator secret of a sign-in the tenant makes enrol. */
/** The live sign-in challenge `value` names (for passkey options). */
export async function signInChallenge(svc: Services, value: string): Promise<MfaChallengeRow> {
  const row = await findChallenge(svc, value, ['sign-in']);
  if (!row) throw challengeInvalid();
  await challengeUser(svc, row);
  return row;
}

export async function beginEnrolment(
  svc: Services,
  challenge: string,
): Promise<{ secret: string; otpauthUrl: string }> {
  const row = await findChallenge(svc, challenge, ['enrol']);
  if (!row) throw challengeInvalid();
  const user = await challengeUser(svc, row);
  return beginTotp(svc, user);
}

export interface MfaSignIn {
  challenge: string;
  code?: string;
  webauthn?: unknown;
}

export type MfaSignInAnswer = IssuedToken & { recoveryCodes?: string[] };

/** `POST /iam/login {"auth_mode":"mfa",…}`: finish a sign-in with its second factor. */
export async function completeMfaSignIn(
  deps: AuthDeps,
  input: MfaSignIn,
  sourceIp: string,
  rp: RelyingParty,
): Promise<MfaSignInAnswer> {
  const { svc } = deps;
  const throttleDeps: SecondFactorDeps = deps;
  if ((input.code === undefined) === (input.webauthn === undefined)) {
    throw new AppError(
      'VALIDATION_FAILED',
      'auth_mode "mfa" needs "challenge" and either "code" or "webauthn"',
    );
  }
  const row = await findChallenge(svc, input.challenge, ['sign-in', 'enrol']);
  if (!row) throw challengeInvalid();
  await assertSecondFactorNotBlocked(throttleDeps, sourceIp, row.user_id);
  const user = await challengeUser(svc, row);
  const actor = {
    tenantId: user.tenant_id,
    type: 'user' as const,
    id: user.id,
    via: 'password' as const,
    permissions: new PermissionSet([]),
    sourceIp,
    requestId: null,
  };
  let recoveryCodes: string[] | undefined;
  let ok: boolean;
  if (row.purpose === 'enrol') {
    if (input.code === undefined || !looksLikeTotp(input.code)) ok = false;
    else {
      // No authenticator set up yet (POST /iam/login/mfa-enrolment first): a wrong code like any other.
      const activated = await activateTotp(svc, actor, user, input.code).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
        throw error;
      });
      ok = activated !== null;
      recoveryCodes = activated?.recoveryCodes;
    }
  } else if (input.webauthn !== undefined) {
    ok = await verifyPasskeyAssertion(svc, rp, row, user, input.webauthn);
  } else {
    const code = input.code as string;
    const factors = activeFactors(await factorsOf(svc.db, user.tenant_id, user.id));
    const totp = factors.find((f) => f.type === 'totp');
    ok = looksLikeTotp(code)
      ? totp !== undefined && (await acceptTotp(svc.db, svc, totp, code))
      : await spendRecoveryCode(svc.db, svc, user.id, code);
  }
  if (!ok) {
    await recordSecondFactorFailure(throttleDeps, sourceIp, user.id);
    await challengeFailed(svc.db, row);
    throw invalidCode();
  }
  if (!(await consumeChallenge(svc.db, row))) throw challengeInvalid();
  await deps.throttle.reset(secondFactorKeys(null, user.id));
  const token = await passwordSession(deps, user);
  return recoveryCodes === undefined ? token : { ...token, recoveryCodes };
}
