/**
 * Webhook endpoints: where a tenant wants its events sent. An administrator registers a URL and
 * the event types it wants; latchkey signs every delivery with the endpoint's secret, which is
 * shown once and stored sealed under the master key.
 *
 * Subscribing to events is a way of reading what they carry, so it follows the security model
 * (identity/escalation.ts): audit events need `iam:audit:read`, key events `iam:keys:read`, held
 * by whoever subscribes (checked when an endpoint's events or URL change).
 */
import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type {
  WebhookDeliveryView as WebhookDeliveryViewSchema,
  WebhookView as WebhookViewSchema,
} from '../contract/views.js';
import { TEST_EVENT } from '../contract/webhook-events.js';
import { AppError, notFound } from '../errors.js';
import { assertCovers } from '../identity/escalation.js';
import { writeTransaction } from '../identity/write-transaction.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow } from '../storage/tables.js';
import { iso } from '../time.js';
import { assertPublicHost, checkWebhookUrl } from './address.js';
import { enqueueWebhookEvents, permissionsToReceive, unknownEvents } from './events.js';
import { generateWebhookSecret, secretKey } from './signature.js';

export type WebhookView = Static<typeof WebhookViewSchema>;
export type WebhookDeliveryView = Static<typeof WebhookDeliveryViewSchema>;

/** The associated data of an endpoint's sealed secret: a ciphertext moved to another row does not open. */
export const webhookSecretContext = (tenantId: string, id: string) => `webhook-secret:${tenantId}:${id}`;

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string;
  secret?: string;
}

export const webhookView = (row: WebhookEndpointRow): WebhookView => ({
  id: row.id,
  url: row.url,
  description: row.description,
  events: JSON.parse(row.events) as string[],
  enabled: row.enabled === 1,
  disabledReason: row.disabled_reason,
  consecutiveFailures: row.consecutive_failures,
  failingSince: row.failing_since,
  lastSuccessAt: row.last_success_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const deliveryView = (row: WebhookDeliveryRow): WebhookDeliveryView => ({
  id: row.id,
  eventId: row.event_id,
  eventType: row.event_type,
  status: row.status,
  attempts: row.attempts,
  nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
});

function checkEvents(events: readonly string[]): string[] {
  // The contract refuses unknown types already; domain callers (the CLI, tests) get the same rule.
  const unknown = unknownEvents(events);
  if (unknown.length > 0) throw new AppError('INVALID_WEBHOOK', `events: unknown event type ${unknown[0]}`);
  if (events.length === 0) throw new AppError('INVALID_WEBHOOK', 'events: subscribe to at least one event');
  return [...new Set(events)];
}

/** The URL as stored, after the address rule (a public host unless the operator allows private ones). */
async function checkedUrl(svc: Services, raw: string): Promise<string> {
  const url = checkWebhookUrl(raw);
  await assertPublicHost(url, svc.config.webhookAllowPrivate);
  return url.href;
}

function sealSecret(svc: Services, tenantId: string, id: string, secret: string) {
  secretKey(secret); // refuses a malformed one
  const sealed = svc.secrets.seal(secret, webhookSecretContext(tenantId, id));
  return { secret_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion };
}

/** The secret of an endpoint, opened (for signing a delivery). */
export function openSecret(svc: Services, row: WebhookEndpointRow): string {
  return svc.secrets.open(
    { ciphertext: row.secret_ciphertext, masterKeyVersion: row.master_key_version },
    webhookSecretContext(row.tenant_id, row.id),
  );
}

export async function listWebhooks(db: DbOrTx, tenantId: string): Promise<WebhookView[]> {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(webhookView);
}

export async function findWebhook(db: DbOrTx, tenantId: string, id: string): Promise<WebhookEndpointRow> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('webhook');
  return row;
}

const target = (id: string) => ({ type: 'webhook', id });

export async function createWebhook(
  svc: Services,
  actor: Actor,
  input: WebhookInput,
): Promise<WebhookView & { secret: string }> {
  const events = checkEvents(input.events);
  assertCovers(actor, permissionsToReceive(events), 'subscribing to these events');
  const url = await checkedUrl(svc, input.url);
  const id = svc.newId('whk');
  const secret = input.secret ?? generateWebhookSecret();
  const now = iso(svc.clock.now());
  const row: WebhookEndpointRow = {
    id,
    tenant_id: actor.tenantId,
    url,
    description: input.description?.trim() ?? '',
    events: JSON.stringify(events),
    ...sealSecret(svc, actor.tenantId, id, secret),
    enabled: 1,
    disabled_reason: null,
    consecutive_failures: 0,
    failing_since: null,
    last_success_at: null,
    created_at: now,
    updated_at: now,
  };
  const view = await writeTransaction(svc, {}, async (trx) => {
    await trx.insertInto('webhook_endpoints').values(row).execute();
    const view = webhookView(row);
    await writeAudit(trx, svc.clock, actor, 'webhook.create', target(id), null, view);
    return view;
  });
  return { ...view, secret };
}

export interface WebhookPatch {
  url?: string;
  events?: string[];
  description?: string;
  enabled?: boolean;
}

export async function updateWebhook(
  svc: Services,
  actor: Actor,
  id: string,
  patch: WebhookPatch,
): Promise<WebhookView> {
  const events = patch.events === undefined ? undefined : checkEvents(patch.events);
  // Resolved outside the transaction: a slow DNS answer must not hold the database.
  const url = patch.url === undefined ? undefined : await checkedUrl(svc, patch.url);
  return writeTransaction(svc, {}, async (trx) => {
    const before = await findWebhook(trx, actor.tenantId, id);
    const values: Partial<WebhookEndpointRow> = { updated_at: iso(svc.clock.now()) };
    if (events !== undefined) values.events = JSON.stringify(events);
    if (url !== undefined) values.url = url;
    if (patch.description !== undefined) values.description = patch.description.trim();
    if (patch.enabled === true && before.enabled === 0) {
      // A fresh start: the failures that disabled it are behind it.
      Object.assign(values, {
        enabled: 1,
        disabled_reason: null,
        consecutive_failures: 0,
        failing_since: null,
      });
    } else if (patch.enabled === false && before.enabled === 1) {
      Object.assign(values, { enabled: 0, disabled_reason: 'disabled by an administrator' });
    }
    // Whoever changes where events go, or which, receives them from then on.
    if (events !== undefined || url !== undefined || values.enabled === 1) {
      assertCovers(
        actor,
        permissionsToReceive(events ?? (JSON.parse(before.events) as string[])),
        'subscribing to these events',
      );
    }
    await trx.updateTable('webhook_endpoints').set(values).where('id', '=', id).execute();
    const after = webhookView({ ...before, ...values });
    await writeAudit(trx, svc.clock, actor, 'webhook.update', target(id), webhookView(before), after);
    return after;
  });
}

export async function deleteWebhook(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, {}, async (trx) => {
    const before = await findWebhook(trx, actor.tenantId, id);
    // Deliveries go with it (ON DELETE CASCADE): a worker holding one finds nothing to mark.
    await trx.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
    await writeAudit(trx, svc.clock, actor, 'webhook.delete', target(id), webhookView(before), null);
  });
}

