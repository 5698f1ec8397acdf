/**
 * `npm run bench:auth` — authentication performance, printed as figures and ratios from one run:
 *  1. verifications/s of the pure SigV4 verifier on one core with a warm signing-key cache;
 *  2. HTTP requests/s of signed GET /profile vs unauthenticated GET /healthcheck (autocannon,
 *     10 connections), interleaved A B B A in short slices, medians and their ratio; the built
 *     server (`dist/main.js`) and autocannon each run in their own process;
 *  3. cold verification latency (key not cached: database lookup, decryption, permissions,
 *     signature) with BENCH_KEYS keys (default 1,000,000) in SQLite and in PostgreSQL.
 * Options (env): BENCH_KEYS, BENCH_SLICE_SECONDS (2), BENCH_SLICES (10 per side), BENCH_SAMPLES (2000),
 * PG_URL (postgres://postgres@127.0.0.1:5432/postgres; the PostgreSQL part is skipped when unreachable),
 * BENCH_PARTS (default `1,2,3`: which of the three measurements to run), BENCH_ENGINES (default
 * `sqlite,postgres`: the engines of part 3).
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

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
const SLICES = Number(process.env.BENCH_SLICES ?? 10);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 2000);
const WARMUP = Math.min(500, SAMPLES);
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const quiet = pino({ level: 'warn' });
const execFileAsync = promisify(execFile);
const autocannonBin = fileURLToPath(new URL('../node_modules/.bin/autocannon', import.meta.url));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
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
async function httpRatio(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LATCHKEY_DATA_DIR: dir,
    LATCHKEY_ADMIN_EMAIL: 'bench@example.com',
    LATCHKEY_ADMIN_PASSWORD: 'bench-admin-password',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
  };
  delete env.DATABASE_URL;
  const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
  // A new deployment on purpose: the CLI never creates one implicitly.
  await execFileAsync(process.execPath, [cli, 'init'], { env });
  const created = await execFileAsync(
    process.execPath,
    [cli, 'keys', 'create', '--user', 'bench@example.com', '--name', 'bench', '--json'],
    { env },
  );
  const { accessKeyId, secretAccessKey } = JSON.parse(created.stdout) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  const server = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${base}/healthcheck`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (i > 100 || server.exitCode !== null) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const headers = await signedHeaders(accessKeyId, secretAccessKey, `127.0.0.1:${port}`, '/profile');
    const check = await fetch(`${base}/profile`, { headers });
    if (check.status !== 200)
      throw new Error(`signed /profile answered ${check.status}: ${await check.text()}`);
    const measure = async (url: string, h: Record<string, string>) => {
      const args = ['-c', '10', '-d', String(SLICE_SECONDS), '-j'];
      for (const [k, v] of Object.entries(h)) args.push('-H', `${k}=${v}`);
      const { stdout } = await execFileAsync(autocannonBin, [...args, url], { maxBuffer: 1 << 24 });
      const result = JSON.parse(stdout) as {
        non2xx: number;
        errors: number;
        requests: { average: number };
      };
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return result.requests.average;
    };
    const signed: number[] = [];
    const open: number[] = [];
    await measure(`${base}/healthcheck`, {}); // warm-up, both routes
    await measure(`${base}/profile`, headers);
    for (let i = 0; i < SLICES; i++) {
      // A B B A: drift on a shared machine falls on both sides alike.
      if (i % 2 === 0) {
        signed.push(await measure(`${base}/profile`, headers));
        open.push(await measure(`${base}/healthcheck`, {}));
      } else {
        open.push(await measure(`${base}/healthcheck`, {}));
        signed.push(await measure(`${base}/profile`, headers));
      }
    }
    // Each pair ran back to back, so its ratio cancels most of the machine's drift; the median of
    // the pair ratios is the figure (the medians of each side are printed too).
    const ratios = signed.map((x, i) => x / (open[i] as number));
    console.log(
      `2. HTTP, 10 connections, server and autocannon in separate processes: signed GET /profile ${Math.round(median(signed))} req/s, GET /healthcheck ${Math.round(median(open))} req/s (medians); ratio ${median(ratios).toFixed(2)} (median of ${SLICES} back-to-back pairs of ${SLICE_SECONDS} s slices: ${ratios.map((r) => r.toFixed(2)).join(' ')}; goal ≥ 0.80)`,
    );
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit');
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
      });
      secrets.push({
        access_key_id: id,
        version: 1,
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        created_at: now,
        not_after: null,
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
  console.log(`latchkey auth benchmark — node ${process.version}, ${os.cpus().length} cores`);
  const parts = new Set((process.env.BENCH_PARTS ?? '1,2,3').split(','));
  if (parts.has('1')) await pureVerifier();
  if (parts.has('2')) await httpRatio();
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
