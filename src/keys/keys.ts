/**
 * The access-key lifecycle: create (within limits), list, view, edit, rotate the secret
 * (with an optional grace period), delete, and effective permissions.
 *
 * Secrets are generated here, returned once, and stored only sealed under the master key.
 */
import { writeAudit } from '../audit/audit.js';
import { type Actor, can } from '../context.js';
import {
  generateAccessKeyId,
  generateSecretAccessKey,
  isWellFormedAccessKeyId,
} from '../crypto/access-key-id.js';
import { AppError, notFound } from '../errors.js';
import { getAssignments, type NamedRef, replaceAssignments } from '../identity/assignments.js';
import { assertNotLastAdministrator, isAdministrator, keyPermissions } from '../identity/authorization.js';
import { assertMayActAs } from '../identity/escalation.js';
import { findServiceAccount } from '../identity/service-accounts.js';
import { getSettings } from '../identity/settings.js';
import { findUser } from '../identity/users.js';
import { keyEmailAddress, queueKeyEmail } from '../notify/key-email.js';
import { notifyAssignmentChange } from '../notify/notifications.js';
import { mailQueued } from '../notify/outbox.js';
import { remindIfDue } from '../notify/reminders.js';
import type { Services } from '../services.js';
import { containsText, type DbOrTx, forUpdate } from '../storage/dialect.js';
import type { AccessKey, PrincipalType } from '../storage/tables.js';
import { addMs, iso } from '../time.js';
import {
  daysLeft,
  type ExpiryInput,
  hasExpiryInput,
  type KeyState,
  keyState,
  resolveExpiry,
} from './expiry.js';
import { deleteKeyRows } from './key-rows.js';

export type KeyType = 'access' | 'api';

export interface Owner {
  type: PrincipalType;
  id: string;
}

export interface KeyView {
  accessKeyId: string;
  tenantId: string;
  name: string;
  type: KeyType;
  /** What the administrator set. */
  status: 'active' | 'inactive';
  /** What the key can do now: `status` combined with expiry. */
  state: KeyState;
  /** Deactivated by a key manager: its owner cannot activate it again without iam:keys:manage. */
  deactivatedByManager: boolean;
  expiresAt: string | null;
  daysLeft: number | null;
  owner: { type: PrincipalType; id: string; label: string };
  createdAt: string;
  createdBy: { type: string; id: string };
  updatedAt: string;
  updatedBy: { type: string; id: string };
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  secretVersion: number;
  groups: NamedRef[];
  roles: NamedRef[];
}

export interface CreatedKey {
  key: KeyView;
  /** Returned this once; only its sealed form is stored. */
  secretAccessKey: string;
}

const secretContext = (tenantId: string, accessKeyId: string, version: number) =>
  `key-secret:${tenantId}:${accessKeyId}:${version}`;

type KeyRow = AccessKey & { owner_label: string | null };

const keySubject = (accessKeyId: string) => ({ type: 'key' as const, id: accessKeyId });
const ownerNoun = (owner: Owner) => (owner.type === 'user' ? 'user' : 'service account');

function view(
  row: KeyRow,
  assignments: { groups: NamedRef[]; roles: NamedRef[] },
  now: Date,
  leadDays: number,
): KeyView {
  return {
    accessKeyId: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    type: row.type,
    status: row.status,
    state: keyState(row, now, leadDays),
    deactivatedByManager: row.status === 'inactive' && row.manager_disabled === 1,
    expiresAt: row.expires_at,
    daysLeft: daysLeft(row.expires_at, now),
    owner: { type: row.owner_type, id: row.owner_id, label: row.owner_label ?? row.owner_id },
    createdAt: row.created_at,
    createdBy: { type: row.created_by_type, id: row.created_by_id },
    updatedAt: row.updated_at,
    updatedBy: { type: row.updated_by_type, id: row.updated_by_id },
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
    secretVersion: row.secret_version,
    groups: assignments.groups,
    roles: assignments.roles,
  };
}

/** Access keys joined to their owner (a user or a service account; the other side is null). */
export function keysWithOwner(db: DbOrTx) {
  return db
    .selectFrom('access_keys')
    .leftJoin('users', (j) =>
      j.onRef('users.id', '=', 'access_keys.owner_id').on('access_keys.owner_type', '=', 'user'),
    )
    .leftJoin('service_accounts', (j) =>
      j
        .onRef('service_accounts.id', '=', 'access_keys.owner_id')
        .on('access_keys.owner_type', '=', 'service_account'),
    );
}

