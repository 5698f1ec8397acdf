/** The failed-authentication throttle shared through a real Redis (REDIS_URL, default 127.0.0.1:6379). */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisThrottle } from '../src/auth/redis-throttle.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
const reachable = await probe.connect().then(
  () => true,
  () => false,
);
probe.disconnect();
if (!reachable) process.stderr.write(`Redis at ${url} is unreachable: Redis throttle tests are SKIPPED.\n`);

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
    const one = new RedisThrottle(a, undefined, prefix);
    const two = new RedisThrottle(b, undefined, prefix);
    const k = ['sigv4-ip:10.0.0.1'];
    const now = Date.now();
    for (let i = 0; i < 5; i++) await (i % 2 ? one : two).recordFailure(k, now);
    expect(await one.retryAfter(k, now)).toBe(0);
    await one.recordFailure(k, now);
    expect(await two.retryAfter(k, now)).toBe(1);
    await two.recordFailure(k, now);
    expect(await one.retryAfter(k, now)).toBe(2);
    await one.recordFailure(k, now);
    expect(await two.retryAfter(k, now)).toBe(4);
    expect(await two.retryAfter(['sigv4-ip:10.0.0.2'], now)).toBe(0);
    expect(await a.ttl(`${prefix}f:${k[0]}`)).toBeGreaterThan(0);
    await two.reset(k);
    expect(await one.retryAfter(k, now)).toBe(0);
  });
});
