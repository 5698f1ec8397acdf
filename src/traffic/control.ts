/**
 * Admission: whether a key may make one more request now, by its traffic policy (policy.ts):
 * first the source address, then every rate limit and quota at once (counters.ts). Runs after the
 * signature or token is verified, so strangers learn nothing about a key's rules.
 *
 * In memory on one instance; with Redis (REDIS_URL) the counters are shared by every instance, one
 * script call per request. If Redis cannot be reached, rate limits fail open (traffic keeps
 * flowing) and quotas are counted on this instance from the database's counts, so a quota can be
 * exceeded by at most what the other instances admit meanwhile; each failure is logged (at most
 * every 10 s) and counted (`latchkey_traffic_redis_failures_total` in GET /metrics).
 */
import { redisFailureReporter } from '../observability/redis-failures.js';
import type { Services } from '../services.js';
import { MemoryRates, type QuotaCheck, type SharedRates, type Take } from './counters.js';
import { OPEN_POLICY, type QuotaRule, quotaWindow, type RateRule, type TrafficPolicy } from './policy.js';
import type { QuotaLedger, Tally } from './quota-ledger.js';

/** The draft-ietf-httpapi-ratelimit-headers fields: the policies, and where the caller stands in each. */
export interface RateLimitHeaders {
  /** `RateLimit-Policy`: `"key";q=10;w=1, "key-day";q=1000;w=86400` */
  policy: string;
  /** `RateLimit`: `"key";r=9;t=1, "key-day";r=999;t=41234` */
  state: string;
}

export type Admission =
  | { ok: true; headers: RateLimitHeaders | null }
  | { ok: false; reason: 'address' }
  | { ok: false; reason: 'limited'; retryAfterSeconds: number; headers: RateLimitHeaders };

const ADMITTED: Admission = Object.freeze({ ok: true, headers: null });
const ADDRESS_REFUSED: Admission = Object.freeze({ ok: false, reason: 'address' });

/** A quota's standing, as GET /iam/keys/{id} shows it. */
export interface QuotaStanding {
  name: string;
  limit: number;
  period: 'day' | 'month';
  used: number;
  remaining: number;
  resetsAt: string;
}

export class TrafficControl {
  private readonly memory = new MemoryRates();
  /** Times Redis could not be reached for an admission (limits then fail open; quotas count locally). */
  redisFailures = 0;
  private readonly reportRedisFailure: (error: unknown, fields?: Record<string, unknown>) => void;

  constructor(
    private readonly svc: Services,
    readonly ledger: QuotaLedger,
    /** Redis (RedisRates), or the primary process of LATCHKEY_WORKERS (IpcRates); null: this process's memory. */
    private readonly redis: SharedRates | null = null,
  ) {
    this.reportRedisFailure = redisFailureReporter(
      svc.logger,
      svc.metrics.trafficRedisFailures,
      'traffic: Redis unreachable; rate limits are not enforced and quotas are counted on this instance',
    );
  }

  /**
   * Admit one request of a key from `ip`, or say why not. Synchronous in memory once the key's
   * quota counts are read (the first request of a window reads them); a promise with Redis.
   */
  admit(policy: TrafficPolicy, ip: string | null, nowMs: number): Admission | Promise<Admission> {
    if (policy === OPEN_POLICY) return ADMITTED;
    if (policy.allows !== null && (ip === null || !policy.allows(ip))) {
      this.svc.metrics.trafficRefused.inc({ reason: 'address' });
      return ADDRESS_REFUSED;
    }
    const { quotas } = policy;
    if (policy.rates.length === 0 && quotas.length === 0) return ADMITTED;
    const tallies: Array<Tally | Promise<Tally>> = [];
    let waiting = false;
    for (const q of quotas) {
      const w = quotaWindow(q.period, nowMs);
      const t = this.ledger.tally(q.id, w.startMs, w.endMs);
      if (t instanceof Promise) waiting = true;
      tallies.push(t);
    }
    if (waiting) return Promise.all(tallies).then((ts) => this.count(policy, ts, nowMs));
    return this.count(policy, tallies as Tally[], nowMs);
  }

