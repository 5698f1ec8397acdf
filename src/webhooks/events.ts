/**
 * The events webhooks carry, and how they enter the delivery queue.
 *
 * Two families:
 * - key lifecycle: `access_key.created`, `.rotated`, `.deactivated`, `.deleted` (from the audit
 *   entries of those changes), `.expiring` and `.expired` (from the reminder job, once per key and
 *   expiry time), `.throttled` (a burst of refusals: the first request of a key refused by its rate
 *   limit or quota in an hour, per registered API, noticed when usage is written: traffic/usage.ts),
 *   `.quarantined` (a leak report named the key: src/leaks/quarantine.ts);
 * - audit: `audit.<action>` for every audit entry (`audit.user.create`, …), or `audit.*` for all.
 *
 * Deliveries are rows inserted in the transaction of the change that causes the event (writeAudit
 * and the reminder job call enqueueWebhookEvents with their transaction), one per subscribed,
 * enabled endpoint: the change and its events commit together or not at all.
 *
 * The body is `{"type","timestamp","data"}` and is built from what the audit log holds (views that
 * never include a secret) or from ids and times: no secret ever reaches a webhook.
 */
import { ALL_AUDIT_EVENTS, EVENT_TYPES } from '../contract/webhook-events.js';
import { randomBase32 } from '../crypto/random.js';
import type { Clock } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import { iso } from '../time.js';

const KNOWN = new Set(EVENT_TYPES);

/** The subscribed types that do not exist. */
export const unknownEvents = (events: readonly string[]): string[] => events.filter((e) => !KNOWN.has(e));

/**
 * What a subscriber must be allowed to read to receive these events: the audit log for audit
 * events, keys for key events. Subscribing is reading, by other means.
 */
export function permissionsToReceive(events: readonly string[]): string[] {
  const needed = new Set<string>();
  for (const e of events) needed.add(e.startsWith('audit.') ? 'iam:audit:read' : 'iam:keys:read');
  return [...needed].sort();
}

/** Does an endpoint subscribed to `events` want an event of `type`? */
export function wants(events: readonly string[], type: string): boolean {
  return events.includes(type) || (type.startsWith('audit.') && events.includes(ALL_AUDIT_EVENTS));
}

export interface WebhookEvent {
  type: string;
  data: Record<string, unknown>;
}

/** The ids of deliveries (`webhook-id`): Standard Webhooks' `msg_` prefix, unique per event and endpoint. */
export const deliveryId = () => `msg_${randomBase32(20).toLowerCase()}`;

/**
 * Queue each event for every enabled endpoint of the tenant subscribed to it (or for
 * `onlyEndpoint` whatever it subscribes to: the test event). Call it inside the transaction of the
 * change that causes the events. One read of the tenant's endpoints for all of them; returns the
 * ids of the deliveries queued.
 */
export async function enqueueWebhookEvents(
  db: DbOrTx,
  clock: Clock,
  tenantId: string,
  events: readonly WebhookEvent[],
  onlyEndpoint?: string,
): Promise<string[]> {
  let query = db
    .selectFrom('webhook_endpoints')
    .select(['id', 'events'])
    .where('tenant_id', '=', tenantId)
    .where('enabled', '=', 1);
  if (onlyEndpoint !== undefined) query = query.where('id', '=', onlyEndpoint);
  const endpoints = await query.execute();
  if (endpoints.length === 0) return [];
  const now = iso(clock.now());
  const rows = events.flatMap((event) => {
    const targets = endpoints.filter(
      (e) => onlyEndpoint !== undefined || wants(JSON.parse(e.events) as string[], event.type),
    );
    const eventId = `evt_${randomBase32(20).toLowerCase()}`;
    const payload = JSON.stringify({ type: event.type, timestamp: now, data: event.data });
    return targets.map((e) => ({
      id: deliveryId(),
      tenant_id: tenantId,
      endpoint_id: e.id,
      event_id: eventId,
      event_type: event.type,
      payload,
      status: 'pending' as const,
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      locked_by: null,
      last_status_code: null,
      last_error: null,
      created_at: now,
      updated_at: now,
      delivered_at: null,
    }));
  });
  if (rows.length === 0) return [];
  await db.insertInto('webhook_deliveries').values(rows).execute();
  return rows.map((r) => r.id);
}

interface AuditFacts {
  id: string;
  at: string;
  action: string;
  actor: { type: string; id: string };
  target: { type: string; id: string };
  sourceIp: string | null;
  requestId: string | null;
  before: unknown;
  after: unknown;
}

const statusOf = (view: unknown): unknown =>
  typeof view === 'object' && view !== null ? (view as { status?: unknown }).status : undefined;

/** The events one audit entry raises: its `audit.<action>`, and a key lifecycle event where it is one. */
export function eventsOfAudit(entry: AuditFacts): WebhookEvent[] {
  const events: WebhookEvent[] = [{ type: `audit.${entry.action}`, data: { ...entry } }];
  if (entry.target.type !== 'access_key') return events;
  const key = { accessKeyId: entry.target.id, actor: entry.actor, auditId: entry.id };
  switch (entry.action) {
    case 'access_key.create':
      events.push({ type: 'access_key.created', data: { ...key, key: entry.after } });
      break;
    case 'access_key.rotate_secret':
      events.push({ type: 'access_key.rotated', data: { ...key, ...(entry.after as object) } });
      break;
    case 'access_key.update':
      if (statusOf(entry.before) === 'active' && statusOf(entry.after) === 'inactive')
        events.push({ type: 'access_key.deactivated', data: { ...key, key: entry.after } });
      break;
    case 'access_key.delete':
      events.push({ type: 'access_key.deleted', data: { ...key, key: entry.before } });
      break;
    case 'access_key.quarantine':
      // A leak report named the key (src/leaks): `key.quarantine` holds the reason and URL.
      events.push({ type: 'access_key.quarantined', data: { ...key, key: entry.after } });
      break;
  }
  return events;
}
