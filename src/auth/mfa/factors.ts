/**
 * A user's second factors: the TOTP authenticator, recovery codes, passkeys (their ceremonies are
 * in webauthn.ts), and the rules on changing them. The TOTP secret is sealed under the master key;
 * recovery codes are kept as SHA-256 only. Every change is audited (the audit raises the webhook
 * event); nothing here is cached, so a change is in force on every instance at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { writeAudit } from '../../audit/audit.js';
import type { Actor } from '../../context.js';
import { randomBase32 } from '../../crypto/random.js';
import { AppError, notFound } from '../../errors.js';
import { isAdministrator } from '../../identity/authorization.js';
import { assertMayActAs } from '../../identity/escalation.js';
import { getSettings } from '../../identity/settings.js';
import { findUser } from '../../identity/users.js';
import { writeTransaction } from '../../identity/write-transaction.js';
import type { Services } from '../../services.js';
import type { DbOrTx } from '../../storage/dialect.js';
import type { MfaFactorRow, MfaRequired, User } from '../../storage/tables.js';
import { iso } from '../../time.js';
import type { FailureThrottle } from '../throttle.js';
import { secondFactorKeys, throttledMessage } from '../throttle-keys.js';
import { looksLikeTotp, matchingStep, newTotpSecret, otpauthUrl } from './totp.js';

export const RECOVERY_CODE_COUNT = 10;

/** The associated data a TOTP secret is sealed with: a ciphertext copied to another row does not open. */
export const totpSecretContext = (tenantId: string, userId: string, factorId: string): string =>
  `mfa-totp:${tenantId}:${userId}:${factorId}`;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A recovery code as typed: case, spaces and dashes ignored; Crockford's look-alikes read as digits. */
export function normalizeRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}
export const recoveryCodeHash = (code: string): string => sha256(normalizeRecoveryCode(code));

/** Ten codes of 50 random bits each, shown as `XXXXX-XXXXX`. */
function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const raw = randomBase32(10);
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
}

