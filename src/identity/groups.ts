import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import { AppError, notFound } from '../errors.js';
import { notifyAssignmentChange, notifyMembershipChange } from '../notify/notifications.js';
import type { Services } from '../services.js';
import { type DbOrTx, isUniqueViolation } from '../storage/dialect.js';
import type { Group, MemberType } from '../storage/tables.js';
import { iso } from '../time.js';
import { getAssignments, type NamedRef, replaceAssignments } from './assignments.js';
import { assertNotLastAdministrator } from './authorization.js';
import { assertHoldsEverything, guardGains } from './escalation.js';

export interface GroupMember {
  type: MemberType;
  id: string;
  /** Email for users, name for service accounts and keys. */
  label: string;
}

export interface GroupView {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  roles: NamedRef[];
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

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

async function groupView(db: DbOrTx, g: Group): Promise<GroupView> {
  const [{ roles }, count] = await Promise.all([
    getAssignments(db, g.tenant_id, { type: 'group', id: g.id }),
    db
      .selectFrom('group_members')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('group_id', '=', g.id)
      .executeTakeFirstOrThrow(),
  ]);
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    builtin: g.builtin !== null,
    roles,
    memberCount: Number(count.n),
    createdAt: g.created_at,
    updatedAt: g.updated_at,
  };
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
  return Promise.all(rows.map((g) => groupView(db, g)));
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
  try {
    return await svc.db.transaction().execute(async (trx) => {
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
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicate(row.name);
    throw error;
  }
}

export async function updateGroup(
  svc: Services,
  actor: Actor,
  id: string,
  patch: { name?: string; description?: string; roleIds?: string[] },
): Promise<GroupView> {
  try {
    const view = await svc.db.transaction().execute(async (trx) => {
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
    svc.events.emit('authz-changed', { tenantId: actor.tenantId });
    return view;
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicate(patch.name ?? '');
    throw error;
  }
}

export async function deleteGroup(svc: Services, actor: Actor, id: string): Promise<void> {
  await svc.db.transaction().execute(async (trx) => {
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
  svc.events.emit('authz-changed', { tenantId: actor.tenantId });
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
  const members = await svc.db.transaction().execute(async (trx) => {
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
  svc.events.emit('authz-changed', { tenantId: actor.tenantId });
  return members;
}

export async function removeMember(
  svc: Services,
  actor: Actor,
  groupId: string,
  member: { type: MemberType; id: string },
): Promise<void> {
  await svc.db.transaction().execute(async (trx) => {
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
  svc.events.emit('authz-changed', { tenantId: actor.tenantId });
}
