/**
 * `npm run bench:gateway` — the SigV4 gateway's cost, printed as figures, ratios and bars met:
 *  1. signed GET /api/bench/items through latchkey's gateway vs the same GET (same headers, the
 *     signature ignored) through a Fastify 5 + @fastify/reply-from proxy with no authentication
 *     (bench/gateway-baseline-proxy.ts): ratio of req/s (bar ≥ 0.80);
 *  2. the gateway vs nginx `proxy_pass` with upstream keep-alive (bar ≥ 0.50);
 *  3. latency added at 1,000 requests/s: the upstream directly vs signed through the gateway; p50
 *     and p99 of each and the median over pairs of the p99 difference (bar < 1 ms). 3a with
 *     autocannon's overallRate, which sends each second's requests in one burst; 3b evenly paced,
 *     the steady 1,000 req/s the bar is about (bench/gateway-load.ts). Each also reads latchkey's
 *     own histogram of the time it adds (latchkey_gateway_added_duration_seconds, from /metrics):
 *     the same requests timed inside latchkey, without the network and the other processes;
 *  4. POST /v1/verify (a Bearer key token of a service account holding only iam:verify, describing
 *     a real signed request) vs unauthenticated GET /healthcheck on the same server (bar ≥ 0.60).
 * Requests are signed with a service account's key that holds only the API's permission, as a
 * client's key would (the verify API lists what the key holds: a key holding `*` answers every name).
 * Every party is a process of its own on 127.0.0.1: the upstream (bench/gateway-upstream.ts),
 * latchkey (the built `dist/main.js`, SQLite in a temporary LATCHKEY_DATA_DIR), the two baseline
 * proxies, and the load generator (bench/gateway-load.ts: autocannon, 10 keep-alive connections).
 * The two sides of a comparison run in short slices interleaved A B B A; each pair ran back to back, so the median of
 * the pair ratios (or differences) is the figure, with each side's median shown beside it.
 * Any non-2xx answer or socket error during a slice is an error: the run stops and exits 1. A bar
 * not met is reported, not an error.
 * Part 0 (only when asked for in BENCH_PARTS, no latchkey involved): req/s of the upstream directly,
 * the Fastify proxy and nginx, in rotation: shows whether the upstream or the load generator, not
 * the proxy, bounds the baselines on this machine.
 * Options (env): BENCH_SLICE_SECONDS (2), BENCH_SLICES (6 per side), BENCH_PARTS (`1,2,3,4`; `3` is
 * `3a,3b`; add `0` for the baselines alone), BENCH_CPU_PROFILE (a directory: latchkey and the
 * same-stack proxy write V8 CPU profiles in latchkey/ and proxy/ there when they stop).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { NGINX_BIN, type NginxInstance, nginxAvailable, startNginx } from '../test/helpers/nginx.js';
import { childEnv, freePort } from '../test/helpers/process.js';
import type { LoadOptions, LoadResult } from './gateway-load.js';
import { cpuSecondsIfKnown } from './proc.js';
import { median, quantile } from './stats.js';
import { runWrk, throughputGenerator } from './wrk.js';

const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
const SLICES = Number(process.env.BENCH_SLICES ?? 6);
const PARTS = new Set((process.env.BENCH_PARTS ?? '1,2,3,4').split(',').map((p) => p.trim()));
const CONNECTIONS = 10;
/**
 * The load generator of the throughput parts (0, 1, 2, 4): wrk when installed (bench/wrk.ts: it
 * leaves more of the two cores to the parties measured), else autocannon; BENCH_GENERATOR chooses.
 * Part 3 measures latencies, which only gateway-load.ts records: autocannon or the paced sender.
 */
const GENERATOR = throughputGenerator();
const RATE = 1000;
const REGION = 'ap-southeast-5';
const SERVICE = 'sqlaccount';
const BASE_PATH = '/api/bench';
const ITEMS = `${BASE_PATH}/items`;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ADMIN_EMAIL = 'bench@example.com';
/** Part 3 reads latchkey's own histogram of the time it adds (GET /metrics with this token). */
const METRICS_TOKEN = `bench-${'0123456789abcdef'.repeat(2)}`;
const ADDED_HISTOGRAM = 'latchkey_gateway_added_duration_seconds';
const ADMIN_PASSWORD = 'bench-admin-password';

