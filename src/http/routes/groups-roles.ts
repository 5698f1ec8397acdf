import { Type } from '@sinclair/typebox';
import type { Actor } from '../../context.js';
import { mayGrant } from '../../identity/escalation.js';
import {
  addMember,
  createGroup,
  deleteGroup,
  type GroupView,
  getGroupView,
  listGroups,
  listMembers,
  removeMember,
  updateGroup,
} from '../../identity/groups.js';
import { PERMISSION_CATALOGUE } from '../../identity/permissions.js';
import {
  createRole,
  deleteRole,
  findRole,
  listRoles,
  type RoleView,
  roleView,
  updateRole,
} from '../../identity/roles.js';
import { administratorsGroupId } from '../../identity/tenants.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Description, Id, IdList, Name, Strict } from '../schemas.js';

const GroupParams = Strict({ groupId: Id });
const RoleParams = Strict({ roleId: Id });
const MemberType = Type.Union([Type.Literal('user'), Type.Literal('service_account'), Type.Literal('key')]);
const Permissions = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200 });

export async function groupRoleRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  /**
   * `grantable`: whether the caller may give this group (or role) to someone: it holds all the
   * group gives (and `*` for the Administrators group). The console disables the others.
   */
  const withGrantable = async <G extends GroupView>(actor: Actor, groups: G[]) => {
    // A group gives what its roles hold: the views name the roles, one read gives their permissions.
    const [admins, roles] = await Promise.all([
      administratorsGroupId(svc.db, actor.tenantId),
      listRoles(svc.db, actor.tenantId),
    ]);
    const permissions = new Map(roles.map((r) => [r.id, r.permissions]));
    return groups.map((g) => ({
      ...g,
      grantable:
        mayGrant(
          actor,
          g.roles.flatMap((r) => permissions.get(r.id) ?? []),
        ) &&
        (g.id !== admins || mayGrant(actor, ['*'])),
    }));
  };
  const roleGrantable = (actor: Actor, r: RoleView) => ({ ...r, grantable: mayGrant(actor, r.permissions) });

  app.get('/iam/groups', { config: { permission: 'iam:groups:read' } }, async (request) => {
    const actor = actorOf(request);
    return { items: await withGrantable(actor, await listGroups(svc.db, actor.tenantId)) };
  });

  app.post(
    '/iam/groups',
    {
      config: { permission: 'iam:groups:manage' },
      schema: {
        body: Strict({ name: Name, description: Type.Optional(Description), roleIds: Type.Optional(IdList) }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const [group] = await withGrantable(actor, [await createGroup(svc, actor, request.body)]);
      return reply.status(201).send(group);
    },
  );

  app.get(
    '/iam/groups/:groupId',
    { config: { permission: 'iam:groups:read' }, schema: { params: GroupParams } },
    async (request) => {
      const actor = actorOf(request);
      const [group] = await withGrantable(actor, [
        await getGroupView(svc.db, actor.tenantId, request.params.groupId),
      ]);
      return {
        ...(group as GroupView),
        members: await listMembers(svc.db, actor.tenantId, request.params.groupId),
      };
    },
  );

  app.patch(
    '/iam/groups/:groupId',
    {
      config: { permission: 'iam:groups:manage' },
      schema: {
        params: GroupParams,
        body: Strict({
          name: Type.Optional(Name),
          description: Type.Optional(Description),
          roleIds: Type.Optional(IdList),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return (
        await withGrantable(actor, [await updateGroup(svc, actor, request.params.groupId, request.body)])
      )[0];
    },
  );

  app.delete(
    '/iam/groups/:groupId',
    { config: { permission: 'iam:groups:manage' }, schema: { params: GroupParams } },
    async (request, reply) => {
      await deleteGroup(svc, actorOf(request), request.params.groupId);
      return reply.status(204).send();
    },
  );

  app.post(
    '/iam/groups/:groupId/members',
    {
      config: { permission: 'iam:groups:manage' },
      schema: {
        params: GroupParams,
        body: Strict({ type: MemberType, id: Type.String({ minLength: 1, maxLength: 64 }) }),
      },
    },
    async (request) => ({
      items: await addMember(svc, actorOf(request), request.params.groupId, request.body),
    }),
  );

  app.delete(
    '/iam/groups/:groupId/members/:memberType/:memberId',
    {
      config: { permission: 'iam:groups:manage' },
      schema: {
        params: Strict({
          groupId: Id,
          memberType: MemberType,
          memberId: Type.String({ minLength: 1, maxLength: 64 }),
        }),
      },
    },
    async (request, reply) => {
      const { groupId, memberType, memberId } = request.params;
      await removeMember(svc, actorOf(request), groupId, { type: memberType, id: memberId });
      return reply.status(204).send();
    },
  );

  app.get('/iam/roles', { config: { permission: 'iam:roles:read' } }, async (request) => {
    const actor = actorOf(request);
    return { items: (await listRoles(svc.db, actor.tenantId)).map((r) => roleGrantable(actor, r)) };
  });

  app.get('/iam/permissions', async () => ({ items: PERMISSION_CATALOGUE }));

  app.post(
    '/iam/roles',
    {
      config: { permission: 'iam:roles:manage' },
      schema: {
        body: Strict({ name: Name, description: Type.Optional(Description), permissions: Permissions }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return reply.status(201).send(roleGrantable(actor, await createRole(svc, actor, request.body)));
    },
  );

  app.get(
    '/iam/roles/:roleId',
    { config: { permission: 'iam:roles:read' }, schema: { params: RoleParams } },
    async (request) => {
      const actor = actorOf(request);
      return roleGrantable(actor, roleView(await findRole(svc.db, actor.tenantId, request.params.roleId)));
    },
  );

  app.patch(
    '/iam/roles/:roleId',
    {
      config: { permission: 'iam:roles:manage' },
      schema: {
        params: RoleParams,
        body: Strict({
          name: Type.Optional(Name),
          description: Type.Optional(Description),
          permissions: Type.Optional(Permissions),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return roleGrantable(actor, await updateRole(svc, actor, request.params.roleId, request.body));
    },
  );

  app.delete(
    '/iam/roles/:roleId',
    { config: { permission: 'iam:roles:manage' }, schema: { params: RoleParams } },
    async (request, reply) => {
      await deleteRole(svc, actorOf(request), request.params.roleId);
      return reply.status(204).send();
    },
  );
}
