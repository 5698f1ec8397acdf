import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type { GroupView as GroupViewSchema } from '../contract/views.js';
import { AppError, notFound } from '../errors.js';
import { notifyAssignmentChange, notifyMembershipChange } from '../notify/notifications.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { Group, MemberType } from '../storage/tables.js';
import { iso } from '../time.js';
import { assignmentsOf, replaceAssignments } from './assignments.js';
import { assertNotLastAdministrator } from './authorization.js';
import { assertHoldsEverything, guardGains } from './escalation.js';
import { writeTransaction } from './write-transaction.js';

export interface GroupMember {
  type: MemberType;
  id: string;
  /** Email for users, name for service accounts and keys. */
  label: string;
}

export type GroupView = Static<typeof GroupViewSchema>;

export async function findGroup(db: DbOrTx, tenantId: string, id: string): Promise<Group> {
  const row = await db
    .selectFrom('groups')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('group');
  return row;
}

/** The views of several groups of one tenant, in the order given: two queries (roles, member counts) for any number. */
async function groupViews(db: DbOrTx, tenantId: string, groups: readonly Group[]): Promise<GroupView[]> {
  if (groups.length === 0) return [];
  const ids = groups.map((g) => g.id);
  const [assignments, counts] = await Promise.all([
    assignmentsOf(db, tenantId, 'group', ids),
    db
      .selectFrom('group_members')
      .select((eb) => ['group_id', eb.fn.countAll<string | number>().as('n')])
      .where('group_id', 'in', ids)
      .groupBy('group_id')
      .execute(),
  ]);
  const memberCount = new Map(counts.map((c) => [c.group_id, Number(c.n)]));
  return groups.map((g) => ({
    id: g.id,
    name: g.name,
    description: g.description,
    builtin: g.builtin !== null,
    roles: assignments.get(g.id)?.roles ?? [],
    memberCount: memberCount.get(g.id) ?? 0,
    createdAt: g.created_at,
    updatedAt: g.updated_at,
  }));
}

async function groupView(db: DbOrTx, g: Group): Promise<GroupView> {
  return (await groupViews(db, g.tenant_id, [g]))[0] as GroupView;
}

export async function getGroupView(db: DbOrTx, tenantId: string, id: string): Promise<GroupView> {
  return groupView(db, await findGroup(db, tenantId, id));
}

export async function listGroups(db: DbOrTx, tenantId: string): Promise<GroupView[]> {
  const rows = await db
    .selectFrom('groups')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('name')
    .execute();
  return groupViews(db, tenantId, rows);
}

export async function listMembers(db: DbOrTx, tenantId: string, groupId: string): Promise<GroupMember[]> {
  await findGroup(db, tenantId, groupId);
  const rows = await db
    .selectFrom('group_members')
    .leftJoin('users', (j) =>
      j.onRef('users.id', '=', 'group_members.member_id').on('group_members.member_type', '=', 'user'),
    )
    .leftJoin('service_accounts', (j) =>
      j
        .onRef('service_accounts.id', '=', 'group_members.member_id')
        .on('group_members.member_type', '=', 'service_account'),
    )
    .leftJoin('access_keys', (j) =>
      j.onRef('access_keys.id', '=', 'group_members.member_id').on('group_members.member_type', '=', 'key'),
    )
    .select([
      'group_members.member_type',
      'group_members.member_id',
      'users.email',
      'service_accounts.name as sa_name',
      'access_keys.name as key_name',
    ])
    .where('group_members.group_id', '=', groupId)
    .orderBy('group_members.created_at')
    .execute();
  return rows.map((r) => ({
    type: r.member_type,
    id: r.member_id,
    label: r.email ?? r.sa_name ?? r.key_name ?? r.member_id,
  }));
}

const duplicate = (name: string) => new AppError('ALREADY_EXISTS', `a group named ${name} already exists`);

export async function createGroup(
  svc: Services,
  actor: Actor,
  input: { name: string; description?: string; roleIds?: string[] },
): Promise<GroupView> {
  const now = iso(svc.clock.now());
  const row: Group = {
    id: svc.newId('grp'),
    tenant_id: actor.tenantId,
    name: input.name.trim(),
    description: input.description ?? '',
    builtin: null,
    created_at: now,
    updated_at: now,
  };
  return writeTransaction(svc, { duplicate: () => duplicate(row.name) }, async (trx) => {
    await trx.insertInto('groups').values(row).execute();
    if (input.roleIds) {
      await replaceAssignments(
        trx,
        actor,
        svc.clock.now(),
        { type: 'group', id: row.id },
        {
          roleIds: input.roleIds,
        },
      );
    }
    const view = await groupView(trx, row);
    await writeAudit(trx, svc.clock, actor, 'group.create', { type: 'group', id: row.id }, null, view);
    return view;
  });
}

