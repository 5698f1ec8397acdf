/**
 * Redis not answering, as every component that falls back without it reports it (traffic control,
 * the failed-authentication throttle): counted each time in /metrics, logged at most every 10 s so
 * an outage does not flood the log with one line per request.
 */
import type { Logger } from 'pino';

const LOG_EVERY_MS = 10_000;

export function redisFailureReporter(
  logger: Logger,
  counter: { inc(): void },
  message: string,
): (error: unknown, fields?: Record<string, unknown>) => void {
  let loggedAtMs = Number.NEGATIVE_INFINITY;
  return (error, fields = {}) => {
    counter.inc();
    const nowMs = Date.now();
    if (nowMs - loggedAtMs < LOG_EVERY_MS) return;
    loggedAtMs = nowMs;
    logger.warn({ err: error, ...fields }, message);
  };
}
