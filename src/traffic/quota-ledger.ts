/**
 * Quota counts that survive a restart: requests admitted per quota counter and calendar window,
 * kept in memory and added to the `quota_usage` table every few seconds (and on shutdown), so no
 * request waits for a database write. A counter is read from the database the first time it is
 * used in a window; each flush adds this instance's new requests and reads back the total, so
 * instances without Redis see each other's counts within a flush interval.
 */
import type { Services } from '../services.js';
import { PeriodicFlush } from '../storage/periodic-flush.js';

export interface Tally {
  counter: string;
  windowStartMs: number;
  windowEndMs: number;
  /** The total in the database when last read or written (every instance's requests). */
  base: number;
  /** Admitted here and not yet written. */
  pending: number;
}

export class QuotaLedger extends PeriodicFlush {
  private readonly tallies = new Map<string, Tally>();
  private readonly loading = new Map<string, Promise<Tally>>();

  constructor(
    private readonly svc: Services,
    flushMs = 5_000,
  ) {
    super(flushMs, 'quota_flush', svc.metrics);
  }

  /** The counter's tally in the window: synchronous once read from the database. */
  tally(counter: string, windowStartMs: number, windowEndMs: number): Tally | Promise<Tally> {
    const id = `${counter}@${windowStartMs}`;
    const known = this.tallies.get(id);
    if (known !== undefined) return known;
    let pending = this.loading.get(id);
    if (pending === undefined) {
      pending = this.read(counter, windowStartMs).then(
        (base) => {
          this.loading.delete(id);
          const tally = { counter, windowStartMs, windowEndMs, base, pending: 0 };
          this.tallies.set(id, tally);
          return tally;
        },
        (error: unknown) => {
          this.loading.delete(id);
          throw error;
        },
      );
      this.loading.set(id, pending);
    }
    return pending;
  }

  private async read(counter: string, windowStartMs: number): Promise<number> {
    const row = await this.svc.db
      .selectFrom('quota_usage')
      .select('used')
      .where('counter', '=', counter)
      .where('window_start', '=', new Date(windowStartMs).toISOString())
      .executeTakeFirst();
    return row ? Number(row.used) : 0;
  }

  /** Requests written so far, for reading a quota's state outside a request (GET /iam/keys/{id}). */
  async used(counter: string, windowStartMs: number, windowEndMs: number): Promise<number> {
    const tally = await this.tally(counter, windowStartMs, windowEndMs);
    return tally.base + tally.pending;
  }

  protected async write(): Promise<void> {
    const nowMs = this.svc.clock.now().getTime();
    let written = 0;
    for (const [id, tally] of this.tallies) {
      if (tally.pending === 0) {
        // Ended windows are forgotten once written; current ones stay (they are read on every request).
        if (tally.windowEndMs <= nowMs) this.tallies.delete(id);
        continue;
      }
      const delta = tally.pending;
      tally.pending = 0;
      try {
        const row = await this.svc.db
          .insertInto('quota_usage')
          .values({
            counter: tally.counter,
            window_start: new Date(tally.windowStartMs).toISOString(),
            used: delta,
            updated_at: new Date(nowMs).toISOString(),
          })
          .onConflict((oc) =>
            oc.columns(['counter', 'window_start']).doUpdateSet((eb) => ({
              used: eb('quota_usage.used', '+', eb.ref('excluded.used')),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .returning('used')
          .executeTakeFirstOrThrow();
        tally.base = Number(row.used);
      } catch (error) {
        tally.pending += delta;
        this.svc.logger.warn({ err: error }, 'could not write quota counts; will retry');
        return;
      }
      // SQLite runs statements on the event loop: let requests in between.
      if (++written % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