function selectKeys(db: DbOrTx, tenantId: string) {
  return keysWithOwner(db)
    .selectAll('access_keys')
    .select((eb) => eb.fn.coalesce('users.email', 'service_accounts.name').as('owner_label'))
    .where('access_keys.tenant_id', '=', tenantId);
}

/** A key of the tenant, or NOT_FOUND. Malformed IDs are refused before any database read. */
export async function findKey(db: DbOrTx, tenantId: string, accessKeyId: string): Promise<KeyRow> {
  if (!isWellFormedAccessKeyId(accessKeyId)) {
    throw new AppError(
      'INVALID_ACCESS_KEY_ID',
      'that is not a latchkey access key ID (wrong format or checksum)',
    );
  }
  const row = await selectKeys(db, tenantId).where('access_keys.id', '=', accessKeyId).executeTakeFirst();
  if (!row) throw notFound('access key');
  return row;
}

export async function keyViewOf(svc: Services, db: DbOrTx, row: KeyRow): Promise<KeyView> {
  const [assignments, settings] = await Promise.all([
    getAssignments(db, row.tenant_id, { type: 'key', id: row.id }),
    getSettings(db, row.tenant_id),
  ]);
  return view(row, assignments, svc.clock.now(), settings.reminderLeadDays);
}

/** Self-service: a user signed in with their password may manage their own keys without iam:keys:manage. */
export function isSelfService(actor: Actor, owner: Owner): boolean {
  return actor.via === 'password' && owner.type === 'user' && actor.type === 'user' && actor.id === owner.id;
}

export function assertMayManageKeysOf(actor: Actor, owner: Owner): void {
  if (can(actor, 'iam:keys:manage') || isSelfService(actor, owner)) return;
  throw new AppError('AccessDenied', 'you need iam:keys:manage to manage keys of other principals', {
    missingPermission: 'iam:keys:manage',
  });
}

export function assertMayReadKeysOf(actor: Actor, owner: Owner): void {
  if (can(actor, 'iam:keys:read') || can(actor, 'iam:keys:manage') || isSelfService(actor, owner)) return;
  throw new AppError('AccessDenied', 'you need iam:keys:read to see keys of other principals', {
    missingPermission: 'iam:keys:read',
  });
}

async function assertOwner(
  db: DbOrTx,
  tenantId: string,
  owner: Owner,
): Promise<{ label: string; status: string }> {
  if (owner.type === 'user') {
    const user = await findUser(db, tenantId, owner.id);
    return { label: user.email, status: user.status };
  }
  const sa = await findServiceAccount(db, tenantId, owner.id);
  return { label: sa.name, status: sa.status };
}

export interface NewKeyInput extends ExpiryInput {
  name: string;
  type?: KeyType;
  groupIds?: string[];
  roleIds?: string[];
  /**
   * SQL Account's "Generate API Secret Key": the owner becomes an API user who can no longer
   * sign in with a password. Administrators only (iam:users:manage).
   */
  apiUser?: boolean;
  /** Email the owner the access key ID and a one-time link to the secret (seed 004). */
  sendEmail?: boolean;
}

