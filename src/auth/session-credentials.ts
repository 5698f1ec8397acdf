/**
 * Temporary SigV4 credentials (`POST /iam/session-credentials`), like those AWS STS hands out: an
 * `LKSA…` access key ID, a secret and a session token that clients send as `X-Amz-Security-Token`.
 *
 * They are issued from a password session, a key token or a signed request, and follow that source
 * on every request: credentials from a key end when the key is deleted, disabled or expires, or its
 * owner is disabled, or the secret they were issued under is replaced; credentials from a password
 * session end with the user's session epoch (a new password) or when the user is disabled. They
 * never do more than their source may do now (narrowed further by the `permissions` asked for),
 * and they share the source key's rate limits and quotas. An explicit revocation ends them too.
 *
 * The request path reads the credentials' record from a cache (KeyAuthority: dropped on every
 * instance when they are revoked) and their source from the caches signed requests and tokens
 * already use, so all of the above is in force everywhere within the change feed's delay.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import {
  generateSecretAccessKey,
  generateSessionAccessKeyId,
  isSessionKeyIdShape,
  isWellFormedSessionKeyId,
} from '../crypto/access-key-id.js';
import { randomBase62 } from '../crypto/random.js';
import { AppError } from '../errors.js';
import { tenantApiPermissions } from '../identity/api-permissions.js';
import { IntersectionSet, PermissionSet, unknownPatterns } from '../identity/permissions.js';
import { getSettings } from '../identity/settings.js';
import { writeTransaction } from '../identity/write-transaction.js';
import type { UsableSecret } from '../keys/secrets.js';
import { SESSION_DURATION_SECONDS } from '../limits.js';
import type { Services } from '../services.js';
import type { AccessKey, SessionCredential } from '../storage/tables.js';
import { iso } from '../time.js';
import { compilePolicy } from '../traffic/policy.js';
import { rulesFromJson } from '../traffic/rules.js';
import type { KeyAuthority, KeyEntry, PrincipalState } from './key-authority.js';
import { currentSecrets, keyUnusable } from './key-authority.js';
import type { TokenClaims } from './tokens/tokens.js';

/** The sealed secret's context: a ciphertext moved to another row does not open. */
export const sessionSecretContext = (tenantId: string, id: string) => `session-secret:${tenantId}:${id}`;

export const SESSION_TOKEN_PREFIX = 'lkst_';
const SESSION_TOKEN_SHAPE = /^lkst_[0-9A-Za-z]{64}$/;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** What the request path keeps of one set of temporary credentials (KeyAuthority caches it). */
export interface SessionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly principal: { readonly type: AccessKey['owner_type']; readonly id: string };
  readonly source: SessionCredential['source'];
  readonly sourceKeyId: string | null;
  readonly sourceSecretVersion: number | null;
  readonly sessionEpoch: number | null;
  /** The key token's narrowing and the requested one, when there were any. */
  readonly narrowing: readonly PermissionSet[];
  readonly secret: UsableSecret;
  readonly tokenSha256: Buffer;
  readonly expiresAt: Date;
  readonly revoked: boolean;
  /** Password sessions: the user's name, email and own traffic rules (a key source has its own). */
  readonly owner: { readonly name: string; readonly email: string | null; readonly traffic: string | null };
  readonly createdAt: string;
}

