/**
 * Rate and quota counters for the workers of one machine (LATCHKEY_WORKERS > 1, no REDIS_URL):
 * the primary process holds them (PooledRates) and every worker admits through it (IpcRates), so N
 * workers enforce one limit, as one process does, instead of admitting up to N × a limit.
 *
 * PooledRates does in memory what RedisRates' script does in Redis: GCRA rates by counter id, and
 * quota counts that start from the count the asking worker knows (the database's, plus what it
 * has admitted and not yet written) only when the pool has none yet, then count on. Workers still
 * write their own admissions to the database (QuotaLedger), as instances sharing Redis do.
 */
import type { PrimaryChannel } from '../cluster/channel.js';
import { MemoryRates, type QuotaCheck, type SharedRates, type Take } from './counters.js';
import type { RateRule } from './policy.js';

/** On the wire: a rate as [id, emission interval, period] and a quota as [key, limit, used, window end]. */
type WireRate = [string, number, number];
type WireQuota = [string, number, number, number];

/** The primary's counters, for every worker. */
export class PooledRates {
  private readonly memory = new MemoryRates();
  private readonly counts = new Map<string, { used: number; windowEndMs: number }>();
  private sweepAt = 0;

  take(rates: readonly RateRule[], quotas: readonly QuotaCheck[], nowMs: number): Take {
    const checks = quotas.map((q) => {
      const known = this.counts.get(q.key);
      return known === undefined ? q : { ...q, used: known.used };
    });
    const take = this.memory.take(rates, checks, nowMs);
    if (take.admitted) {
      for (const [i, q] of quotas.entries())
        this.counts.set(q.key, { used: take.used[i] as number, windowEndMs: q.windowEndMs });
    }
    if (nowMs >= this.sweepAt) {
      // An ended window's count is never asked for again (the next window has another key).
      this.sweepAt = nowMs + 60_000;
      for (const [key, count] of this.counts) if (count.windowEndMs <= nowMs) this.counts.delete(key);
    }
    return take;
  }

  /** The handler workers' `rates.take` calls reach (the wire form, see IpcRates). */
  takeWire(rates: WireRate[], quotas: WireQuota[], nowMs: number): Take {
    return this.take(
      rates.map(([id, emissionMs, periodMs]) => ({ id, name: '', limit: 0, emissionMs, periodMs })),
      quotas.map(([key, limit, used, windowEndMs]) => ({ key, limit, used, windowEndMs })),
      nowMs,
    );
  }
}

/** A worker's counters: the primary's PooledRates, through the cluster channel. */
export class IpcRates implements SharedRates {
  constructor(private readonly channel: PrimaryChannel) {}

  take(rates: readonly RateRule[], quotas: readonly QuotaCheck[], nowMs: number): Promise<Take> {
    const wireRates: WireRate[] = rates.map((r) => [r.id, r.emissionMs, r.periodMs]);
    const wireQuotas: WireQuota[] = quotas.map((q) => [q.key, q.limit, q.used, q.windowEndMs]);
    return this.channel.call<Take>('rates.take', [wireRates, wireQuotas, nowMs]);
  }
}
