import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../context.js';
import { operations as op } from '../../contract/operations.js';
import { AppError } from '../../errors.js';
import { getAssignments } from '../../identity/assignments.js';
import {
  assertMayManageKeysOf,
  assertMayReadKeysOf,
  readableKeysFilter,
  setKeyAssignments,
} from '../../keys/access.js';
import { findKey } from '../../keys/key-rows.js';
import { deleteKey, rotateSecret, updateKey } from '../../keys/lifecycle.js';
import { effectivePermissions, keyViewOf, listKeys } from '../../keys/views.js';
import { PAGE_SIZE } from '../../limits.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { type OperationOptions, route } from '../contract.js';

export async function keyRoutes(app: App, { svc, keys, traffic }: RouteDeps): Promise<void> {
  // Access to one key depends on its owner: checked before the body is looked at. The key found
  // is kept on the request for the handler.
  const guard = (assert: typeof assertMayReadKeysOf): OperationOptions => ({
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

  route(app, op.listKeys, async (request) => {
    const actor = actorOf(request);
    const { limit = PAGE_SIZE.default, offset = 0, ...filter } = request.query;
    const page = await listKeys(svc, actor.tenantId, { ...readableKeysFilter(actor, filter), limit, offset });
    return { ...page, limit, offset };
  });

  route(
    app,
    op.getKey,
    async (request) => {
      const key = targetKey(request);
      const [view, entry] = await Promise.all([keyViewOf(svc, svc.db, key), keys.get(key.id)]);
      const quotas = entry ? await traffic.quotaStanding(entry.traffic, svc.clock.now().getTime()) : [];
      return { ...view, quotas };
    },
    readable,
  );

  route(
    app,
    op.updateKey,
    async (request) => {
      if (Object.keys(request.body).length === 0) {
        throw new AppError(
          'VALIDATION_FAILED',
          'nothing to change: send name, active, validityDays, expiresAt, neverExpires, rateLimit, quota or allowedCidrs',
        );
      }
      return updateKey(svc, actorOf(request), request.params.accessKeyId, request.body);
    },
    manageable,
  );

  route(
    app,
    op.deleteKey,
    async (request, reply) => {
      await deleteKey(svc, actorOf(request), request.params.accessKeyId);
      return reply.status(204).send();
    },
    manageable,
  );

  route(
    app,
    op.rotateKeySecret,
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
    manageable,
  );

  route(
    app,
    op.getKeyPermissions,
    async (request) => effectivePermissions(svc.db, targetKey(request)),
    readable,
  );

  route(
    app,
    op.getKeyAssignments,
    async (request) =>
      getAssignments(svc.db, actorOf(request).tenantId, { type: 'key', id: targetKey(request).id }),
    readable,
  );

  route(
    app,
    op.setKeyAssignments,
    async (request) => setKeyAssignments(svc, actorOf(request), request.params.accessKeyId, request.body),
    manageable,
  );
}
