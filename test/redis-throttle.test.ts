/** The failed-authentication throttle shared through a real Redis (REDIS_URL, default 127.0.0.1:6379). */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FallbackThrottle, RedisThrottle } from '../src/auth/redis-throttle.js';
import { DEFAULT_THROTTLE } from '../src/auth/throttle.js';
import { REDIS_AVAILABLE, REDIS_URL } from './helpers/redis.js';

const url = REDIS_URL;
const reachable = REDIS_AVAILABLE;

(reachable ? describe : describe.skip)('RedisThrottle', () => {
  let a: Redis;
  let b: Redis;
  const prefix = `latchkey:test:${randomBytes(4).toString('hex')}:`;
  beforeAll(() => {
    a = new Redis(url);
    b = new Redis(url);
  });
  afterAll(async () => {
    const keys = await a.keys(`${prefix}*`);
    if (keys.length > 0) await a.del(...keys);
    a.disconnect();
    b.disconnect();
  });

  it('backs off exponentially after five failures, shared by every instance, and resets', async () => {
    const one = new RedisThrottle(a, prefix);
    const two = new RedisThrottle(b, prefix);
    const k = [{ name: 'sigv4-ip:10.0.0.1', policy: DEFAULT_THROTTLE }];
    const now = Date.now();
    for (let i = 0; i < 5; i++) await (i % 2 ? one : two).recordFailure(k, now);
    expect(await one.retryAfter(k, now)).toBe(0);
    await one.recordFailure(k, now);
    expect(await two.retryAfter(k, now)).toBe(1);
    await two.recordFailure(k, now + 1000);
    expect(await one.retryAfter(k, now + 1000)).toBe(2);
    await one.recordFailure(k, now + 3000);
    expect(await two.retryAfter(k, now + 3000)).toBe(4);
    expect(await two.retryAfter([{ name: 'sigv4-ip:10.0.0.2', policy: DEFAULT_THROTTLE }], now)).toBe(0);
    expect(await a.ttl(`${prefix}f:${k[0]?.name}`)).toBeGreaterThan(0);
    await two.reset(k);
    expect(await one.retryAfter(k, now)).toBe(0);
  });

  it("ends a block at the time it stored, by the caller's clock, not when Redis would drop a key", async () => {
    const t = new RedisThrottle(a, prefix);
    const policy = { freeFailures: 0, baseBlockSeconds: 1, maxBlockSeconds: 1, forgetAfterSeconds: 60 };
    const k = [{ name: 'clock', policy }];
    const now = Date.now();
    expect(await t.recordFailure(k, now)).toBe(1);
    // More than the block's second goes by in real time; by the caller's clock half of it has.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await t.blocked(k, now + 500)).toMatchObject({ failures: 1, retryAfterSeconds: 1 });
    expect(await t.retryAfter(k, now + 500)).toBe(1);
    expect(await t.blocked(k, now + 1_000)).toBeUndefined();
    expect(await t.retryAfter(k, now + 1_000)).toBe(0);
  });

  it('stores nothing more while blocked, and every key it writes expires', async () => {
    const t = new RedisThrottle(a, prefix);
    const policy = { freeFailures: 1, baseBlockSeconds: 100, maxBlockSeconds: 100, forgetAfterSeconds: 50 };
    const k = [{ name: 'ttl', policy }];
    const now = Date.now();
    expect(await t.recordFailure(k, now)).toBe(0);
    expect(await a.ttl(`${prefix}f:ttl`)).toBe(50);
    expect(await t.recordFailure(k, now)).toBe(100);
    const blockedUntil = await a.get(`${prefix}b:ttl`);
    expect(Number(blockedUntil)).toBe(now + 100_000);
    // Both keys live until `forgetAfterSeconds` after the block ends.
    expect(await a.ttl(`${prefix}b:ttl`)).toBe(150);
    expect(await a.ttl(`${prefix}f:ttl`)).toBe(150);
    for (let i = 0; i < 50; i++) expect(await t.recordFailure(k, now + 60_000)).toBe(40);
    expect(await a.get(`${prefix}f:ttl`)).toBe('2');
    expect(await a.get(`${prefix}b:ttl`)).toBe(blockedUntil);
    expect(await a.ttl(`${prefix}f:ttl`)).toBeGreaterThan(140);
    expect((await a.keys(`${prefix}*ttl`)).sort()).toEqual([`${prefix}b:ttl`, `${prefix}f:ttl`]);
  });
});

describe('FallbackThrottle: Redis unreachable', () => {
  it("counts in this instance's memory at once, reports each failure, and goes back to Redis when it answers", async () => {
    // A connection that fails at once, as runtime.ts configures it (no offline queue, no retries):
    // nothing listens on port 1.
    const away = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    away.on('error', () => {});
    const failures: unknown[] = [];
    const throttle = new FallbackThrottle(new RedisThrottle(away, 'latchkey:test:away:'), (error) =>
      failures.push(error),
    );
    const k = [{ name: 'sigv4-ip:10.9.9.9', policy: DEFAULT_THROTTLE }];
    const now = Date.now();
    const started = performance.now();
    for (let i = 0; i < 5; i++) expect(await throttle.recordFailure(k, now)).toBe(0);
    // The sixth failure blocks, as MemoryThrottle and RedisThrottle both do.
    expect(await throttle.recordFailure(k, now)).toBe(1);
    expect(await throttle.retryAfter(k, now)).toBe(1);
    expect(await throttle.blocked(k, now)).toMatchObject({ failures: 6, retryAfterSeconds: 1 });
    expect(performance.now() - started, 'no call waits for Redis').toBeLessThan(500);
    expect(failures.length).toBe(8);
    await throttle.reset(k);
    expect(await throttle.retryAfter(k, now)).toBe(0);
    // An operator's clear must reach Redis: its failure is reported, not hidden.
    await expect(throttle.clear()).rejects.toThrow();
    away.disconnect();
  });

  (reachable ? it : it.skip)('uses Redis whenever it answers', async () => {
    const redis = new Redis(url);
    const prefix = `latchkey:test:${randomBytes(4).toString('hex')}:`;
    const failures: unknown[] = [];
    const throttle = new FallbackThrottle(new RedisThrottle(redis, prefix), (error) => failures.push(error));
    const k = [{ name: 'sigv4-ip:10.9.9.8', policy: DEFAULT_THROTTLE }];
    const now = Date.now();
    for (let i = 0; i < 6; i++) await throttle.recordFailure(k, now);
    // The block is in Redis, where another instance sees it.
    expect(await new RedisThrottle(redis, prefix).retryAfter(k, now)).toBe(1);
    expect(failures).toEqual([]);
    await throttle.clear();
    redis.disconnect();
  });
});
