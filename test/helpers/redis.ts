/**
 * The Redis the tests use (REDIS_URL, default 127.0.0.1:6379). Without one, the Redis runs are
 * reported as skipped, and the run says so; each test uses its own key prefix.
 */
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  const ok = await probe.connect().then(
    () => true,
    () => false,
  );
  probe.disconnect();
  return ok;
}

export const REDIS_AVAILABLE = await reachable();
if (!REDIS_AVAILABLE)
  process.stderr.write(`Redis at ${REDIS_URL} is unreachable: Redis tests are SKIPPED.\n`);