/** Read one set of credentials with what the request path needs; undefined when unknown. */
export async function loadSessionRecord(svc: Services, id: string): Promise<SessionRecord | undefined> {
  const row = await svc.db
    .selectFrom('session_credentials')
    .leftJoin('users', (j) =>
      j
        .onRef('users.id', '=', 'session_credentials.principal_id')
        .on('session_credentials.principal_type', '=', 'user'),
    )
    .leftJoin('service_accounts', (j) =>
      j
        .onRef('service_accounts.id', '=', 'session_credentials.principal_id')
        .on('session_credentials.principal_type', '=', 'service_account'),
    )
    .select([
      'session_credentials.id',
      'session_credentials.tenant_id',
      'session_credentials.principal_type',
      'session_credentials.principal_id',
      'session_credentials.source',
      'session_credentials.source_key_id',
      'session_credentials.source_secret_version',
      'session_credentials.source_permissions',
      'session_credentials.session_epoch',
      'session_credentials.permissions',
      'session_credentials.secret_ciphertext',
      'session_credentials.master_key_version',
      'session_credentials.token_sha256',
      'session_credentials.expires_at',
      'session_credentials.revoked_at',
      'session_credentials.created_at',
    ])
    .select((eb) => [
      eb.fn.coalesce('users.name', 'service_accounts.name').as('owner_name'),
      eb.fn.coalesce('users.email', 'service_accounts.email').as('owner_email'),
      eb.fn.coalesce('users.traffic', 'service_accounts.traffic').as('owner_traffic'),
    ])
    .where('session_credentials.id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  let secret: string;
  try {
    secret = svc.secrets.open(
      { ciphertext: row.secret_ciphertext, masterKeyVersion: row.master_key_version },
      sessionSecretContext(row.tenant_id, row.id),
    );
  } catch (error) {
    svc.logger.error({ accessKeyId: row.id, err: error }, 'temporary credentials could not be decrypted');
    return undefined;
  }
  const expiresAt = new Date(row.expires_at);
  const narrowing: PermissionSet[] = [];
  for (const json of [row.source_permissions, row.permissions]) {
    if (json !== null) narrowing.push(new PermissionSet(JSON.parse(json) as string[]));
  }
  return {
    id: row.id,
    tenantId: row.tenant_id,
    principal: { type: row.principal_type, id: row.principal_id },
    source: row.source,
    sourceKeyId: row.source_key_id,
    sourceSecretVersion: row.source_secret_version,
    sessionEpoch: row.session_epoch,
    narrowing,
    // Version 1: the credentials have one secret for life (signing keys are cached per ID and
    // version). Their expiry is the entry's `expiresAt` (answered ExpiredToken), not the secret's.
    secret: { secret, version: 1, notAfterMs: Number.POSITIVE_INFINITY },
    tokenSha256: Buffer.from(row.token_sha256, 'hex'),
    expiresAt,
    revoked: row.revoked_at !== null,
    owner: { name: row.owner_name ?? '', email: row.owner_email ?? null, traffic: row.owner_traffic ?? null },
    createdAt: row.created_at,
  };
}

/** Does the request's X-Amz-Security-Token belong to these credentials? Constant time. */
export function sessionTokenMatches(record: SessionRecord, token: string | undefined): boolean {
  if (token === undefined) return false;
  return timingSafeEqual(sha256(token), record.tokenSha256);
}

/** Why a source no longer backs its credentials (said only to a request whose signature verified). */
export type SessionEnded = { ended: string };

/**
 * The credentials as a KeyEntry the signed-request path can check like a key's: their own ID,
 * secret and expiry (never past the source key's), what the source may do now narrowed by the
 * request, and the source key's traffic rules (its rate-limit buckets are shared, not doubled).
 * Made once per (record, source state) pair and reused while both stay cached, so a warm request
 * allocates nothing here.
 */
const composed = new WeakMap<SessionRecord, { source: object; settings: object; entry: KeyEntry }>();

export function sessionEntry(
  keys: KeyAuthority,
  record: SessionRecord,
  nowMs: number,
): KeyEntry | SessionEnded | Promise<KeyEntry | SessionEnded> {
  if (record.revoked) return { ended: 'they were revoked' };
  if (record.source === 'key') {
    const id = record.sourceKeyId as string;
    const cached = keys.peek(id);
    if (cached !== undefined) return fromKey(record, cached, nowMs);
    return keys.get(id).then((entry) => fromKey(record, entry ?? null, nowMs));
  }
  return Promise.all([
    keys.principal(record.tenantId, record.principal.type, record.principal.id),
    keys.settings(record.tenantId),
  ]).then(([principal, settings]) => fromPassword(record, principal, settings));
}

function fromKey(record: SessionRecord, source: KeyEntry | null, nowMs: number): KeyEntry | SessionEnded {
  if (source === null || source.key.tenant_id !== record.tenantId)
    return { ended: 'their access key was deleted' };
  // Asked as for a GET: in a read-only quarantine the composed entry keeps the key's quarantine, so
  // the tenant's leakedKeyAction applies to the credentials exactly as to the key.
  const unusable = keyUnusable(source, nowMs, 'GET');
  if (unusable === 'inactive') return { ended: 'their access key is inactive' };
  if (unusable === 'expired') return { ended: 'their access key has expired' };
  if (unusable === 'quarantined') return { ended: 'their access key is quarantined (reported leaked)' };
  if (!currentSecrets(source, nowMs).some((s) => s.version === record.sourceSecretVersion))
    return { ended: 'a new secret key was generated for their access key' };
  const hit = composed.get(record);
  if (hit !== undefined && hit.source === source) return hit.entry;
  const expiresAt =
    source.expiresAt !== undefined && source.expiresAt < record.expiresAt
      ? source.expiresAt
      : record.expiresAt;
  const entry: KeyEntry = {
    ...source,
    key: { ...source.key, id: record.id, expires_at: iso(expiresAt), secret_version: 1 },
    secrets: [record.secret],
    permissions: narrowed(source.permissions, record),
    expiresAt,
    session: record,
    loadedAt: Date.now(),
  };
  composed.set(record, { source, settings: source.settings, entry });
  return entry;
}

function fromPassword(
  record: SessionRecord,
  principal: PrincipalState | undefined,
  settings: KeyEntry['settings'],
): KeyEntry | SessionEnded {
  if (principal === undefined) return { ended: 'the user was deleted' };
  if (!principal.active) return { ended: 'the user is disabled' };
  if (principal.apiUser) return { ended: 'the user is now an API user' };
  if ((record.sessionEpoch ?? 0) !== principal.sessionEpoch) return { ended: 'the password was changed' };
  const hit = composed.get(record);
  if (hit !== undefined && hit.source === principal && hit.settings === settings) return hit.entry;
  const key: AccessKey = {
    id: record.id,
    tenant_id: record.tenantId,
    owner_type: record.principal.type,
    owner_id: record.principal.id,
    name: 'temporary credentials',
    type: 'access',
    status: 'active',
    expires_at: iso(record.expiresAt),
    secret_version: 1,
    created_at: record.createdAt,
    created_by_type: record.principal.type,
    created_by_id: record.principal.id,
    updated_at: record.createdAt,
    updated_by_type: record.principal.type,
    updated_by_id: record.principal.id,
    last_used_at: null,
    last_used_ip: null,
    manager_disabled: 0,
    last_used_api_id: null,
    last_used_decision: null,
    traffic: null,
    quarantined_at: null,
    quarantine_reason: null,
    quarantine_url: null,
  };
  const entry: KeyEntry = {
    key,
    ownerActive: true,
    owner: { name: record.owner.name, email: record.owner.email },
    secrets: [record.secret],
    permissions: narrowed(principal.permissions, record),
    settings,
    expiresAt: record.expiresAt,
    // The user's own rules and the tenant's defaults, counted for these credentials.
    traffic: compilePolicy({
      accessKeyId: record.id,
      owner: record.principal,
      key: rulesFromJson(null),
      principal: rulesFromJson(record.owner.traffic),
      tenant: settings,
    }),
    session: record,
    loadedAt: Date.now(),
  };
  composed.set(record, { source: principal, settings, entry });
  return entry;
}

function narrowed(base: PermissionSet, record: SessionRecord): PermissionSet {
  let set = base;
  for (const n of record.narrowing) set = new IntersectionSet(set, n);
  return set;
}

// --- issuing and revoking ---------------------------------------------------------------------

export interface IssuedSessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601. */
  expiration: string;
  tenantId: string;
  source: 'key' | 'password';
  /** The permissions the credentials carry now (they follow their source). */
  permissions: string[];
}

