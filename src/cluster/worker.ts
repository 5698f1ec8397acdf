/**
 * A worker of LATCHKEY_WORKERS: the serving process of serve.ts, one of several on the one port,
 * with what must be one per machine kept by the primary process (cluster/primary.ts):
 *  - without REDIS_URL, rate limits and quotas (IpcRates) and the failed-authentication throttle
 *    (IpcThrottle), so N workers enforce one limit as one process does; with REDIS_URL they use
 *    Redis as any instance does;
 *  - GET /metrics answers the sum over every worker, whichever worker the scrape reaches.
 * Everything else (the change feed, caches, background jobs with their database claims) is per
 * worker exactly as per instance.
 */
import cluster from 'node:cluster';
import { IpcThrottle } from '../auth/ipc-throttle.js';
import type { Config } from '../config.js';
import { serve } from '../serve.js';
import { createLogger, stdoutDestination } from '../services.js';
import { TrafficControl } from '../traffic/control.js';
import { IpcRates } from '../traffic/pooled-rates.js';
import { isMessage, PrimaryChannel, type ToPrimary, type ToWorker } from './channel.js';

/**
 * The most a worker's log destination writes at once: POSIX makes a pipe write of at most
 * PIPE_BUF (4096 on Linux) bytes atomic, and the destination fills each write with whole lines, so
 * the workers' lines never interleave mid-line on the stdout they share (a journald or docker pipe).
 */
const PIPE_BUF = 4096;

export async function serveAsWorker(config: Config): Promise<void> {
  const channel = new PrimaryChannel();
  const logger = createLogger(config, stdoutDestination(PIPE_BUF)).child({
    worker: cluster.worker?.id,
    pid: process.pid,
  });
  // The primary may ask this worker to stop while it is still starting: remembered until serve()
  // can stop (onStop), then acted on at once.
  let stopRequested = false;
  let stop: (() => void) | undefined;
  let metricsOf: (() => Promise<unknown[]>) | undefined;
  process.on('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    if (message.latchkey === 'stop') {
      stopRequested = true;
      stop?.();
    } else if (message.latchkey === 'metrics-req') {
      const answer = (reply: ToPrimary) => process.send?.(reply);
      if (metricsOf === undefined) {
        answer({ latchkey: 'metrics-res', id: message.id, error: 'starting' });
        return;
      }
      metricsOf().then(
        (metrics) => answer({ latchkey: 'metrics-res', id: message.id, metrics }),
        (error: unknown) =>
          answer({
            latchkey: 'metrics-res',
            id: message.id,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
    }
  });
  await serve(config, {
    overrides: { logger },
    attach(runtime) {
      const { svc } = runtime;
      if (config.redisUrl === undefined) {
        runtime.throttle = new IpcThrottle(channel);
        runtime.traffic = new TrafficControl(svc, runtime.traffic.ledger, new IpcRates(channel));
      }
      svc.metrics.aggregateWith(() => channel.call<string>('metrics', []));
      metricsOf = () => svc.metrics.snapshot();
    },
    onStop(fn) {
      stop = fn;
      if (stopRequested) fn();
    },
  });
}
