/** Start-up shared by the server and the CLI: services, migrations, first tenant, auth machinery. */
// ioredis stays on 5.x: 6.0 subclasses String when imported, which slows every string method in
// the process (test/builtins-fast.test.ts says why and guards it).
import { Redis } from 'ioredis';
import { KeyAuthority } from './auth/key-authority.js';
import { LastUsedRecorder } from './auth/last-used.js';
import type { AuthDeps } from './auth/login.js';
import { RedisThrottle } from './auth/redis-throttle.js';
import { SigningKeyCache } from './auth/sigv4/index.js';
import { type FailureThrottle, MemoryThrottle } from './auth/throttle.js';
import { SigningKeys } from './auth/tokens/signing-keys.js';
import { VerifiedTokens } from './auth/tokens/tokens.js';
import { type BootstrapResult, ensureFirstTenant } from './bootstrap.js';
import type { Config } from './config.js';
import { createServices, type ServiceOverrides } from './services.js';
import { createChangeFeed } from './storage/change-feed.js';
import { migrateToLatest } from './storage/migrate.js';

export interface Runtime extends AuthDeps {
  bootstrap: BootstrapResult;
  /**
   * Start background work that only a serving instance needs: hearing other processes' changes
   * (publishing ours starts with every runtime, the CLI's included), last-used batching.
   */
  startBackground(): Promise<void>;
  /** Stop; waits until this process's changes have reached the other processes (the change feed). */
  close(): Promise<void>;
}

export async function startRuntime(config: Config, overrides: ServiceOverrides = {}): Promise<Runtime> {
  const svc = createServices(config, overrides);
  const closers: Array<() => Promise<unknown>> = [() => svc.close()];
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    await migrateToLatest(svc.db);
    // Publishing starts before anything can change, and its closer runs just before the database
    // closes: a CLI command's change is published before the process exits.
    const feed = createChangeFeed(svc);
    feed.publish();
    closers.push(() => feed.close());
    const bootstrap = await ensureFirstTenant(svc);
    const signingKeys = new SigningKeys(svc);
    await signingKeys.init();
    let throttle: FailureThrottle = new MemoryThrottle();
    if (config.redisUrl) {
      const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      redis.on('error', (error) => svc.logger.warn({ err: error }, 'redis error'));
      await redis.connect();
      closers.push(() => redis.quit());
      throttle = new RedisThrottle(redis);
    }
    const keys = new KeyAuthority(svc);
    const lastUsed = new LastUsedRecorder(svc);
    closers.push(() => lastUsed.stop());
    return {
      svc,
      signingKeys,
      throttle,
      keys,
      lastUsed,
      signingKeyCache: new SigningKeyCache(),
      verifiedTokens: new VerifiedTokens(),
      bootstrap,
      close,
      startBackground: async () => {
        lastUsed.start();
        await feed.listen();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
