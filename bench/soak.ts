/**
 * `npm run soak` — latchkey under load while the things it depends on fail (not part of `npm test`).
 *
 * Three latchkey servers (the built `dist/main.js`) share one new PostgreSQL database and one Redis
 * (a `redis-server` of its own, so it can be stopped), with a real SMTP receiver and a real webhook
 * receiver. For SOAK_SECONDS (300) SOAK_CLIENTS (6) clients send signed requests round-robin to
 * the servers that are up (as a load balancer would): reads (`GET /agent/`, `GET /profile`) and
 * writes (`PUT /agent/{code}` with `updatecount` + 1, so every write is a compare-and-set). Meanwhile:
 *  - at 20 % one server is killed with SIGKILL and restarted 3 s later;
 *  - at 40 % PostgreSQL drops every latchkey connection (`pg_terminate_backend`);
 *  - at 60 % Redis is stopped for 5 s and started again;
 *  - every SOAK_KEY_EVERY_SECONDS (20) an administrator creates a key (mailed to its owner), rotates
 *    it and deletes it, each on a different server, and the two other servers are polled until
 *    the deleted key is refused.
 * A fault's window runs from its start to 5 s after it ends. At the end the script prints, and
 * asserts (exit 1 when one fails):
 *  - no request answered 5xx outside the fault windows, and none but 503 inside them; no
 *    connection error outside them;
 *  - every revocation in force on every running server within 1 s;
 *  - every key's email arrived, once (by Message-ID); every webhook (created, rotated, deleted)
 *    arrived, none twice (by `webhook-id`);
 *  - no lost update: each agent's final `updatecount` is its first plus the writes answered 200
 *    (plus at most the writes whose answer was lost to a fault);
 *  - each server's memory (RSS) after warm-up no more than 20 % above where it started.
 * Options (env): SOAK_SECONDS, SOAK_CLIENTS, SOAK_KEY_EVERY_SECONDS, PG_URL
 * (postgres://postgres@127.0.0.1:5432/postgres), REDIS_SERVER (/usr/bin/redis-server).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import pg from 'pg';
import { childEnv, freePort } from '../test/helpers/process.js';
import { TestSmtp } from '../test/helpers/smtp.js';
import { rssBytes } from './proc.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 6);
const KEY_EVERY_MS = Number(process.env.SOAK_KEY_EVERY_SECONDS ?? 20) * 1000;
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
const INSTANCES = 3;
const AGENTS = 8;
/** A fault's effects may outlast it by this much (reconnects, retries) and still count as inside. */
const WINDOW_TAIL_MS = 5_000;
const REVOCATION_BUDGET_MS = 1_000;
/** RSS samples before this share of a server's life are warm-up. */
const WARM_UP = 0.25;
const ADMIN_EMAIL = 'soak@example.com';
const ADMIN_PASSWORD = 'soak-admin-password';
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Reset when the load starts: fault times and the duration count from there. */
let started = Date.now();
const elapsed = () => Date.now() - started;
const log = (text: string) => console.log(`[${(elapsed() / 1000).toFixed(1).padStart(6)} s] ${text}`);

// ---------------------------------------------------------------------------------------------
// the parties

class Instance {
  child: ChildProcess | undefined;
  up = false;
  /** [ms since start, RSS] of the current process; reset on restart. */
  rss: Array<[number, number]> = [];
  startedAt = 0;
  stderr = '';
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-soak-'));

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.rss = [];
    this.startedAt = elapsed();
    const child = spawn(process.execPath, [MAIN], {
      env: childEnv({ ...this.env, LATCHKEY_DATA_DIR: this.dataDir, PORT: String(this.port) }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8192);
    });
    this.child = child;
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`server ${this.index} exited:\n${this.stderr}`);
      const ok = await fetch(`${this.url}/healthcheck`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        this.up = true;
        return;
      }
      await sleep(100);
    }
    throw new Error(`server ${this.index} did not start:\n${this.stderr}`);
  }

  kill(): void {
    this.up = false;
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    this.up = false;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  sample(): void {
    const rss = rssBytes(this.up ? this.child?.pid : undefined);
    if (rss !== undefined) this.rss.push([elapsed(), rss]);
  }
}

