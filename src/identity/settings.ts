import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';
import {
  ACCEPTED_SCOPES_MAX,
  KEY_LIFETIME_DAYS,
  REMINDER_LEAD_DAYS,
  SESSION_DURATION_SECONDS,
  TOKEN_LIFETIME_SECONDS,
  USAGE_RETENTION_DAYS,
  USER_KEY_LIMIT,
} from '../limits.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { MfaRequired, TenantSettingsRow } from '../storage/tables.js';
import { iso } from '../time.js';
import {
  checkRules,
  patchRules,
  type Quota,
  type RateLimit,
  rulesFromJson,
  rulesToJson,
} from '../traffic/rules.js';
import { writeTransaction } from './write-transaction.js';

export interface SigningScope {
  region: string;
  service: string;
}

export type LeakedKeyAction = 'disable' | 'read-only';
export type { MfaRequired } from '../storage/tables.js';
export const MFA_REQUIRED_VALUES: readonly MfaRequired[] = ['off', 'administrators', 'everyone'];
export const LEAKED_KEY_ACTIONS: readonly LeakedKeyAction[] = ['disable', 'read-only'];

export interface IamSettings {
  /** Lifetime of a new key when the request names none; null = never expires. */
  defaultKeyLifetimeDays: number | null;
  /** Longest lifetime a key may have; null = no maximum (and "never expires" is allowed). */
  maxKeyLifetimeDays: number | null;
  tokenLifetimeSeconds: number;
  /** How many keys a user who is not an administrator may hold. */
  userKeyLimit: number;
  reminderLeadDays: number;
  /** Signing scopes accepted besides the service's default one. */
  acceptedScopes: SigningScope[];
  allowUnsignedPayload: boolean;
  /** Put the secret itself in key emails instead of a one-time link. */
  emailSecretInline: boolean;
  /** Tenant defaults for every key (each key counted on its own); null: none. See traffic/rules.ts. */
  rateLimit: RateLimit | null;
  quota: Quota | null;
  allowedCidrs: string[] | null;
  /** Days hourly usage rows are kept before the job runner prunes them. */
  usageRetentionDays: number;
  /** What a leak report does to a key (src/leaks): `disable` refuses it, `read-only` lets GET and HEAD through. */
  leakedKeyAction: LeakedKeyAction;
  /** Longest life of temporary credentials (POST /iam/session-credentials), seconds. */
  maxSessionDurationSeconds: number;
  /** Who must sign in with a second factor (src/auth/mfa): nobody, Administrators-group members, everyone. */
  mfaRequired: MfaRequired;
}

export const DEFAULT_SETTINGS: IamSettings = {
  defaultKeyLifetimeDays: 90,
  maxKeyLifetimeDays: null,
  tokenLifetimeSeconds: 3600,
  userKeyLimit: 2,
  reminderLeadDays: 2,
  acceptedScopes: [{ region: 'ap-southeast-1', service: 'execute-api' }],
  allowUnsignedPayload: false,
  emailSecretInline: false,
  rateLimit: null,
  quota: null,
  allowedCidrs: null,
  usageRetentionDays: USAGE_RETENTION_DAYS.default,
  leakedKeyAction: 'disable',
  maxSessionDurationSeconds: SESSION_DURATION_SECONDS.max,
  mfaRequired: 'off',
};

export function settingsFromRow(row: TenantSettingsRow): IamSettings {
  return {
    defaultKeyLifetimeDays: row.default_key_lifetime_days,
    maxKeyLifetimeDays: row.max_key_lifetime_days,
    tokenLifetimeSeconds: row.token_lifetime_seconds,
    userKeyLimit: row.user_key_limit,
    reminderLeadDays: row.reminder_lead_days,
    acceptedScopes: JSON.parse(row.accepted_scopes) as SigningScope[],
    allowUnsignedPayload: row.allow_unsigned_payload === 1,
    emailSecretInline: row.email_secret_inline === 1,
    ...rulesFromJson(row.traffic),
    usageRetentionDays: row.usage_retention_days,
    leakedKeyAction: row.leaked_key_action === 'read-only' ? 'read-only' : 'disable',
    maxSessionDurationSeconds: row.max_session_duration_seconds,
    mfaRequired: row.mfa_required,
  };
}

export function settingsToRow(tenantId: string, s: IamSettings, now: Date): TenantSettingsRow {
  return {
    tenant_id: tenantId,
    default_key_lifetime_days: s.defaultKeyLifetimeDays,
    max_key_lifetime_days: s.maxKeyLifetimeDays,
    token_lifetime_seconds: s.tokenLifetimeSeconds,
    user_key_limit: s.userKeyLimit,
    reminder_lead_days: s.reminderLeadDays,
    accepted_scopes: JSON.stringify(s.acceptedScopes),
    allow_unsigned_payload: s.allowUnsignedPayload ? 1 : 0,
    email_secret_inline: s.emailSecretInline ? 1 : 0,
    traffic: rulesToJson({ rateLimit: s.rateLimit, quota: s.quota, allowedCidrs: s.allowedCidrs }),
    usage_retention_days: s.usageRetentionDays,
    leaked_key_action: s.leakedKeyAction,
    max_session_duration_seconds: s.maxSessionDurationSeconds,
    mfa_required: s.mfaRequired,
    updated_at: iso(now),
  };
}

