/** `/iam/webhooks`: event webhooks (src/webhooks holds the rules and the delivery worker). */
import { operations as op } from '../../contract/operations.js';
import { PAGE_SIZE } from '../../limits.js';
import {
  createWebhook,
  deleteWebhook,
  findWebhook,
  listDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  testWebhook,
  updateWebhook,
  webhookView,
} from '../../webhooks/endpoints.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';

export async function webhookRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  route(app, op.listWebhooks, async (request) => ({
    items: await listWebhooks(svc.db, actorOf(request).tenantId),
  }));

  route(app, op.createWebhook, async (request, reply) => {
    // The answer holds the signing secret: never cached on the way.
    reply.header('cache-control', 'no-store');
    return reply.status(201).send(await createWebhook(svc, actorOf(request), request.body));
  });

  route(app, op.getWebhook, async (request) =>
    webhookView(await findWebhook(svc.db, actorOf(request).tenantId, request.params.webhookId)),
  );

  route(app, op.updateWebhook, async (request) =>
    updateWebhook(svc, actorOf(request), request.params.webhookId, request.body),
  );

  route(app, op.deleteWebhook, async (request, reply) => {
    await deleteWebhook(svc, actorOf(request), request.params.webhookId);
    return reply.status(204).send();
  });

  route(app, op.rotateWebhookSecret, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return rotateWebhookSecret(svc, actorOf(request), request.params.webhookId, request.body?.secret);
  });

  route(app, op.testWebhook, async (request, reply) =>
    reply.status(202).send(await testWebhook(svc, actorOf(request), request.params.webhookId)),
  );

  route(app, op.listWebhookDeliveries, async (request) => {
    const { limit = PAGE_SIZE.default, offset = 0, status } = request.query;
    return listDeliveries(svc.db, actorOf(request).tenantId, request.params.webhookId, {
      status,
      limit,
      offset,
    });
  });
}
