/**
 * LATCHKEY_WORKERS > 1: the primary process. It serves no requests itself:
 *  1. it migrates the database and does the first start once, before any worker exists (a
 *     generated administrator password is printed once, and workers race on nothing);
 *  2. it forks the workers, which share the one port (node:cluster hands each new connection to
 *     the next worker in turn), and replaces a worker that dies unexpectedly, with back-off,
 *     giving up (exit 1) when workers keep dying;
 *  3. it holds what must be one per machine: without REDIS_URL the rate and quota counters and the
 *     failed-authentication throttle (workers ask over IPC, batched: channel.ts), and it sums the
 *     workers' metrics for a scrape (prom-client's AggregatorRegistry), serving the metrics port;
 *  4. on SIGTERM/SIGINT it asks every worker to stop gracefully and exits 0 once they all have,
 *     within the single process's grace period.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { throttleHandlers } from '../auth/ipc-throttle.js';
import { MemoryThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import { Metrics, type MetricsSnapshot } from '../observability/metrics.js';
import { startMetricsServer } from '../observability/metrics-server.js';
import { startRuntime } from '../runtime.js';
import { announceFirstStart, DUPLICATE_SIGNAL_MS, SHUTDOWN_GRACE_MS, STOP_SIGNALS } from '../serve.js';
import { createLogger, stdoutDestination } from '../services.js';
import { PooledRates } from '../traffic/pooled-rates.js';
import { answerCalls, type Handlers, isMessage, type ToPrimary, type ToWorker } from './channel.js';

/** Workers dying more often than this (within CRASH_WINDOW_MS) is a crash loop: give up. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
/** Wait before replacing a worker: doubling with each recent crash, from the first to the cap. */
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 10_000;
/** A scrape waits this long for the workers' metrics; one that does not answer is left out (and counted). */
const METRICS_WAIT_MS = 2_500;
/**
 * The workers each have SHUTDOWN_GRACE_MS from the stop; the primary waits a little longer for
 * their exits, then kills what is left (still inside `docker stop`'s 10 s).
 */
const PRIMARY_GRACE_MS = SHUTDOWN_GRACE_MS + 500;