const execFileAsync = promisify(execFile);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
/** The interquartile range. */
const spread = (xs: number[]) => quantile(xs, 0.75) - quantile(xs, 0.25);

// ---------------------------------------------------------------------------------------------
// processes

interface Party {
  name: string;
  url: string;
  /** The server's process, when its CPU time can be read (/proc): for CPU per request. */
  pid?: number;
  stop(): Promise<void>;
  /** The last of what the process wrote to stderr: printed when something fails. */
  stderr(): string;
}

const parties: Party[] = [];

function tail(keep: number) {
  let text = '';
  return {
    add(chunk: string) {
      text = (text + chunk).slice(-keep);
    },
    get: () => text,
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A bench/*.ts server through tsx that prints its port on its first line of stdout. */
async function startScript(
  name: string,
  file: string,
  env: Record<string, string>,
  check?: string,
  flags: string[] = [],
): Promise<Party> {
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', here(file)], {
    env: childEnv({ ...env, PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const err = tail(8192);
  child.stderr?.setEncoding('utf8').on('data', err.add);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within 30 s:\n${err.get()}`)),
      30_000,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n');
      if (line.length > 1) {
        clearTimeout(timer);
        resolve(Number(line[0]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${err.get()}`));
    });
  });
  const party = {
    name,
    url: `http://127.0.0.1:${port}`,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stop: () => stopChild(child),
    stderr: err.get,
  };
  parties.push(party);
  if (check !== undefined) await expectUpstreamBody(`${party.url}${check}`);
  return party;
}

/**
 * The production server, `node dist/main.js` (built by the npm script), on a new SQLite deployment.
 * LOG_LEVEL=warn so per-request logging does not weigh on one side of a comparison only.
 */