/** How the caller authenticated, as far as issuing credentials cares. */
export type SessionSource =
  | { kind: 'signed'; entry: KeyEntry; secretVersion: number }
  | { kind: 'token'; claims: TokenClaims & { exp: number }; entry?: KeyEntry };

export interface IssueInput {
  durationSeconds?: number | undefined;
  permissions?: string[] | undefined;
}

export async function issueSessionCredentials(
  svc: Services,
  actor: Actor,
  source: SessionSource,
  input: IssueInput,
  expand: (set: PermissionSet) => string[],
): Promise<IssuedSessionCredentials> {
  if (actor.accessKeyId !== undefined && isSessionKeyIdShape(actor.accessKeyId)) {
    throw new AppError(
      'SESSION_CREDENTIALS_CHAINED',
      'temporary credentials cannot issue more temporary credentials: use the key or session they came from',
    );
  }
  if (actor.type === 'system')
    throw new AppError('AccessDenied', 'the operator has no credentials to narrow');
  const settings = await getSettings(svc.db, actor.tenantId);
  const duration =
    input.durationSeconds ?? Math.min(SESSION_DURATION_SECONDS.default, settings.maxSessionDurationSeconds);
  if (duration > settings.maxSessionDurationSeconds) {
    throw new AppError(
      'VALIDATION_FAILED',
      `durationSeconds may be at most ${settings.maxSessionDurationSeconds} in this tenant (its maxSessionDurationSeconds setting)`,
    );
  }
  let requested: string[] | null = null;
  if (input.permissions !== undefined) {
    const unknown = unknownPatterns(input.permissions, await tenantApiPermissions(svc.db, actor.tenantId));
    if (unknown.length > 0) {
      throw new AppError('UNKNOWN_PERMISSION', `unknown permission patterns: ${unknown.join(', ')}`, {
        unknown,
      });
    }
    requested = [...new Set(input.permissions)];
  }
  const now = svc.clock.now();
  let expiresMs = now.getTime() + duration * 1000;
  let row: Pick<
    SessionCredential,
    'source' | 'source_key_id' | 'source_secret_version' | 'source_permissions' | 'session_epoch'
  >;
  if (source.kind === 'signed' || source.claims.via === 'key') {
    const { entry } = source;
    if (entry === undefined) throw new AppError('INVALID_TOKEN', 'this session has ended');
    if (entry.key.type !== 'access') {
      throw new AppError(
        'KEY_TYPE_NOT_ALLOWED',
        'API-type keys sign data requests only and cannot issue temporary credentials',
      );
    }
    // Never past the key's own expiry.
    if (entry.expiresAt !== undefined) expiresMs = Math.min(expiresMs, entry.expiresAt.getTime());
    row = {
      source: 'key',
      source_key_id: entry.key.id,
      source_secret_version: source.kind === 'signed' ? source.secretVersion : (source.claims.sv ?? null),
      source_permissions:
        source.kind === 'token' && source.claims.perms !== undefined
          ? JSON.stringify(source.claims.perms)
          : null,
      session_epoch: null,
    };
  } else {
    row = {
      source: 'password',
      source_key_id: null,
      source_secret_version: null,
      source_permissions: null,
      session_epoch: source.claims.sep ?? 0,
    };
  }
  const id = generateSessionAccessKeyId();
  const secretAccessKey = generateSecretAccessKey();
  const sessionToken = SESSION_TOKEN_PREFIX + randomBase62(64);
  const sealed = svc.secrets.seal(secretAccessKey, sessionSecretContext(actor.tenantId, id));
  const expiration = iso(new Date(expiresMs));
  const granted = expand(
    requested === null
      ? actor.permissions
      : new IntersectionSet(actor.permissions, new PermissionSet(requested)),
  );
  await writeTransaction(svc, {}, async (trx) => {
    await trx
      .insertInto('session_credentials')
      .values({
        id,
        tenant_id: actor.tenantId,
        principal_type: actor.type as AccessKey['owner_type'],
        principal_id: actor.id,
        ...row,
        permissions: requested === null ? null : JSON.stringify(requested),
        secret_ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        token_sha256: sha256(sessionToken).toString('hex'),
        expires_at: expiration,
        revoked_at: null,
        created_at: iso(now),
      })
      .execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'session-credentials.create',
      { type: 'session-credentials', id },
      null,
      {
        accessKeyId: id,
        principal: { type: actor.type, id: actor.id },
        source: row.source,
        sourceAccessKeyId: row.source_key_id,
        expiration,
        permissions: requested,
      },
    );
  });
  return {
    accessKeyId: id,
    secretAccessKey,
    sessionToken,
    expiration,
    tenantId: actor.tenantId,
    source: row.source,
    permissions: granted,
  };
}

