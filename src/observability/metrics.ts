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
import { BoundCounter, BoundHistogram } from './bound-metrics.js';

/** A gauge read taking longer than this (a database that does not answer) counts as failed. */
const GAUGE_READ_TIMEOUT_MS = 2_000;

/** The exposition format's media type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One process's metrics as JSON (what prom-client's AggregatorRegistry.aggregate sums). */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * A gauge read when scraped. `aggregator`: how workers' values combine (LATCHKEY_WORKERS > 1):
 * `sum` (default) for what each process holds (its pool's connections), `max` for what every
 * worker reads from the one database (the outbox's depth), which a sum would count N times.
 */
export interface GaugeSpec {
  name: string;
  help: string;
  aggregator?: 'sum' | 'max';
}

/** Reads gauges' values when scraped (the mail outbox's depth is a database count). */
export type GaugeSource = () => Promise<readonly number[]> | readonly number[];

export class Metrics {
  readonly registry = new Registry();
  private processMetrics = false;

  readonly httpRequests = new BoundCounter({
    name: 'latchkey_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new BoundHistogram({
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

  readonly throttleRedisFailures = new Counter({
    name: 'latchkey_throttle_redis_failures_total',
    help: 'Failed-authentication throttle calls for which Redis could not be reached (counted in this instance’s memory instead)',
    registers: [this.registry],
  });

  readonly trafficRedisFailures = new Counter({
    name: 'latchkey_traffic_redis_failures_total',
    help: 'Admissions for which Redis could not be reached (rate limits failed open; quotas were counted on this instance)',
    registers: [this.registry],
  });

  /**
   * Key-cache lookups of request authentication, by result: `hit` (answered from memory) or `miss`
   * (read from the database). Counted in plain numbers on the request path and copied into the
   * counter when scraped: a labelled prom-client step hashes its labels every time.
   */
  private readonly keyCacheCounts = { hit: 0, miss: 0 };
  readonly keyCacheLookups = new Counter({
    name: 'latchkey_key_cache_lookups_total',
    help: 'Access-key lookups when authenticating a request: hit (from memory) or miss (read from the database)',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => {
      this.keyCacheLookups.reset();
      this.keyCacheLookups.inc({ result: 'hit' }, this.keyCacheCounts.hit);
      this.keyCacheLookups.inc({ result: 'miss' }, this.keyCacheCounts.miss);
    },
  });

  keyCacheLookup(hit: boolean): void {
    if (hit) this.keyCacheCounts.hit++;
    else this.keyCacheCounts.miss++;
  }

  readonly jobRuns = new Counter({
    name: 'latchkey_job_runs_total',
    help: 'Runs of background jobs (reminders, mail and webhook delivery, batched writes, pruning), by job and outcome (ok, failed)',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: 'latchkey_job_duration_seconds',
    help: 'How long background job runs take, by job',
    labelNames: ['job'] as const,
    buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60],
    registers: [this.registry],
  });

  /** Run one pass of a background job, counting it (and its failure) under `job`. */
  async job<T>(job: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      this.jobRuns.inc({ job, outcome: 'ok' });
      return result;
    } catch (error) {
      this.jobRuns.inc({ job, outcome: 'failed' });
      throw error;
    } finally {
      this.jobDuration.observe({ job }, (performance.now() - started) / 1000);
    }
  }

  readonly mailDeliveries = new Counter({
    name: 'latchkey_mail_deliveries_total',
    help: 'Mail delivery attempts by outcome: sent, retried (will be tried again), failed (given up), dropped (no longer true when its turn came)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'latchkey_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retried (will be tried again), failed (given up), dropped (endpoint deleted or disabled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly changeFeedReconnects = new Counter({
    name: 'latchkey_change_feed_reconnects_total',
    help: "Times the change feed's PostgreSQL LISTEN connection was re-established after it was lost (caches are cleared each time)",
    registers: [this.registry],
  });

  readonly upstreamDuration = new BoundHistogram({
    name: 'latchkey_gateway_upstream_duration_seconds',
    help: "Gateway: time from forwarding a request to the upstream's response headers, by registered API id",
    labelNames: ['api'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly gatewayAdded = new BoundHistogram({
    name: 'latchkey_gateway_added_duration_seconds',
    help: "Gateway: the time latchkey adds to a request its upstream answered (from its routing to the answer's end, less the wait for the upstream's response headers; relaying a long response body counts), by registered API id",
    labelNames: ['api'] as const,
    // A cached signature check and the forwarding take a few hundred µs; the bar is 1 ms at p99.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5],
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
  gauges(specs: ReadonlyArray<GaugeSpec>, read: GaugeSource): void {
    const gauges = specs.map(
      ({ name, help, aggregator }) =>
        new Gauge({ name, help, registers: [this.registry], ...(aggregator ? { aggregator } : {}) }),
    );
    this.sources.push({ names: specs.map((spec) => spec.name), gauges, read });
  }

  /**
   * LATCHKEY_WORKERS > 1: each worker counts in its own registry, and a scrape (whichever worker
   * or port it reaches) answers the sum over every worker, which the primary assembles
   * (cluster/metrics.ts); set on each worker and on the primary's metrics port.
   */
  private aggregated: (() => Promise<string>) | undefined;

  aggregateWith(expose: () => Promise<string>): void {
    this.aggregated = expose;
  }

  /** The text a scrape gets; the first call also starts collecting the process metrics. */
  async expose(): Promise<string> {
    if (this.aggregated !== undefined) return this.aggregated();
    await this.collect();
    return this.registry.metrics();
  }

  /** This process's own metrics, as prom-client's AggregatorRegistry sums them over workers. */
  async snapshot(): Promise<MetricsSnapshot> {
    await this.collect();
    return this.registry.getMetricsAsJSON();
  }

  private async collect(): Promise<void> {
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
  }
}
