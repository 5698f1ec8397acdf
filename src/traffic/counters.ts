/**
 * Rate counters: GCRA (the generic cell rate algorithm, as in ATM networks, Stripe's and
 * redis-cell's limiters). A rule of `limit` requests per `period` keeps one number per counter, the
 * theoretical arrival time (TAT): a request at `now` is admitted when `max(TAT, now) + period/limit
 * - period <= now`, and then moves TAT on by `period/limit`. A quiet key may burst `limit` requests
 * at once, and never more than `limit` in any window of `period` after that.
 *
 * Written here, not taken from a library: the maintained Node limiters (rate-limiter-flexible,
 * @upstash/ratelimit) count fixed or sliding windows, or need a Redis module (redis-cell); none
 * checks several rules and quotas at once, in memory and in one Redis round trip, which is what
 * admission needs. The algorithm itself is small and is tested against its definition.
 *
 * Admission is all or nothing: the rates and quotas that apply are checked first and only if every
 * one admits the request is any of them consumed, so a refused request costs nothing.
 */
import type { Redis } from 'ioredis';
import type { RateRule } from './policy.js';

/** What one admission found: whether it was admitted, and each counter's state afterwards. */
export interface Take {
  admitted: boolean;
  /** When refused: how long until every refusing counter would admit. */
  retryAfterMs: number;
  /** Each rate rule's TAT after the request (unchanged when refused). */
  tats: number[];
  /** Each quota's count after the request (unchanged when refused). */
  used: number[];
}

/** A quota to check: its limit, the count so far (memory) or the count to start from (Redis), its window's end. */
export interface QuotaCheck {
  key: string;
  limit: number;
  used: number;
  windowEndMs: number;
}

/**
 * Counters shared beyond this process: Redis (RedisRates, every instance) or the primary process
 * of LATCHKEY_WORKERS (IpcRates, every worker of one machine). Same answers as MemoryRates, except
 * that quota counts start from `used` only when the shared store has none yet (it then counts on).
 */
export interface SharedRates {
  take(rates: readonly RateRule[], quotas: readonly QuotaCheck[], nowMs: number): Promise<Take>;
}

/** GCRA in memory: one instance's counters. */
export class MemoryRates {
  private readonly tats = new Map<string, number>();
  private sweepAt = 0;

  /** Check and (if every rate and quota admits) consume. Quota counts are the caller's (QuotaLedger). */
  take(rates: readonly RateRule[], quotas: readonly QuotaCheck[], nowMs: number): Take {
    const tats: number[] = [];
    let retryAfterMs = 0;
    for (const rule of rates) {
      const tat = Math.max(this.tats.get(rule.id) ?? nowMs, nowMs);
      const allowAt = tat + rule.emissionMs - rule.periodMs;
      if (allowAt > nowMs) retryAfterMs = Math.max(retryAfterMs, allowAt - nowMs);
      tats.push(tat);
    }
    const used: number[] = [];
    for (const q of quotas) {
      if (q.used >= q.limit) retryAfterMs = Math.max(retryAfterMs, q.windowEndMs - nowMs);
      used.push(q.used);
    }
    if (retryAfterMs > 0) return { admitted: false, retryAfterMs, tats, used };
    for (let i = 0; i < rates.length; i++) {
      const next = (tats[i] as number) + (rates[i] as RateRule).emissionMs;
      tats[i] = next;
      this.tats.set((rates[i] as RateRule).id, next);
    }
    for (let i = 0; i < used.length; i++) used[i] = (used[i] as number) + 1;
    if (nowMs >= this.sweepAt) this.sweep(nowMs);
    return { admitted: true, retryAfterMs: 0, tats, used };
  }

  /** A counter whose TAT has passed is the same as no counter: dropped, so memory follows active keys. */
  private sweep(nowMs: number): void {
    this.sweepAt = nowMs + 60_000;
    for (const [id, tat] of this.tats) if (tat <= nowMs) this.tats.delete(id);
  }

  get size(): number {
    return this.tats.size;
  }
}