export async function factorsOf(db: DbOrTx, tenantId: string, userId: string): Promise<MfaFactorRow[]> {
  return db
    .selectFrom('mfa_factors')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export const activeFactors = (rows: readonly MfaFactorRow[]): MfaFactorRow[] =>
  rows.filter((f) => f.status === 'active');

async function recoveryCodesLeft(db: DbOrTx, userId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Does the tenant's `mfaRequired` setting cover this user? */
export async function mfaRequiredFor(db: DbOrTx, tenantId: string, userId: string): Promise<boolean> {
  const required: MfaRequired = (await getSettings(db, tenantId)).mfaRequired;
  if (required === 'everyone') return true;
  if (required === 'administrators') return isAdministrator(db, tenantId, userId);
  return false;
}

export type SecondFactorMethod = 'totp' | 'recovery' | 'webauthn';

/** The ways a user with these factors can finish a sign-in. */
export async function methodsOf(
  db: DbOrTx,
  userId: string,
  factors: readonly MfaFactorRow[],
): Promise<SecondFactorMethod[]> {
  const active = activeFactors(factors);
  const methods: SecondFactorMethod[] = [];
  if (active.some((f) => f.type === 'totp')) methods.push('totp');
  if ((await recoveryCodesLeft(db, userId)) > 0) methods.push('recovery');
  if (active.some((f) => f.type === 'webauthn')) methods.push('webauthn');
  return methods;
}

export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface MfaStatus {
  totp: boolean;
  /** An authenticator app was set up but not yet confirmed with a code. */
  totpPending: boolean;
  recoveryCodesLeft: number;
  passkeys: PasskeyView[];
  /** The tenant requires this user to sign in with a second factor. */
  required: boolean;
}

export async function mfaStatus(db: DbOrTx, tenantId: string, userId: string): Promise<MfaStatus> {
  const factors = await factorsOf(db, tenantId, userId);
  return {
    totp: factors.some((f) => f.type === 'totp' && f.status === 'active'),
    totpPending: factors.some((f) => f.type === 'totp' && f.status === 'pending'),
    recoveryCodesLeft: await recoveryCodesLeft(db, userId),
    passkeys: factors
      .filter((f) => f.type === 'webauthn')
      .map((f) => ({ id: f.id, name: f.name, createdAt: f.created_at, lastUsedAt: f.last_used_at })),
    required: await mfaRequiredFor(db, tenantId, userId),
  };
}

/** What the audit shows of a user's MFA (never a secret). */
async function auditView(db: DbOrTx, tenantId: string, userId: string) {
  const s = await mfaStatus(db, tenantId, userId);
  return { totp: s.totp, passkeys: s.passkeys.length, recoveryCodesLeft: s.recoveryCodesLeft };
}

/** Only a user signed in with a password manages their own second factors. */
export function assertPasswordUser(actor: Actor): void {
  if (actor.type !== 'user' || actor.via !== 'password') {
    throw new AppError(
      'AccessDenied',
      'only a user signed in with a password can manage their own two-factor sign-in',
    );
  }
}

/**
 * Start setting up an authenticator app: a new secret, pending until a code confirms it (a pending
 * one is replaced). Refused while one is active: remove it first (with a current code).
 */
export async function beginTotp(svc: Services, user: User): Promise<{ secret: string; otpauthUrl: string }> {
  const secret = newTotpSecret();
  const id = svc.newId('mfa');
  const sealed = svc.secrets.seal(secret, totpSecretContext(user.tenant_id, user.id, id));
  await svc.db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('mfa_factors')
      .select(['id', 'status'])
      .where('user_id', '=', user.id)
      .where('type', '=', 'totp')
      .execute();
    if (existing.some((f) => f.status === 'active')) {
      throw new AppError(
        'MFA_ALREADY_ACTIVE',
        'an authenticator app is already active: remove it (DELETE /iam/me/mfa/totp with a current code) before setting up another',
      );
    }
    await trx.deleteFrom('mfa_factors').where('user_id', '=', user.id).where('type', '=', 'totp').execute();
    await trx
      .insertInto('mfa_factors')
      .values({
        id,
        tenant_id: user.tenant_id,
        user_id: user.id,
        type: 'totp',
        status: 'pending',
        name: 'Authenticator app',
        secret_ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        last_used_step: null,
        credential_id: null,
        public_key: null,
        sign_count: null,
        transports: null,
        created_at: iso(svc.clock.now()),
        last_used_at: null,
      })
      .execute();
  });
  return { secret, otpauthUrl: otpauthUrl(secret, user.email) };
}

function openTotp(svc: Services, factor: MfaFactorRow): string {
  return svc.secrets.open(
    { ciphertext: factor.secret_ciphertext as string, masterKeyVersion: factor.master_key_version as number },
    totpSecretContext(factor.tenant_id, factor.user_id, factor.id),
  );
}

/**
 * Accept a TOTP code for `factor` once: the matched time step must be later than the last one
 * accepted, and is recorded with a conditional update, so two instances given the same code at the
 * same moment accept it once between them.
 */
export async function acceptTotp(
  db: DbOrTx,
  svc: Services,
  factor: MfaFactorRow,
  code: string,
): Promise<boolean> {
  const now = svc.clock.now();
  const step = matchingStep(openTotp(svc, factor), code, now.getTime());
  if (step === null) return false;
  const result = await db
    .updateTable('mfa_factors')
    .set({ last_used_step: step, last_used_at: iso(now) })
    .where('id', '=', factor.id)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Spend one of the user's recovery codes (compared in constant time over all the unused ones). */
export async function spendRecoveryCode(
  db: DbOrTx,
  svc: Services,
  userId: string,
  code: string,
): Promise<boolean> {
  const wanted = Buffer.from(recoveryCodeHash(code), 'hex');
  const rows = await db
    .selectFrom('mfa_recovery_codes')
    .select('code_hash')
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .execute();
  let match: string | undefined;
  for (const row of rows) {
    if (timingSafeEqual(Buffer.from(row.code_hash, 'hex'), wanted)) match = row.code_hash;
  }
  if (match === undefined) return false;
  const result = await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: iso(svc.clock.now()) })
    .where('code_hash', '=', match)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Replace the user's recovery codes; the new ones are returned, this once. */
