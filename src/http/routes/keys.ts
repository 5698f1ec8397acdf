import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../context.js';
import { can } from '../../context.js';
import { AppError } from '../../errors.js';
import { getAssignments, setAssignments } from '../../identity/assignments.js';
import {
  assertMayManageKeysOf,
  assertMayReadKeysOf,
  deleteKey,
  effectivePermissions,
  findKey,
  isSelfService,
  keyViewOf,
  listKeys,
  rotateSecret,
  updateKey,
} from '../../keys/keys.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { ExpiryFields, Id, IdList, Name, Strict } from '../schemas.js';
import { absentBodyIsEmpty } from '../validation.js';
import { KeyListQuery } from './keys-shared.js';

// Not validated by pattern here: findKey checks the format and checksum and answers INVALID_ACCESS_KEY_ID.
const Params = Strict({ accessKeyId: Type.String({ minLength: 1, maxLength: 128 }) });

export async function keyRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  // Access to one key depends on its owner: checked before the body is looked at. The key found
  // is kept on the request for the handler.
  const guard = (assert: typeof assertMayReadKeysOf) => ({
    authorize: async (request: FastifyRequest, actor: Actor) => {
      const id = String((request.params as { accessKeyId?: unknown }).accessKeyId);
      const key = await findKey(svc.db, actor.tenantId, id);
      assert(actor, { type: key.owner_type, id: key.owner_id });
      targetKeys.set(request, key);
    },
  });
  const targetKeys = new WeakMap<FastifyRequest, Awaited<ReturnType<typeof findKey>>>();
  const targetKey = (request: FastifyRequest) => {
    const key = targetKeys.get(request);
    if (!key) throw new Error('route without its key guard');
    return key;
  };
  const readable = guard(assertMayReadKeysOf);
  const manageable = guard(assertMayManageKeysOf);

  app.get(
    '/iam/keys',
    {
      schema: {
        querystring: Strict({
          ...KeyListQuery.properties,
          ownerType: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('service_account')])),
          ownerId: Type.Optional(Id),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const { limit = 50, offset = 0, ...filter } = request.query;
      if (!can(actor, 'iam:keys:read') && !can(actor, 'iam:keys:manage')) {
        // Without iam:keys:read a user signed in with a password sees their own keys.
        const self = { type: 'user' as const, id: actor.id };
        if (!isSelfService(actor, self)) assertMayReadKeysOf(actor, self);
        if (filter.ownerId !== undefined && filter.ownerId !== actor.id)
          assertMayReadKeysOf(actor, { type: 'user', id: filter.ownerId });
        Object.assign(filter, { ownerType: 'user', ownerId: actor.id });
      }
      const page = await listKeys(svc, actor.tenantId, { ...filter, limit, offset });
      return { ...page, limit, offset };
    },
  );

  app.get('/iam/keys/:accessKeyId', { config: readable, schema: { params: Params } }, async (request) => {
    return keyViewOf(svc, svc.db, targetKey(request));
  });

  app.patch(
    '/iam/keys/:accessKeyId',
    {
      config: manageable,
      schema: {
        params: Params,
        body: Strict({ name: Type.Optional(Name), active: Type.Optional(Type.Boolean()), ...ExpiryFields }),
      },
    },
    async (request) => {
      if (Object.keys(request.body).length === 0) {
        throw new AppError(
          'VALIDATION_FAILED',
          'nothing to change: send name, active, validityDays, expiresAt or neverExpires',
        );
      }
      return updateKey(svc, actorOf(request), request.params.accessKeyId, request.body);
    },
  );

  app.delete(
    '/iam/keys/:accessKeyId',
    { config: manageable, schema: { params: Params } },
    async (request, reply) => {
      await deleteKey(svc, actorOf(request), request.params.accessKeyId);
      return reply.status(204).send();
    },
  );

  app.post(
    '/iam/keys/:accessKeyId/secret',
    {
      config: manageable,
      preValidation: absentBodyIsEmpty,
      schema: {
        params: Params,
        body: Strict({ graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })) }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const { key, secretAccessKey } = await rotateSecret(
        svc,
        actorOf(request),
        request.params.accessKeyId,
        request.body.graceSeconds ?? 0,
      );
      return { ...key, secretAccessKey };
    },
  );

  app.get(
    '/iam/keys/:accessKeyId/permissions',
    { config: readable, schema: { params: Params } },
    async (request) => effectivePermissions(svc.db, targetKey(request)),
  );

  app.get(
    '/iam/keys/:accessKeyId/assignments',
    { config: readable, schema: { params: Params } },
    async (request) =>
      getAssignments(svc.db, actorOf(request).tenantId, { type: 'key', id: targetKey(request).id }),
  );

  app.put(
    '/iam/keys/:accessKeyId/assignments',
    {
      config: manageable,
      schema: {
        params: Params,
        body: Strict({ groupIds: Type.Optional(IdList), roleIds: Type.Optional(IdList) }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const id = request.params.accessKeyId;
      return setAssignments(svc, actor, { type: 'key', id }, request.body, async (trx) => {
        const key = await findKey(trx, actor.tenantId, id);
        // Assigning cannot escalate (a key never exceeds its owner), so owners may shape their own keys.
        assertMayManageKeysOf(actor, { type: key.owner_type, id: key.owner_id });
      });
    },
  );
}