  private count(
    policy: TrafficPolicy,
    tallies: readonly Tally[],
    nowMs: number,
  ): Admission | Promise<Admission> {
    const checks: QuotaCheck[] = tallies.map((t, i) => ({
      key: `${t.counter}@${t.windowStartMs}`,
      limit: (policy.quotas[i] as QuotaRule).limit,
      used: t.base + t.pending,
      windowEndMs: t.windowEndMs,
    }));
    if (this.redis === null)
      return this.answer(policy, tallies, this.memory.take(policy.rates, checks, nowMs), nowMs);
    return this.redis.take(policy.rates, checks, nowMs).then(
      (take) => this.answer(policy, tallies, take, nowMs),
      (error: unknown) => {
        this.redisFailures++;
        this.reportRedisFailure(error, { failures: this.redisFailures });
        const local = this.memory.take([], checks, nowMs);
        local.tats = policy.rates.map(() => nowMs);
        return this.answer(policy, tallies, local, nowMs);
      },
    );
  }

  private answer(policy: TrafficPolicy, tallies: readonly Tally[], take: Take, nowMs: number): Admission {
    if (take.admitted) for (const t of tallies) t.pending++;
    const headers = rateLimitHeaders(policy, take, nowMs);
    if (take.admitted) return { ok: true, headers };
    this.svc.metrics.trafficRefused.inc({ reason: 'limited' });
    return {
      ok: false,
      reason: 'limited',
      retryAfterSeconds: Math.max(1, Math.ceil(take.retryAfterMs / 1000)),
      headers,
    };
  }

  /** Where a key stands in each of its quotas (the counts this instance knows). */
  async quotaStanding(policy: TrafficPolicy, nowMs: number): Promise<QuotaStanding[]> {
    return Promise.all(
      policy.quotas.map(async (q) => {
        const w = quotaWindow(q.period, nowMs);
        const used = await this.ledger.used(q.id, w.startMs, w.endMs);
        return {
          name: q.name,
          limit: q.limit,
          period: q.period,
          used,
          remaining: Math.max(0, q.limit - used),
          resetsAt: new Date(w.endMs).toISOString(),
        };
      }),
    );
  }
}

/** `RateLimit-Policy` changes only with a month's length: kept per policy and month. */
const policyFields = new WeakMap<TrafficPolicy, { monthStartMs: number; text: string }>();

function policyField(policy: TrafficPolicy, nowMs: number): string {
  const monthStartMs = quotaWindow('month', nowMs).startMs;
  const known = policyFields.get(policy);
  if (known !== undefined && known.monthStartMs === monthStartMs) return known.text;
  const items: string[] = [];
  for (const r of policy.rates) items.push(`"${r.name}";q=${r.limit};w=${r.periodMs / 1000}`);
  for (const q of policy.quotas) {
    const w = quotaWindow(q.period, nowMs);
    items.push(`"${q.name}";q=${q.limit};w=${(w.endMs - w.startMs) / 1000}`);
  }
  const text = items.join(', ');
  policyFields.set(policy, { monthStartMs, text });
  return text;
}

function rateLimitHeaders(policy: TrafficPolicy, take: Take, nowMs: number): RateLimitHeaders {
  let state = '';
  const { rates, quotas } = policy;
  for (let i = 0; i < rates.length; i++) {
    const r = rates[i] as RateRule;
    const tat = take.tats[i] as number;
    const remaining = Math.max(0, Math.floor((nowMs + r.periodMs - tat) / r.emissionMs));
    state += `${state ? ', ' : ''}"${r.name}";r=${remaining};t=${Math.max(0, Math.ceil((tat - nowMs) / 1000))}`;
  }
  for (let i = 0; i < quotas.length; i++) {
    const q = quotas[i] as QuotaRule;
    const endMs = quotaWindow(q.period, nowMs).endMs;
    const used = take.used[i] as number;
    state += `${state ? ', ' : ''}"${q.name}";r=${Math.max(0, q.limit - used)};t=${Math.ceil((endMs - nowMs) / 1000)}`;
  }
  return { policy: policyField(policy, nowMs), state };
}