export async function replaceRecoveryCodes(
  db: DbOrTx,
  svc: Services,
  user: { tenant_id: string; id: string },
): Promise<string[]> {
  const codes = newRecoveryCodes();
  const now = iso(svc.clock.now());
  await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', user.id).execute();
  await db
    .insertInto('mfa_recovery_codes')
    .values(
      codes.map((c) => ({
        code_hash: recoveryCodeHash(c),
        tenant_id: user.tenant_id,
        user_id: user.id,
        created_at: now,
        used_at: null,
      })),
    )
    .execute();
  return codes;
}

/**
 * Confirm the pending authenticator app with a first code: it becomes active, and the user gets
 * new recovery codes. Used by POST /iam/me/mfa/totp/verify and by a sign-in that enrols.
 */
export async function activateTotp(
  svc: Services,
  actor: Actor,
  user: User,
  code: string,
): Promise<{ recoveryCodes: string[] } | null> {
  return writeTransaction(svc, {}, async (trx) => {
    const factor = await trx
      .selectFrom('mfa_factors')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('type', '=', 'totp')
      .executeTakeFirst();
    if (!factor) throw notFound('authenticator app set-up (POST /iam/me/mfa/totp first)');
    if (factor.status === 'active') {
      throw new AppError('MFA_ALREADY_ACTIVE', 'the authenticator app is already active');
    }
    const before = await auditView(trx, user.tenant_id, user.id);
    if (!(await acceptTotp(trx, svc, factor, code))) return null;
    await trx.updateTable('mfa_factors').set({ status: 'active' }).where('id', '=', factor.id).execute();
    const recoveryCodes = await replaceRecoveryCodes(trx, svc, user);
    const after = await auditView(trx, user.tenant_id, user.id);
    await writeAudit(trx, svc.clock, actor, 'user.mfa_enable', { type: 'user', id: user.id }, before, after);
    return { recoveryCodes };
  });
}

export interface SecondFactorDeps {
  svc: Services;
  throttle: FailureThrottle;
}

/** Refuse (429) while the user's or the address's second-factor counter is blocked. */
export async function assertSecondFactorNotBlocked(
  deps: SecondFactorDeps,
  ip: string | null,
  userId: string,
): Promise<void> {
  const block = await deps.throttle.blocked(secondFactorKeys(ip, userId), deps.svc.clock.now().getTime());
  if (block === undefined) return;
  throw new AppError(
    'TOO_MANY_REQUESTS',
    throttledMessage(block, ip ?? 'unknown', 'sign-ins').replace('for this email', 'for this user'),
    {
      failures: block.failures,
      retryAfterSeconds: block.retryAfterSeconds,
    },
  );
}

export async function recordSecondFactorFailure(
  deps: SecondFactorDeps,
  ip: string | null,
  userId: string,
): Promise<void> {
  await deps.throttle.recordFailure(secondFactorKeys(ip, userId), deps.svc.clock.now().getTime());
}

export const invalidCode = (): AppError =>
  new AppError('MFA_CODE_INVALID', 'the code is wrong, was already used, or has expired');

/**
 * A signed-in user confirming an MFA change with a current code: a TOTP code of the active
 * authenticator app, or an unused recovery code (spent). Wrong codes count toward throttling.
 */
