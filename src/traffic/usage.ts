/**
 * Usage counting: every request that names an existing key is counted per key, registered API and
 * hour, by outcome, without a database write per request. Counts collect in memory and are added
 * to `key_usage` every `flushMs` (and on shutdown), as last-used times are (auth/last-used.ts).
 * Writing them also notices the start of a burst of throttled requests (a webhook event).
 */
import { sql } from 'kysely';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import { PeriodicFlush } from '../storage/periodic-flush.js';
import type { PrincipalType } from '../storage/tables.js';
import { enqueueWebhookEvents, type WebhookEvent } from '../webhooks/events.js';

export const USAGE_OUTCOMES = [
  'ok',
  'denied',
  'throttled',
  'invalid_signature',
  'expired',
  'inactive',
] as const;
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number];

/** The key fields usage rows carry (a KeyEntry's `key` has them). */
export interface UsageKey {
  id: string;
  tenant_id: string;
  owner_type: PrincipalType;
  owner_id: string;
}

interface Bucket {
  key: UsageKey;
  apiId: string;
  hourMs: number;
  counts: number[];
}

const HOUR_MS = 3_600_000;
const FLUSH_CHUNK = 50;
const OUTCOME_INDEX: Record<UsageOutcome, number> = {
  ok: 0,
  denied: 1,
  throttled: 2,
  invalid_signature: 3,
  expired: 4,
  inactive: 5,
};

export class UsageRecorder extends PeriodicFlush {
  private pending = new Map<string, Bucket>();

  constructor(
    private readonly svc: Services,
    flushMs = 5_000,
  ) {
    super(flushMs, 'usage_flush', svc.metrics);
  }

  /** Count one request. `apiId` null: latchkey's own routes (the data API, /iam). */
  count(key: UsageKey, apiId: string | null, outcome: UsageOutcome, nowMs: number): void {
    const hourMs = nowMs - (nowMs % HOUR_MS);
    const api = apiId ?? '';
    const id = `${key.id}|${api}|${hourMs}`;
    let bucket = this.pending.get(id);
    if (bucket === undefined) {
      bucket = { key, apiId: api, hourMs, counts: [0, 0, 0, 0, 0, 0] };
      this.pending.set(id, bucket);
    }
    (bucket.counts[OUTCOME_INDEX[outcome]] as number)++;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  protected write(): Promise<void> | undefined {
    if (this.pending.size === 0) return undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    return this.writeBatch(batch);
  }

  /** One upsert per chunk, adding to the hour's counts; yields between chunks (SQLite runs on the event loop). */
  private async writeBatch(batch: Bucket[]): Promise<void> {
    for (let i = 0; i < batch.length; i += FLUSH_CHUNK) {
      const chunk = batch.slice(i, i + FLUSH_CHUNK);
      try {
        if (chunk.some((b) => (b.counts[2] as number) > 0)) {
          await this.svc.db.transaction().execute(async (trx) => this.upsertNoticingBursts(trx, chunk));
        } else {
          await this.upsert(this.svc.db, chunk).execute();
        }
      } catch (error) {
        const unwritten = batch.slice(i);
        this.svc.logger.warn({ err: error, buckets: unwritten.length }, 'could not record usage; will retry');
        for (const b of unwritten) this.merge(b);
        return;
      }
      if (i + FLUSH_CHUNK < batch.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private upsert(db: DbOrTx, chunk: Bucket[]) {
    return db
      .insertInto('key_usage')
      .values(
        chunk.map((b) => ({
          tenant_id: b.key.tenant_id,
          access_key_id: b.key.id,
          owner_type: b.key.owner_type,
          owner_id: b.key.owner_id,
          api_id: b.apiId,
          hour: new Date(b.hourMs).toISOString(),
          ok: b.counts[0] as number,
          denied: b.counts[1] as number,
          throttled: b.counts[2] as number,
          invalid_signature: b.counts[3] as number,
          expired: b.counts[4] as number,
          inactive: b.counts[5] as number,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['access_key_id', 'api_id', 'hour']).doUpdateSet({
          ok: sql`key_usage.ok + excluded.ok`,
          denied: sql`key_usage.denied + excluded.denied`,
          throttled: sql`key_usage.throttled + excluded.throttled`,
          invalid_signature: sql`key_usage.invalid_signature + excluded.invalid_signature`,
          expired: sql`key_usage.expired + excluded.expired`,
          inactive: sql`key_usage.inactive + excluded.inactive`,
        }),
      );
  }

  /**
   * The upsert, plus the `access_key.throttled` webhook event of each key whose first refusal (rate
   * limit or quota) in the hour, for an API, is in this chunk: its hour's count after the upsert is
   * exactly what this chunk adds. Decided by the database, so one event per key, API and hour across
   * every instance, and none for the rest of a burst. In one transaction with the counts.
   */
  private async upsertNoticingBursts(trx: DbOrTx, chunk: Bucket[]): Promise<void> {
    const rows = await this.upsert(trx, chunk)
      .returning(['tenant_id', 'access_key_id', 'api_id', 'hour', 'throttled'])
      .execute();
    const byTenant = new Map<string, WebhookEvent[]>();
    for (const row of rows) {
      const bucket = chunk.find(
        (b) => b.key.id === row.access_key_id && b.apiId === row.api_id && b.hourMs === Date.parse(row.hour),
      );
      const added = (bucket?.counts[2] as number | undefined) ?? 0;
      if (added === 0 || Number(row.throttled) !== added) continue;
      const events = byTenant.get(row.tenant_id) ?? [];
      events.push({
        type: 'access_key.throttled',
        data: {
          accessKeyId: row.access_key_id,
          apiId: row.api_id === '' ? null : row.api_id,
          hour: row.hour,
          refusedSoFar: added,
        },
      });
      byTenant.set(row.tenant_id, events);
    }
    for (const [tenantId, events] of byTenant)
      await enqueueWebhookEvents(trx, this.svc.clock, tenantId, events);
  }

  private merge(b: Bucket): void {
    const id = `${b.key.id}|${b.apiId}|${b.hourMs}`;
    const known = this.pending.get(id);
    if (known === undefined) this.pending.set(id, b);
    else for (let i = 0; i < b.counts.length; i++) (known.counts[i] as number) += b.counts[i] as number;
  }
}
