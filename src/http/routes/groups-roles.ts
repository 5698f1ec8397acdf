import { Type } from '@sinclair/typebox';
import {
  addMember,
  createGroup,
  deleteGroup,
  getGroupView,
  listGroups,
  listMembers,
  removeMember,
  updateGroup,
} from '../../identity/groups.js';
import { PERMISSION_CATALOGUE } from '../../identity/permissions.js';
import { createRole, deleteRole, findRole, listRoles, roleView, updateRole } from '../../identity/roles.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Description, Id, IdList, Name, Strict } from '../schemas.js';

const GroupParams = Strict({ groupId: Id });
const RoleParams = Strict({ roleId: Id });
const MemberType = Type.Union([Type.Literal('user'), Type.Literal('service_account'), Type.Literal('key')]);
const Permissions = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200 });

export async function groupRoleRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  app.get('/iam/groups', { config: { permission: 'iam:groups:read' } }, async (request) => ({
    items: await listGroups(svc.db, actorOf(request).tenantId),
  }));

  app.post(
    '/iam/groups',
    {
      config: { permission: 'iam:groups:manage' },
      schema: {
        body: Strict({ name: Name, description: Type.Optional(Description), roleIds: Type.Optional(IdList) }),
      },
    },
    async (request, reply) => reply.status(201).send(await createGroup(svc, actorOf(request), request.body)),
  );

  app.get(
    '/iam/groups/:groupId',
    { config: { permission: 'iam:groups:read' }, schema: { params: GroupParams } },
    async (request) => {
      const actor = actorOf(request);
      const group = await getGroupView(svc.db, actor.tenantId, request.params.groupId);
      return { ...group, members: await listMembers(svc.db, actor.tenantId, group.id) };
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
    async (request) => updateGroup(svc, actorOf(request), request.params.groupId, request.body),
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

  app.get('/iam/roles', { config: { permission: 'iam:roles:read' } }, async (request) => ({
    items: await listRoles(svc.db, actorOf(request).tenantId),
  }));

  app.get('/iam/permissions', async () => ({ items: PERMISSION_CATALOGUE }));

  app.post(
    '/iam/roles',
    {
      config: { permission: 'iam:roles:manage' },
      schema: {
        body: Strict({ name: Name, description: Type.Optional(Description), permissions: Permissions }),
      },
    },
    async (request, reply) => reply.status(201).send(await createRole(svc, actorOf(request), request.body)),
  );

  app.get(
    '/iam/roles/:roleId',
    { config: { permission: 'iam:roles:read' }, schema: { params: RoleParams } },
    async (request) => roleView(await findRole(svc.db, actorOf(request).tenantId, request.params.roleId)),
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
    async (request) => updateRole(svc, actorOf(request), request.params.roleId, request.body),
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
