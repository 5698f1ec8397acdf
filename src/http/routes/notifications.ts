import { operations as op } from '../../contract/operations.js';
import { PAGE_SIZE } from '../../limits.js';
import {
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
} from '../../notify/notifications.js';
import { listOutbox } from '../../notify/outbox.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';
import { keyRevealRoutes } from './key-reveal.js';

export async function notificationRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  // The caller's own bell: unread first, then newest. Any credential of the user sees the same.
  route(app, op.listNotifications, async (request) => {
    const { limit = PAGE_SIZE.default, offset = 0, unread } = request.query;
    const page = await listNotifications(svc.db, actorOf(request), { limit, offset, unread });
    return { ...page, limit, offset };
  });

  route(app, op.markAllNotificationsRead, async (request) => markAllNotificationsRead(svc, actorOf(request)));

  route(app, op.markNotificationRead, async (request) =>
    markNotificationRead(svc, actorOf(request), request.params.notificationId),
  );

  route(app, op.listOutbox, async (request) => {
    const { limit = PAGE_SIZE.default, offset = 0, status } = request.query;
    const page = await listOutbox(svc.db, actorOf(request).tenantId, { status, limit, offset });
    return {
      ...page,
      limit,
      offset,
      delivery: svc.config.smtp ? ('smtp' as const) : ('outbox-only' as const),
    };
  });

  // The one-time link from a key email: a page, then its button's POST shows the secret once.
  await keyRevealRoutes(app, deps);
}
