/**
 * MFA challenges: the second step of a password sign-in (`sign-in`), the enrolment a tenant
 * requires before a first sign-in (`enrol`), and passkey registrations under way. The value is
 * random (190 bits) and only its SHA-256 is stored, with the user, their session epoch (a new
 * password ends the challenge) and a short expiry. In the database, so any instance finishes what
 * another started; single-use (deleted by the call that completes it, conditionally, so two
 * instances cannot both complete it); and a run of wrong codes ends it.
 */
import { createHash } from 'node:crypto';
import { randomBase62 } from '../../crypto/random.js';
import type { Services } from '../../services.js';
import type { DbOrTx } from '../../storage/dialect.js';
import type { MfaChallengeRow, MfaChallengeTable } from '../../storage/tables.js';
import { iso } from '../../time.js';

export const CHALLENGE_SECONDS = 300;
/** Wrong codes one challenge survives; the next sign-in starts again from the password. */
export const CHALLENGE_MAX_FAILURES = 5;

export const challengeHash = (value: string): string => createHash('sha256').update(value).digest('hex');

export async function createChallenge(
  svc: Services,
  user: { id: string; tenant_id: string; session_epoch: number },
  purpose: MfaChallengeTable['purpose'],
): Promise<{ challenge: string; expiresAt: string }> {
  const challenge = `mfa_${randomBase62(32)}`;
  const now = svc.clock.now();
  const expiresAt = iso(new Date(now.getTime() + CHALLENGE_SECONDS * 1000));
  // Expired challenges are swept by the sign-ins that make new ones (the table stays small).
  await svc.db.deleteFrom('mfa_challenges').where('expires_at', '<', iso(now)).execute();
  await svc.db
    .insertInto('mfa_challenges')
    .values({
      challenge_hash: challengeHash(challenge),
      tenant_id: user.tenant_id,
      user_id: user.id,
      purpose,
      session_epoch: user.session_epoch,
      webauthn_challenge: null,
      failures: 0,
      expires_at: expiresAt,
    })
    .execute();
  return { challenge, expiresAt };
}

/** The live challenge with this value (undefined when unknown, used, ended or expired). */
export async function findChallenge(
  svc: Services,
  value: string,
  purposes: readonly MfaChallengeTable['purpose'][],
): Promise<MfaChallengeRow | undefined> {
  const row = await svc.db
    .selectFrom('mfa_challenges')
    .selectAll()
    .where('challenge_hash', '=', challengeHash(value))
    .executeTakeFirst();
  if (!row || !purposes.includes(row.purpose)) return undefined;
  if (row.expires_at <= iso(svc.clock.now())) return undefined;
  return row;
}

/** Count a wrong code against the challenge; the last one allowed ends it. */
export async function challengeFailed(db: DbOrTx, row: MfaChallengeRow): Promise<void> {
  if (row.failures + 1 >= CHALLENGE_MAX_FAILURES) {
    await db.deleteFrom('mfa_challenges').where('challenge_hash', '=', row.challenge_hash).execute();
    return;
  }
  await db
    .updateTable('mfa_challenges')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('challenge_hash', '=', row.challenge_hash)
    .execute();
}

/** Use the challenge up: true for the one caller that deleted it. */
export async function consumeChallenge(db: DbOrTx, row: MfaChallengeRow): Promise<boolean> {
  const result = await db
    .deleteFrom('mfa_challenges')
    .where('challenge_hash', '=', row.challenge_hash)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
