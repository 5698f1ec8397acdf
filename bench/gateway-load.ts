/**
 * One load run for bench/gateway.ts, in a process of its own so the load generator never shares an
 * event loop with a server or with the orchestrating script. Reads its options as JSON from
 * argv[2]; prints one line of JSON.
 *
 * `latencies: true` records each 2xx response's time as the float autocannon measures: its own
 * histogram keeps whole milliseconds only (lowestDiscernibleValue 1), too coarse for a bar below
 * 1 ms on loopback.
 *
 * `paced: true` replaces autocannon by an evenly paced sender (node:http, keep-alive, at most
 * `connections` sockets), one request every 1/overallRate s. autocannon's rate limit is a budget
 * per connection and second, spent at once: at 1,000 req/s over 10 connections it sends 1,000
 * requests back to back at the start of each second and then idles, so its latencies are those
 * of a burst at full concurrency, not of a steady 1,000 req/s.
 */
import http from 'node:http';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  duration: number;
  overallRate?: number;
  latencies?: boolean;
  paced?: boolean;
  /** `wrk`: bench/gateway.ts runs wrk (bench/wrk.ts) instead of this script; throughput only. */
  generator?: 'autocannon' | 'wrk';
}

export interface LoadResult {
  /** autocannon's requests.average (the mean of its per-second samples); paced: answers / duration. */
  rps: number;
  sent: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** From the recorded floats (when `latencies`), in ms. */
  latency?: { n: number; p50: number; p99: number; max: number };
  /** autocannon's own figures: whole ms, corrected for coordinated omission when rate-limited. */
  autocannonLatency?: { p50: number; p99: number };
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;

function summarize(recorded: number[]): LoadResult['latency'] {
  if (recorded.length === 0) return undefined;
  const sorted = Float64Array.from(recorded).sort();
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] as number,
  };
}

async function withAutocannon(options: LoadOptions): Promise<LoadResult> {
  const recorded: number[] = [];
  let finish: (error: unknown, result: autocannon.Result) => void = () => {};
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => (error ? reject(error) : resolve(result));
  });
  // With a callback autocannon returns its instance (the event emitter), not a promise.
  const instance = autocannon(
    {
      url: options.url,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
      connections: options.connections,
      duration: options.duration,
      ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
    },
    (error, result) => finish(error, result),
  );
  if (options.latencies) {
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) recorded.push(responseTime);
    });
  }
  const result = await finished;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(
    (result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats,
  ))
    statusCodes[code] = count;
  const latency = options.latencies ? summarize(recorded) : undefined;
  return {
    rps: result.requests.average,
    sent: result.requests.sent,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    ...(latency ? { latency } : {}),
    autocannonLatency: { p50: result.latency.p50, p99: result.latency.p99 },
  };
}

async function paced(options: LoadOptions): Promise<LoadResult> {
  const rate = options.overallRate;
  if (!rate) throw new Error('paced needs overallRate');
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers = { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const url = new URL(options.url);
  const recorded: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let answered = 0;
  const send = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const request = http.request(
        url,
        { method: options.method ?? 'GET', headers, agent, timeout: 10_000 },
        (response) => {
          response.resume();
          response.once('end', () => {
            const status = response.statusCode ?? 0;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            if (status >= 200 && status < 300) recorded.push(performance.now() - started);
            answered++;
            resolve();
          });
        },
      );
      request.once('timeout', () => request.destroy(new Error('timeout')));
      request.once('error', () => {
        errors++;
        resolve();
      });
      request.end(body);
    });
  // Opened before the clock starts, as autocannon's connections are.
  await Promise.all(Array.from({ length: options.connections }, send));
  recorded.length = 0;
  answered = 0;
  for (const code of Object.keys(statusCodes)) delete statusCodes[code];

  const total = Math.round(rate * options.duration);
  const interval = 1000 / rate;
  const inFlight: Array<Promise<void>> = [];
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    // Timers fire about every millisecond at best: each tick sends what is due by now, so the
    // rate holds and a late tick sends two, rarely more.
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; sent < due; sent++) inFlight.push(send());
      if (sent < total) setTimeout(tick, 0);
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const non2xx = Object.entries(statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((n, [, count]) => n + count, 0);
  const latency = summarize(recorded);
  return {
    rps: answered / elapsed,
    sent,
    non2xx,
    errors,
    timeouts: 0,
    statusCodes,
    ...(latency ? { latency } : {}),
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '') as LoadOptions;
  const result = options.paced ? await paced(options) : await withAutocannon(options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
