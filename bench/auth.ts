/**
 * `npm run bench:auth` — authentication performance, printed as figures and ratios from one run:
 *  1. verifications/s of the pure SigV4 verifier on one core with a warm signing-key cache;
 *  2. HTTP requests/s of signed GET /profile vs unauthenticated GET /healthcheck (10 connections),
 *     interleaved A B B A in short slices, medians and their ratio; the built server
 *     (`dist/main.js`) and the load generator each run in their own process;
 *  3. cold verification latency (key not cached: database lookup, decryption, permissions,
 *     signature) with BENCH_KEYS keys (default 1,000,000) in SQLite and in PostgreSQL.
 * Options (env): BENCH_KEYS, BENCH_SLICE_SECONDS (2), BENCH_SLICES (10 per side), BENCH_SAMPLES (2000),
 * PG_URL (postgres://postgres@127.0.0.1:5432/postgres; the PostgreSQL part is skipped when unreachable),
 * BENCH_PARTS (default `1,2,3,4,5`: which measurements to run), BENCH_ENGINES (default
 * `sqlite,postgres`: the engines of part 3), BENCH_REDIS_URL (redis://127.0.0.1:6379/13, part 4),
 * BENCH_LIMIT (200 requests/s) and BENCH_ACCURACY_SECONDS (20) for part 4's accuracy runs,
 * BENCH_TRAFFIC_CONNECTIONS (10,50) for its throughput comparison, BENCH_GENERATOR (`wrk` when
 * /usr/bin/wrk is installed, else `autocannon`: the load generator of parts 2, 5 and 6).
 *  4. traffic control: signed requests on a key with a rate limit and quota vs one without (in
 *     memory, and with Redis), and how close a limit of N/s holds under 5 × N (one instance, and
 *     two sharing Redis);
 *  5. the access log's cost: /healthcheck and signed /profile at LOG_LEVEL=info vs warn;
 *  6. LATCHKEY_WORKERS: signed /profile with 2 workers vs 1 (BENCH_WORKER_CONNECTIONS, default 20;
 *     BENCH_WORKER_WARMUP_SECONDS, default 8, of load on each first), and each server's CPU time
 *     per request (the primary's and its workers', from /proc).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { authenticateSigned } from '../src/auth/signed-request.js';
import { parseSigV4, SigningKeyCache, verifySigV4 } from '../src/auth/sigv4/index.js';
import { loadConfig } from '../src/config.js';
import { generateAccessKeyId, generateSecretAccessKey } from '../src/crypto/access-key-id.js';
import { secretContext } from '../src/keys/secrets.js';
import { type Runtime, startRuntime } from '../src/runtime.js';
import type { AccessKey, KeySecret } from '../src/storage/tables.js';
import { cpuSeconds, finishedChildrenCpuSeconds } from './proc.js';
import { median } from './stats.js';
import { runWrk, throughputGenerator } from './wrk.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
const SLICES = Number(process.env.BENCH_SLICES ?? 10);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 2000);
const WARMUP = Math.min(500, SAMPLES);
/**
 * Part 4's connection counts. With Redis each admission waits for a round trip, so 10 connections
 * in a closed loop leave the server idle part of the time (latency-bound); 50 show the throughput
 * the server sustains when clients keep it busy.
 */
const TRAFFIC_CONNECTIONS = (process.env.BENCH_TRAFFIC_CONNECTIONS ?? '10,50').split(',').map(Number);
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const quiet = pino({ level: 'warn' });
const execFileAsync = promisify(execFile);
const autocannonBin = fileURLToPath(new URL('../node_modules/.bin/autocannon', import.meta.url));

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

