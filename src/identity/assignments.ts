/**
 * Group membership and role assignment, for users, service accounts, keys and groups.
 * One function replaces a subject's groups and/or roles, checks every id belongs to the tenant,
 * guards the last administrator, audits the change and tells caches.
 */
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';
import { notifyAssignmentChange } from '../notify/notifications.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { MemberType, RoleSubjectType } from '../storage/tables.js';
import { iso } from '../time.js';
import { assertNotLastAdministrator } from './authorization.js';
import { assertHoldsEverything, guardGains } from './escalation.js';
import { administratorsGroupId } from './tenants.js';
import { writeTransaction } from './write-transaction.js';

export interface NamedRef {
  id: string;
  name: string;
}

export interface Assignments {
  groups: NamedRef[];
  roles: NamedRef[];
}

export interface Subject {
  type: RoleSubjectType;
  id: string;
}

/** The groups and roles of several subjects of one type, by subject ID, each list in name order. */
export async function assignmentsOf(
  db: DbOrTx,
  tenantId: string,
  type: RoleSubjectType,
  ids: readonly string[],
): Promise<Map<string, Assignments>> {
  const byId = new Map<string, Assignments>(ids.map((id) => [id, { groups: [], roles: [] }]));
  if (ids.length === 0) return byId;
  const [groups, roles] = await Promise.all([
    type === 'group'
      ? Promise.resolve([])
      : db
          .selectFrom('group_members')
          .innerJoin('groups', 'groups.id', 'group_members.group_id')
          .select(['group_members.member_id as subjectId', 'groups.id', 'groups.name'])
          .where('group_members.tenant_id', '=', tenantId)
          .where('member_type', '=', type)
          .where('member_id', 'in', ids)
          .orderBy('groups.name')
          .execute(),
    db
      .selectFrom('role_assignments')
      .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
      .select(['role_assignments.subject_id as subjectId', 'roles.id', 'roles.name'])
      .where('role_assignments.tenant_id', '=', tenantId)
      .where('subject_type', '=', type)
      .where('subject_id', 'in', ids)
      .orderBy('roles.name')
      .execute(),
  ]);
  for (const g of groups) byId.get(g.subjectId)?.groups.push({ id: g.id, name: g.name });
  for (const r of roles) byId.get(r.subjectId)?.roles.push({ id: r.id, name: r.name });
  return byId;
}

export async function getAssignments(db: DbOrTx, tenantId: string, subject: Subject): Promise<Assignments> {
  return (await assignmentsOf(db, tenantId, subject.type, [subject.id])).get(subject.id) as Assignments;
}

