/**
 * The failure throttle shared by every instance through Redis (REDIS_URL). Same rules as
 * MemoryThrottle; each failure is one atomic script call, and keys expire on their own.
 */
import type { Redis } from 'ioredis';
import { DEFAULT_THROTTLE, type FailureThrottle, type ThrottleOptions } from './throttle.js';

// KEYS[1] = failure counter, KEYS[2] = blocked-until; ARGV = now, free, base, max, forget (seconds)
const RECORD = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
local over = n - tonumber(ARGV[2])
if over > 0 then
  local seconds = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(over - 1, 30))
  redis.call('SET', KEYS[2], tonumber(ARGV[1]) + seconds * 1000, 'PX', math.ceil(seconds * 1000))
end
return n`;

export class RedisThrottle implements FailureThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly options: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly prefix = 'latchkey:throttle:',
  ) {}

  async retryAfter(keys: readonly string[], nowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    const values = await this.redis.mget(keys.map((k) => `${this.prefix}b:${k}`));
    let wait = 0;
    for (const v of values) {
      if (v !== null && Number(v) > nowMs) wait = Math.max(wait, Math.ceil((Number(v) - nowMs) / 1000));
    }
    return wait;
  }

  async recordFailure(keys: readonly string[], nowMs: number): Promise<void> {
    const { freeFailures, baseBlockSeconds, maxBlockSeconds, forgetAfterSeconds } = this.options;
    const pipeline = this.redis.pipeline();
    for (const k of keys) {
      pipeline.eval(
        RECORD,
        2,
        `${this.prefix}f:${k}`,
        `${this.prefix}b:${k}`,
        nowMs,
        freeFailures,
        baseBlockSeconds,
        maxBlockSeconds,
        forgetAfterSeconds,
      );
    }
    await pipeline.exec();
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.flatMap((k) => [`${this.prefix}f:${k}`, `${this.prefix}b:${k}`]));
  }
}
