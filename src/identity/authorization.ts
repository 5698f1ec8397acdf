/** Who may do what: resolves the permission patterns of principals and keys from roles and groups. */
import { AppError } from '../errors.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { AccessKey, MemberType, RoleSubjectType } from '../storage/tables.js';
import { tenantApiPermissions } from './api-permissions.js';
import { intersectPatterns, PermissionSet, simplifyPatterns } from './permissions.js';

/** The subject's groups, as a query (run alone, or embedded as a subquery). */
export function subjectGroups(
  db: DbOrTx,
  /** null: the subject id is globally unique (access key IDs), so no tenant filter is needed. */
  tenantId: string | null,
  subjectType: RoleSubjectType & MemberType,
  subjectId: string,
) {
  return db
    .selectFrom('group_members')
    .select('group_id')
    .$if(tenantId !== null, (q) => q.where('tenant_id', '=', tenantId as string))
    .where('member_type', '=', subjectType)
    .where('member_id', '=', subjectId);
}

/** The roles the subject holds directly or through its groups, as a query. */
export function subjectRoles(
  db: DbOrTx,
  tenantId: string | null,
  subjectType: RoleSubjectType & MemberType,
  subjectId: string,
) {
  return db
    .selectFrom('role_assignments')
    .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
    .select(['roles.permissions', 'role_assignments.subject_type'])
    .$if(tenantId !== null, (q) => q.where('role_assignments.tenant_id', '=', tenantId as string))
    .where((eb) =>
      eb.or([
        eb.and([eb('subject_type', '=', subjectType), eb('subject_id', '=', subjectId)]),
        eb.and([
          eb('subject_type', '=', 'group'),
          eb('subject_id', 'in', subjectGroups(db, tenantId, subjectType, subjectId)),
        ]),
      ]),
    );
}

/**
 * The subject's permission patterns from its roles, and whether it has any assignment of its own
 * (a group, or a role held directly).
 */
export function patternsFromRoles(
  roles: ReadonlyArray<{ permissions: string; subject_type: string }>,
  subjectType: RoleSubjectType & MemberType,
  inGroups: boolean,
): { patterns: string[]; assigned: boolean } {
  const patterns = [...new Set(roles.flatMap((r) => JSON.parse(r.permissions) as string[]))].sort();
  const direct = roles.some((r) => r.subject_type === subjectType);
  return { patterns, assigned: inGroups || direct };
}

export async function patternsOf(
  db: DbOrTx,
  /** null: the subject id is globally unique (access key IDs), so no tenant filter is needed. */
  tenantId: string | null,
  subjectType: RoleSubjectType & MemberType,
  subjectId: string,
): Promise<{ patterns: string[]; assigned: boolean }> {
  // Two queries, run together: the roles the subject holds directly or through its groups, and its groups.
  const [roles, groups] = await Promise.all([
    subjectRoles(db, tenantId, subjectType, subjectId).execute(),
    subjectGroups(db, tenantId, subjectType, subjectId).execute(),
  ]);
  return patternsFromRoles(roles, subjectType, groups.length > 0);
}

export async function principalPermissions(
  db: DbOrTx,
  tenantId: string,
  type: 'user' | 'service_account',
  id: string,
): Promise<PermissionSet> {
  return new PermissionSet((await patternsOf(db, tenantId, type, id)).patterns);
}

/**
 * A key's permission patterns: those of its own groups and roles (its owner's when it has none),
 * never beyond its owner's. As patterns, not a list, so they can be compared with what the key
 * is used to grant (`PermissionSet.covers`).
 */
export function keyPatterns(
  own: { readonly patterns: readonly string[]; readonly assigned: boolean },
  ownerPatterns: readonly string[],
): string[] {
  return own.assigned ? intersectPatterns(own.patterns, ownerPatterns) : simplifyPatterns(ownerPatterns);
}

/**
 * What a key may do: `keyPatterns`, and for an api-type key data permissions only. The one rule
 * behind the key cache (signed requests, key tokens), grants made with a key and
 * `GET /iam/keys/{id}/permissions`.
 */
export function keyPermissionSet(
  own: { readonly patterns: readonly string[]; readonly assigned: boolean },
  owner: PermissionSet,
  type: AccessKey['type'],
): PermissionSet {
  return new PermissionSet(keyPatterns(own, owner.patterns), type === 'api');
}

/** The concrete permissions of a key (see `keyPermissionSet`); `extra`: the tenant's API permissions. */
export function keyPermissionList(
  own: { readonly patterns: readonly string[]; readonly assigned: boolean },
  owner: PermissionSet,
  type: AccessKey['type'],
  extra: readonly string[] = [],
): string[] {
  return keyPermissionSet(own, owner, type).expand(extra);
}

export interface KeyPermissions {
  /** Concrete permissions the key has (see `keyPermissionList`). */
  permissions: string[];
  /** Whether the key has groups or roles of its own. */
  ownAssignments: boolean;
  owner: PermissionSet;
  /** The permissions the tenant's registered APIs declare. */
  apiPermissions: string[];
}

export async function keyPermissions(db: DbOrTx, key: AccessKey): Promise<KeyPermissions> {
  const [own, owner, apiPermissions] = await Promise.all([
    patternsOf(db, key.tenant_id, 'key', key.id),
    principalPermissions(db, key.tenant_id, key.owner_type, key.owner_id),
    tenantApiPermissions(db, key.tenant_id),
  ]);
  return {
    permissions: keyPermissionList(own, owner, key.type, apiPermissions),
    ownAssignments: own.assigned,
    owner,
    apiPermissions,
  };
}

/** The user members of the tenant's Administrators group, as a query (join `users` for more than their IDs). */
export function administratorMemberships(db: DbOrTx, tenantId: string) {
  return db
    .selectFrom('group_members')
    .innerJoin('groups', 'groups.id', 'group_members.group_id')
    .where('groups.tenant_id', '=', tenantId)
    .where('groups.builtin', '=', 'administrators')
    .where('group_members.member_type', '=', 'user');
}

export async function isAdministrator(db: DbOrTx, tenantId: string, userId: string): Promise<boolean> {
  const row = await administratorMemberships(db, tenantId)
    .select('group_members.member_id')
    .where('group_members.member_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Administrators who can still sign in and act: active, not API-only. */
export async function interactiveAdministrators(db: DbOrTx, tenantId: string): Promise<string[]> {
  const rows = await administratorMemberships(db, tenantId)
    .innerJoin('users', 'users.id', 'group_members.member_id')
    .select('users.id')
    .where('users.status', '=', 'active')
    .where('users.api_user', '=', 0)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Refuse a change that would leave the tenant without an interactive administrator.
 * Call inside the transaction that makes the change, before making it.
 */
export async function assertNotLastAdministrator(
  db: DbOrTx,
  tenantId: string,
  userId: string,
): Promise<void> {
  const admins = await interactiveAdministrators(db, tenantId);
  if (admins.includes(userId) && admins.length === 1) {
    throw new AppError(
      'LAST_ADMINISTRATOR',
      'this is the last administrator who can sign in; make someone else an administrator first',
    );
  }
}
