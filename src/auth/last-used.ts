/**
 * Records when and from where each key was last used without a database write per request:
 * uses are collected in memory and written every `flushMs` (and on shutdown), a chunk per statement.
 */
import { sql } from 'kysely';
import type { Services } from '../services.js';
import { PeriodicFlush } from '../storage/periodic-flush.js';

/** Uses written per statement (SQLite: about half a millisecond of event-loop time each). */
const FLUSH_CHUNK = 50;

/** A use through the gateway: the API and what was decided. Other uses record none. */
export interface GatewayUse {
  apiId: string;
  decision: 'allowed' | 'denied';
}

interface Use {
  atMs: number;
  ip: string;
  gateway: GatewayUse | undefined;
}

export class LastUsedRecorder extends PeriodicFlush {
  private pending = new Map<string, Use>();

  constructor(
    private readonly svc: Services,
    flushMs = 5_000,
  ) {
    super(flushMs, 'last_used_flush', svc.metrics);
  }

  /**
   * Called on every signed request (and again with `gateway` once the gateway has decided): keeps
   * the time as a number, formatted only when flushed.
   */
  record(
    accessKeyId: string,
    ip: string,
    atMs: number = this.svc.clock.now().getTime(),
    gateway?: GatewayUse,
  ): void {
    const use = this.pending.get(accessKeyId);
    if (use === undefined) this.pending.set(accessKeyId, { atMs, ip, gateway });
    else {
      use.atMs = atMs;
      use.ip = ip;
      use.gateway = gateway;
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  protected write(): Promise<void> | undefined {
    if (this.pending.size === 0) return undefined;
    const batch = [...this.pending];
    this.pending = new Map();
    return this.writeBatch(batch);
  }

  /**
   * One UPDATE per chunk of uses, yielding to the event loop between chunks: with SQLite every
   * statement runs on the event loop, so one long write would hold up the requests behind it.
   */
  private async writeBatch(batch: Array<[string, Use]>): Promise<void> {
    for (let i = 0; i < batch.length; i += FLUSH_CHUNK) {
      const chunk = batch.slice(i, i + FLUSH_CHUNK);
      const rows = chunk.map(
        ([id, { atMs, ip, gateway }]) =>
          sql`(${id}, ${new Date(atMs).toISOString()}, ${ip}, cast(${gateway?.apiId ?? null} as text), cast(${gateway?.decision ?? null} as text))`,
      );
      try {
        // Never moves a time backwards (another instance may have written a later use).
        await sql`with used(id, at, ip, api, decision) as (values ${sql.join(rows)})
          update access_keys set last_used_at = used.at, last_used_ip = used.ip,
            last_used_api_id = used.api, last_used_decision = used.decision
          from used
          where access_keys.id = used.id
            and (access_keys.last_used_at is null or access_keys.last_used_at < used.at)`.execute(
          this.svc.db,
        );
      } catch (error) {
        const unwritten = batch.slice(i);
        this.svc.logger.warn(
          { err: error, keys: unwritten.length },
          'could not record last-used times; will retry',
        );
        for (const [id, use] of unwritten) if (!this.pending.has(id)) this.pending.set(id, use);
        return;
      }
      if (i + FLUSH_CHUNK < batch.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