export async function createKey(
  svc: Services,
  actor: Actor,
  owner: Owner,
  input: NewKeyInput,
): Promise<CreatedKey> {
  assertMayManageKeysOf(actor, owner);
  if (input.apiUser) {
    if (owner.type !== 'user') throw new AppError('VALIDATION_FAILED', 'only users can be made API users');
    if (!can(actor, 'iam:users:manage')) {
      throw new AppError('AccessDenied', 'making a user an API user needs iam:users:manage', {
        missingPermission: 'iam:users:manage',
      });
    }
  }
  const secret = generateSecretAccessKey();
  const accessKeyId = generateAccessKeyId();
  const created = await svc.db.transaction().execute(async (trx) => {
    const now = svc.clock.now();
    const settings = await getSettings(trx, actor.tenantId);
    // Lock the owner row so two concurrent creations cannot both pass the limit check.
    const ownerTable = owner.type === 'user' ? 'users' : 'service_accounts';
    await forUpdate(trx.selectFrom(ownerTable).select('id').where('id', '=', owner.id), svc.engine).execute();
    const ownerInfo = await assertOwner(trx, actor.tenantId, owner);
    if (ownerInfo.status !== 'active')
      throw new AppError('CONFLICT', `the ${owner.type.replace('_', ' ')} is disabled`);
    // Before anything is written: a service account without an address gets EMAIL_REQUIRED.
    const emailTo = input.sendEmail ? await keyEmailAddress(trx, actor.tenantId, owner) : null;
    const expiresAt = resolveExpiry(input, settings, now);
    if (owner.type === 'user' && !(await isAdministrator(trx, actor.tenantId, owner.id))) {
      const count = await trx
        .selectFrom('access_keys')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('owner_type', '=', 'user')
        .where('owner_id', '=', owner.id)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= settings.userKeyLimit) {
        throw new AppError(
          'KEY_LIMIT_REACHED',
          `a user may hold at most ${settings.userKeyLimit} access keys; delete one first`,
          { limit: settings.userKeyLimit },
        );
      }
    }
    if (input.apiUser) {
      await assertNotLastAdministrator(trx, actor.tenantId, owner.id);
      await trx
        .updateTable('users')
        .set({ api_user: 1, updated_at: iso(now) })
        .where('id', '=', owner.id)
        .execute();
      await writeAudit(
        trx,
        svc.clock,
        actor,
        'user.api_user',
        { type: 'user', id: owner.id },
        { apiUser: false },
        { apiUser: true },
      );
    }
    const at = iso(now);
    const row: AccessKey = {
      id: accessKeyId,
      tenant_id: actor.tenantId,
      owner_type: owner.type,
      owner_id: owner.id,
      name: input.name.trim(),
      type: input.type ?? 'access',
      status: 'active',
      expires_at: expiresAt,
      secret_version: 1,
      created_at: at,
      created_by_type: actor.type,
      created_by_id: actor.id,
      updated_at: at,
      updated_by_type: actor.type,
      updated_by_id: actor.id,
      last_used_at: null,
      last_used_ip: null,
      manager_disabled: 0,
    };
    await trx.insertInto('access_keys').values(row).execute();
    const sealed = svc.secrets.seal(secret, secretContext(actor.tenantId, accessKeyId, 1));
    await trx
      .insertInto('key_secrets')
      .values({
        access_key_id: accessKeyId,
        version: 1,
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        created_at: at,
        not_after: null,
      })
      .execute();
    if (input.groupIds || input.roleIds) {
      const subject = { type: 'key' as const, id: accessKeyId };
      const change = await replaceAssignments(trx, actor, now, subject, input);
      await notifyAssignmentChange(svc, trx, actor, subject, change.before, change.after);
    }
    // The caller receives the secret: the key may hold nothing the caller does not.
    await assertMayActAs(trx, actor, keySubject(accessKeyId), `creating a key for this ${ownerNoun(owner)}`);
    if (emailTo !== null) await queueKeyEmail(svc, trx, actor, row, ownerInfo.label, emailTo, secret);
    const keyView = await keyViewOf(svc, trx, { ...row, owner_label: ownerInfo.label });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.create',
      { type: 'access_key', id: accessKeyId },
      null,
      keyView,
    );
    return keyView;
  });
  if (input.apiUser) svc.events.emit('authz-changed', { tenantId: actor.tenantId });
  // Clears a cached "no such key" left by a request that raced the creation.
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  if (input.sendEmail) mailQueued(svc, actor.tenantId);
  // A key created inside its reminder lead window is reminded now, not at the next job run.
  await remindIfDue(svc, actor.tenantId, accessKeyId);
  return { key: created, secretAccessKey: secret };
}

export type KeyStatusFilter = 'active' | 'inactive' | 'expired' | 'expiring_soon';

export interface KeyFilter {
  ownerType?: PrincipalType;
  ownerId?: string;
  type?: KeyType;
  status?: KeyStatusFilter;
  search?: string;
  limit: number;
  offset: number;
}