/**
 * End temporary credentials before they expire: their principal may end their own; holders of
 * iam:keys:manage may end any in the tenant (ending access never escalates).
 */
export async function revokeSessionCredentials(svc: Services, actor: Actor, id: string): Promise<void> {
  const notFound = () => new AppError('NOT_FOUND', `no temporary credentials ${id} in this tenant`);
  if (!isSessionKeyIdShape(id)) throw notFound();
  const ended = await endSessionCredentials(svc, actor.tenantId, id, (row) => {
    const own = row.principal_type === actor.type && row.principal_id === actor.id;
    if (!own && !actor.permissions.allows('iam:keys:manage')) {
      throw new AppError(
        'AccessDenied',
        'you need iam:keys:manage to end the temporary credentials of others',
        {
          missingPermission: 'iam:keys:manage',
        },
      );
    }
    return { actor, reason: null };
  });
  if (ended === undefined) throw notFound();
}

/**
 * The temporary credentials a leak report names, by their `LKSA…` ID or their session token (whose
 * SHA-256 is all that is stored): their ID and tenant, or undefined.
 */
export async function findReportedSessionCredentials(
  svc: Services,
  token: string,
): Promise<{ id: string; tenantId: string } | undefined> {
  let query = svc.db.selectFrom('session_credentials').select(['id', 'tenant_id']);
  if (isWellFormedSessionKeyId(token)) query = query.where('id', '=', token);
  else if (SESSION_TOKEN_SHAPE.test(token))
    query = query.where('token_sha256', '=', sha256(token).toString('hex'));
  else return undefined;
  const row = await query.executeTakeFirst();
  return row && { id: row.id, tenantId: row.tenant_id };
}