class Redis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    for (let i = 0; i < 100; i++) {
      const open = await new Promise<boolean>((resolve) => {
        const socket = new net.Socket();
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
        socket.connect(this.port, '127.0.0.1');
      });
      if (open) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not listen on ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** The webhook receiver: every delivery as received (it always answers 204). */
interface Delivery {
  id: string;
  type: string;
  accessKeyId: string | undefined;
}

async function startWebhookReceiver(): Promise<{ url: string; received: Delivery[]; close(): void }> {
  const received: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type: string;
          data?: { accessKeyId?: string };
        };
        received.push({
          id: String(req.headers['webhook-id']),
          type: body.type,
          accessKeyId: body.data?.accessKeyId,
        });
      } catch {
        // counted as nothing: the checks below look for what should have arrived
      }
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, close: () => server.close() };
}

// ---------------------------------------------------------------------------------------------
// requests

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A signed request; `status` 0 when no answer came (connection refused or reset). */
async function signed(
  base: string,
  credentials: Credentials,
  method: string,
  target: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const url = new URL(`${base}${target}`);
  const signer = new SignatureV4({
    credentials,
    region: 'ap-southeast-5',
    service: 'sqlaccount',
    sha256: Sha256,
  });
  const text = body === undefined ? undefined : JSON.stringify(body);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const request = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query,
    headers: { host: url.host, ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(text === undefined ? {} : { body: text }),
  });
  try {
    const response = await fetch(url, {
      method,
      headers: request.headers as Record<string, string>,
      ...(text === undefined ? {} : { body: text }),
      signal: AbortSignal.timeout(15_000),
    });
    const answer = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(answer) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  } catch {
    return { status: 0, json: undefined };
  }
}