async function signedHeaders(ak: string, sk: string, host: string, pathname: string, date = new Date()) {
  const signer = new SignatureV4({
    credentials: { accessKeyId: ak, secretAccessKey: sk },
    region: 'ap-southeast-5',
    service: 'sqlaccount',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    { method: 'GET', protocol: 'http:', hostname: host, path: pathname, headers: { host } },
    { signingDate: date },
  );
  return signed.headers as Record<string, string>;
}

async function runtimeFor(dataDir: string, databaseUrl?: string): Promise<Runtime> {
  return startRuntime(
    loadConfig({
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_ADMIN_PASSWORD: 'bench-admin-password',
      LOG_LEVEL: 'warn',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    }),
    { logger: quiet },
  );
}

async function pureVerifier(): Promise<void> {
  const ak = generateAccessKeyId();
  const sk = generateSecretAccessKey();
  const headers = await signedHeaders(ak, sk, 'api.example.com', '/agent/');
  const request = {
    method: 'GET',
    rawTarget: '/agent/?code=A01',
    headers: Object.entries(headers),
    body: undefined,
  };
  // Re-sign with the query so the request is a typical list call.
  const withQuery = await (async () => {
    const signer = new SignatureV4({
      credentials: { accessKeyId: ak, secretAccessKey: sk },
      region: 'ap-southeast-5',
      service: 'sqlaccount',
      sha256: Sha256,
    });
    const s = await signer.sign({
      method: 'GET',
      protocol: 'http:',
      hostname: 'api.example.com',
      path: '/agent/',
      query: { code: 'A01' },
      headers: { host: 'api.example.com' },
    });
    return { ...request, headers: Object.entries(s.headers as Record<string, string>) };
  })();
  const cache = new SigningKeyCache();
  const secrets = [{ secret: sk, version: 1 }];
  const opts = { now: new Date(), allowedScopes: [{ region: 'ap-southeast-5', service: 'sqlaccount' }] };
  const once = () => {
    const p = parseSigV4(withQuery, opts);
    if (!p.ok) throw new Error(p.failure.message);
    const v = verifySigV4(withQuery, p.parsed, secrets, {
      allowUnsignedPayload: false,
      signingKeyCache: cache,
    });
    if (!v.ok) throw new Error(v.failure.message);
  };
  for (let i = 0; i < 20_000; i++) once();
  const rates: number[] = [];
  for (let s = 0; s < 8; s++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 250) {
      for (let i = 0; i < 500; i++) once();
      n += 500;
    }
    rates.push(n / ((performance.now() - start) / 1000));
  }
  console.log(
    `1. pure verifier, warm cache: ${Math.round(median(rates)).toLocaleString('en')} verifications/s (median of 8 slices; goal ≥ 50,000)`,
  );
}

/** A free loopback port (the server is a separate process, so it cannot listen on port 0 for us). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The production server (`node dist/main.js`, built by the npm script) in its own process, and
 * autocannon in another: neither the load generator nor tsx shares the server's event loop.
 * LOG_LEVEL=warn, so per-request logging (equal on both routes) does not dilute the difference.
 */
const cliPath = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));

/** A new deployment's environment (SQLite in a new directory): the CLI never creates one implicitly. */
async function newDeployment(
  extra: NodeJS.ProcessEnv = {},
): Promise<{ env: NodeJS.ProcessEnv; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LATCHKEY_DATA_DIR: dir,
    LATCHKEY_ADMIN_EMAIL: 'bench@example.com',
    LATCHKEY_ADMIN_PASSWORD: 'bench-admin-password',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ...extra,
  };
  delete env.DATABASE_URL;
  if (extra.REDIS_URL === undefined) delete env.REDIS_URL;
  await execFileAsync(process.execPath, [cliPath, 'init'], { env });
  return { env, dir };
}

async function newKey(
  env: NodeJS.ProcessEnv,
  name: string,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const created = await execFileAsync(
    process.execPath,
    [cliPath, 'keys', 'create', '--user', 'bench@example.com', '--name', name, '--json'],
    { env },
  );
  return JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
}

