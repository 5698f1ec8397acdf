/**
 * No escalation: a caller may grant, bind, create or change only what it already holds.
 *
 * Modelled on Kubernetes RBAC's escalation prevention. Every path that can widen what some
 * principal or key may do (assigning roles or groups, adding a group member, editing a role's or
 * a group's permissions, deleting the last role of a key, creating or rotating a key, setting
 * another user's password or email) runs inside its transaction through these functions: they
 * compare what the target holds before and after the change and refuse (403
 * PRIVILEGE_ESCALATION, naming what is missing) when the caller's own permissions do not cover
 * what the target gains. The transaction then rolls back, so a refused change changes nothing.
 *
 * "Covers" is decided on patterns (`PermissionSet.covers`), so holding every `iam:…:read` one by
 * one does not cover `iam:*:read`, which would also grant permissions added later. The
 * Administrators group and the Administrator role can be changed only by a caller holding `*`.
 * HTTP routes, key tokens and the operator CLI (which holds `*`) all reach the same functions.
 */
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';
import type { DbOrTx } from '../storage/dialect.js';
import { keyPatterns, patternsOf } from './authorization.js';
import { PermissionSet, simplifyPatterns } from './permissions.js';

export type Grantee =
  | { type: 'user' | 'service_account' | 'key'; id: string }
  | { type: 'group'; id: string }
  | { type: 'role'; id: string };

/**
 * The permission patterns a grantee holds now, as read inside the caller's transaction: a user's
 * or service account's from all its roles, a key's (its own ∩ its owner's), a group's (what its
 * members get from it), a role's. Unknown grantees hold nothing.
 */
export async function heldPatterns(db: DbOrTx, tenantId: string, grantee: Grantee): Promise<string[]> {
  switch (grantee.type) {
    case 'user':
    case 'service_account':
      return simplifyPatterns((await patternsOf(db, tenantId, grantee.type, grantee.id)).patterns);
    case 'key': {
      const key = await db
        .selectFrom('access_keys')
        .select(['owner_type', 'owner_id'])
        .where('tenant_id', '=', tenantId)
        .where('id', '=', grantee.id)
        .executeTakeFirst();
      if (!key) return [];
      const [own, owner] = await Promise.all([
        patternsOf(db, tenantId, 'key', grantee.id),
        patternsOf(db, tenantId, key.owner_type, key.owner_id),
      ]);
      return keyPatterns(own, owner.patterns);
    }
    case 'group': {
      const rows = await db
        .selectFrom('role_assignments')
        .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
        .select('roles.permissions')
        .where('role_assignments.tenant_id', '=', tenantId)
        .where('role_assignments.subject_type', '=', 'group')
        .where('role_assignments.subject_id', '=', grantee.id)
        .execute();
      return simplifyPatterns(rows.flatMap((r) => JSON.parse(r.permissions) as string[]));
    }
    case 'role': {
      const row = await db
        .selectFrom('roles')
        .select('permissions')
        .where('tenant_id', '=', tenantId)
        .where('id', '=', grantee.id)
        .executeTakeFirst();
      return row ? simplifyPatterns(JSON.parse(row.permissions) as string[]) : [];
    }
  }
}

/** The patterns of `patterns` the caller does not cover. */
export function uncovered(actor: Actor, patterns: readonly string[]): string[] {
  return simplifyPatterns(patterns).filter((p) => !actor.permissions.covers(p));
}

/** Refuse unless the caller covers every pattern: `what` says what the caller tried. */
export function assertCovers(actor: Actor, patterns: readonly string[], what: string): void {
  const missing = uncovered(actor, patterns);
  if (missing.length > 0) {
    throw new AppError(
      'PRIVILEGE_ESCALATION',
      `${what} needs permissions you do not hold: ${missing.join(', ')}. You can grant only what you hold yourself.`,
      { missingPermissions: missing },
    );
  }
}

/** The Administrators group and the Administrator role: only a caller holding `*` changes them. */
export function assertHoldsEverything(actor: Actor, what: string): void {
  assertCovers(actor, ['*'], what);
}

/** What `after` holds beyond `before`. */
export function gained(before: readonly string[], after: readonly string[]): string[] {
  const had = new PermissionSet(before);
  return simplifyPatterns(after).filter((p) => !had.covers(p));
}

/**
 * Run `change` (inside the caller's transaction) and refuse it if any grantee gains something the
 * caller does not cover. The refusal throws, so the transaction rolls the change back.
 */
export async function guardGains<T>(
  db: DbOrTx,
  actor: Actor,
  grantees: readonly Grantee[],
  what: string,
  change: () => Promise<T>,
): Promise<T> {
  const before = await Promise.all(grantees.map((g) => heldPatterns(db, actor.tenantId, g)));
  const result = await change();
  const missing = new Set<string>();
  for (let i = 0; i < grantees.length; i++) {
    const after = await heldPatterns(db, actor.tenantId, grantees[i] as Grantee);
    for (const p of uncovered(actor, gained(before[i] ?? [], after))) missing.add(p);
  }
  if (missing.size > 0) assertCovers(actor, [...missing], what);
  return result;
}

/**
 * Creating or rotating a key hands its secret to the caller, and setting a user's password or
 * email lets the caller act as that principal: the caller must cover all the target holds.
 */
export async function assertMayActAs(
  db: DbOrTx,
  actor: Actor,
  target: Extract<Grantee, { type: 'user' | 'service_account' | 'key' }>,
  what: string,
): Promise<void> {
  assertCovers(actor, await heldPatterns(db, actor.tenantId, target), what);
}

/**
 * The patterns each of several users (or service accounts) holds, in two statements: for lists
 * that say, per row, whether the caller may act as that principal.
 */
export async function principalsPatterns(
  db: DbOrTx,
  tenantId: string,
  type: 'user' | 'service_account',
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const [direct, viaGroups] = await Promise.all([
    db
      .selectFrom('role_assignments')
      .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
      .select(['role_assignments.subject_id as id', 'roles.permissions'])
      .where('role_assignments.tenant_id', '=', tenantId)
      .where('role_assignments.subject_type', '=', type)
      .where('role_assignments.subject_id', 'in', [...ids])
      .execute(),
    db
      .selectFrom('group_members')
      .innerJoin('role_assignments', (j) =>
        j
          .onRef('role_assignments.subject_id', '=', 'group_members.group_id')
          .on('role_assignments.subject_type', '=', 'group'),
      )
      .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
      .select(['group_members.member_id as id', 'roles.permissions'])
      .where('group_members.tenant_id', '=', tenantId)
      .where('group_members.member_type', '=', type)
      .where('group_members.member_id', 'in', [...ids])
      .execute(),
  ]);
  for (const row of [...direct, ...viaGroups])
    out.get(row.id)?.push(...(JSON.parse(row.permissions) as string[]));
  for (const [id, patterns] of out) out.set(id, simplifyPatterns(patterns));
  return out;
}

/** May the caller grant (or bind) everything these patterns give? For the console's pickers. */
export function mayGrant(actor: Actor, patterns: readonly string[]): boolean {
  return uncovered(actor, patterns).length === 0;
}