export async function runPrimary(config: Config): Promise<void> {
  const logger = createLogger(config, stdoutDestination(4096)).child({
    role: 'primary',
    pid: process.pid,
  });

  // 1. Migrations and the first start, once. The runtime is closed again: the primary keeps no
  // database connection (the workers each have theirs).
  const runtime = await startRuntime(config, { logger });
  try {
    announceFirstStart(runtime);
  } finally {
    await runtime.close();
  }

  // 3. What the workers share.
  const rates = new PooledRates();
  const throttle = new MemoryThrottle();
  const own = new Registry();
  const workersGauge = new Gauge({
    name: 'latchkey_workers',
    help: 'Worker processes serving (LATCHKEY_WORKERS)',
    registers: [own],
    aggregator: 'first',
  });
  const restarts = new Counter({
    name: 'latchkey_worker_restarts_total',
    help: 'Workers replaced after they died unexpectedly',
    registers: [own],
  });
  const missing = new Counter({
    name: 'latchkey_metrics_workers_missing_total',
    help: 'Scrapes for which a worker did not answer in time (its counts were left out of that scrape)',
    registers: [own],
  });
  let nextMetricsId = 1;
  const metricsWaiting = new Map<number, (snapshot: MetricsSnapshot | undefined) => void>();
  const aggregated = async (): Promise<string> => {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w?.isConnected() === true,
    );
    const snapshots = await Promise.all(
      workers.map(
        (worker) =>
          new Promise<MetricsSnapshot | undefined>((resolve) => {
            const id = nextMetricsId++;
            const timer = setTimeout(() => {
              metricsWaiting.delete(id);
              resolve(undefined);
            }, METRICS_WAIT_MS);
            metricsWaiting.set(id, (snapshot) => {
              clearTimeout(timer);
              metricsWaiting.delete(id);
              resolve(snapshot);
            });
            try {
              worker.send({ latchkey: 'metrics-req', id } satisfies ToWorker);
            } catch {
              // Gone since (it is exiting): its answer will not come.
              metricsWaiting.get(id)?.(undefined);
            }
          }),
      ),
    );
    const answered = snapshots.filter((s): s is MetricsSnapshot => s !== undefined);
    if (answered.length < workers.length) missing.inc(workers.length - answered.length);
    workersGauge.set(workers.length);
    return AggregatorRegistry.aggregate([...answered, await own.getMetricsAsJSON()]).metrics();
  };
  const handlers: Handlers = {
    'rates.take': rates.takeWire.bind(rates),
    ...throttleHandlers(throttle),
    metrics: aggregated,
  };

  // 2. The workers.
  let stopping = false;
  let everyoneUp = false;
  const listening = new Set<number>();
  const crashes: number[] = [];
  const restartTimers = new Set<NodeJS.Timeout>();
  let exitCode = 0;

  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (!isMessage<ToPrimary>(message)) return;
      if (message.latchkey === 'calls') {
        answerCalls(handlers, message.calls, (reply) => {
          if (worker.isConnected()) worker.send(reply);
        }).catch((error: unknown) =>
          logger.error({ err: error, worker: worker.id }, 'cluster: answering a worker failed'),
        );
      } else if (message.latchkey === 'metrics-res') {
        if (message.error !== undefined)
          logger.warn({ worker: worker.id, error: message.error }, 'metrics: a worker could not collect');
        metricsWaiting.get(message.id)?.(message.metrics as MetricsSnapshot | undefined);
      }
    });
    logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'cluster: worker started');
    return worker;
  };

  const finish = (code: number) => {
    for (const timer of restartTimers) clearTimeout(timer);
    logger.flush();
    // Let the logger's last lines out before the process ends.
    setImmediate(() => process.exit(code));
  };

  const stopAll = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    logger.info({ reason, workers: workers.length }, 'cluster: stopping the workers');
    if (workers.length === 0) return finish(exitCode);
    for (const worker of workers) {
      try {
        worker.send({ latchkey: 'stop' } satisfies ToWorker);
      } catch {
        // Its channel is closing: a signal still reaches it (the same graceful stop).
        worker.process.kill('SIGTERM');
      }
    }
    setTimeout(
      () => {
        const left = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        logger.error(
          { workers: left.length },
          'cluster: workers still running at the end of the grace period; killing them',
        );
        for (const worker of left) worker.process.kill('SIGKILL');
        finish(1);
      },
      PRIMARY_GRACE_MS + config.shutdownDelaySeconds * 1000,
    ).unref();
  };

  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    logger.info(
      { worker: worker.id, workerPid: worker.process.pid, port: address.port },
      'cluster: worker listening',
    );
    if (!everyoneUp && listening.size >= config.workers) {
      everyoneUp = true;
      logger.info({ workers: config.workers, port: address.port }, 'cluster: every worker is listening');
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker.id);
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
    if (stopping) {
      logger.info(fields, 'cluster: worker stopped');
      if (code !== 0) exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) finish(exitCode);
      return;
    }
    // A worker that could not start before all of them were up (the port taken, the database
    // unreachable): starting it again would fail the same way. The single process exits then too.
    if (!everyoneUp && !wasListening) {
      logger.error(fields, 'cluster: a worker failed to start; stopping');
      stopAll('a worker failed to start', 1);
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while ((crashes[0] ?? now) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length > MAX_CRASHES) {
      logger.error(
        { ...fields, crashes: crashes.length, windowSeconds: CRASH_WINDOW_MS / 1000 },
        'cluster: workers keep dying; giving up',
      );
      stopAll('workers keep dying', 1);
      return;
    }
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (crashes.length - 1));
    logger.warn({ ...fields, restartInMs: delayMs }, 'cluster: worker died unexpectedly; replacing it');
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (stopping) return;
      restarts.inc();
      fork();
    }, delayMs);
    restartTimers.add(timer);
  });

  // 4. Stopping: as the single process does, one request to stop per pair of signals delivered
  // together (Ctrl-C under npm), and another one later means "now".
  let firstSignalAt = 0;
  for (const name of STOP_SIGNALS) {
    process.on(name, () => {
      if (!stopping) {
        firstSignalAt = Date.now();
        stopAll(name, 0);
      } else if (Date.now() - firstSignalAt > DUPLICATE_SIGNAL_MS) {
        process.stderr.write(`latchkey: ${name} again while shutting down: exiting now\n`);
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
        process.exit(1);
      }
    });
  }

  if (config.metricsPort !== undefined) {
    const metrics = new Metrics();
    metrics.aggregateWith(aggregated);
    const server = await startMetricsServer(metrics, config.metricsPort, (err) =>
      logger.error({ err }, 'metrics: collecting failed'),
    );
    logger.info(
      { port: server.port },
      'metrics on http://127.0.0.1:%d/metrics (every worker, summed)',
      server.port,
    );
  }

  logger.info({ workers: config.workers }, 'cluster: starting %d workers', config.workers);
  workersGauge.set(config.workers);
  for (let i = 0; i < config.workers; i++) fork();
}
