import type { Actor } from '../../context.js';
import { operations as op } from '../../contract/operations.js';
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
import { route } from '../contract.js';

export async function groupRoleRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
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
  const groupGrantable = async (actor: Actor, group: GroupView) =>
    (await withGrantable(actor, [group]))[0] as GroupView & { grantable: boolean };
  const roleGrantable = (actor: Actor, r: RoleView) => ({ ...r, grantable: mayGrant(actor, r.permissions) });

  route(app, op.listGroups, async (request) => {
    const actor = actorOf(request);
    return { items: await withGrantable(actor, await listGroups(svc.db, actor.tenantId)) };
  });

  route(app, op.createGroup, async (request, reply) => {
    const actor = actorOf(request);
    return reply.status(201).send(await groupGrantable(actor, await createGroup(svc, actor, request.body)));
  });

  route(app, op.getGroup, async (request) => {
    const actor = actorOf(request);
    const group = await groupGrantable(
      actor,
      await getGroupView(svc.db, actor.tenantId, request.params.groupId),
    );
    return {
      ...group,
      members: await listMembers(svc.db, actor.tenantId, request.params.groupId),
    };
  });

  route(app, op.updateGroup, async (request) => {
    const actor = actorOf(request);
    return groupGrantable(actor, await updateGroup(svc, actor, request.params.groupId, request.body));
  });

  route(app, op.deleteGroup, async (request, reply) => {
    await deleteGroup(svc, actorOf(request), request.params.groupId);
    return reply.status(204).send();
  });

  route(app, op.addGroupMember, async (request) => ({
    items: await addMember(svc, actorOf(request), request.params.groupId, request.body),
  }));

  route(app, op.removeGroupMember, async (request, reply) => {
    const { groupId, memberType, memberId } = request.params;
    await removeMember(svc, actorOf(request), groupId, { type: memberType, id: memberId });
    return reply.status(204).send();
  });

  route(app, op.listRoles, async (request) => {
    const actor = actorOf(request);
    return { items: (await listRoles(svc.db, actor.tenantId)).map((r) => roleGrantable(actor, r)) };
  });

  // The catalogue, then the permissions the tenant's registered APIs declare.
  route(app, op.listPermissions, async (request) => ({
    items: [...PERMISSION_CATALOGUE, ...deps.apis.permissionsOf(actorOf(request).tenantId)],
  }));

  route(app, op.createRole, async (request, reply) => {
    const actor = actorOf(request);
    return reply.status(201).send(roleGrantable(actor, await createRole(svc, actor, request.body)));
  });

  route(app, op.getRole, async (request) => {
    const actor = actorOf(request);
    return roleGrantable(actor, roleView(await findRole(svc.db, actor.tenantId, request.params.roleId)));
  });

  route(app, op.updateRole, async (request) => {
    const actor = actorOf(request);
    return roleGrantable(actor, await updateRole(svc, actor, request.params.roleId, request.body));
  });

  route(app, op.deleteRole, async (request, reply) => {
    await deleteRole(svc, actorOf(request), request.params.roleId);
    return reply.status(204).send();
  });
}