/** The built server (`node dist/main.js`) in its own process, on its own port, ready. */
async function serve(
  env: NodeJS.ProcessEnv,
  /** A file descriptor for the server's stdout (its log); default: discarded. */
  stdout: number | 'ignore' = 'ignore',
): Promise<{ base: string; port: number; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const server = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', stdout, 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (server.exitCode !== null) return;
    server.kill('SIGTERM');
    await once(server, 'exit');
  };
  for (let i = 0; ; i++) {
    const up = await fetch(`${base}/healthcheck`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 300 || server.exitCode !== null) {
      await stop();
      throw new Error('the server did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, port, pid: server.pid as number, stop };
}

/** autocannon in its own process: its JSON result. */
async function autocannon(url: string, headers: Record<string, string>, args: string[]) {
  const argv = ['-j', ...args];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}=${v}`);
  const { stdout } = await execFileAsync(autocannonBin, [...argv, url], { maxBuffer: 1 << 24 });
  return JSON.parse(stdout) as {
    non2xx: number;
    errors: number;
    '2xx': number;
    statusCodeStats?: Record<string, { count: number }>;
    requests: { average: number; total: number };
  };
}

/**
 * The load generator of the HTTP throughput parts (2, 5, 6): wrk when Debian's package is installed
 * (bench/wrk.ts: a small fraction of autocannon's CPU time per request, and it shares the server's
 * two cores), else autocannon; BENCH_GENERATOR=wrk|autocannon chooses. Part 4 sends at a set rate,
 * which only autocannon does here.
 */
const GENERATOR = throughputGenerator();

/** A slice of load: `connections` keep-alive connections, each sending its next request once answered. */
async function generate(
  url: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<{ non2xx: number; errors: number; requests: { average: number; total: number } }> {
  if (GENERATOR === 'autocannon')
    return autocannon(url, headers, ['-c', String(connections), '-d', String(seconds)]);
  const r = await runWrk({ url, headers, connections, seconds });
  return { non2xx: r.non2xx, errors: r.errors, requests: { total: r.total, average: r.rps } };
}

/** Requests/s of 10 connections for one slice; any refusal or error fails the benchmark. */
async function rate(url: string, headers: Record<string, string>, connections = 10): Promise<number> {
  const result = await generate(url, headers, connections, SLICE_SECONDS);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

/** A B B A … slices of two measurements: each side's median and the median of the pair ratios. */
async function interleaved(a: () => Promise<number>, b: () => Promise<number>) {
  const as: number[] = [];
  const bs: number[] = [];
  await a(); // warm-up, both sides
  await b();
  for (let i = 0; i < SLICES; i++) {
    if (i % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  // Each pair ran back to back, so its ratio cancels most of the machine's drift.
  const ratios = as.map((x, i) => x / (bs[i] as number));
  return { a: median(as), b: median(bs), ratio: median(ratios), ratios };
}

async function httpRatio(): Promise<void> {
  const { env, dir } = await newDeployment();
  const { accessKeyId, secretAccessKey } = await newKey(env, 'bench');
  const { base, port, stop } = await serve(env);
  try {
    const headers = await signedHeaders(accessKeyId, secretAccessKey, `127.0.0.1:${port}`, '/profile');
    const check = await fetch(`${base}/profile`, { headers });
    if (check.status !== 200)
      throw new Error(`signed /profile answered ${check.status}: ${await check.text()}`);
    const r = await interleaved(
      () => rate(`${base}/profile`, headers),
      () => rate(`${base}/healthcheck`, {}),
    );
    console.log(
      `2. HTTP, 10 connections, server and ${GENERATOR} in separate processes: signed GET /profile ${Math.round(r.a)} req/s, GET /healthcheck ${Math.round(r.b)} req/s (medians); ratio ${r.ratio.toFixed(2)} (median of ${SLICES} back-to-back pairs of ${SLICE_SECONDS} s slices: ${r.ratios.map((x) => x.toFixed(2)).join(' ')}; goal ≥ 0.80)`,
    );
  } finally {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Part 5: what the access log costs. Two servers of the same build, one at LOG_LEVEL=info (the
 * default: one access line per request, written to a file as an operator's redirect or journald
 * pipe would take it) and one at warn (no per-request line); GET /healthcheck and signed
 * GET /profile on each, interleaved. Goal: info ≥ 0.80 × warn for both.
 */
async function loggingRatio(): Promise<void> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-log-'));
  const logFile = path.join(logDir, 'access.log');
  const logFd = fs.openSync(logFile, 'a');
  const started: Array<{ stop: () => Promise<void>; dir: string }> = [];
  try {
    const server = async (level: string) => {
      const { env, dir } = await newDeployment({ LOG_LEVEL: level });
      const key = await newKey(env, `bench-${level}`);
      const running = await serve(env, level === 'warn' ? 'ignore' : logFd);
      started.push({ stop: running.stop, dir });
      const headers = await signedHeaders(
        key.accessKeyId,
        key.secretAccessKey,
        `127.0.0.1:${running.port}`,
        '/profile',
      );
      const check = await fetch(`${running.base}/profile`, { headers });
      if (check.status !== 200) throw new Error(`signed /profile (${level}) answered ${check.status}`);
      return { base: running.base, headers, pid: running.pid };
    };
    /** A slice's req/s; its CPU time per request (µs, from /proc) goes to `cpu`. */
    const measured = async (
      target: { base: string; headers: Record<string, string>; pid: number },
      path_: string,
      signed: boolean,
      cpu: number[],
    ) => {
      const before = cpuSeconds(target.pid);
      const result = await generate(
        `${target.base}${path_}`,
        signed ? target.headers : {},
        10,
        SLICE_SECONDS,
      );
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`${path_}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      cpu.push(((cpuSeconds(target.pid) - before) * 1e6) / result.requests.total);
      return result.requests.average;
    };
    const info = await server('info');
    const warn = await server('warn');
    const linesBefore = fs.readFileSync(logFile, 'utf8').split('\n').length;
    for (const [label, path_, signed] of [
      ['GET /healthcheck', '/healthcheck', false],
      ['signed GET /profile', '/profile', true],
    ] as const) {
      const cpuInfo: number[] = [];
      const cpuWarn: number[] = [];
      const r = await interleaved(
        () => measured(info, path_, signed, cpuInfo),
        () => measured(warn, path_, signed, cpuWarn),
      );
      console.log(
        `5. access log: ${label} at LOG_LEVEL=info ${Math.round(r.a)} req/s, at warn ${Math.round(r.b)} req/s (medians); ratio ${r.ratio.toFixed(2)} (pairs ${r.ratios.map((x) => x.toFixed(2)).join(' ')}; goal ≥ 0.80: ${r.ratio >= 0.8 ? 'met' : 'NOT met'})\n` +
          `   server CPU per request: info ${median(cpuInfo).toFixed(1)} µs, warn ${median(cpuWarn).toFixed(1)} µs (medians of the slices, warm-up included)`,
      );
    }
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').length - linesBefore;
    console.log(
      `   the info server wrote ${lines.toLocaleString('en')} access lines to ${logFile} during the slices`,
    );
  } finally {
    for (const s of started) {
      await s.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
    fs.closeSync(logFd);
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

/**
 * 6. LATCHKEY_WORKERS (issue 16): two servers of the same build, one process (LATCHKEY_WORKERS=1)
 * and a primary with two workers, each with its own deployment and key; signed GET /profile on
 * each, interleaved. For each slice, the server's CPU time (primary and workers, /proc) divided by
 * the requests answered: the cost of a request, which must not grow with workers (goal: within
 * 10 % of one process's) if the throughput is to scale with cores. autocannon runs on the same two
 * cores, so the ratio of throughputs here understates what a machine with more cores would see.
 */
async function workersRatio(): Promise<void> {
  const connections = Number(process.env.BENCH_WORKER_CONNECTIONS ?? 20);
  // BENCH_WORKER_PIPELINING=N: autocannon sends N requests at a time on each connection (HTTP/1.1
  // pipelining), which costs the load generator far less per request than clients that wait for
  // each answer; default 1 (as real clients do).
  const pipelining = Number(process.env.BENCH_WORKER_PIPELINING ?? 1);
  const WARMUP_SECONDS = Number(process.env.BENCH_WORKER_WARMUP_SECONDS ?? 8);
  // Pipelining is autocannon's option only (bench/wrk.ts sends one request at a time).
  const generatorName = pipelining === 1 ? GENERATOR : 'autocannon';
  const load = (url: string, headers: Record<string, string>, seconds: number) =>
    pipelining === 1
      ? generate(url, headers, connections, seconds)
      : autocannon(url, headers, [
          '-c',
          String(connections),
          '-p',
          String(pipelining),
          '-d',
          String(seconds),
        ]);
  const started: Array<{ stop: () => Promise<void>; dir: string }> = [];
  let generatorStartupSeconds = 0;
  try {
    const server = async (workers: number) => {
      const metricsPort = await freePort();
      const { env, dir } = await newDeployment({
        LATCHKEY_WORKERS: String(workers),
        LATCHKEY_METRICS_PORT: String(metricsPort),
      });
      const key = await newKey(env, `bench-workers-${workers}`);
      const running = await serve(env);
      started.push({ stop: running.stop, dir });
      // /healthcheck answers once the first worker listens. A scrape of the primary's metrics port
      // that every worker answered (none missing) says they have all started.
      if (workers > 1) {
        const deadline = Date.now() + 60_000;
        const missing = async () => {
          const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
          return Number(/^latchkey_metrics_workers_missing_total (\d+)/m.exec(text)?.[1] ?? 0);
        };
        for (;;) {
          const before = await missing();
          // This scrape's missing workers show in the next one's count.
          if ((await missing()) === before) break;
          if (Date.now() > deadline) throw new Error(`the ${workers} workers did not all start`);
          await sleepMs(500);
        }
      }
      const headers = await signedHeaders(
        key.accessKeyId,
        key.secretAccessKey,
        `127.0.0.1:${running.port}`,
        '/profile',
      );
      const cpuPerRequest: number[] = [];
      const generatorCpuPerRequest: number[] = [];
      const slice = async () => {
        const before = cpuSeconds(running.pid);
        const generatorBefore = finishedChildrenCpuSeconds();
        const result = await load(`${running.base}/profile`, headers, SLICE_SECONDS);
        const cpu = cpuSeconds(running.pid) - before;
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${workers} workers: ${result.non2xx} non-2xx, ${result.errors} errors`);
        cpuPerRequest.push(cpu / result.requests.total);
        generatorCpuPerRequest.push(
          (finishedChildrenCpuSeconds() - generatorBefore - generatorStartupSeconds) / result.requests.total,
        );
        return result.requests.average;
      };
      const check = await fetch(`${running.base}/profile`, { headers });
      if (check.status !== 200)
        throw new Error(`signed /profile (${workers} workers) answered ${check.status}`);
      // Warm-up: each worker compiles its own hot paths (JIT), so two workers need twice the
      // requests one process does before their cost per request settles (measured: 540 µs a
      // request in a cold 2-worker server's first 4 s, 90 µs by its third).
      await load(`${running.base}/profile`, headers, WARMUP_SECONDS);
      return { base: running.base, slice, cpuPerRequest, generatorCpuPerRequest };
    };
    const one = await server(1);
    const two = await server(2);
    // What an autocannon process costs whatever it sends (starting node, loading its modules):
    // one run of a single request, taken off each slice's generator time below. wrk starts in
    // about a millisecond and has no single-request mode: nothing is taken off.
    if (generatorName === 'autocannon') {
      const startupBefore = finishedChildrenCpuSeconds();
      await autocannon(`${two.base}/healthcheck`, {}, ['-a', '1', '-c', '1']);
      generatorStartupSeconds = finishedChildrenCpuSeconds() - startupBefore;
    }
    const r = await interleaved(two.slice, one.slice);
    // The warm-up slices are not measurements.
    const cpuOne = median(one.cpuPerRequest.slice(1)) * 1e6;
    const cpuTwo = median(two.cpuPerRequest.slice(1)) * 1e6;
    const generator = median(two.generatorCpuPerRequest.slice(1)) * 1e6;
    // The most two workers could answer here: every request costs the server's CPU and the load
    // generator's, and the machine has os.availableParallelism() cores for both.
    const cores = os.availableParallelism();
    const ceiling = (cores * 1e6) / (cpuTwo + generator) / r.b;
    console.log(
      `6. workers (${connections} connections${pipelining > 1 ? `, ${pipelining} pipelined on each` : ''}, ${generatorName} on the same ${os.availableParallelism()} cores): signed GET /profile with LATCHKEY_WORKERS=2 ${Math.round(r.a)} req/s, =1 ${Math.round(r.b)} req/s (medians); ratio ${r.ratio.toFixed(2)} (pairs ${r.ratios.map((x) => x.toFixed(2)).join(' ')}; goal ≥ 1.30: ${r.ratio >= 1.3 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `   server CPU time per request (primary + workers, /proc): 2 workers ${cpuTwo.toFixed(1)} µs, 1 process ${cpuOne.toFixed(1)} µs (medians of ${SLICES} slices); ratio ${(cpuTwo / cpuOne).toFixed(2)} (goal ≤ 1.10: ${cpuTwo / cpuOne <= 1.1 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `   load generator CPU time per request: ${generator.toFixed(1)} µs (its ${(generatorStartupSeconds * 1000).toFixed(0)} ms of start-up left out); so on ${cores} cores two workers answer at most ${cores} s ÷ (${cpuTwo.toFixed(1)} + ${generator.toFixed(1)}) µs = ${Math.round((cores * 1e6) / (cpuTwo + generator))} req/s, ${ceiling.toFixed(2)} × one process's rate with both using every core`,
    );
  } finally {
    for (const s of started) {
      await s.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  }
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The administrator's session on a bench server (to set keys' traffic rules through the API). */
async function adminToken(base: string): Promise<string> {
  const res = await fetch(`${base}/iam/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth_mode: 'password',
      email: 'bench@example.com',
      password: 'bench-admin-password',
    }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function setRules(base: string, token: string, accessKeyId: string, rules: Record<string, unknown>) {
  const res = await fetch(`${base}/iam/keys/${accessKeyId}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(rules),
  });
  if (res.status !== 200) throw new Error(`PATCH key: ${res.status} ${await res.text()}`);
}

/**
 * 4. Traffic control (issue 15): signed GET /profile with a key that has a rate limit and a quota
 * (never reached) against the same requests with a key that has none, interleaved, in memory and
 * with Redis. Usage is counted for both keys (it is counted for every key). Then the accuracy of a
 * limit of N/s under a load of 5 × N: on one instance, and on two instances sharing Redis.
 */
async function traffic(): Promise<void> {
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13';
  const redisUp = await new Promise<boolean>((resolve) => {
    const u = new URL(redisUrl);
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  for (const mode of redisUp ? (['memory', 'Redis'] as const) : (['memory'] as const)) {
    const { env, dir } = await newDeployment(mode === 'Redis' ? { REDIS_URL: redisUrl } : {});
    const plain = await newKey(env, 'plain');
    const limited = await newKey(env, 'limited');
    const { base, port, stop } = await serve(env);
    try {
      await setRules(base, await adminToken(base), limited.accessKeyId, {
        rateLimit: { limit: 1_000_000, periodSeconds: 1 },
        quota: { limit: 2_000_000_000, period: 'month' },
      });
      const host = `127.0.0.1:${port}`;
      const plainHeaders = await signedHeaders(plain.accessKeyId, plain.secretAccessKey, host, '/profile');
      const limitedHeaders = await signedHeaders(
        limited.accessKeyId,
        limited.secretAccessKey,
        host,
        '/profile',
      );
      const check = await fetch(`${base}/profile`, { headers: limitedHeaders });
      if (check.status !== 200 || !check.headers.get('ratelimit'))
        throw new Error(`limited key: ${check.status} without RateLimit fields`);
      for (const connections of TRAFFIC_CONNECTIONS) {
        const r = await interleaved(
          () => rate(`${base}/profile`, limitedHeaders, connections),
          () => rate(`${base}/profile`, plainHeaders, connections),
        );
        console.log(
          `4. traffic (${mode}, ${connections} connections): signed GET /profile, key with rate limit + quota ${Math.round(r.a)} req/s, key with none ${Math.round(r.b)} req/s (medians); ratio ${r.ratio.toFixed(2)} (pairs: ${r.ratios.map((x) => x.toFixed(2)).join(' ')}; goal ≥ ${mode === 'memory' ? '0.90' : '0.70'})`,
        );
      }
    } finally {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  await limitAccuracy([1]);
  if (redisUp) await limitAccuracy([1, 2], redisUrl);
  else console.log('4. limit accuracy across two instances: SKIPPED (no Redis at BENCH_REDIS_URL)');
}

/**
 * A limit of N requests/s on one key under 5 × N requests/s (autocannon's -R, spread over the
 * instances) for BENCH_ACCURACY_SECONDS: requests admitted per second, as a multiple of N. GCRA
 * admits a quiet key's burst of N at the start, so over D seconds the most it may admit is
 * N + N × D: 1.05 × N per second over the default 20 s.
 */
async function limitAccuracy(instances: number[], redisUrl?: string): Promise<void> {
  const N = Number(process.env.BENCH_LIMIT ?? 200);
  const seconds = Number(process.env.BENCH_ACCURACY_SECONDS ?? 20);
  const { env, dir } = await newDeployment(redisUrl ? { REDIS_URL: redisUrl } : {});
  const key = await newKey(env, 'accuracy');
  // One after the other: the first start migrates the database.
  const servers: Array<Awaited<ReturnType<typeof serve>>> = [];
  for (const _ of instances) servers.push(await serve(env));
  try {
    await setRules(
      (servers[0] as { base: string }).base,
      await adminToken((servers[0] as { base: string }).base),
      key.accessKeyId,
      {
        rateLimit: { limit: N, periodSeconds: 1 },
      },
    );
    // Every instance hears of the change within a second (the change feed).
    await new Promise((r) => setTimeout(r, 1500));
    const perInstance = Math.ceil((5 * N) / servers.length);
    const load = async (duration: number) =>
      Promise.all(
        servers.map(async (s) => {
          const headers = await signedHeaders(
            key.accessKeyId,
            key.secretAccessKey,
            `127.0.0.1:${s.port}`,
            '/profile',
          );
          const result = await autocannon(`${s.base}/profile`, headers, [
            '-c',
            '10',
            '-R',
            String(perInstance),
            '-d',
            String(duration),
          ]);
          return {
            ok: result['2xx'],
            limited: result.statusCodeStats?.['429']?.count ?? 0,
            total: result.requests.total,
          };
        }),
      );
    const runs = await load(seconds);
    const ok = runs.reduce((n, r) => n + r.ok, 0);
    const sent = runs.reduce((n, r) => n + r.total, 0);
    const perSecond = ok / seconds;
    console.log(
      `4. limit accuracy (${instances.length} instance${instances.length > 1 ? 's sharing Redis' : ', memory'}): limit ${N}/s, offered ${Math.round(sent / seconds)}/s for ${seconds} s: admitted ${perSecond.toFixed(1)}/s = ${(perSecond / N).toFixed(3)} × N (goal between 1 and 1.1)`,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Insert `count` keys (owned by the admin) straight into the tables, in batches. */
async function fillKeys(runtime: Runtime, count: number): Promise<Array<{ id: string; secret: string }>> {
  const { svc } = runtime;
  const admin = await svc.db.selectFrom('users').select(['id', 'tenant_id']).executeTakeFirstOrThrow();
  const sample: Array<{ id: string; secret: string }> = [];
  const now = new Date().toISOString();
  const batch = 1000;
  const started = performance.now();
  for (let done = 0; done < count; done += batch) {
    const keys: AccessKey[] = [];
    const secrets: KeySecret[] = [];
    for (let i = 0; i < Math.min(batch, count - done); i++) {
      const id = generateAccessKeyId();
      const secret = `lksk_${randomBytes(30).toString('base64url').slice(0, 40)}`;
      if (sample.length < SAMPLES * 2 && Math.random() < (SAMPLES * 4) / count) sample.push({ id, secret });
      const sealed = svc.secrets.seal(secret, secretContext(admin.tenant_id, id, 1));
      keys.push({
        id,
        tenant_id: admin.tenant_id,
        owner_type: 'user' as const,
        owner_id: admin.id,
        traffic: null,
        name: `bench ${done + i}`,
        type: 'access' as const,
        status: 'active' as const,
        expires_at: null,
        secret_version: 1,
        created_at: now,
        created_by_type: 'system',
        created_by_id: 'bench',
        updated_at: now,
        updated_by_type: 'system',
        updated_by_id: 'bench',
        last_used_at: null,
        last_used_api_id: null,
        last_used_decision: null,
        last_used_ip: null,
        manager_disabled: 0,
        quarantined_at: null,
        quarantine_reason: null,
        quarantine_url: null,
      });
      secrets.push({
        access_key_id: id,
        version: 1,
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        created_at: now,
        not_after: null,
        lookup_hash: null,
        lookup_key: null,
      });
    }
    await svc.db.transaction().execute(async (trx) => {
      // Chunked so PostgreSQL's 65,535-parameter limit is never reached.
      for (let i = 0; i < keys.length; i += 250) {
        await trx
          .insertInto('access_keys')
          .values(keys.slice(i, i + 250))
          .execute();
        await trx
          .insertInto('key_secrets')
          .values(secrets.slice(i, i + 250))
          .execute();
      }
    });
    if ((done / batch) % 100 === 0)
      process.stdout.write(
        `   … ${done.toLocaleString('en')} keys (${((performance.now() - started) / 1000).toFixed(0)} s)\r`,
      );
  }
  process.stdout.write('\n');
  return sample;
}

async function coldLatency(label: string, databaseUrl?: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  const runtime = await runtimeFor(dir, databaseUrl);
  const existing = Number(
    (
      await runtime.svc.db
        .selectFrom('access_keys')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
  console.log(`3. ${label}: inserting ${KEYS.toLocaleString('en')} keys …`);
  const sample = await fillKeys(runtime, KEYS - existing);
  if (runtime.svc.engine === 'postgres') {
    // After a bulk load, as pgbench does: vacuum and analyse now, and write the dirty pages out, so
    // autovacuum and the checkpointer do not run during the measurement on this 2-core machine.
    await sql`vacuum analyze`.execute(runtime.svc.db);
    await sql`checkpoint`.execute(runtime.svc.db);
  }
  // Signed up front (the signer's own garbage must not land in the measured calls), then
  // WARMUP cold lookups unmeasured (JIT compilation, statement cache, owner and tenant caches).
  const requests: Array<{ id: string; raw: string[] }> = [];
  for (const { id, secret } of sample.slice(0, WARMUP + SAMPLES)) {
    requests.push({ id, raw: Object.entries(await signedHeaders(id, secret, 'bench', '/profile')).flat() });
  }
  if (requests.length < WARMUP + SAMPLES) throw new Error('too few sample keys; raise BENCH_KEYS');
  const latencies: number[] = [];
  // PostgreSQL: a bare prepared `select 1` on the same pool, alternating with the cold lookups
  // (A B B A), is the floor the database round trip sets on this machine.
  const pool = runtime.svc.database.pool;
  const roundTrips: number[] = [];
  const roundTrip = async (i: number) => {
    if (pool === undefined) return;
    const started = performance.now();
    await pool.query({ name: 'latchkey_bench_select_1', text: 'select 1' });
    if (i >= WARMUP) roundTrips.push(performance.now() - started);
  };
  for (const [i, { id, raw }] of requests.entries()) {
    if (i % 2 === 1) await roundTrip(i);
    runtime.keys.invalidate(id);
    const started = performance.now();
    const result = await authenticateSigned(runtime, {
      method: 'GET',
      url: '/profile',
      rawHeaders: raw,
      body: undefined,
      ip: '127.0.0.1',
      requestId: 'bench',
    });
    if (i >= WARMUP) latencies.push(performance.now() - started);
    if (!result.ok) throw new Error(`${id}: ${result.code} ${result.message}`);
    if (i % 2 === 0) await roundTrip(i);
  }
  const summary = (xs: number[]) =>
    `p50 ${pct(xs, 0.5).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms (p90 ${pct(xs, 0.9).toFixed(3)}, max ${Math.max(...xs).toFixed(3)} ms)`;
  console.log(
    `   cold verification with ${KEYS.toLocaleString('en')} keys in ${label}: ${summary(latencies)} over ${latencies.length} keys after ${WARMUP} unmeasured (goal p99 < 2 ms)`,
  );
  if (roundTrips.length > 0) {
    console.log(`   the database round trip alone (prepared select 1, interleaved): ${summary(roundTrips)}`);
  }
  await runtime.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(
    `latchkey auth benchmark — node ${process.version}, ${os.cpus().length} cores; load generator of parts 2, 5 and 6: ${GENERATOR}`,
  );
  const parts = new Set((process.env.BENCH_PARTS ?? '1,2,3,4,5').split(','));
  if (parts.has('1')) await pureVerifier();
  if (parts.has('2')) await httpRatio();
  if (parts.has('4')) await traffic();
  if (parts.has('5')) await loggingRatio();
  if (parts.has('6')) await workersRatio();
  if (!parts.has('3')) return;
  const engines = new Set((process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(','));
  if (engines.has('sqlite')) await coldLatency('SQLite');
  if (!engines.has('postgres')) return;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  const reachable = await client.connect().then(
    () => true,
    () => false,
  );
  if (!reachable) {
    console.log('3. PostgreSQL: SKIPPED (unreachable at PG_URL)');
    return;
  }
  const name = `latchkey_bench_${randomBytes(4).toString('hex')}`;
  await client.query(`create database ${name}`);
  try {
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    await coldLatency('PostgreSQL', url.toString());
  } finally {
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