async function admin(
  base: string,
  token: string,
  method: string,
  target: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${base}${target}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

// ---------------------------------------------------------------------------------------------
// the run

interface Outcome {
  at: number;
  instance: number;
  what: string;
  status: number;
  /** The error code of a 5xx answer. */
  code?: string;
}

interface Window {
  name: string;
  from: number;
  to: number;
}

async function main(): Promise<void> {
  const mainStat = fs.statSync(MAIN, { throwIfNoEntry: false });
  if (!mainStat) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.build.json)`);
  console.log(
    `latchkey soak — ${SECONDS} s, ${INSTANCES} servers on PostgreSQL and Redis, ${CLIENTS} clients; node ${process.version}, ${os.cpus().length} cores`,
  );

  // PostgreSQL: a database of its own, dropped at the end.
  const dbName = `latchkey_soak_${randomBytes(5).toString('hex')}`;
  const pgAdmin = new pg.Client({ connectionString: PG_URL });
  await pgAdmin.connect();
  await pgAdmin.query(`create database ${dbName}`);
  const dbUrl = new URL(PG_URL);
  dbUrl.pathname = `/${dbName}`;

  const redis = new Redis(await freePort());
  await redis.start();
  const smtp = await TestSmtp.start();
  const hooks = await startWebhookReceiver();
  const env = {
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    SMTP_URL: smtp.url,
    LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64'),
    LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
    LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
  };
  const instances: Instance[] = [];
  for (let i = 0; i < INSTANCES; i++) instances.push(new Instance(i, await freePort(), env));
  const failures: string[] = [];
  try {
    // One at a time: the first creates the tenant, the others find it.
    for (const instance of instances) await instance.start();
    log(`servers up on ports ${instances.map((i) => i.port).join(', ')}`);

    // The administrator, a key for the load, the agents, the webhook endpoint.
    const [first] = instances as [Instance];
    const login = await fetch(`${first.url}/iam/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const me = (await admin(first.url, token, 'GET', '/iam/me')).json as { id: string };
    const loadKey = (await admin(first.url, token, 'POST', `/iam/users/${me.id}/keys`, { name: 'soak-load' }))
      .json as unknown as Credentials;
    const hook = await admin(first.url, token, 'POST', '/iam/webhooks', {
      url: hooks.url,
      events: ['access_key.created', 'access_key.rotated', 'access_key.deleted'],
    });
    if (hook.status !== 201)
      throw new Error(`POST /iam/webhooks: ${hook.status} ${JSON.stringify(hook.json)}`);
    const agents = new Map<string, { first: number; ok: number; unknown: number }>();
    for (let a = 0; a < AGENTS; a++) {
      const code = `SOAK${a}`;
      const created = await signed(first.url, loadKey, 'POST', '/agent', { code, description: `Agent ${a}` });
      if (created.status !== 201)
        throw new Error(`POST /agent: ${created.status} ${JSON.stringify(created.json)}`);
      agents.set(code, { first: Number(created.json?.updatecount ?? 1), ok: 0, unknown: 0 });
    }

    log('setup done; the load starts');
    started = Date.now();
    for (const instance of instances) instance.startedAt = 0;
    const deadline = started + SECONDS * 1000;
    const outcomes: Outcome[] = [];
    const windows: Window[] = [];
    const upInstances = () => instances.filter((i) => i.up);
    let turn = 0;
    const pick = () => {
      const up = upInstances();
      return up[turn++ % up.length] as Instance;
    };

    const note = (
      instance: Instance,
      what: string,
      answer: { status: number; json?: Record<string, unknown> },
    ) => {
      const code = (answer.json?.error as { code?: string } | undefined)?.code;
      outcomes.push({
        at: elapsed(),
        instance: instance.index,
        what,
        status: answer.status,
        ...(answer.status >= 500 && code ? { code } : {}),
      });
    };

    // Clients.
    const client = async (n: number) => {
      while (Date.now() < deadline) {
        const instance = pick();
        const roll = (n * 7919 + turn) % 10;
        if (roll < 3) {
          const code = `SOAK${turn % AGENTS}`;
          const agent = agents.get(code) as { first: number; ok: number; unknown: number };
          const read = await signed(instance.url, loadKey, 'GET', `/agent/${code}`);
          note(instance, 'GET /agent/{code}', read);
          const record = (read.json?.data as Array<{ updatecount?: number }> | undefined)?.[0] ?? read.json;
          const current = Number((record as { updatecount?: number } | undefined)?.updatecount);
          if (read.status !== 200 || !Number.isFinite(current)) continue;
          const write = await signed(instance.url, loadKey, 'PUT', `/agent/${code}`, {
            description: `Agent ${code} at ${elapsed()}`,
            updatecount: current + 1,
          });
          note(instance, 'PUT /agent/{code}', write);
          if (write.status === 200) agent.ok++;
          else if (write.status === 0 || write.status >= 500) agent.unknown++;
        } else if (roll < 8) {
          const list = await signed(instance.url, loadKey, 'GET', '/agent/?limit=20');
          note(instance, 'GET /agent/', list);
        } else {
          const profile = await signed(instance.url, loadKey, 'GET', '/profile');
          note(instance, 'GET /profile', profile);
        }
      }
    };

    // Faults.
    const fault = async (at: number, name: string, run: () => Promise<void>) => {
      const wait = started + at * SECONDS * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      if (Date.now() >= deadline) return;
      const from = elapsed();
      log(`fault: ${name}`);
      await run();
      windows.push({ name, from, to: elapsed() + WINDOW_TAIL_MS });
      log(`fault over: ${name}`);
    };
    const faults = (async () => {
      const victim = instances[1] as Instance;
      await fault(0.2, 'SIGKILL server 1, restarted 3 s later', async () => {
        victim.kill();
        await sleep(3000);
        await victim.start();
      });
      await fault(0.4, 'PostgreSQL drops every latchkey connection (pg_terminate_backend)', async () => {
        const { rowCount } = await pgAdmin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [dbName],
        );
        log(`   ${rowCount} connections terminated`);
        await sleep(1000);
      });
      await fault(0.6, 'Redis stopped for 5 s, then started again', async () => {
        await redis.stop();
        await sleep(5000);
        await redis.start();
      });
    })();

    // Key lifecycle and revocations.
    const revocations: Array<{ at: number; keyId: string; ms: Record<number, number> }> = [];
    const lifecycle: Array<{ keyId: string; deleted: boolean }> = [];
    const keys = (async () => {
      for (let round = 0; Date.now() + KEY_EVERY_MS / 2 < deadline; round++) {
        await sleep(KEY_EVERY_MS / 2);
        const up = upInstances();
        if (up.length < 2) continue;
        const [a, b] = [up[round % up.length] as Instance, up[(round + 1) % up.length] as Instance];
        const created = await admin(a.url, token, 'POST', `/iam/users/${me.id}/keys`, {
          name: `soak-${round}`,
          sendEmail: true,
        }).catch(() => undefined);
        if (created?.status !== 201) {
          log(`   key ${round}: create answered ${created?.status ?? 'nothing'}`);
          continue;
        }
        const key = created.json as unknown as Credentials;
        const entry = { keyId: key.accessKeyId, deleted: false };
        lifecycle.push(entry);
        const rotated = await admin(b.url, token, 'POST', `/iam/keys/${key.accessKeyId}/secret`).catch(
          () => undefined,
        );
        const secret = (rotated?.json.secretAccessKey as string | undefined) ?? key.secretAccessKey;
        const live = { accessKeyId: key.accessKeyId, secretAccessKey: secret };
        // Every server knows the key (and caches it) before it is deleted.
        for (const instance of upInstances()) await signed(instance.url, live, 'GET', '/profile');
        const deleter = pick();
        const deleted = await admin(deleter.url, token, 'DELETE', `/iam/keys/${key.accessKeyId}`).catch(
          () => undefined,
        );
        if (deleted?.status !== 204) {
          log(`   key ${round}: delete answered ${deleted?.status ?? 'nothing'}`);
          continue;
        }
        entry.deleted = true;
        const at = Date.now();
        const ms: Record<number, number> = {};
        await Promise.all(
          upInstances()
            .filter((i) => i !== deleter)
            .map(async (instance) => {
              while (Date.now() - at < 10_000) {
                const answer = await signed(instance.url, live, 'GET', '/profile');
                // 403 InvalidAccessKeyId, or 429 SlowDown once this address's failures are
                // throttled (throttling only ever replaces an error answer): either way, refused.
                if (answer.status === 403 || answer.status === 429) {
                  ms[instance.index] = Date.now() - at;
                  return;
                }
                await sleep(20);
              }
              ms[instance.index] = Number.POSITIVE_INFINITY;
            }),
        );
        revocations.push({ at: at - started, keyId: key.accessKeyId, ms });
        await sleep(KEY_EVERY_MS / 2);
      }
    })();

    const sampler = setInterval(() => {
      for (const instance of instances) instance.sample();
    }, 2000);
    await Promise.all([...Array.from({ length: CLIENTS }, (_, n) => client(n)), faults, keys]);
    clearInterval(sampler);
    log(`load over: ${outcomes.length.toLocaleString('en')} requests`);

    // Mail and webhooks drain.
    const expectedMail = lifecycle.map((l) => l.keyId);
    const drainUntil = Date.now() + 60_000;
    const mailFor = (id: string) => smtp.messages.filter((m) => m.decoded.includes(id));
    const hooksFor = (id: string, type: string) =>
      hooks.received.filter((d) => d.accessKeyId === id && d.type === type);
    const drained = () =>
      expectedMail.every((id) => mailFor(id).length > 0) &&
      lifecycle.every(
        (l) =>
          hooksFor(l.keyId, 'access_key.created').length > 0 &&
          hooksFor(l.keyId, 'access_key.rotated').length > 0 &&
          (!l.deleted || hooksFor(l.keyId, 'access_key.deleted').length > 0),
      );
    while (!drained() && Date.now() < drainUntil) await sleep(500);

    // ----- the checks
    const inside = (at: number) => windows.some((w) => at >= w.from && at <= w.to);
    const byStatus = new Map<string, number>();
    for (const o of outcomes) {
      const key = `${o.status === 0 ? 'no answer' : o.status}${inside(o.at) ? ' (in a fault window)' : ''}`;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    }
    console.log('\nanswers:');
    for (const [status, n] of [...byStatus].sort())
      console.log(`  ${status.padEnd(28)} ${n.toLocaleString('en')}`);
    console.log('fault windows (s):');
    for (const w of windows)
      console.log(`  ${(w.from / 1000).toFixed(1)}–${(w.to / 1000).toFixed(1)}  ${w.name}`);

    const outside5xx = outcomes.filter((o) => o.status >= 500 && !inside(o.at));
    const outsideLost = outcomes.filter((o) => o.status === 0 && !inside(o.at));
    const inside5xx = outcomes.filter((o) => o.status >= 500 && o.status !== 503 && inside(o.at));
    if (outside5xx.length > 0) failures.push(`${outside5xx.length} answers 5xx outside the fault windows`);
    if (outsideLost.length > 0)
      failures.push(`${outsideLost.length} requests without an answer outside the fault windows`);
    if (inside5xx.length > 0)
      failures.push(`${inside5xx.length} answers 5xx other than 503 inside the fault windows`);
    for (const o of [...outside5xx, ...inside5xx].slice(0, 10))
      console.log(
        `  5xx: ${(o.at / 1000).toFixed(1)} s server ${o.instance} ${o.what} ${o.status} ${o.code ?? ''}`,
      );
    // Anything but 2xx, 409 (a compare-and-set lost to another client) and 5xx/none inside windows.
    const odd = outcomes.filter(
      (o) => o.status !== 0 && o.status < 500 && !(o.status >= 200 && o.status < 300) && o.status !== 409,
    );
    if (odd.length > 0)
      failures.push(
        `${odd.length} unexpected 4xx answers (${[...new Set(odd.map((o) => `${o.what} ${o.status}`))].join(', ')})`,
      );

    console.log(`revocations (ms until refused, per other server): ${revocations.length}`);
    for (const r of revocations) {
      const slowest = Math.max(...Object.values(r.ms));
      console.log(
        `  ${(r.at / 1000).toFixed(1)} s ${r.keyId}: ${Object.entries(r.ms)
          .map(([i, ms]) => `server ${i} ${ms} ms`)
          .join(', ')}${inside(r.at) ? ' (in a fault window)' : ''}`,
      );
      if (slowest > REVOCATION_BUDGET_MS)
        failures.push(`revocation of ${r.keyId} took ${slowest} ms on some server (budget 1,000 ms)`);
    }
    if (revocations.length === 0) failures.push('no revocation was measured (run longer)');

    const lostMail = expectedMail.filter((id) => mailFor(id).length === 0);
    const twiceMail = expectedMail.filter((id) => new Set(mailFor(id).map((m) => m.messageId)).size > 1);
    const dupMail = expectedMail.filter((id) => mailFor(id).length > 1);
    console.log(
      `mail: ${expectedMail.length} expected, ${smtp.messages.length} received; lost ${lostMail.length}, duplicated ${dupMail.length} (of which with distinct Message-IDs ${twiceMail.length})`,
    );
    if (lostMail.length > 0) failures.push(`mail lost for ${lostMail.join(', ')}`);
    if (dupMail.length > 0) failures.push(`mail sent twice for ${dupMail.join(', ')}`);

    const expectedHooks = lifecycle.flatMap((l) => [
      [l.keyId, 'access_key.created'],
      [l.keyId, 'access_key.rotated'],
      ...(l.deleted ? [[l.keyId, 'access_key.deleted']] : []),
    ]) as Array<[string, string]>;
    const lostHooks = expectedHooks.filter(([id, type]) => hooksFor(id, type).length === 0);
    const ids = hooks.received.map((d) => d.id);
    const twiceHooks = ids.length - new Set(ids).size;
    console.log(
      `webhooks: ${expectedHooks.length} expected, ${hooks.received.length} received; lost ${lostHooks.length}, received twice ${twiceHooks}`,
    );
    if (lostHooks.length > 0)
      failures.push(`webhooks lost: ${lostHooks.map(([id, type]) => `${type} ${id}`).join(', ')}`);
    if (twiceHooks > 0) failures.push(`${twiceHooks} webhooks delivered twice (same webhook-id)`);

    let writes = 0;
    for (const [code, agent] of agents) {
      writes += agent.ok;
      const read = await signed(first.url, loadKey, 'GET', `/agent/${code}`);
      const record = (read.json?.data as Array<{ updatecount?: number }> | undefined)?.[0] ?? read.json;
      const final = Number((record as { updatecount?: number } | undefined)?.updatecount);
      const low = agent.first + agent.ok;
      const high = low + agent.unknown;
      if (!(final >= low && final <= high))
        failures.push(
          `${code}: updatecount ${final}, expected ${low}${high > low ? `–${high}` : ''} (lost update)`,
        );
    }
    console.log(`writes: ${writes} compare-and-set updates answered 200; final updatecounts checked`);

    console.log('memory (RSS after warm-up: first → last, MB):');
    for (const instance of instances) {
      const life = elapsed() - instance.startedAt;
      const warm = instance.rss.filter(([at]) => at - instance.startedAt >= life * WARM_UP);
      const firstRss = warm[0]?.[1];
      const lastRss = warm.at(-1)?.[1];
      if (firstRss === undefined || lastRss === undefined) continue;
      const growth = lastRss / firstRss - 1;
      console.log(
        `  server ${instance.index}: ${(firstRss / 2 ** 20).toFixed(0)} → ${(lastRss / 2 ** 20).toFixed(0)} (${(growth * 100).toFixed(1)} %)`,
      );
      // Growth is what a leak looks like; memory given back (a collection) is not a failure.
      if (growth > 0.2)
        failures.push(`server ${instance.index}'s memory grew ${(growth * 100).toFixed(0)} % after warm-up`);
    }
  } finally {
    for (const instance of instances) await instance.stop();
    await redis.stop();
    await smtp.stop();
    hooks.close();
    await pgAdmin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await pgAdmin.end();
    for (const instance of instances) fs.rmSync(instance.dataDir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.log(`\nFAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(1);
  }
  console.log('\nall checks passed');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
