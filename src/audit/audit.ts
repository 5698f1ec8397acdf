/**
 * The audit trail: one row per change to identity or keys. Callers pass views that hold no
 * secrets (the key views never include the secret; user views never the password hash). Each
 * entry also raises its webhook events (webhooks/events.ts), queued in the caller's transaction.
 */

import type { Static } from '@sinclair/typebox';
import type { Actor } from '../context.js';
import type { AuditEntry as AuditEntrySchema } from '../contract/views.js';
import { randomBase32 } from '../crypto/random.js';
import type { Clock } from '../services.js';
import { type DbOrTx, startsWith } from '../storage/dialect.js';
import type { AuditEntry } from '../storage/tables.js';
import { iso } from '../time.js';
import { enqueueWebhookEvents, eventsOfAudit } from '../webhooks/events.js';

export interface AuditTarget {
  type: string;
  id: string;
}

let lastMs = 0;
let sequence = 0;

/**
 * Time-ordered ids (time, then a per-process sequence, then randomness): listing by id is
 * listing in the order entries were written, even within one millisecond.
 */
function auditId(now: Date): string {
  const ms = now.getTime();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = 0;
  } else {
    sequence += 1;
  }
  return `aud_${lastMs.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${randomBase32(8).toLowerCase()}`;
}

export async function writeAudit(
  db: DbOrTx,
  clock: Clock,
  actor: Actor,
  action: string,
  target: AuditTarget,
  before: unknown,
  after: unknown,
): Promise<void> {
  const now = clock.now();
  const id = auditId(now);
  await db
    .insertInto('audit_log')
    .values({
      id,
      tenant_id: actor.tenantId,
      at: iso(now),
      actor_type: actor.type,
      actor_id: actor.id,
      action,
      target_type: target.type,
      target_id: target.id,
      source_ip: actor.sourceIp,
      request_id: actor.requestId,
      before: before === undefined || before === null ? null : JSON.stringify(before),
      after: after === undefined || after === null ? null : JSON.stringify(after),
    })
    .execute();
  // The entry's webhook events, in the same transaction: they commit with the change, or not at all.
  await enqueueWebhookEvents(
    db,
    clock,
    actor.tenantId,
    eventsOfAudit({
      id,
      at: iso(now),
      action,
      actor: { type: actor.type, id: actor.id },
      target,
      sourceIp: actor.sourceIp,
      requestId: actor.requestId,
      before: before ?? null,
      after: after ?? null,
    }),
  );
}

export interface AuditFilter {
  action?: string;
  actorId?: string;
  targetType?: string;
  targetId?: string;
  since?: string;
  until?: string;
  limit: number;
  offset: number;
}

/** Who or what an entry is about, with its current name (null once it is gone, or when it has none). */
export interface AuditParty {
  type: string;
  id: string;
  name: string | null;
}

export type AuditView = Static<typeof AuditEntrySchema>;

const view = (row: AuditEntry, names: PartyNames): AuditView => ({
  id: row.id,
  at: row.at,
  actor: { type: row.actor_type, id: row.actor_id, name: names.of(row.actor_type, row.actor_id) },
  action: row.action,
  target: { type: row.target_type, id: row.target_id, name: names.of(row.target_type, row.target_id) },
  sourceIp: row.source_ip,
  requestId: row.request_id,
  before: row.before === null ? null : JSON.parse(row.before),
  after: row.after === null ? null : JSON.parse(row.after),
});

export async function listAudit(
  db: DbOrTx,
  tenantId: string,
  filter: AuditFilter,
): Promise<{ items: AuditView[]; total: number }> {
  let query = db.selectFrom('audit_log').where('tenant_id', '=', tenantId);
  if (filter.action) {
    // `key.` matches every key action; `key.create` exactly that one.
    query = filter.action.endsWith('.')
      ? query.where(startsWith('action', filter.action))
      : query.where('action', '=', filter.action);
  }
  if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetType) query = query.where('target_type', '=', filter.targetType);
  if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
  if (filter.since) query = query.where('at', '>=', filter.since);
  if (filter.until) query = query.where('at', '<', filter.until);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  const names = await partyNames(db, tenantId, rows);
  return { items: rows.map((row) => view(row, names)), total: Number(count.n) };
}

/** The tables whose rows audit entries name, by the entry's actor or target type. */
const NAMED_TABLES = {
  user: 'users',
  service_account: 'service_accounts',
  access_key: 'access_keys',
  group: 'groups',
  role: 'roles',
} as const;

interface PartyNames {
  of(type: string, id: string): string | null;
}

/**
 * The current names of every actor and target on a page: one query per type present (never one
 * per entry), within the tenant, so an id from another tenant never lends its name. What no longer
 * exists (a deleted user), what has no name (the operator CLI, an unnamed key) is null.
 */
async function partyNames(db: DbOrTx, tenantId: string, rows: readonly AuditEntry[]): Promise<PartyNames> {
  const wanted = new Map<string, Set<string>>();
  for (const row of rows) {
    for (const [type, id] of [
      [row.actor_type, row.actor_id],
      [row.target_type, row.target_id],
    ] as const) {
      if (!wanted.has(type)) wanted.set(type, new Set());
      wanted.get(type)?.add(id);
    }
  }
  const found = new Map<string, string>();
  const key = (type: string, id: string) => `${type}\u0000${id}`;
  await Promise.all(
    [...wanted].map(async ([type, ids]) => {
      let named: Array<{ id: string; name: string }> = [];
      if (type === 'tenant') {
        // A tenant's entries name the tenant itself, never another.
        if (ids.has(tenantId))
          named = await db.selectFrom('tenants').select(['id', 'name']).where('id', '=', tenantId).execute();
      } else if (Object.hasOwn(NAMED_TABLES, type)) {
        const table = NAMED_TABLES[type as keyof typeof NAMED_TABLES];
        named = await db
          .selectFrom(table)
          .select(['id', 'name'])
          .where('tenant_id', '=', tenantId)
          .where('id', 'in', [...ids])
          .execute();
      }
      for (const row of named) if (row.name) found.set(key(type, row.id), row.name);
    }),
  );
  return { of: (type, id) => found.get(key(type, id)) ?? null };
}
