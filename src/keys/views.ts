/**
 * How access keys are shown: one key (`keyViewOf`), a filtered page of them (`listKeys`), and a
 * key's effective permissions. Views never hold a secret.
 */
import { type Assignments, assignmentsOf, getAssignments, type NamedRef } from '../identity/assignments.js';
import { keyPermissions } from '../identity/authorization.js';
import { getSettings } from '../identity/settings.js';
import type { Services } from '../services.js';
import { containsText, type DbOrTx } from '../storage/dialect.js';
import type { AccessKey, PrincipalType } from '../storage/tables.js';
import { addMs, DAY_MS, iso } from '../time.js';
import type { QuotaStanding } from '../traffic/control.js';
import { type Quota, type RateLimit, rulesFromJson } from '../traffic/rules.js';
import { daysLeft, type KeyState, keyState } from './expiry.js';
import { type KeyRow, type KeyType, selectKeys } from './key-rows.js';

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
  lastUsedApiId: string | null;
  lastUsedDecision: 'allowed' | 'denied' | null;
  secretVersion: number;
  /** Set when a leak report named the key (src/leaks); null otherwise. */
  quarantine: { at: string; reason: string; url: string | null } | null;
  groups: NamedRef[];
  roles: NamedRef[];
  /** The key's own traffic rules (its owner's and the tenant's defaults apply too). */
  rateLimit: RateLimit | null;
  quota: Quota | null;
  allowedCidrs: string[] | null;
  /** GET /iam/keys/{id} only: where the key stands in every quota that applies to it. */
  quotas?: QuotaStanding[];
}

function view(row: KeyRow, assignments: Assignments, now: Date, leadDays: number): KeyView {
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
    lastUsedApiId: row.last_used_api_id,
    lastUsedDecision: row.last_used_decision,
    secretVersion: row.secret_version,
    quarantine:
      row.quarantined_at === null
        ? null
        : { at: row.quarantined_at, reason: row.quarantine_reason ?? 'leaked', url: row.quarantine_url },
    groups: assignments.groups,
    roles: assignments.roles,
    ...rulesFromJson(row.traffic),
  };
}

export async function keyViewOf(svc: Services, db: DbOrTx, row: KeyRow): Promise<KeyView> {
  const [assignments, settings] = await Promise.all([
    getAssignments(db, row.tenant_id, { type: 'key', id: row.id }),
    getSettings(db, row.tenant_id),
  ]);
  return view(row, assignments, svc.clock.now(), settings.reminderLeadDays);
}

export type KeyStatusFilter = 'active' | 'inactive' | 'expired' | 'expiring_soon';

export interface KeyFilter {
  ownerType?: PrincipalType;
  ownerId?: string;
  type?: KeyType;
  status?: KeyStatusFilter;
  search?: string;
  /** Keys not used in the last N days: last used (or, never used, created) more than N days ago. */
  unusedDays?: number;
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
  const soonIso = iso(addMs(now, settings.reminderLeadDays * DAY_MS));
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
  if (filter.unusedDays !== undefined) {
    const cutoff = iso(addMs(now, -filter.unusedDays * DAY_MS));
    query = query.where((eb) =>
      eb(eb.fn.coalesce('access_keys.last_used_at', 'access_keys.created_at'), '<', cutoff),
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
  const assignments = await assignmentsOf(
    db,
    tenantId,
    'key',
    rows.map((r) => r.id),
  );
  return {
    items: rows.map((r) =>
      view(r, assignments.get(r.id) ?? { groups: [], roles: [] }, now, settings.reminderLeadDays),
    ),
    total: Number(count.n),
  };
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
    ownerPermissions: perms.owner.expand(perms.apiPermissions),
  };
}
