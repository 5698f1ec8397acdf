/**
 * The failure throttle shared by every instance through Redis (REDIS_URL). Same rules as
 * MemoryThrottle (src/auth/throttle.ts), with the policy of each key passed along.
 *
 * Bounded state: Redis has no `maxEntries`, so the bound comes from what is counted and for how
 * long. Callers count failures only against subjects that exist or that the attacker must really
 * hold (a source address, grouped by /64 for IPv6; an existing access key; an existing account:
 * see throttle-keys.ts), never against a made-up key ID or email; failures while blocked are not
 * counted (so a blocked address costs two keys however hard it knocks); and every key expires on
 * its own, `forgetAfterSeconds` after its last failure or the end of its block.
 *
 * Each failure is one atomic script per key (two keys per subject: the counter `f:` and the
 * blocked-until time `b:`, read together with one MGET by `retryAfter` and `blocked`).
 */
import type { Redis } from 'ioredis';
import {
  type FailureThrottle,
  MemoryThrottle,
  type ThrottleBlock,
  type ThrottleKey,
  waitSeconds,
} from './throttle.js';

// KEYS[1] = failure counter, KEYS[2] = blocked-until (ms); ARGV = now (ms), free, base, max,
// forget (s). Returns the blocked-until time after this failure (0: not blocked).
const RECORD = `
local now = tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if blocked > now then return blocked end
local n = redis.call('INCR', KEYS[1])
local over = n - tonumber(ARGV[2])
local seconds = 0
if over > 0 then
  seconds = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(over - 1, 30))
  blocked = now + seconds * 1000
  -- The block ends at the time stored (the instance's clock, as MemoryThrottle's), never when
  -- Redis drops the key: both keys live on until forget seconds after it.
  redis.call('SET', KEYS[2], string.format('%d', blocked), 'EX', math.ceil(seconds + tonumber(ARGV[5])))
else
  blocked = 0
end
redis.call('EXPIRE', KEYS[1], math.ceil(seconds + tonumber(ARGV[5])))
return blocked`;

export class RedisThrottle implements FailureThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'latchkey:throttle:',
  ) {}

  async retryAfter(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    const values = await this.redis.mget(keys.map((k) => `${this.prefix}b:${k.name}`));
    let wait = 0;
    for (const v of values) if (v !== null) wait = Math.max(wait, waitSeconds(Number(v), nowMs));
    return wait;
  }

  async blocked(keys: readonly ThrottleKey[], nowMs: number): Promise<ThrottleBlock | undefined> {
    if (keys.length === 0) return undefined;
    const values = await this.redis.mget(
      keys.flatMap((k) => [`${this.prefix}b:${k.name}`, `${this.prefix}f:${k.name}`]),
    );
    let block: ThrottleBlock | undefined;
    for (const [i, key] of keys.entries()) {
      const until = values[2 * i];
      const wait = until == null ? 0 : waitSeconds(Number(until), nowMs);
      if (wait > (block?.retryAfterSeconds ?? 0))
        block = { key, failures: Number(values[2 * i + 1] ?? 0), retryAfterSeconds: wait };
    }
    return block;
  }

  async recordFailure(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const { name, policy } of keys) {
      pipeline.eval(
        RECORD,
        2,
        `${this.prefix}f:${name}`,
        `${this.prefix}b:${name}`,
        Math.floor(nowMs),
        policy.freeFailures,
        policy.baseBlockSeconds,
        policy.maxBlockSeconds,
        policy.forgetAfterSeconds,
      );
    }
    const results = (await pipeline.exec()) ?? [];
    let wait = 0;
    for (const [error, blockedUntil] of results) {
      if (error) throw error;
      wait = Math.max(wait, waitSeconds(Number(blockedUntil), nowMs));
    }
    return wait;
  }

  async reset(keys: readonly ThrottleKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.flatMap((k) => [`${this.prefix}f:${k.name}`, `${this.prefix}b:${k.name}`]));
  }

  /**
   * Delete every key under this throttle's prefix, SCANning in batches (KEYS would stall Redis on
   * a large database). ioredis adds its `keyPrefix` option to the keys of commands but not to a
   * SCAN pattern, and SCAN answers full names: the pattern gets the prefix, the names lose it.
   */
  async clear(): Promise<number> {
    const outer = this.redis.options.keyPrefix ?? '';
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(
        cursor,
        'MATCH',
        `${globEscape(outer + this.prefix)}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      const keys = found.map((k) => k.slice(outer.length));
      if (keys.length > 0) await this.redis.del(...keys);
      // `f:name` and `b:name` are one counter.
      for (const k of keys) names.add(k.slice(this.prefix.length + 2));
    } while (cursor !== '0');
    return names.size;
  }
}

/** A literal string inside a Redis glob pattern. */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * The Redis throttle, falling back to this instance's memory while Redis does not answer. A Redis
 * outage must not turn sign-ins and signed requests into errors, nor hold them until Redis is back
 * (the connection fails at once instead of queueing: see runtime.ts), nor lift throttling
 * altogether (an attacker would wait for an outage): each instance counts failures on its own, as
 * without REDIS_URL, until Redis answers again. Blocks held in Redis are not seen meanwhile.
 * `onFailure` hears each Redis error (counted in /metrics, logged at most every 10 s).
 */
export class FallbackThrottle implements FailureThrottle {
  private readonly memory = new MemoryThrottle();

  constructor(
    private readonly shared: RedisThrottle,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  private async either<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      return await shared();
    } catch (error) {
      this.onFailure(error);
      return local();
    }
  }

  retryAfter(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    return this.either(
      () => this.shared.retryAfter(keys, nowMs),
      () => this.memory.retryAfter(keys, nowMs),
    );
  }

  blocked(keys: readonly ThrottleKey[], nowMs: number): Promise<ThrottleBlock | undefined> {
    return this.either(
      () => this.shared.blocked(keys, nowMs),
      () => this.memory.blocked(keys, nowMs),
    );
  }

  recordFailure(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    return this.either(
      () => this.shared.recordFailure(keys, nowMs),
      () => this.memory.recordFailure(keys, nowMs),
    );
  }

  /** Both: what was counted here during an outage goes too. */
  async reset(keys: readonly ThrottleKey[]): Promise<void> {
    await this.memory.reset(keys);
    await this.either(
      () => this.shared.reset(keys),
      async () => undefined,
    );
  }

  /** An operator's clear must reach Redis: its failure is the operator's to see. */
  async clear(): Promise<number> {
    const local = await this.memory.clear();
    return Math.max(local, await this.shared.clear());
  }
}