// One call admits a batch of requests, in order (each sees the counts the ones before it left).
// KEYS: every request's rate counters then quota counters, request after request. ARGV: the number
// of requests, then per request: now (ms), its number of rates and of quotas, per rate its emission
// interval and period (ms), per quota its limit, the count to start from when Redis has none (the
// database's) and its window's end (ms). Returns per request: admitted (1/0), retry-after (ms), each
// rate's TAT and each quota's count. A request is all or nothing: only when every counter admits it
// is any updated. One script: atomic across instances, one round trip for the whole batch.
const ADMIT = `
local out = {}
local k = 0
local a = 2
for r = 1, tonumber(ARGV[1]) do
  local now = tonumber(ARGV[a])
  local nr = tonumber(ARGV[a + 1])
  local nq = tonumber(ARGV[a + 2])
  a = a + 3
  local retry = 0
  local tats = {}
  local emissions = {}
  for i = 1, nr do
    local emission = tonumber(ARGV[a])
    emissions[i] = emission
    local period = tonumber(ARGV[a + 1])
    local tat = tonumber(redis.call('GET', KEYS[k + i]) or '0') or 0
    if tat < now then tat = now end
    local allow_at = tat + emission - period
    if allow_at > now and allow_at - now > retry then retry = allow_at - now end
    tats[i] = tat
    a = a + 2
  end
  local used = {}
  local ends = {}
  for j = 1, nq do
    local limit = tonumber(ARGV[a])
    local u = tonumber(redis.call('GET', KEYS[k + nr + j]) or ARGV[a + 1]) or 0
    ends[j] = tonumber(ARGV[a + 2])
    if u >= limit and ends[j] - now > retry then retry = ends[j] - now end
    used[j] = u
    a = a + 3
  end
  if retry > 0 then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    for i = 1, nr do
      tats[i] = tats[i] + emissions[i]
      -- Kept a minute past its time: an arrival time in the past admits as a missing key does, so
      -- only the stored time decides, not an instance clock a little behind Redis's.
      redis.call('SET', KEYS[k + i], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 60000)
    end
    for j = 1, nq do
      used[j] = used[j] + 1
      redis.call('SET', KEYS[k + nr + j], used[j], 'PX', math.ceil(ends[j] - now) + 86400000)
    end
  end
  out[#out + 1] = math.ceil(retry)
  for i = 1, nr do out[#out + 1] = math.floor(tats[i]) end
  for j = 1, nq do out[#out + 1] = used[j] end
  k = k + nr + nq
end
return out
`;

type AdmitCommand = (keys: number, ...args: Array<string | number>) => Promise<number[]>;

interface Queued {
  rates: readonly RateRule[];
  quotas: readonly QuotaCheck[];
  nowMs: number;
  resolve: (take: Take) => void;
  reject: (error: unknown) => void;
}

/**
 * GCRA and quota counts in Redis, shared by every instance. Requests go to Redis in batches, one
 * script call each: what arrived in one turn of the event loop, sent in setImmediate after the
 * turn's I/O. Up to `maxInFlight` batches are out at once, pipelined on the one connection (Redis
 * runs them in the order sent, each atomically); past that, what arrives waits and goes in one
 * batch when an answer comes. A lightly loaded server thus adds one round trip per request, not
 * the rest of the batch ahead of it too; a busy one still sends one script for many requests (a
 * call per request, even pipelined, costs each a command of its own in both processes).
 */
export class RedisRates implements SharedRates {
  private readonly admit: AdmitCommand;
  private queue: Queued[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    redis: Redis,
    private readonly prefix = 'latchkey:traffic:',
    private readonly maxInFlight = 4,
  ) {
    // defineCommand sends EVALSHA, and the script itself only when Redis does not have it yet.
    redis.defineCommand('latchkeyAdmit', { lua: ADMIT });
    this.admit = (redis as unknown as { latchkeyAdmit: AdmitCommand }).latchkeyAdmit.bind(redis);
  }

  take(rates: readonly RateRule[], quotas: readonly QuotaCheck[], nowMs: number): Promise<Take> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rates, quotas, nowMs, resolve, reject });
      if (!this.scheduled && this.inFlight < this.maxInFlight) {
        this.scheduled = true;
        setImmediate(this.send);
      }
    });
  }

  private readonly send = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.inFlight++;
    const batch = this.queue;
    this.queue = [];
    const keys: string[] = [];
    const args: Array<string | number> = [batch.length];
    for (const { rates, quotas, nowMs } of batch) {
      for (const r of rates) keys.push(this.prefix + r.id);
      for (const q of quotas) keys.push(this.prefix + q.key);
      args.push(nowMs, rates.length, quotas.length);
      for (const r of rates) args.push(r.emissionMs, r.periodMs);
      for (const q of quotas) args.push(q.limit, q.used, q.windowEndMs);
    }
    this.admit(keys.length, ...keys, ...args)
      .then(
        (out) => {
          let at = 0;
          for (const { rates, quotas, resolve } of batch) {
            const take: Take = {
              admitted: out[at] === 1,
              retryAfterMs: out[at + 1] as number,
              tats: out.slice(at + 2, at + 2 + rates.length),
              used: out.slice(at + 2 + rates.length, at + 2 + rates.length + quotas.length),
            };
            at += 2 + rates.length + quotas.length;
            resolve(take);
          }
        },
        (error: unknown) => {
          for (const { reject } of batch) reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.send();
      });
  };
}