async function startLatchkey(): Promise<Party & { dataDir: string }> {
  const main = here('../dist/main.js');
  if (!fs.existsSync(main))
    throw new Error(`${main} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-gateway-'));
  const port = await freePort();
  const child = spawn(process.execPath, [...profileFlags('latchkey'), main], {
    env: childEnv({
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
      LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LATCHKEY_METRICS_TOKEN: METRICS_TOKEN,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
    }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const err = tail(16384);
  child.stderr?.setEncoding('utf8').on('data', err.add);
  const url = `http://127.0.0.1:${port}`;
  const party = {
    name: 'latchkey',
    url,
    dataDir,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stderr: err.get,
    stop: async () => {
      await stopChild(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  parties.push(party);
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/healthcheck`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return party;
    if (i > 300 || child.exitCode !== null) throw new Error(`latchkey did not start:\n${err.get()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** BENCH_CPU_PROFILE=<dir>: latchkey and the same-stack proxy write V8 CPU profiles there when they stop. */
function profileFlags(name: string): string[] {
  const dir = process.env.BENCH_CPU_PROFILE;
  // A directory per process: tsx's module loader runs on a thread of its own that writes a profile too.
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir, name)}`] : [];
}

function startSameStackProxy(upstream: Party): Promise<Party> {
  return startScript(
    'same-stack proxy',
    './gateway-baseline-proxy.ts',
    { UPSTREAM: upstream.url },
    ITEMS,
    profileFlags('proxy'),
  );
}

/** Part 0's floor: node:http and an undici Pool forwarding, nothing else (bench/gateway-bare-proxy.ts). */
function startBareProxy(upstream: Party): Promise<Party> {
  return startScript('bare Node proxy', './gateway-bare-proxy.ts', { UPSTREAM: upstream.url }, ITEMS);
}

async function startNginxProxy(upstream: string): Promise<Party> {
  if (!nginxAvailable()) throw new Error(`nginx is not installed at ${NGINX_BIN} (needed by part 2)`);
  const nginx: NginxInstance = await startNginx(
    (port) => `
  upstream bench_upstream {
    server ${new URL(upstream).host};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    # nginx closes a client connection after 1,000 requests by default; node never does.
    keepalive_requests 1000000;
    location ${BASE_PATH}/ {
      proxy_pass http://bench_upstream/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const party = { name: 'nginx', url: nginx.url, stop: nginx.stop, stderr: nginx.errorLog };
  parties.push(party);
  await expectUpstreamBody(`${nginx.url}${ITEMS}`);
  return party;
}

async function retire(party: Party): Promise<void> {
  parties.splice(parties.indexOf(party), 1);
  await party.stop();
}

async function stopAll(): Promise<void> {
  await Promise.all(parties.splice(0).map((p) => p.stop().catch(() => undefined)));
}

// ---------------------------------------------------------------------------------------------
// latchkey setup and signing

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** A Bearer token from signing in with the key (auth_mode apikey). */
  keyToken: string;
}

async function call(base: string, method: string, url: string, token: string | undefined, body?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function expectStatus(
  what: string,
  expected: number,
  answer: Promise<Awaited<ReturnType<typeof call>>>,
): Promise<Record<string, unknown>> {
  const { status, text, json } = await answer;
  if (status !== expected) throw new Error(`${what}: expected ${expected}, got ${status}: ${text}`);
  return json();
}

async function setUpLatchkey(latchkey: Party, upstream: Party): Promise<Credentials> {
  const base = latchkey.url;
  const { token } = (await expectStatus(
    'POST /iam/login (password)',
    200,
    call(base, 'POST', '/iam/login', undefined, {
      auth_mode: 'password',
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    }),
  )) as { token: string };
  await expectStatus(
    'POST /iam/apis',
    201,
    call(base, 'POST', '/iam/apis', token, {
      name: 'bench',
      basePath: BASE_PATH,
      upstream: upstream.url,
      routes: [{ method: 'GET', path: '/*', permission: 'bench:read' }],
    }),
  );
  // Least privilege, as in production: the client's key holds the API's permission and nothing
  // else (the verify API lists what the key holds: a key holding `*` would answer every name), and
  // the service calling /v1/verify holds only iam:verify.
  const keyOfAccount = async (name: string, permissions: string[]) => {
    const role = (await expectStatus(
      'POST /iam/roles',
      201,
      call(base, 'POST', '/iam/roles', token, { name, permissions }),
    )) as { id: string };
    const account = (await expectStatus(
      'POST /iam/service-accounts',
      201,
      call(base, 'POST', '/iam/service-accounts', token, { name }),
    )) as { id: string };
    await expectStatus(
      'PUT /iam/service-accounts/{id}/assignments',
      200,
      call(base, 'PUT', `/iam/service-accounts/${account.id}/assignments`, token, { roleIds: [role.id] }),
    );
    return (await expectStatus(
      'POST /iam/service-accounts/{id}/keys',
      201,
      call(base, 'POST', `/iam/service-accounts/${account.id}/keys`, token, { name, neverExpires: true }),
    )) as { accessKeyId: string; secretAccessKey: string };
  };
  const key = await keyOfAccount('bench-client', ['bench:read']);
  const verifier = await keyOfAccount('bench-verifier', ['iam:verify']);
  const { token: keyToken } = (await expectStatus(
    'POST /iam/login (apikey)',
    200,
    call(base, 'POST', '/iam/login', undefined, {
      auth_mode: 'apikey',
      apikey: verifier.accessKeyId,
      secretkey: verifier.secretAccessKey,
    }),
  )) as { token: string };
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, keyToken };
}

/** Signed headers for GET `url` (header form), valid for 15 minutes from now. */
async function sign(credentials: Credentials, url: string): Promise<Record<string, string>> {
  const { host, pathname } = new URL(url);
  const signer = new SignatureV4({
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    region: REGION,
    service: SERVICE,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'GET',
    protocol: 'http:',
    hostname: host,
    path: pathname,
    headers: { host },
  });
  return signed.headers as Record<string, string>;
}

/**
 * A signed GET through the gateway, checked once by hand (status and the upstream's body) before
 * autocannon replays the same headers for a slice: a signature carries no nonce.
 */
async function signedGateway(latchkey: Party, credentials: Credentials): Promise<LoadOptions> {
  const url = `${latchkey.url}${ITEMS}`;
  const headers = await sign(credentials, url);
  await expectUpstreamBody(url, headers);
  return { url, headers, connections: CONNECTIONS, duration: SLICE_SECONDS, generator: GENERATOR };
}

/** POST /v1/verify describing a freshly signed GET, checked once to answer valid:true. */
async function verifyRequest(latchkey: Party, credentials: Credentials): Promise<LoadOptions> {
  const described = `${latchkey.url}${ITEMS}`;
  const body = JSON.stringify({
    method: 'GET',
    url: described,
    headers: await sign(credentials, described),
    bodySha256: EMPTY_SHA256,
  });
  const headers = { authorization: `Bearer ${credentials.keyToken}`, 'content-type': 'application/json' };
  const url = `${latchkey.url}/v1/verify`;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  if (response.status !== 200 || (JSON.parse(text) as { valid?: unknown }).valid !== true)
    throw new Error(`POST /v1/verify answered ${response.status}: ${text}`);
  return {
    url,
    method: 'POST',
    headers,
    body,
    connections: CONNECTIONS,
    duration: SLICE_SECONDS,
    generator: GENERATOR,
  };
}

/** A baseline must really reach the upstream: a misrouted 2xx (nginx's own page) would look fast. */
async function expectUpstreamBody(url: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200 || text !== '{"ok":true}')
    throw new Error(`GET ${url} answered ${response.status}: ${text}`);
}

// ---------------------------------------------------------------------------------------------
// measuring

/** A slice of load; with `server`, also that process's CPU time per request (µs) over the slice. */
async function load(
  label: string,
  options: LoadOptions,
  server?: Party,
): Promise<LoadResult & { cpuMicros?: number }> {
  const cpuBefore = cpuSecondsIfKnown(server?.pid);
  const result = await loadOnly(label, options);
  const cpuAfter = cpuSecondsIfKnown(server?.pid);
  return cpuBefore === undefined || cpuAfter === undefined || result.sent === 0
    ? result
    : { ...result, cpuMicros: ((cpuAfter - cpuBefore) * 1e6) / result.sent };
}

async function loadOnly(label: string, options: LoadOptions): Promise<LoadResult> {
  const result = options.generator === 'wrk' ? await loadWithWrk(options) : await loadWithNode(options);
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    const logs = parties
      .filter((p) => p.stderr().trim() !== '')
      .map((p) => `--- ${p.name} stderr (last lines) ---\n${p.stderr().split('\n').slice(-20).join('\n')}`)
      .join('\n');
    throw new Error(
      `${label} (${options.method ?? 'GET'} ${options.url}): ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.sent} sent; status codes ${JSON.stringify(result.statusCodes)}\n${logs}`,
    );
  }
  return result;
}

async function loadWithNode(options: LoadOptions): Promise<LoadResult> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', here('./gateway-load.ts'), JSON.stringify(options)],
    { maxBuffer: 1 << 24, env: childEnv({}) },
  );
  return JSON.parse(stdout) as LoadResult;
}

async function loadWithWrk(options: LoadOptions): Promise<LoadResult> {
  if (options.overallRate !== undefined || options.latencies || options.paced)
    throw new Error('wrk runs the throughput parts only');
  const r = await runWrk({
    url: options.url,
    ...(options.method ? { method: options.method } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    connections: options.connections,
    seconds: options.duration,
  });
  return { rps: r.rps, sent: r.total, non2xx: r.non2xx, errors: r.errors, timeouts: 0, statusCodes: {} };
}

/**
 * One unmeasured slice per side, then SLICES pairs A B, B A, A B, …: drift on a shared machine
 * falls on both sides alike. `options` runs before each slice, outside the measurement: the
 * gateway's sides re-sign there, so a long run never outlives a signature.
 */
type Side = { label: string; options: () => Promise<LoadOptions>; server?: Party };
type Measured = LoadResult & { cpuMicros?: number };

async function interleave(a: Side, b: Side): Promise<Array<{ a: Measured; b: Measured }>> {
  const run = async (side: Side) => load(side.label, await side.options(), side.server);
  await run(a);
  await run(b);
  const pairs: Array<{ a: Measured; b: Measured }> = [];
  for (let i = 0; i < SLICES; i++) {
    if (i % 2 === 0) {
      const ra = await run(a);
      const rb = await run(b);
      pairs.push({ a: ra, b: rb });
    } else {
      const rb = await run(b);
      const ra = await run(a);
      pairs.push({ a: ra, b: rb });
    }
    progress(`   … ${a.label} vs ${b.label}: ${i + 1}/${SLICES} pairs`);
  }
  progress('');
  return pairs;
}

/** A progress line a terminal overwrites; left out of logs, where it would only be noise. */
function progress(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r${text.padEnd(process.stdout.columns - 1)}\r`);
}

interface Row {
  part: string;
  a: string;
  b: string;
  figure: string;
  bar: string;
  verdict: 'yes' | 'NO' | 'unclear (noisy)';
  detail: string;
}

const rows: Row[] = [];
const rps = (x: number) => `${Math.round(x).toLocaleString('en')} req/s`;
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function throughputPart(part: string, a: Side, b: Side, bar: number): Promise<void> {
  const pairs = await interleave(a, b);
  const ratios = pairs.map((p) => p.a.rps / p.b.rps);
  const ratio = median(ratios);
  // CPU per request of each server (when both are known): what the ratio costs in work, which a
  // 2-core machine shared with the load generator turns into throughput.
  const cpu = (pick: (p: (typeof pairs)[number]) => Measured) => {
    const values = pairs.map((p) => pick(p).cpuMicros);
    return values.every((v) => v !== undefined) ? median(values as number[]) : undefined;
  };
  const cpuA = cpu((p) => p.a);
  const cpuB = cpu((p) => p.b);
  const cpuNote =
    cpuA !== undefined && cpuB !== undefined
      ? `; server CPU per request ${a.label} ${cpuA.toFixed(0)} µs, ${b.label} ${cpuB.toFixed(0)} µs`
      : '';
  const row: Row = {
    part,
    a: `${a.label}: ${rps(median(pairs.map((p) => p.a.rps)))}`,
    b: `${b.label}: ${rps(median(pairs.map((p) => p.b.rps)))}`,
    figure: `ratio ${ratio.toFixed(2)}`,
    bar: `≥ ${bar.toFixed(2)}`,
    verdict: ratio >= bar ? 'yes' : 'NO',
    detail: `pair ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}${cpuNote}`,
  };
  rows.push(row);
  printRow(row);
}

/** The cumulative bucket counts of latchkey's added-time histogram, summed over its APIs, by bound. */
async function addedBuckets(latchkey: Party): Promise<Map<number, number>> {
  const response = await fetch(`${latchkey.url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const buckets = new Map<number, number>();
  const line = new RegExp(`^${ADDED_HISTOGRAM}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`);
  for (const text of (await response.text()).split('\n')) {
    const m = line.exec(text);
    if (!m) continue;
    const bound = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/**
 * What latchkey itself added to the requests between two reads of its histogram (server side, no
 * network and no other process in it): the share within 1 ms, and the p99 interpolated within its
 * bucket as PromQL's histogram_quantile does.
 */
function addedSummary(before: Map<number, number>, after: Map<number, number>): string {
  const bounds = [...after.keys()].sort((x, y) => x - y);
  const cumulative = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const count = cumulative.at(-1) ?? 0;
  if (count === 0) return `${ADDED_HISTOGRAM}: no requests recorded`;
  const rank = 0.99 * count;
  const i = cumulative.findIndex((c) => c >= rank);
  const upper = bounds[i] as number;
  const lower = i > 0 ? (bounds[i - 1] as number) : 0;
  const below = i > 0 ? (cumulative[i - 1] as number) : 0;
  const inBucket = (cumulative[i] as number) - below;
  const p99 = Number.isFinite(upper) ? lower + (upper - lower) * ((rank - below) / inBucket) : lower;
  const withinMs = (cumulative[bounds.indexOf(0.001)] ?? 0) / count;
  return `latchkey's own time per forwarded request (${ADDED_HISTOGRAM}, server side, ${count} requests): p99 ≈ ${ms(p99 * 1000)}, ${(withinMs * 100).toFixed(2)} % within 1 ms`;
}

/**
 * 3a (`paced` false): autocannon at overallRate 1,000, as the bar is defined; 3b (`paced` true): the
 * same rate evenly spaced (see bench/gateway-load.ts on why autocannon's rate is a burst).
 */
async function latencyPart(
  latchkey: Party,
  direct: () => Promise<LoadOptions>,
  gateway: () => Promise<LoadOptions>,
  paced: boolean,
): Promise<void> {
  const rated = { overallRate: RATE, latencies: true, paced, generator: 'autocannon' as const };
  const before = await addedBuckets(latchkey);
  const pairs = await interleave(
    { label: 'gateway', options: async () => ({ ...(await gateway()), ...rated }) },
    { label: 'direct', options: async () => ({ ...(await direct()), ...rated }) },
  );
  const lat = (r: LoadResult) => {
    if (!r.latency) throw new Error('no latencies were recorded');
    return r.latency;
  };
  const own = addedSummary(before, await addedBuckets(latchkey));
  const p99Diffs = pairs.map((p) => lat(p.a).p99 - lat(p.b).p99);
  const p50Diffs = pairs.map((p) => lat(p.a).p50 - lat(p.b).p50);
  const added = median(p99Diffs);
  const side = (pick: (p: (typeof pairs)[number]) => LoadResult) =>
    `p50 ${ms(median(pairs.map((p) => lat(pick(p)).p50)))}, p99 ${ms(median(pairs.map((p) => lat(pick(p)).p99)))}`;
  const whole = (pick: (p: (typeof pairs)[number]) => LoadResult) =>
    median(pairs.map((p) => pick(p).autocannonLatency?.p99 ?? Number.NaN));
  const row: Row = {
    part: paced ? '3b' : '3a',
    a: `gateway ${paced ? 'paced' : 'autocannon'}: ${side((p) => p.a)}`,
    b: `direct ${paced ? 'paced' : 'autocannon'}: ${side((p) => p.b)}`,
    figure: `added p99 ${ms(added)} (p50 ${ms(median(p50Diffs))})`,
    bar: '< 1 ms',
    // On a busy machine one scheduling stall moves a slice's p99 by tens of ms either way; when the
    // middle half of the pairs spreads wider than the bar itself, a median on either side of it
    // says nothing.
    verdict: spread(p99Diffs) > 1 ? 'unclear (noisy)' : added < 1 ? 'yes' : 'NO',
    detail:
      `pair p99 differences ${p99Diffs.map((d) => d.toFixed(3)).join(' ')} ms (interquartile range ${spread(p99Diffs).toFixed(3)} ms); achieved req/s (gateway/direct) ${pairs.map((p) => `${Math.round(p.a.rps)}/${Math.round(p.b.rps)}`).join(' ')}` +
      (paced
        ? ''
        : `; autocannon's own whole-ms p99 (corrected for coordinated omission): gateway ${whole((p) => p.a)} ms, direct ${whole((p) => p.b)} ms`) +
      `\n   ${own}`,
  };
  rows.push(row);
  printRow(row);
}

function printRow(row: Row): void {
  console.log(
    `${row.part}. ${row.a} | ${row.b} | ${row.figure} (bar ${row.bar} met: ${row.verdict})\n   ${row.detail}`,
  );
}

function printTable(): void {
  if (rows.length === 0) return;
  const header = ['part', 'A', 'B', 'figure', 'bar', 'met'];
  const body = rows.map((r) => [r.part, r.a, r.b, r.figure, r.bar, r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of body) console.log(line(r));
}

async function baselinesOnly(upstream: Party, proxy: Party, bare: Party, nginx: Party): Promise<void> {
  const targets = [
    { label: 'upstream directly', url: `${upstream.url}/items` },
    { label: 'Fastify proxy', url: `${proxy.url}${ITEMS}` },
    { label: 'bare Node proxy', url: `${bare.url}${ITEMS}` },
    { label: 'nginx proxy_pass', url: `${nginx.url}${ITEMS}` },
  ];
  const results = targets.map(() => [] as number[]);
  for (let i = -1; i < SLICES; i++) {
    // Rotated so that no target always runs first, or right after the same neighbour.
    for (let j = 0; j < targets.length; j++) {
      const k = (i + 1 + j) % targets.length;
      const t = targets[k] as (typeof targets)[number];
      const r = await load(t.label, {
        url: t.url,
        connections: CONNECTIONS,
        duration: SLICE_SECONDS,
        generator: GENERATOR,
      });
      if (i >= 0) results[k]?.push(r.rps);
    }
  }
  console.log(
    `0. baselines, no latchkey: ${targets.map((t, k) => `${t.label} ${rps(median(results[k] as number[]))}`).join(', ')} (medians of ${SLICES} slices)`,
  );
  // Each round ran every target once: the median of the rounds' ratios to nginx (part 2's baseline).
  const nginxRates = results[targets.length - 1] as number[];
  const ofNginx = (k: number) =>
    median((results[k] as number[]).map((r, round) => r / (nginxRates[round] as number))).toFixed(2);
  console.log(
    `   of nginx's rate: Fastify proxy ${ofNginx(1)}, bare Node proxy ${ofNginx(2)} (part 2's bar for the gateway: 0.50)`,
  );
}

/** Other work on the machine skews every figure, p99 most: printed so a reader can tell a busy run. */
function loadAverage(): string {
  return `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

async function main(): Promise<void> {
  console.log(
    `latchkey gateway benchmark — node ${process.version}, ${os.cpus().length} cores; ${GENERATOR} (part 3: autocannon and a paced sender) ${CONNECTIONS} connections, ${SLICES} pairs of ${SLICE_SECONDS} s slices per part, parts ${[...PARTS].join(',')}; ${loadAverage()}`,
  );
  const upstream = await startScript('upstream', './gateway-upstream.ts', {}, '/items');
  if (PARTS.has('0')) {
    const proxy = await startSameStackProxy(upstream);
    const bare = await startBareProxy(upstream);
    const nginx = await startNginxProxy(upstream.url);
    await baselinesOnly(upstream, proxy, bare, nginx);
    await retire(proxy);
    await retire(bare);
    await retire(nginx);
  }
  const needsLatchkey = ['1', '2', '3', '3a', '3b', '4'].some((p) => PARTS.has(p));
  const latchkey = needsLatchkey ? await startLatchkey() : undefined;
  const credentials = latchkey ? await setUpLatchkey(latchkey, upstream) : undefined;
  const gateway = () => signedGateway(latchkey as Party, credentials as Credentials);
  // The baselines get the very request the gateway gets, signature included (and ignored), so each
  // side parses and forwards the same bytes; only Host is their own.
  const unauthenticated = (url: string) => async (): Promise<LoadOptions> => {
    const signed = await sign(credentials as Credentials, `${(latchkey as Party).url}${ITEMS}`);
    const headers = Object.fromEntries(Object.entries(signed).filter(([name]) => name !== 'host'));
    return { url, headers, connections: CONNECTIONS, duration: SLICE_SECONDS, generator: GENERATOR };
  };

  if (PARTS.has('1')) {
    const proxy = await startSameStackProxy(upstream);
    const options = unauthenticated(`${proxy.url}${ITEMS}`);
    await throughputPart(
      '1',
      { label: 'gateway', options: gateway, server: latchkey as Party },
      { label: 'Fastify proxy', options, server: proxy },
      0.8,
    );
    await retire(proxy);
  }
  if (PARTS.has('2')) {
    const nginx = await startNginxProxy(upstream.url);
    const options = unauthenticated(`${nginx.url}${ITEMS}`);
    await throughputPart(
      '2',
      { label: 'gateway', options: gateway, server: latchkey as Party },
      { label: 'nginx', options },
      0.5,
    );
    await retire(nginx);
  }
  const direct = unauthenticated(`${upstream.url}/items`);
  if (PARTS.has('3') || PARTS.has('3a')) await latencyPart(latchkey as Party, direct, gateway, false);
  if (PARTS.has('3') || PARTS.has('3b')) await latencyPart(latchkey as Party, direct, gateway, true);
  if (PARTS.has('4')) {
    const health = async (): Promise<LoadOptions> => ({
      url: `${(latchkey as Party).url}/healthcheck`,
      connections: CONNECTIONS,
      duration: SLICE_SECONDS,
      generator: GENERATOR,
    });
    await throughputPart(
      '4',
      {
        label: 'POST /v1/verify',
        options: () => verifyRequest(latchkey as Party, credentials as Credentials),
        server: latchkey as Party,
      },
      { label: 'GET /healthcheck', options: health, server: latchkey as Party },
      0.6,
    );
  }
  printTable();
  console.log(`\nat the end: ${loadAverage()}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130));
  });
}

main()
  .then(stopAll)
  .catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
