/**
 * Prometheus metrics (prom-client), one registry per set of services: a test process builds many
 * apps, and each counts its own requests. Counting is always on (a counter step is a few hundred
 * nanoseconds); serving them is configured (LATCHKEY_METRICS_TOKEN on the main port, or
 * LATCHKEY_METRICS_PORT on loopback), and only then are the process metrics (CPU, memory, event-loop
 * lag) collected too.
 *
 * Names follow Prometheus conventions: `latchkey_…_total` for counters, `_seconds` for durations.
 * Labels stay bounded: a route is its pattern (`/iam/keys/:accessKeyId`), never the raw URL, and a
 * request no route matched is `unmatched`.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from '../time.js';

/** A gauge read taking longer than this (a database that does not answer) counts as failed. */
const GAUGE_READ_TIMEOUT_MS = 2_000;

/** The exposition format's media type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Reads gauges' values when scraped (the mail outbox's depth is a database count). */
export type GaugeSource = () => Promise<readonly number[]> | readonly number[];

export class Metrics {
  readonly registry = new Registry();
  private processMetrics = false;

  readonly httpRequests = new Counter({
    name: 'latchkey_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'Time from the request arriving to its answer being written, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    // From a cached signature check (~0.1 ms) to a slow upstream or report.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'latchkey_http_errors_total',
    help: 'Error answers by their stable error code (verification failures, throttling, rate limits, validation…)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly trafficRefused = new Counter({
    name: 'latchkey_traffic_refused_total',
    help: 'Requests refused by traffic control: over a rate limit or quota (limited), or from an address outside the allowed networks (address)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly collectFailures = new Counter({
    name: 'latchkey_metrics_collect_failures_total',
    help: 'Gauges that could not be read when scraped (they keep their last value), by gauge',
    labelNames: ['gauge'] as const,
    registers: [this.registry],
  });

  readonly trafficRedisFailures = new Counter({
    name: 'latchkey_traffic_redis_failures_total',
    help: 'Admissions for which Redis could not be reached (rate limits failed open; quotas were counted on this instance)',
    registers: [this.registry],
  });

  /** Gauges read when scraped, before the registry is serialised (expose). */
  private readonly sources: Array<{ names: string[]; gauges: Gauge[]; read: GaugeSource }> = [];

  /**
   * Gauges whose values one read gives when scraped (the outbox's depth and age come from one
   * query), in the order given. When the read fails (the database is down) the gauges keep their
   * last values and `latchkey_metrics_collect_failures_total` counts each (also after 2 s without
   * an answer), in the same scrape: a scrape still answers, which is when operators need it most.
   */
  gauges(specs: ReadonlyArray<{ name: string; help: string }>, read: GaugeSource): void {
    const gauges = specs.map(({ name, help }) => new Gauge({ name, help, registers: [this.registry] }));
    this.sources.push({ names: specs.map((spec) => spec.name), gauges, read });
  }

  /** The text a scrape gets; the first call also starts collecting the process metrics. */
  async expose(): Promise<string> {
    if (!this.processMetrics) {
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
    }
    await Promise.all(
      this.sources.map(async ({ names, gauges, read }) => {
        try {
          const values = await withTimeout(Promise.resolve(read()), GAUGE_READ_TIMEOUT_MS);
          for (const [i, gauge] of gauges.entries()) gauge.set(values[i] ?? 0);
        } catch {
          for (const gauge of names) this.collectFailures.inc({ gauge });
        }
      }),
    );
    return this.registry.metrics();
  }
}