export async function updateGroup(
  svc: Services,
  actor: Actor,
  id: string,
  patch: { name?: string; description?: string; roleIds?: string[] },
): Promise<GroupView> {
  const options = { authzChangedIn: actor.tenantId, duplicate: () => duplicate(patch.name ?? '') };
  return writeTransaction(svc, options, async (trx) => {
    const before = await findGroup(trx, actor.tenantId, id);
    if (before.builtin !== null && (patch.name !== undefined || patch.roleIds !== undefined)) {
      throw new AppError(
        'BUILTIN_PROTECTED',
        `the built-in group ${before.name} cannot be renamed or given other roles`,
      );
    }
    if (before.builtin === 'administrators')
      assertHoldsEverything(actor, 'changing the Administrators group');
    const beforeView = await groupView(trx, before);
    const values: Partial<Group> = { updated_at: iso(svc.clock.now()) };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.description !== undefined) values.description = patch.description;
    await trx.updateTable('groups').set(values).where('id', '=', id).execute();
    if (patch.roleIds) {
      const change = await replaceAssignments(
        trx,
        actor,
        svc.clock.now(),
        { type: 'group', id },
        {
          roleIds: patch.roleIds,
        },
      );
      await notifyAssignmentChange(svc, trx, actor, { type: 'group', id }, change.before, change.after);
    }
    const after = await groupView(trx, { ...before, ...values });
    await writeAudit(trx, svc.clock, actor, 'group.update', { type: 'group', id }, beforeView, after);
    return after;
  });
}

export async function deleteGroup(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const before = await findGroup(trx, actor.tenantId, id);
    if (before.builtin !== null)
      throw new AppError('BUILTIN_PROTECTED', `the built-in group ${before.name} cannot be deleted`);
    const beforeView = await groupView(trx, before);
    // A key whose only assignment was this group would fall back to its owner's permissions.
    const keys = await trx
      .selectFrom('group_members')
      .select('member_id as id')
      .where('group_id', '=', id)
      .where('member_type', '=', 'key')
      .execute();
    await guardGains(
      trx,
      actor,
      keys.map((k) => ({ type: 'key' as const, id: k.id })),
      `deleting the group ${before.name} (keys in it would get their owners' permissions)`,
      async () => {
        await trx.deleteFrom('group_members').where('group_id', '=', id).execute();
        await trx
          .deleteFrom('role_assignments')
          .where('subject_type', '=', 'group')
          .where('subject_id', '=', id)
          .execute();
        await trx.deleteFrom('groups').where('id', '=', id).execute();
      },
    );
    await writeAudit(trx, svc.clock, actor, 'group.delete', { type: 'group', id }, beforeView, null);
  });
}

async function memberExists(db: DbOrTx, tenantId: string, type: MemberType, id: string): Promise<boolean> {
  const table = type === 'user' ? 'users' : type === 'service_account' ? 'service_accounts' : 'access_keys';
  const row = await db
    .selectFrom(table)
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row !== undefined;
}

export async function addMember(
  svc: Services,
  actor: Actor,
  groupId: string,
  member: { type: MemberType; id: string },
): Promise<GroupMember[]> {
  return writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const group = await findGroup(trx, actor.tenantId, groupId);
    if (!(await memberExists(trx, actor.tenantId, member.type, member.id)))
      throw notFound(member.type.replace('_', ' '));
    if (group.builtin === 'administrators')
      assertHoldsEverything(actor, 'adding a member to the Administrators group');
    const existing = await trx
      .selectFrom('group_members')
      .select('member_id')
      .where('group_id', '=', groupId)
      .where('member_type', '=', member.type)
      .where('member_id', '=', member.id)
      .executeTakeFirst();
    if (!existing) {
      await guardGains(trx, actor, [member], `adding this member to the group ${group.name}`, () =>
        trx
          .insertInto('group_members')
          .values({
            tenant_id: actor.tenantId,
            group_id: groupId,
            member_type: member.type,
            member_id: member.id,
            created_at: iso(svc.clock.now()),
          })
          .execute(),
      );
      await writeAudit(
        trx,
        svc.clock,
        actor,
        'group.member_add',
        { type: 'group', id: groupId },
        null,
        member,
      );
      await notifyMembershipChange(svc, trx, actor, groupId, member, 'added');
    }
    return listMembers(trx, actor.tenantId, groupId);
  });
}

export async function removeMember(
  svc: Services,
  actor: Actor,
  groupId: string,
  member: { type: MemberType; id: string },
): Promise<void> {
  await writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const group = await findGroup(trx, actor.tenantId, groupId);
    if (group.builtin === 'administrators') {
      assertHoldsEverything(actor, 'removing a member from the Administrators group');
      if (member.type === 'user') await assertNotLastAdministrator(trx, actor.tenantId, member.id);
    }
    // A key leaving its last group (and holding no role of its own) falls back to its owner's permissions.
    const result = await guardGains(
      trx,
      actor,
      [member],
      `removing this member from the group ${group.name}`,
      () =>
        trx
          .deleteFrom('group_members')
          .where('group_id', '=', groupId)
          .where('member_type', '=', member.type)
          .where('member_id', '=', member.id)
          .executeTakeFirst(),
    );
    if (Number(result.numDeletedRows) === 0) throw notFound('group member');
    await notifyMembershipChange(svc, trx, actor, groupId, member, 'removed');
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'group.member_remove',
      { type: 'group', id: groupId },
      member,
      null,
    );
  });
}
