/**
 * The failure throttle's rules, the same for the in-memory throttle and the one shared through
 * Redis (REDIS_URL, default 127.0.0.1:6379; its runs are skipped, and say so, without Redis).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisThrottle } from '../src/auth/redis-throttle.js';
import {
  DEFAULT_THROTTLE,
  type FailureThrottle,
  MemoryThrottle,
  type ThrottlePolicy,
} from '../src/auth/throttle.js';
import { ACCOUNT_POLICY } from '../src/auth/throttle-keys.js';
import { REDIS_AVAILABLE, REDIS_URL } from './helpers/redis.js';

const url = REDIS_URL;
const redisReachable = REDIS_AVAILABLE;

const prefix = `latchkey:test:${randomBytes(4).toString('hex')}:`;
let redis: Redis | undefined;
afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const THROTTLES: ReadonlyArray<[string, boolean, () => FailureThrottle]> = [
  ['memory', true, () => new MemoryThrottle()],
  [
    'redis',
    redisReachable,
    () => {
      redis ??= new Redis(url);
      return new RedisThrottle(redis, prefix);
    },
  ],
];

let serial = 0;
// Redis expires keys on the real clock, so the simulated times start at the real time.
const T0 = Date.now();
const key = (policy: ThrottlePolicy = DEFAULT_THROTTLE) => ({ name: `k${++serial}:${T0}`, policy });

describe.each(THROTTLES)('%s failure throttle', (_name, available, make) => {
  const run = available ? it : it.skip;

  run('does not count failures while blocked: the block neither grows nor is extended', async () => {
    const t = make();
    const k = [key()];
    for (let i = 0; i < 5; i++) expect(await t.recordFailure(k, T0)).toBe(0);
    expect(await t.recordFailure(k, T0)).toBe(1);
    // A hundred more failures while blocked: answered with the same wait, counted nowhere.
    for (let i = 0; i < 100; i++) expect(await t.recordFailure(k, T0 + 500)).toBe(1);
    expect(await t.retryAfter(k, T0 + 999)).toBe(1);
    expect(await t.retryAfter(k, T0 + 1000)).toBe(0);
    // The next failure after the block is the 7th (2 s), not the 107th (the 15-minute cap).
    expect(await t.recordFailure(k, T0 + 1000)).toBe(2);
  });

  run('counts a failure against the keys that are not blocked, and answers the longest wait', async () => {
    const t = make();
    const blocked = key();
    const other = key();
    for (let i = 0; i < 6; i++) await t.recordFailure([blocked], T0);
    expect(await t.recordFailure([blocked, other], T0)).toBe(1);
    for (let i = 0; i < 4; i++) await t.recordFailure([other], T0);
    // `other` had 1 + 4 failures: the next one is its 6th.
    expect(await t.retryAfter([other], T0)).toBe(0);
    expect(await t.recordFailure([other], T0 + 2000)).toBe(1);
  });

  run('applies the policy each key carries (per account: 10 free, blocks capped at 30 s)', async () => {
    const t = make();
    const address = key(DEFAULT_THROTTLE);
    const account = key(ACCOUNT_POLICY);
    for (let i = 0; i < 10; i++) expect(await t.recordFailure([account], T0)).toBe(0);
    const blocks: number[] = [];
    let now = T0;
    for (let i = 0; i < 8; i++) {
      const wait = await t.recordFailure([account], now);
      blocks.push(wait);
      now += wait * 1000;
    }
    expect(blocks).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    for (let i = 0; i < 5; i++) await t.recordFailure([address], T0);
    expect(await t.recordFailure([address], T0)).toBe(1);
  });

  run('names the block in force: the counter with the longest wait, and its failure count', async () => {
    const t = make();
    const short = key();
    const long = key();
    const free = key();
    expect(await t.blocked([short, long, free], T0)).toBeUndefined();
    for (let i = 0; i < 6; i++) await t.recordFailure([short], T0);
    for (let i = 0; i < 6; i++) await t.recordFailure([long], T0);
    // `long` is blocked again once its first block is over: its 7th failure (2 s).
    await t.recordFailure([long], T0 + 1000);
    await t.recordFailure([free], T0);
    expect(await t.blocked([short, long, free], T0 + 1000)).toEqual({
      key: long,
      failures: 7,
      retryAfterSeconds: 2,
    });
    expect(await t.blocked([short, free], T0 + 500)).toEqual({
      key: short,
      failures: 6,
      retryAfterSeconds: 1,
    });
    // The wait agrees with retryAfter (what the Retry-After header says).
    expect(await t.retryAfter([short, long, free], T0 + 1500)).toBe(2);
    expect((await t.blocked([short, long, free], T0 + 1500))?.retryAfterSeconds).toBe(2);
    expect(await t.blocked([short, free], T0 + 1000)).toBeUndefined();
  });

  run('clear forgets every key (and only its own keys)', async () => {
    const t = make();
    const keys = [key(), key(), key()];
    for (const k of keys) for (let i = 0; i < 6; i++) await t.recordFailure([k], T0);
    expect(await t.retryAfter(keys, T0)).toBe(1);
    expect(await t.clear()).toBeGreaterThanOrEqual(keys.length);
    for (const k of keys) expect(await t.retryAfter([k], T0)).toBe(0);
    expect(await t.blocked(keys, T0)).toBeUndefined();
    // Forgotten, not just unblocked: five free failures again.
    for (let i = 0; i < 5; i++) expect(await t.recordFailure(keys, T0)).toBe(0);
    expect(await t.recordFailure(keys, T0)).toBe(1);
    expect(await t.clear()).toBeGreaterThanOrEqual(keys.length);
  });

  run('forgets on reset', async () => {
    const t = make();
    const k = [key()];
    for (let i = 0; i < 6; i++) await t.recordFailure(k, T0);
    expect(await t.retryAfter(k, T0)).toBe(1);
    await t.reset(k);
    expect(await t.retryAfter(k, T0)).toBe(0);
    expect(await t.recordFailure(k, T0)).toBe(0);
  });
});

describe('memory failure throttle', () => {
  it('forgets a key forgetAfterSeconds after its block ends, not after its last failure', async () => {
    const t = new MemoryThrottle();
    const policy = { freeFailures: 1, baseBlockSeconds: 100, maxBlockSeconds: 100, forgetAfterSeconds: 10 };
    const k = [{ name: 'forget', policy }];
    await t.recordFailure(k, 0);
    expect(await t.recordFailure(k, 0)).toBe(100);
    // 5 s after the block (105 s after the last failure): still remembered, so waiting out a
    // block buys no fresh free failures…
    expect(await t.recordFailure(k, 105_000)).toBe(100);
    // …but 10 s after the end of that block it is forgotten.
    expect(await t.recordFailure(k, 215_001)).toBe(0);
  });

  it('drops forgotten entries as new failures come in, long before its bound', async () => {
    const t = new MemoryThrottle({ maxEntries: 1000 });
    const policy = { ...DEFAULT_THROTTLE, forgetAfterSeconds: 60 };
    for (let i = 0; i < 100; i++) await t.recordFailure([{ name: `old:${i}`, policy }], 0);
    expect(t.size).toBe(100);
    await t.recordFailure([{ name: 'new', policy }], 61_000);
    expect(t.size).toBe(1);
  });
});

(redisReachable ? describe : describe.skip)('Redis failure throttle: clear', () => {
  it('deletes its own keys under an ioredis keyPrefix, and nothing else in Redis', async () => {
    const outer = `latchkey-test-${randomBytes(4).toString('hex')}:`;
    // How runtime.ts connects when REDIS_URL carries `?keyPrefix=`: every command's keys get it.
    const prefixed = new Redis(`${url}?keyPrefix=${encodeURIComponent(outer)}`);
    const raw = new Redis(url);
    const bare = `latchkey:throttle:f:guard-${randomBytes(4).toString('hex')}`;
    try {
      const t = new RedisThrottle(prefixed);
      const names = Array.from({ length: 1500 }, (_, i) => ({
        name: `sigv4-ip:10.9.${i >> 8}.${i & 255}`,
        policy: DEFAULT_THROTTLE,
      }));
      // More keys than one SCAN batch, blocked and counted.
      for (let i = 0; i < 6; i++) await t.recordFailure(names, T0);
      expect(await t.retryAfter(names, T0)).toBe(1);
      // Neighbours that must survive: the same names without the outer prefix, and another app's keys.
      await raw.set(bare, '1');
      await raw.set(`${outer}other:keep`, '1');
      expect(await t.clear()).toBe(names.length);
      expect(await raw.keys(`${outer}latchkey:throttle:*`)).toEqual([]);
      expect(await t.retryAfter(names, T0)).toBe(0);
      expect(await raw.get(`${outer}other:keep`)).toBe('1');
      expect(await raw.get(bare)).toBe('1');
    } finally {
      await raw.del(bare, `${outer}other:keep`);
      const left = await raw.keys(`${outer}*`);
      if (left.length > 0) await raw.del(...left);
      prefixed.disconnect();
      raw.disconnect();
    }
  }, 60_000);
});