export async function getSettings(db: DbOrTx, tenantId: string): Promise<IamSettings> {
  const row = await db
    .selectFrom('tenant_settings')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'tenant settings not found');
  return settingsFromRow(row);
}

const SCOPE_PART = /^[a-z0-9-]{1,64}$/;

function intIn(name: string, value: unknown, min: number, max: number, nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AppError(
      'VALIDATION_FAILED',
      `${name} must be a whole number from ${min} to ${max}${nullable ? ', or null' : ''}`,
    );
  }
}

/**
 * Every rule on settings, whoever changes them (HTTP API, CLI): types, ranges, and consistency.
 * The HTTP schema checks the same ranges earlier, for a precise message.
 */
function checkConsistent(s: IamSettings): void {
  const days = KEY_LIFETIME_DAYS;
  intIn('defaultKeyLifetimeDays', s.defaultKeyLifetimeDays, days.min, days.max, true);
  intIn('maxKeyLifetimeDays', s.maxKeyLifetimeDays, days.min, days.max, true);
  const token = TOKEN_LIFETIME_SECONDS;
  intIn('tokenLifetimeSeconds', s.tokenLifetimeSeconds, token.min, token.max, false);
  intIn('userKeyLimit', s.userKeyLimit, USER_KEY_LIMIT.min, USER_KEY_LIMIT.max, false);
  intIn('reminderLeadDays', s.reminderLeadDays, REMINDER_LEAD_DAYS.min, REMINDER_LEAD_DAYS.max, false);
  intIn(
    'usageRetentionDays',
    s.usageRetentionDays,
    USAGE_RETENTION_DAYS.min,
    USAGE_RETENTION_DAYS.max,
    false,
  );
  const session = SESSION_DURATION_SECONDS;
  intIn('maxSessionDurationSeconds', s.maxSessionDurationSeconds, session.min, session.max, false);
  checkRules({ rateLimit: s.rateLimit, quota: s.quota, allowedCidrs: s.allowedCidrs });
  if (!LEAKED_KEY_ACTIONS.includes(s.leakedKeyAction))
    throw new AppError('VALIDATION_FAILED', `leakedKeyAction must be ${LEAKED_KEY_ACTIONS.join(' or ')}`);
  if (!MFA_REQUIRED_VALUES.includes(s.mfaRequired))
    throw new AppError('VALIDATION_FAILED', `mfaRequired must be ${MFA_REQUIRED_VALUES.join(', ')}`);
  for (const flag of ['allowUnsignedPayload', 'emailSecretInline'] as const) {
    if (typeof s[flag] !== 'boolean')
      throw new AppError('VALIDATION_FAILED', `${flag} must be true or false`);
  }
  if (
    !Array.isArray(s.acceptedScopes) ||
    s.acceptedScopes.length > ACCEPTED_SCOPES_MAX ||
    !s.acceptedScopes.every(
      (x) =>
        typeof x === 'object' &&
        x !== null &&
        Object.keys(x).length === 2 &&
        SCOPE_PART.test(String(x.region)) &&
        SCOPE_PART.test(String(x.service)),
    )
  ) {
    throw new AppError(
      'VALIDATION_FAILED',
      `acceptedScopes must be up to ${ACCEPTED_SCOPES_MAX} {"region","service"} pairs of lowercase letters, digits and -`,
    );
  }
  if (s.maxKeyLifetimeDays !== null) {
    if (s.defaultKeyLifetimeDays === null) {
      throw new AppError(
        'VALIDATION_FAILED',
        'defaultKeyLifetimeDays cannot be "never" (null) while maxKeyLifetimeDays is set',
      );
    }
    if (s.defaultKeyLifetimeDays > s.maxKeyLifetimeDays) {
      throw new AppError('VALIDATION_FAILED', 'defaultKeyLifetimeDays cannot exceed maxKeyLifetimeDays');
    }
  }
  const seen = new Set<string>();
  for (const scope of s.acceptedScopes) {
    const id = `${scope.region}/${scope.service}`;
    if (seen.has(id)) throw new AppError('VALIDATION_FAILED', `acceptedScopes lists ${id} twice`);
    seen.add(id);
  }
}

export async function updateSettings(
  svc: Services,
  actor: Actor,
  patch: Partial<IamSettings>,
): Promise<IamSettings> {
  // Cached authentication state holds the tenant's accepted scopes and payload rule.
  return writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const before = await getSettings(trx, actor.tenantId);
    const after: IamSettings = { ...before, ...patch };
    // CIDRs are normalised (and refused when malformed) like a key's.
    Object.assign(after, patchRules(before, patch));
    checkConsistent(after);
    const row = settingsToRow(actor.tenantId, after, svc.clock.now());
    const { tenant_id: _ignored, ...values } = row;
    await trx.updateTable('tenant_settings').set(values).where('tenant_id', '=', actor.tenantId).execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'settings.update',
      { type: 'tenant', id: actor.tenantId },
      before,
      after,
    );
    return after;
  });
}
