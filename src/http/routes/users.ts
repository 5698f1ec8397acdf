import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../context.js';
import { operations as op } from '../../contract/operations.js';
import { getAssignments, setAssignments } from '../../identity/assignments.js';
import {
  createUser,
  deleteUser,
  findUser,
  getUserView,
  listUsers,
  updateUser,
} from '../../identity/users.js';
import { assertMayManageKeysOf, assertMayReadKeysOf } from '../../keys/access.js';
import { PAGE_SIZE } from '../../limits.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';
import { managed, managedPage, principalPermissions } from './grantable.js';
import { createKeyFor, listKeysOf } from './keys-shared.js';

// A user's keys: the user themself (signed in with a password) or a key manager; checked before the body.
const ownKeys = (assert: typeof assertMayReadKeysOf) => ({
  authorize: (request: FastifyRequest, actor: Actor) =>
    assert(actor, { type: 'user', id: String((request.params as { userId?: unknown }).userId) }),
});

export async function userRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  route(app, op.listUsers, async (request) => {
    const actor = actorOf(request);
    const { limit = PAGE_SIZE.default, offset = 0, ...rest } = request.query;
    const page = await listUsers(svc.db, actor.tenantId, { ...rest, limit, offset });
    return managedPage(svc.db, actor, 'user', page, { limit, offset });
  });

  route(app, op.createUser, async (request, reply) => {
    const actor = actorOf(request);
    const user = await createUser(svc, actor, request.body);
    return reply.status(201).send(await managed(svc.db, actor, 'user', user));
  });

  route(app, op.getUser, async (request) => {
    const actor = actorOf(request);
    return managed(svc.db, actor, 'user', await getUserView(svc.db, actor.tenantId, request.params.userId));
  });

  route(app, op.updateUser, async (request) => {
    const actor = actorOf(request);
    return managed(svc.db, actor, 'user', await updateUser(svc, actor, request.params.userId, request.body));
  });

  route(app, op.deleteUser, async (request, reply) => {
    await deleteUser(svc, actorOf(request), request.params.userId);
    return reply.status(204).send();
  });

  route(app, op.getUserAssignments, async (request) => {
    const actor = actorOf(request);
    await findUser(svc.db, actor.tenantId, request.params.userId);
    return getAssignments(svc.db, actor.tenantId, { type: 'user', id: request.params.userId });
  });

  route(app, op.setUserAssignments, async (request) => {
    const actor = actorOf(request);
    const id = request.params.userId;
    return setAssignments(svc, actor, { type: 'user', id }, request.body, (trx) =>
      findUser(trx, actor.tenantId, id),
    );
  });

  route(app, op.getUserPermissions, async (request) => {
    const actor = actorOf(request);
    await findUser(svc.db, actor.tenantId, request.params.userId);
    return principalPermissions(svc.db, actor, 'user', request.params.userId);
  });

  route(
    app,
    op.listUserKeys,
    async (request) => {
      const actor = actorOf(request);
      const owner = { type: 'user' as const, id: request.params.userId };
      assertMayReadKeysOf(actor, owner);
      await findUser(svc.db, actor.tenantId, owner.id);
      return listKeysOf(svc, actor, owner, request.query);
    },
    ownKeys(assertMayReadKeysOf),
  );

  route(
    app,
    op.createUserKey,
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const owner = { type: 'user' as const, id: request.params.userId };
      return reply.status(201).send(await createKeyFor(svc, actorOf(request), owner, request.body));
    },
    ownKeys(assertMayManageKeysOf),
  );
}
