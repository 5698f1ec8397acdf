/**
 * The audit trail: one row per change to identity or keys. Callers pass views that hold no
 * secrets (the key views never include the secret; user views never the password hash).
 */
import type { Actor } from '../context.js';
import { randomBase32 } from '../crypto/random.js';
import type { Clock } from '../services.js';
import { type DbOrTx, startsWith } from '../storage/dialect.js';
import type { AuditEntry } from '../storage/tables.js';
import { iso } from '../time.js';

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
  await db
    .insertInto('audit_log')
    .values({
      id: auditId(now),
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

export interface AuditView {
  id: string;
  at: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  sourceIp: string | null;
  requestId: string | null;
  before: unknown;
  after: unknown;
}

const view = (row: AuditEntry): AuditView => ({
  id: row.id,
  at: row.at,
  actor: { type: row.actor_type, id: row.actor_id },
  action: row.action,
  target: { type: row.target_type, id: row.target_id },
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
  return { items: rows.map(view), total: Number(count.n) };
}
