import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../context.js';
import { getAssignments, setAssignments } from '../../identity/assignments.js';
import {
  createUser,
  deleteUser,
  findUser,
  getUserView,
  listUsers,
  updateUser,
} from '../../identity/users.js';
import { assertMayManageKeysOf, assertMayReadKeysOf } from '../../keys/keys.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Email, Id, IdList, Name, Page, Password, Strict } from '../schemas.js';
import { withinYourPermissions } from './grantable.js';
import { createKeyFor, KeyListQuery, listKeysOf, NewKeyBody } from './keys-shared.js';

const UserParams = Strict({ userId: Id });

// A user's keys: the user themself (signed in with a password) or a key manager; checked before the body.
const ownKeys = (assert: typeof assertMayReadKeysOf) => ({
  authorize: (request: FastifyRequest, actor: Actor) =>
    assert(actor, { type: 'user', id: String((request.params as { userId?: unknown }).userId) }),
});

export async function userRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  app.get(
    '/iam/users',
    {
      config: { permission: 'iam:users:read' },
      schema: {
        querystring: Strict({
          ...Page,
          search: Type.Optional(Type.String({ maxLength: 100 })),
          status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
          apiUser: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const { limit = 50, offset = 0, ...rest } = request.query;
      const page = await listUsers(svc.db, actor.tenantId, { ...rest, limit, offset });
      return {
        ...page,
        items: await withinYourPermissions(svc.db, actor, 'user', page.items),
        limit,
        offset,
      };
    },
  );

  app.post(
    '/iam/users',
    {
      config: { permission: 'iam:users:manage' },
      schema: { body: Strict({ email: Email, name: Name, password: Type.Optional(Password) }) },
    },
    async (request, reply) => reply.status(201).send(await createUser(svc, actorOf(request), request.body)),
  );

  app.get(
    '/iam/users/:userId',
    { config: { permission: 'iam:users:read' }, schema: { params: UserParams } },
    async (request) => {
      const actor = actorOf(request);
      const user = await getUserView(svc.db, actor.tenantId, request.params.userId);
      return (await withinYourPermissions(svc.db, actor, 'user', [user]))[0];
    },
  );

  app.patch(
    '/iam/users/:userId',
    {
      config: { permission: 'iam:users:manage' },
      schema: {
        params: UserParams,
        body: Strict({
          name: Type.Optional(Name),
          email: Type.Optional(Email),
          status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
          apiUser: Type.Optional(Type.Boolean()),
          password: Type.Optional(Password),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const user = await updateUser(svc, actor, request.params.userId, request.body);
      return (await withinYourPermissions(svc.db, actor, 'user', [user]))[0];
    },
  );

  app.delete(
    '/iam/users/:userId',
    { config: { permission: 'iam:users:manage' }, schema: { params: UserParams } },
    async (request, reply) => {
      await deleteUser(svc, actorOf(request), request.params.userId);
      return reply.status(204).send();
    },
  );

  app.get(
    '/iam/users/:userId/assignments',
    { config: { permission: 'iam:users:read' }, schema: { params: UserParams } },
    async (request) => {
      const actor = actorOf(request);
      await findUser(svc.db, actor.tenantId, request.params.userId);
      return getAssignments(svc.db, actor.tenantId, { type: 'user', id: request.params.userId });
    },
  );

  app.put(
    '/iam/users/:userId/assignments',
    {
      config: { permission: 'iam:users:manage' },
      schema: {
        params: UserParams,
        body: Strict({ groupIds: Type.Optional(IdList), roleIds: Type.Optional(IdList) }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const id = request.params.userId;
      return setAssignments(svc, actor, { type: 'user', id }, request.body, (trx) =>
        findUser(trx, actor.tenantId, id),
      );
    },
  );

  // Keys of a user: the user themself (signed in with a password) or a key manager.
  app.get(
    '/iam/users/:userId/keys',
    { config: ownKeys(assertMayReadKeysOf), schema: { params: UserParams, querystring: KeyListQuery } },
    async (request) => {
      const actor = actorOf(request);
      const owner = { type: 'user' as const, id: request.params.userId };
      assertMayReadKeysOf(actor, owner);
      await findUser(svc.db, actor.tenantId, owner.id);
      return listKeysOf(svc, actor, owner, request.query);
    },
  );

  app.post(
    '/iam/users/:userId/keys',
    { config: ownKeys(assertMayManageKeysOf), schema: { params: UserParams, body: NewKeyBody } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const created = await createKeyFor(
        svc,
        actorOf(request),
        { type: 'user', id: request.params.userId },
        request.body,
      );
      return reply.status(201).send(created);
    },
  );
}
