/**
 * Start-up shared by the server and the CLI: services, migrations, first tenant, auth machinery;
 * and, for a serving instance, its background work (startBackgroundWork).
 */
// ioredis stays on 5.x: 6.0 subclasses String when imported, which slows every string method in
// the process (test/e2e/builtins-fast.test.ts says why and guards it).

import { Redis } from 'ioredis';
import { KeyAuthority } from './auth/key-authority.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { FallbackThrottle, RedisThrottle } from './auth/redis-throttle.js';
import { SigningKeyCache } from './auth/sigv4/index.js';
import { type FailureThrottle, MemoryThrottle } from './auth/throttle.js';
import { clearBlocks } from './auth/throttle-keys.js';
import { SigningKeys } from './auth/tokens/signing-keys.js';
import { VerifiedTokens } from './auth/tokens/tokens.js';
import { type BootstrapResult, ensureFirstTenant } from './bootstrap.js';
import type { Config } from './config.js';
import { AssertionSigner } from './gateway/assertion.js';
import type { GatewayDeps } from './gateway/decide.js';
import { DenialAudit } from './gateway/denials.js';
import { ApiRegistry } from './gateway/registry.js';
import { backfillLookupHashes } from './leaks/lookup.js';
import { READY_TIMEOUT_MS } from './limits.js';
import { Notifier } from './notify/notifier.js';
import { outboxBacklog } from './notify/outbox.js';
import { redisFailureReporter } from './observability/redis-failures.js';
import { createServices, type ServiceOverrides } from './services.js';
import { type ChangeFeed, createChangeFeed } from './storage/change-feed.js';
import { migrateToLatest } from './storage/migrate.js';
import { withTimeout } from './time.js';
import { TrafficControl } from './traffic/control.js';
import { RedisRates } from './traffic/counters.js';
import { QuotaLedger } from './traffic/quota-ledger.js';
import { UsageRecorder } from './traffic/usage.js';
import { UsagePruner } from './traffic/usage-prune.js';
import { WebhookDispatcher } from './webhooks/worker.js';

export interface Runtime extends GatewayDeps {
  bootstrap: BootstrapResult;
  /** Ping every Redis connection (GET /readyz); unset without REDIS_URL. */
  pingRedis?: () => Promise<void>;
  /** Publishing this process's changes from the start; listening to the others' is background work. */
  feed: ChangeFeed;
  /**
   * Stop: the background work first (if started), then everything else; waits until this
   * process's changes have reached the other processes (the change feed).
   */
  close(): Promise<void>;
}

/** Stops of the background work running on a runtime, for its close(). */
const backgroundOf = new WeakMap<Runtime, () => Promise<void>>();

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
    let rates: RedisRates | null = null;
    let pingRedis: (() => Promise<void>) | undefined;
    if (config.redisUrl) {
      // Failing at once while Redis is away, as admission's connection does: the throttle then
      // counts in memory (FallbackThrottle) instead of holding requests until Redis is back.
      const redis = new Redis(config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 1_000,
      });
      redis.on('error', () => {});
      await redis.connect();
      closers.push(() => redis.quit());
      throttle = new FallbackThrottle(
        new RedisThrottle(redis),
        redisFailureReporter(
          svc.logger,
          svc.metrics.throttleRedisFailures,
          'throttle: Redis unreachable; failed authentications are counted on this instance',
        ),
      );
      // Admission has its own connection (RedisRates batches requests itself: many share a round
      // trip), failing at once while Redis is away instead of queueing (limits then fail open:
      // traffic/control.ts).
      const trafficRedis = new Redis(config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 1_000,
      });
      trafficRedis.on('error', () => {});
      await trafficRedis.connect();
      closers.push(() => trafficRedis.quit());
      rates = new RedisRates(trafficRedis);
      pingRedis = async () => {
        await Promise.all([redis, trafficRedis].map((r) => withTimeout(r.ping(), READY_TIMEOUT_MS)));
      };
    }
    const keys = new KeyAuthority(svc);
    const lastUsed = new LastUsedRecorder(svc);
    const ledger = new QuotaLedger(svc);
    const usage = new UsageRecorder(svc);
    // Registered APIs, loaded before anything is served (the gateway looks them up in memory).
    const apis = new ApiRegistry(svc);
    await apis.refresh();
    // Uses recorded but not yet written are written before the database closes.
    closers.push(() => lastUsed.stop());
    closers.push(() => ledger.stop());
    closers.push(() => usage.stop());
    svc.metrics.gauges(
      [
        // One database, read by every worker: `max`, not a sum over LATCHKEY_WORKERS.
        {
          name: 'latchkey_mail_outbox_waiting',
          help: 'Mail not sent yet (pending, or being sent)',
          aggregator: 'max',
        },
        {
          name: 'latchkey_mail_outbox_oldest_age_seconds',
          help: 'How long the oldest mail not sent yet has waited (0 when none waits)',
          aggregator: 'max',
        },
      ],
      async () => {
        const { waiting, oldestAgeSeconds } = await outboxBacklog(svc);
        return [waiting, oldestAgeSeconds];
      },
    );
    svc.metrics.gauges(
      [
        {
          name: 'latchkey_webhook_outbox_waiting',
          help: 'Webhook deliveries not made yet (pending, or being sent)',
          aggregator: 'max',
        },
        {
          name: 'latchkey_webhook_outbox_oldest_age_seconds',
          help: 'How long the oldest webhook delivery not made yet has waited (0 when none waits)',
          aggregator: 'max',
        },
      ],
      async () => {
        const { waiting, oldestAgeSeconds } = await outboxBacklog(svc, 'webhook_deliveries');
        return [waiting, oldestAgeSeconds];
      },
    );
    const runtime: Runtime = {
      svc,
      signingKeys,
      throttle,
      keys,
      lastUsed,
      traffic: new TrafficControl(svc, ledger, rates),
      usage,
      signingKeyCache: new SigningKeyCache(),
      verifiedTokens: new VerifiedTokens(),
      apis,
      denials: new DenialAudit(svc),
      assertions: new AssertionSigner(svc, signingKeys),
      bootstrap,
      feed,
      ...(pingRedis ? { pingRedis } : {}),
      close: async () => {
        await backgroundOf.get(runtime)?.();
        await close();
      },
    };
    return runtime;
  } catch (error) {
    await close();
    throw error;
  }
}