async function checkIds(
  db: DbOrTx,
  table: 'groups' | 'roles',
  tenantId: string,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  const found = await db
    .selectFrom(table)
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', ids)
    .execute();
  const known = new Set(found.map((r) => r.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new AppError(
      'NOT_FOUND',
      `${table === 'groups' ? 'group' : 'role'} not found: ${missing.join(', ')}`,
    );
  }
}

/**
 * Replace the subject's groups and/or roles inside `trx`, as `actor`: refused (and rolled back
 * with the transaction) when the subject would gain what the actor does not hold, or when the
 * Administrators group or the Administrator role changes and the actor does not hold `*`.
 * Returns before/after; the caller audits under its own action name when it makes the change as
 * part of something larger.
 */
export async function replaceAssignments(
  trx: DbOrTx,
  actor: Actor,
  now: Date,
  subject: Subject,
  change: { groupIds?: string[]; roleIds?: string[] },
): Promise<{ before: Assignments; after: Assignments }> {
  const { tenantId } = actor;
  const groupIds = change.groupIds && [...new Set(change.groupIds)];
  const roleIds = change.roleIds && [...new Set(change.roleIds)];
  if (groupIds && subject.type === 'group')
    throw new AppError('VALIDATION_FAILED', 'groups cannot contain groups');
  const before = await getAssignments(trx, tenantId, subject);
  const adminGroup = groupIds ? await administratorsGroupId(trx, tenantId) : undefined;
  await assertProtectedUnchanged(trx, actor, before, { groupIds, roleIds }, adminGroup);
  const at = iso(now);
  await guardGains(
    trx,
    actor,
    [subject],
    `assigning these groups and roles to the ${subjectLabel(subject)}`,
    async () => {
      if (groupIds) {
        await checkIds(trx, 'groups', tenantId, groupIds);
        if (subject.type === 'user' && adminGroup !== undefined) {
          const leaving = before.groups.some((g) => g.id === adminGroup) && !groupIds.includes(adminGroup);
          if (leaving) await assertNotLastAdministrator(trx, tenantId, subject.id);
        }
        const memberType = subject.type as MemberType;
        await trx
          .deleteFrom('group_members')
          .where('tenant_id', '=', tenantId)
          .where('member_type', '=', memberType)
          .where('member_id', '=', subject.id)
          .execute();
        if (groupIds.length > 0) {
          await trx
            .insertInto('group_members')
            .values(
              groupIds.map((g) => ({
                tenant_id: tenantId,
                group_id: g,
                member_type: memberType,
                member_id: subject.id,
                created_at: at,
              })),
            )
            .execute();
        }
      }
      if (roleIds) {
        await checkIds(trx, 'roles', tenantId, roleIds);
        await trx
          .deleteFrom('role_assignments')
          .where('tenant_id', '=', tenantId)
          .where('subject_type', '=', subject.type)
          .where('subject_id', '=', subject.id)
          .execute();
        if (roleIds.length > 0) {
          await trx
            .insertInto('role_assignments')
            .values(
              roleIds.map((r) => ({
                tenant_id: tenantId,
                role_id: r,
                subject_type: subject.type,
                subject_id: subject.id,
                created_at: at,
              })),
            )
            .execute();
        }
      }
    },
  );
  return { before, after: await getAssignments(trx, tenantId, subject) };
}

const subjectLabel = (subject: Subject): string =>
  subject.type === 'key' ? 'key' : subject.type.replace('_', ' ');

/**
 * Joining or leaving the Administrators group, and gaining or losing the Administrator role, need
 * a caller holding `*` (the permission check alone would let a `*` holder's delegate remove them).
 */
async function assertProtectedUnchanged(
  trx: DbOrTx,
  actor: Actor,
  before: Assignments,
  change: { groupIds?: string[]; roleIds?: string[] },
  /** The Administrators group's id, read when `change.groupIds` is given. */
  adminGroup: string | undefined,
): Promise<void> {
  const differs = (ids: string[] | undefined, had: NamedRef[], protectedId: string) =>
    ids !== undefined && had.some((r) => r.id === protectedId) !== ids.includes(protectedId);
  if (adminGroup !== undefined) {
    if (differs(change.groupIds, before.groups, adminGroup))
      assertHoldsEverything(actor, 'changing who is in the Administrators group');
  }
  if (change.roleIds !== undefined) {
    const adminRole = await trx
      .selectFrom('roles')
      .select('id')
      .where('tenant_id', '=', actor.tenantId)
      .where('builtin', '=', 'administrator')
      .executeTakeFirst();
    if (adminRole && differs(change.roleIds, before.roles, adminRole.id))
      assertHoldsEverything(actor, 'changing who holds the Administrator role');
  }
}

export async function setAssignments(
  svc: Services,
  actor: Actor,
  subject: Subject,
  change: { groupIds?: string[]; roleIds?: string[] },
  /** Checks that the subject exists in the actor's tenant (inside the transaction). */
  assertSubject: (trx: DbOrTx) => Promise<unknown>,
): Promise<Assignments> {
  return writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    await assertSubject(trx);
    const { before, after } = await replaceAssignments(trx, actor, svc.clock.now(), subject, change);
    await notifyAssignmentChange(svc, trx, actor, subject, before, after);
    const targetType = subject.type === 'key' ? 'access_key' : subject.type;
    await writeAudit(
      trx,
      svc.clock,
      actor,
      `${targetType}.assignments`,
      { type: targetType, id: subject.id },
      before,
      after,
    );
    return after;
  });
}