/**
 * End temporary credentials a leak report named (the report's own authority: a GitHub-signed
 * report, or iam:leaks:report in their tenant). Audited with the reason. Returns whether they were
 * live until now (false: already ended, or unknown).
 */
export async function revokeLeakedSessionCredentials(
  svc: Services,
  actor: Actor,
  id: string,
  reason: string,
): Promise<boolean> {
  return (await endSessionCredentials(svc, actor.tenantId, id, () => ({ actor, reason }))) === true;
}

/**
 * Mark the credentials revoked (once) and audit it, in one transaction, then tell every instance.
 * `decide` sees the row first and may refuse (throw). Undefined when there is no such row; false
 * when it was revoked already.
 */
async function endSessionCredentials(
  svc: Services,
  tenantId: string,
  id: string,
  decide: (row: Pick<SessionCredential, 'principal_type' | 'principal_id'>) => {
    actor: Actor;
    reason: string | null;
  },
): Promise<boolean | undefined> {
  const revokedAt = iso(svc.clock.now());
  const ended = await writeTransaction(svc, {}, async (trx) => {
    const row = await trx
      .selectFrom('session_credentials')
      .select(['id', 'principal_type', 'principal_id', 'revoked_at', 'expires_at'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const { actor, reason } = decide(row);
    if (row.revoked_at !== null) return false;
    await trx
      .updateTable('session_credentials')
      .set({ revoked_at: revokedAt })
      .where('id', '=', id)
      .execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'session-credentials.revoke',
      { type: 'session-credentials', id },
      { accessKeyId: id, expiration: row.expires_at },
      { accessKeyId: id, revokedAt, ...(reason !== null ? { reason } : {}) },
    );
    return true;
  });
  // Every instance drops its cached record (the change feed carries it).
  if (ended) svc.events.emit('key-changed', { tenantId, accessKeyId: id });
  return ended;
}