export async function listKeys(
  svc: Services,
  tenantId: string,
  filter: KeyFilter,
): Promise<{ items: KeyView[]; total: number }> {
  const db = svc.db;
  const now = svc.clock.now();
  const nowIso = iso(now);
  const settings = await getSettings(db, tenantId);
  const soonIso = iso(addMs(now, settings.reminderLeadDays * 86_400_000));
  let query = selectKeys(db, tenantId);
  if (filter.ownerType) query = query.where('access_keys.owner_type', '=', filter.ownerType);
  if (filter.ownerId) query = query.where('access_keys.owner_id', '=', filter.ownerId);
  if (filter.type) query = query.where('access_keys.type', '=', filter.type);
  if (filter.search) {
    const needle = filter.search;
    query = query.where((eb) =>
      eb.or([containsText('access_keys.name', needle), containsText('access_keys.id', needle)]),
    );
  }
  switch (filter.status) {
    case 'inactive':
      query = query.where('access_keys.status', '=', 'inactive');
      break;
    case 'expired':
      query = query.where('access_keys.status', '=', 'active').where('access_keys.expires_at', '<=', nowIso);
      break;
    case 'expiring_soon':
      query = query
        .where('access_keys.status', '=', 'active')
        .where('access_keys.expires_at', '>', nowIso)
        .where('access_keys.expires_at', '<=', soonIso);
      break;
    case 'active':
      // Keys that authenticate now, including those expiring soon.
      query = query
        .where('access_keys.status', '=', 'active')
        .where((eb) =>
          eb.or([eb('access_keys.expires_at', 'is', null), eb('access_keys.expires_at', '>', nowIso)]),
        );
      break;
  }
  const [rows, count] = await Promise.all([
    query
      .orderBy('access_keys.created_at', 'desc')
      .orderBy('access_keys.id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query
      .clearSelect()
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  const ids = rows.map((r) => r.id);
  const assignments = new Map<string, { groups: NamedRef[]; roles: NamedRef[] }>(
    ids.map((id) => [id, { groups: [], roles: [] }]),
  );
  if (ids.length > 0) {
    const [groups, roles] = await Promise.all([
      db
        .selectFrom('group_members')
        .innerJoin('groups', 'groups.id', 'group_members.group_id')
        .select(['member_id', 'groups.id', 'groups.name'])
        .where('member_type', '=', 'key')
        .where('member_id', 'in', ids)
        .orderBy('groups.name')
        .execute(),
      db
        .selectFrom('role_assignments')
        .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
        .select(['subject_id', 'roles.id', 'roles.name'])
        .where('subject_type', '=', 'key')
        .where('subject_id', 'in', ids)
        .orderBy('roles.name')
        .execute(),
    ]);
    for (const g of groups) assignments.get(g.member_id)?.groups.push({ id: g.id, name: g.name });
    for (const r of roles) assignments.get(r.subject_id)?.roles.push({ id: r.id, name: r.name });
  }
  return {
    items: rows.map((r) =>
      view(r, assignments.get(r.id) ?? { groups: [], roles: [] }, now, settings.reminderLeadDays),
    ),
    total: Number(count.n),
  };
}

export interface KeyPatch extends ExpiryInput {
  name?: string;
  active?: boolean;
}

export async function updateKey(
  svc: Services,
  actor: Actor,
  accessKeyId: string,
  patch: KeyPatch,
): Promise<KeyView> {
  const result = await svc.db.transaction().execute(async (trx) => {
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    const now = svc.clock.now();
    const values: Partial<AccessKey> = {
      updated_at: iso(now),
      updated_by_type: actor.type,
      updated_by_id: actor.id,
    };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.active !== undefined) {
      const manager = can(actor, 'iam:keys:manage');
      if (patch.active && before.status === 'inactive' && before.manager_disabled === 1 && !manager) {
        // Self-service must not undo an administrator's decision to stop a key.
        throw new AppError(
          'AccessDenied',
          'an administrator deactivated this key: only someone with iam:keys:manage can activate it again',
          { missingPermission: 'iam:keys:manage' },
        );
      }
      values.status = patch.active ? 'active' : 'inactive';
      values.manager_disabled = patch.active ? 0 : manager ? 1 : 0;
    }
    if (hasExpiryInput(patch))
      values.expires_at = resolveExpiry(patch, await getSettings(trx, actor.tenantId), now);
    await trx.updateTable('access_keys').set(values).where('id', '=', accessKeyId).execute();
    const beforeView = await keyViewOf(svc, trx, before);
    const afterView = await keyViewOf(svc, trx, { ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.update',
      { type: 'access_key', id: accessKeyId },
      beforeView,
      afterView,
    );
    return afterView;
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  // A new expiry re-arms the reminder; if it is already inside the lead window, remind now.
  if (hasExpiryInput(patch) || patch.active) await remindIfDue(svc, actor.tenantId, accessKeyId);
  return result;
}

/**
 * Generate a new secret key. The previous secret stops working at once, or after `graceSeconds`
 * (at most 24 h) during which both work; any older secret still in its grace period ends now.
 */
export async function rotateSecret(
  svc: Services,
  actor: Actor,
  accessKeyId: string,
  graceSeconds = 0,
): Promise<CreatedKey> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 86_400) {
    throw new AppError('VALIDATION_FAILED', 'graceSeconds must be a whole number from 0 to 86400');
  }
  const secret = generateSecretAccessKey();
  const result = await svc.db.transaction().execute(async (trx) => {
    // Lock the key row: two concurrent rotations must not both become version n+1.
    await forUpdate(
      trx.selectFrom('access_keys').select('id').where('id', '=', accessKeyId),
      svc.engine,
    ).execute();
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    // The caller receives the new secret: the key may hold nothing the caller does not.
    await assertMayActAs(trx, actor, keySubject(accessKeyId), 'generating a new secret for this key');
    const now = svc.clock.now();
    const version = before.secret_version + 1;
    await trx
      .deleteFrom('key_secrets')
      .where('access_key_id', '=', accessKeyId)
      .where('version', '<', before.secret_version)
      .execute();
    if (graceSeconds === 0) {
      await trx.deleteFrom('key_secrets').where('access_key_id', '=', accessKeyId).execute();
    } else {
      await trx
        .updateTable('key_secrets')
        .set({ not_after: iso(addMs(now, graceSeconds * 1000)) })
        .where('access_key_id', '=', accessKeyId)
        .where('version', '=', before.secret_version)
        .execute();
    }
    const sealed = svc.secrets.seal(secret, secretContext(actor.tenantId, accessKeyId, version));
    await trx
      .insertInto('key_secrets')
      .values({
        access_key_id: accessKeyId,
        version,
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        created_at: iso(now),
        not_after: null,
      })
      .execute();
    const values = {
      secret_version: version,
      updated_at: iso(now),
      updated_by_type: actor.type,
      updated_by_id: actor.id,
    };
    await trx.updateTable('access_keys').set(values).where('id', '=', accessKeyId).execute();
    const afterView = await keyViewOf(svc, trx, { ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.rotate_secret',
      { type: 'access_key', id: accessKeyId },
      { secretVersion: before.secret_version },
      { secretVersion: version, graceSeconds },
    );
    return afterView;
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  return { key: result, secretAccessKey: secret };
}

export async function deleteKey(svc: Services, actor: Actor, accessKeyId: string): Promise<void> {
  await svc.db.transaction().execute(async (trx) => {
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    const beforeView = await keyViewOf(svc, trx, before);
    await deleteKeyRows(trx, [accessKeyId]);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.delete',
      { type: 'access_key', id: accessKeyId },
      beforeView,
      null,
    );
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
}

export interface EffectivePermissions {
  accessKeyId: string;
  /** Concrete permissions the key has now. */
  permissions: string[];
  /** `key` when the key has groups or roles of its own, `owner` when it inherits its owner's. */
  source: 'key' | 'owner';
  ownerPermissions: string[];
}

export async function effectivePermissions(db: DbOrTx, key: AccessKey): Promise<EffectivePermissions> {
  const perms = await keyPermissions(db, key);
  return {
    accessKeyId: key.id,
    permissions: perms.permissions,
    source: perms.ownAssignments ? 'key' : 'owner',
    ownerPermissions: perms.owner.expand(),
  };
}

export interface StoredSecret {
  version: number;
  ciphertext: string;
  master_key_version: number;
  not_after: string | null;
}

export interface UsableSecret {
  secret: string;
  version: number;
  /** End of the secret's grace period in epoch ms (Infinity when it has none): compared on every signed request. */
  notAfterMs: number;
}

/** Decrypt stored secrets, newest first; one that does not open is logged and left out. */
export function openSecrets(
  svc: Services,
  key: Pick<AccessKey, 'id' | 'tenant_id'>,
  rows: readonly StoredSecret[],
): UsableSecret[] {
  const usable: UsableSecret[] = [];
  for (const r of rows) {
    try {
      const secret = svc.secrets.open(
        { ciphertext: r.ciphertext, masterKeyVersion: r.master_key_version },
        secretContext(key.tenant_id, key.id, r.version),
      );
      usable.push({
        secret,
        version: r.version,
        notAfterMs: r.not_after === null ? Number.POSITIVE_INFINITY : Date.parse(r.not_after),
      });
    } catch (error) {
      // A ciphertext that does not open (tampered, moved from another row, or sealed under a master
      // key this instance lacks) authenticates nothing; the key's other secrets still may.
      svc.logger.error(
        { accessKeyId: key.id, secretVersion: r.version, err: error },
        'a stored secret could not be decrypted; it is ignored',
      );
    }
  }
  return usable.sort((a, b) => b.version - a.version);
}

export { secretContext };