export async function checkCurrentCode(deps: SecondFactorDeps, actor: Actor, code: string): Promise<void> {
  const { svc } = deps;
  await assertSecondFactorNotBlocked(deps, actor.sourceIp, actor.id);
  const factors = activeFactors(await factorsOf(svc.db, actor.tenantId, actor.id));
  const totp = factors.find((f) => f.type === 'totp');
  const ok = looksLikeTotp(code)
    ? totp !== undefined && (await acceptTotp(svc.db, svc, totp, code))
    : factors.length > 0 && (await spendRecoveryCode(svc.db, svc, actor.id, code));
  if (!ok) {
    await recordSecondFactorFailure(deps, actor.sourceIp, actor.id);
    throw invalidCode();
  }
  await deps.throttle.reset(secondFactorKeys(null, actor.id));
}

/** Remove the user's authenticator app (and, when no passkey is left, the recovery codes). */
export async function removeTotp(deps: SecondFactorDeps, actor: Actor, code: string): Promise<void> {
  const { svc } = deps;
  const factors = await factorsOf(svc.db, actor.tenantId, actor.id);
  if (!factors.some((f) => f.type === 'totp' && f.status === 'active'))
    throw notFound('active authenticator app');
  await checkCurrentCode(deps, actor, code);
  await writeTransaction(svc, {}, async (trx) => {
    const before = await auditView(trx, actor.tenantId, actor.id);
    await trx.deleteFrom('mfa_factors').where('user_id', '=', actor.id).where('type', '=', 'totp').execute();
    await dropRecoveryCodesWithoutFactors(trx, actor.id);
    const after = await auditView(trx, actor.tenantId, actor.id);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'user.mfa_disable',
      { type: 'user', id: actor.id },
      before,
      after,
    );
  });
}

/** Recovery codes recover a second factor: with none left, they go too. */
export async function dropRecoveryCodesWithoutFactors(db: DbOrTx, userId: string): Promise<void> {
  const left = await db
    .selectFrom('mfa_factors')
    .select('id')
    .where('user_id', '=', userId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (!left) await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
}

/** New recovery codes (the old ones stop working), confirmed with a current code. */
export async function regenerateRecoveryCodes(
  deps: SecondFactorDeps,
  actor: Actor,
  code: string,
): Promise<{ recoveryCodes: string[] }> {
  const { svc } = deps;
  const factors = activeFactors(await factorsOf(svc.db, actor.tenantId, actor.id));
  if (factors.length === 0) {
    throw new AppError(
      'MFA_NOT_ENABLED',
      'recovery codes need a second factor: set up an authenticator app or a passkey first',
    );
  }
  await checkCurrentCode(deps, actor, code);
  return writeTransaction(svc, {}, async (trx) => {
    const user = await findUser(trx, actor.tenantId, actor.id);
    const before = await auditView(trx, actor.tenantId, actor.id);
    const recoveryCodes = await replaceRecoveryCodes(trx, svc, user);
    const after = await auditView(trx, actor.tenantId, actor.id);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'user.mfa_recovery_codes',
      { type: 'user', id: actor.id },
      before,
      after,
    );
    return { recoveryCodes };
  });
}

/**
 * An administrator (or the operator CLI) removes every second factor of a user who lost theirs.
 * Like setting their password, it lets the caller's side sign in as the user with the password
 * alone, so the caller must hold everything the user holds (403 PRIVILEGE_ESCALATION otherwise).
 */
export async function resetMfa(svc: Services, actor: Actor, userId: string): Promise<void> {
  await writeTransaction(svc, {}, async (trx) => {
    await findUser(trx, actor.tenantId, userId);
    await assertMayActAs(
      trx,
      actor,
      { type: 'user', id: userId },
      'resetting the two-factor sign-in of this user',
    );
    const before = await auditView(trx, actor.tenantId, userId);
    await trx.deleteFrom('mfa_factors').where('user_id', '=', userId).execute();
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    await trx.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
    const after = await auditView(trx, actor.tenantId, userId);
    await writeAudit(trx, svc.clock, actor, 'user.mfa_reset', { type: 'user', id: userId }, before, after);
  });
}