export interface BackgroundOptions {
  /**
   * The expiry-reminder job, the mail outbox worker and the webhook deliveries (default: on). Tests
   * leave them off and drive a Notifier or WebhookWorker of their own with runOnce(), so they never
   * wait on timers.
   */
  notifications?: boolean;
}

/**
 * Every piece of background work of a serving instance: started here and nowhere else (the CLI
 * starts none of it). Returns the function that stops it all, in reverse order, waiting for work
 * in progress; runtime.close() calls it too.
 */
export async function startBackgroundWork(
  runtime: Runtime,
  options: BackgroundOptions = {},
): Promise<() => Promise<void>> {
  const { svc, lastUsed, throttle, feed } = runtime;
  const stops: Array<() => Promise<void> | void> = [];
  let stopped = false;
  const stop = async () => {
    stopped = true;
    backgroundOf.delete(runtime);
    for (const fn of stops.splice(0).reverse()) {
      await Promise.resolve()
        .then(fn)
        .catch((error: unknown) => svc.logger.warn({ err: error }, 'stopping background work failed'));
    }
  };
  if (backgroundOf.has(runtime)) throw new Error('background work is already running on this runtime');
  backgroundOf.set(runtime, stop);
  try {
    // 1. Last-used batching: when and from where each key was last used, written every few seconds.
    lastUsed.start();
    stops.push(() => lastUsed.stop());
    // Quota counts and usage counts: batched the same way.
    runtime.traffic.ledger.start();
    stops.push(() => runtime.traffic.ledger.stop());
    runtime.usage.start();
    stops.push(() => runtime.usage.stop());
    // The registered APIs' safety-net reload (changes themselves arrive on the change feed).
    await runtime.apis.start();
    stops.push(() => runtime.apis.stop());
    // 2. `latchkey throttle clear` from the CLI (or another instance): the memory throttle lives
    // here, so only a serving process can lift its blocks (with Redis this repeats the CLI's).
    const onThrottleCleared = (event: { address: string | null }) => {
      const address = typeof event?.address === 'string' ? event.address : null;
      svc.logger.info({ address }, 'throttle: an operator lifted failed-authentication blocks');
      clearBlocks(throttle, address).catch((error: unknown) =>
        svc.logger.warn({ err: error }, 'throttle: could not lift the blocks'),
      );
    };
    svc.events.on('throttle-cleared', onThrottleCleared);
    stops.push(() => void svc.events.off('throttle-cleared', onThrottleCleared));
    // 3. Hearing other processes' changes (the change feed's poller or LISTEN connection, and the
    // SQLite feed's pruning). It stops when the feed closes, in runtime.close(), after this
    // process's last changes are published.
    await feed.listen();
    // Stopped (the process is shutting down) while the feed connected: start nothing more.
    if (stopped) return stop;
    // 4. The expiry-reminder job and the mail outbox worker (notify/notifier.ts).
    if (options.notifications !== false) {
      const notifier = new Notifier(svc);
      notifier.start();
      stops.push(() => notifier.stop());
      // Webhook deliveries (webhooks/worker.ts), on the same outbox discipline.
      const webhooks = new WebhookDispatcher(svc);
      webhooks.start();
      stops.push(() => webhooks.stop());
    }
    // 5. Pruning usage past each tenant's retention, and old quota windows (hourly).
    const pruner = new UsagePruner(svc);
    pruner.start();
    stops.push(() => pruner.stop());
    // 6. Leak-report lookup hashes for secrets stored before them or under another master key
    // (src/leaks/lookup.ts): each such secret is opened once; nothing to do on later starts.
    const backfill = backfillLookupHashes(svc).then(
      (n) => n > 0 && svc.logger.info({ secrets: n }, 'leak reports: lookup hashes written'),
      (error: unknown) => svc.logger.warn({ err: error }, 'leak reports: lookup hash backfill failed'),
    );
    stops.push(() => backfill.then(() => undefined));
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