export async function rotateWebhookSecret(
  svc: Services,
  actor: Actor,
  id: string,
  secret: string | undefined,
): Promise<{ secret: string }> {
  const next = secret ?? generateWebhookSecret();
  await writeTransaction(svc, {}, async (trx) => {
    await findWebhook(trx, actor.tenantId, id);
    await trx
      .updateTable('webhook_endpoints')
      .set({ ...sealSecret(svc, actor.tenantId, id, next), updated_at: iso(svc.clock.now()) })
      .where('id', '=', id)
      .execute();
    await writeAudit(trx, svc.clock, actor, 'webhook.secret', target(id), null, null);
  });
  return { secret: next };
}

/** Queue a `webhook.test` event for one endpoint (enabled: a disabled one receives nothing). */
export async function testWebhook(svc: Services, actor: Actor, id: string): Promise<WebhookDeliveryView> {
  return svc.db.transaction().execute(async (trx) => {
    const endpoint = await findWebhook(trx, actor.tenantId, id);
    if (endpoint.enabled !== 1)
      throw new AppError('CONFLICT', 'the endpoint is disabled: enable it (PATCH enabled: true) first');
    const [deliveryId] = await enqueueWebhookEvents(
      trx,
      svc.clock,
      actor.tenantId,
      [
        {
          type: TEST_EVENT,
          data: {
            webhookId: id,
            requestedBy: { type: actor.type, id: actor.id },
            requestId: actor.requestId,
          },
        },
      ],
      id,
    );
    const row = await trx
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', deliveryId as string)
      .executeTakeFirstOrThrow();
    return deliveryView(row);
  });
}

export async function listDeliveries(
  db: DbOrTx,
  tenantId: string,
  endpointId: string,
  filter: { status?: WebhookDeliveryStatus; limit: number; offset: number },
): Promise<{ items: WebhookDeliveryView[]; total: number; limit: number; offset: number }> {
  await findWebhook(db, tenantId, endpointId);
  let query = db
    .selectFrom('webhook_deliveries')
    .where('tenant_id', '=', tenantId)
    .where('endpoint_id', '=', endpointId);
  if (filter.status) query = query.where('status', '=', filter.status);
  const [rows, count] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    items: rows.map(deliveryView),
    total: Number(count.n),
    limit: filter.limit,
    offset: filter.offset,
  };
}
