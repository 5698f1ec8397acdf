import { Type } from '@sinclair/typebox';
import {
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
} from '../../notify/notifications.js';
import { listOutbox } from '../../notify/outbox.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Id, Page, Strict } from '../schemas.js';
import { keyRevealRoutes } from './key-reveal.js';

export async function notificationRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  // The caller's own bell: unread first, then newest. Any credential of the user sees the same.
  app.get(
    '/iam/notifications',
    { schema: { querystring: Strict({ ...Page, unread: Type.Optional(Type.Boolean()) }) } },
    async (request) => {
      const { limit = 50, offset = 0, unread } = request.query;
      const page = await listNotifications(svc.db, actorOf(request), { limit, offset, unread });
      return { ...page, limit, offset };
    },
  );

  app.post('/iam/notifications/read-all', async (request) => markAllNotificationsRead(svc, actorOf(request)));

  app.post(
    '/iam/notifications/:notificationId/read',
    { schema: { params: Strict({ notificationId: Id }) } },
    async (request) => markNotificationRead(svc, actorOf(request), request.params.notificationId),
  );

  app.get(
    '/iam/outbox',
    {
      config: { permission: 'iam:outbox:read' },
      schema: {
        querystring: Strict({
          ...Page,
          status: Type.Optional(
            Type.Union([
              Type.Literal('pending'),
              Type.Literal('sending'),
              Type.Literal('sent'),
              Type.Literal('failed'),
              Type.Literal('dropped'),
            ]),
          ),
        }),
      },
    },
    async (request) => {
      const { limit = 50, offset = 0, status } = request.query;
      const page = await listOutbox(svc.db, actorOf(request).tenantId, { status, limit, offset });
      return { ...page, limit, offset, delivery: svc.config.smtp ? 'smtp' : 'outbox-only' };
    },
  );

  // The one-time link from a key email: a page, then its button's POST shows the secret once.
  await keyRevealRoutes(app, deps);
}
