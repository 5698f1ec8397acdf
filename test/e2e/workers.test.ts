/**
 * LATCHKEY_WORKERS=2: the built server (`node dist/main.js`) as a primary process and two workers
 * on one port, on SQLite and on PostgreSQL. Requests go over fresh connections (node:cluster hands
 * each new connection to the next worker), and the access log's `pid` says which worker answered.
 * What holds across instances holds across workers: first start once, revocation within 1 s, one
 * rate limit and one failed-authentication throttle for the machine, metrics summed over workers;
 * a killed worker is replaced; SIGTERM stops everything with exit 0.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerCalls, type Call, PrimaryChannel, type ToWorker } from '../../src/cluster/channel.js';
import { ConfigError, loadConfig, parseWorkers } from '../../src/config.js';
import { PooledRates } from '../../src/traffic/pooled-rates.js';
import { ADMIN_EMAIL } from '../helpers/app.js';
import { ensureServerBuilt } from '../helpers/build.js';
import { ENGINES, engineAvailable, type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import { freePort, runCli, ServerProcess, sleep } from '../helpers/process.js';
import { type Credentials, signHeaders, wrongSecret } from '../helpers/sign.js';

const FIRST_START = /latchkey: first start\. Sign in as (\S+) with the password\n\n\s+(\S+)\n/g;
const METRICS_TOKEN = 'workers-test-metrics-token-0123456789abcdef';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

/** One request on a connection of its own (`agent: false`): the cluster picks a worker for each. */
function request(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; token?: string } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    // An answer that never comes fails the test here, saying so, rather than at the test's timeout.
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.end(body);
  });
}

/** The access lines (and other JSON lines) the server has written, by request id. */
function pidsByRequestId(stdout: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as { reqId?: string; pid?: number; msg?: string };
      if (record.msg === 'request' && record.reqId && record.pid) pids.set(record.reqId, record.pid);
    } catch {
      // a banner line or a line cut by the end of the capture
    }
  }
  return pids;
}

/** Wait until every id has its access line (the log is written asynchronously), then their pids. */
async function whoAnswered(server: ServerProcess, ids: readonly string[]): Promise<number[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const pids = pidsByRequestId(server.stdout);
    if (ids.every((id) => pids.has(id)) || Date.now() > deadline) return ids.map((id) => pids.get(id) ?? 0);
    await sleep(50);
  }
}

/** Log records whose message is `msg`. */
function records(stdout: string, msg: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.msg === msg) found.push(record);
    } catch {
      // not a whole JSON line
    }
  }
  return found;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of one series in Prometheus text (0 when absent). */
function series(text: string, line: RegExp): number {
  const match = text.split('\n').find((l) => line.test(l));
  return match === undefined ? 0 : Number(match.split(' ').at(-1));
}

const HEALTHCHECKS = /^latchkey_http_requests_total\{method="GET",route="\/healthcheck",status="200"\} /;

async function tenantCount(db: ScratchDatabase): Promise<number> {
  if (db.sqliteFile) {
    const sqlite = new Database(db.sqliteFile, { readonly: true });
    try {
      return (sqlite.prepare('select count(*) as n from tenants').get() as { n: number }).n;
    } finally {
      sqlite.close();
    }
  }
  const client = new pg.Client({ connectionString: db.postgresUrl });
  await client.connect();
  try {
    return Number((await client.query('select count(*) as n from tenants')).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('LATCHKEY_WORKERS', () => {
  it('is 1 by default, a whole number from 1 to 64, or auto (the cores, within 1..64)', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(parseWorkers('')).toBe(1);
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers(' 64 ')).toBe(64);
    expect(parseWorkers('auto', 6)).toBe(6);
    expect(parseWorkers('AUTO', 200)).toBe(64);
    for (const bad of ['0', '65', 'x', '1.5', '-1', '2 workers', 'autox']) {
      expect(() => parseWorkers(bad)).toThrow(ConfigError);
      expect(() => loadConfig({ LATCHKEY_WORKERS: bad })).toThrow(
        /^LATCHKEY_WORKERS: must be a whole number from 1 to 64, or auto/,
      );
    }
  });
});

describe('the primary channel', () => {
  /** A worker's `process` whose messages go to the primary's handlers, as node:cluster would carry them. */
  function fakeWorker(handlers: Record<string, (...args: never[]) => unknown>) {
    const proc = new EventEmitter() as EventEmitter & { send: (m: unknown, ...rest: unknown[]) => boolean };
    const sent: Call[][] = [];
    proc.send = (message: unknown) => {
      const calls = (message as { calls: Call[] }).calls;
      sent.push(calls);
      void answerCalls(handlers, calls, (reply: ToWorker) => setImmediate(() => proc.emit('message', reply)));
      return true;
    };
    return { channel: new PrimaryChannel(proc as unknown as NodeJS.Process), sent, proc };
  }

  it('sends the calls of one event-loop turn in one message, and matches each answer to its call', async () => {
    const { channel, sent } = fakeWorker({
      double: (n: number) => n * 2,
      later: async (n: number) => n + 1,
      fail: () => {
        throw new Error('no');
      },
    });
    const first = await Promise.allSettled([
      channel.call('double', [1]),
      channel.call('later', [5]),
      channel.call('fail', []),
      channel.call('missing', []),
      channel.call('double', [21]),
    ]);
    expect(first.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      2,
      6,
      'primary process: no',
      'primary process: unknown method missing',
      42,
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(5);
    await channel.call('double', [2]);
    expect(sent).toHaveLength(2);
  });

  it('fails what is waiting when the primary is gone, and every later call', async () => {
    const { channel, proc } = fakeWorker({ never: () => new Promise(() => {}) });
    const waiting = channel.call('never', []);
    await new Promise((resolve) => setImmediate(resolve));
    proc.emit('disconnect');
    await expect(waiting).rejects.toThrow(/primary process is gone/);
    await expect(channel.call('never', [])).rejects.toThrow(/channel is closed/);
  });

  it("the primary's counters: one GCRA per rule, quota counts from the first worker's count on", () => {
    const pool = new PooledRates();
    const rate: [string, number, number] = ['r:k:2/1', 500, 1000];
    const t0 = 1_000_000;
    // Two workers' requests alternate on one pool: a limit of 2/s admits two in all, not two each.
    expect(pool.takeWire([rate], [], t0).admitted).toBe(true);
    expect(pool.takeWire([rate], [], t0).admitted).toBe(true);
    expect(pool.takeWire([rate], [], t0).admitted).toBe(false);
    expect(pool.takeWire([rate], [], t0 + 500).admitted).toBe(true);
    // A quota of 5: the first asker knew 3 used; a second worker that knows 0 (it has not read
    // the database's newer count) still meets the pool's count.
    const quota = (used: number): [string, number, number, number] => [
      'q:k:x:day@0',
      5,
      used,
      t0 + 86_400_000,
    ];
    expect(pool.takeWire([], [quota(3)], t0).used).toEqual([4]);
    expect(pool.takeWire([], [quota(0)], t0).used).toEqual([5]);
    const refused = pool.takeWire([], [quota(0)], t0);
    expect(refused.admitted).toBe(false);
    expect(refused.retryAfterMs).toBe(86_400_000);
  });
});

describe('LATCHKEY_WORKERS=2 when the workers cannot start', { timeout: 90_000 }, () => {
  it('a worker that fails to start (the port is taken) stops the rest: exit 1, not a restart loop', async () => {
    await ensureServerBuilt();
    const db = await scratchDatabase('sqlite');
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const server = new ServerProcess(
        port,
        { LATCHKEY_WORKERS: '2', LATCHKEY_DATA_DIR: db.dataDir, LOG_LEVEL: 'info' },
        ['dist/main.js'],
      );
      const { code } = await server.waitExit(60_000);
      expect(code).toBe(1);
      expect(server.stderr).toContain('EADDRINUSE');
      expect(records(server.stdout, 'cluster: a worker failed to start; stopping')).toHaveLength(1);
      expect(records(server.stdout, 'cluster: worker died unexpectedly; replacing it')).toHaveLength(0);
    } finally {
      taken.close();
      await db.drop();
    }
  });
});

for (const engine of ENGINES) {
  describe.skipIf(!engineAvailable(engine))(`LATCHKEY_WORKERS=2 on ${engine}`, { timeout: 120_000 }, () => {
    let db: ScratchDatabase;
    let server: ServerProcess;
    let port: number;
    let metricsPort: number;
    let token: string;
    let creds: Credentials;
    let seq = 0;
    const rid = (tag: string) => `wk-${tag}-${++seq}`;

    /** A signed GET /profile on a fresh connection, with a request id to find its worker by. */
    const signedProfile = async (id: string, secret = creds.secretAccessKey) =>
      request(port, 'GET', '/profile', {
        headers: {
          ...(await signHeaders(
            { accessKeyId: creds.accessKeyId, secretAccessKey: secret },
            { method: 'GET', path: '/profile', host: `127.0.0.1:${port}` },
          )),
          'x-request-id': id,
        },
      });

    beforeAll(async () => {
      await ensureServerBuilt();
      db = await scratchDatabase(engine);
      port = await freePort();
      metricsPort = await freePort();
      server = new ServerProcess(
        port,
        {
          LATCHKEY_WORKERS: '2',
          LATCHKEY_DATA_DIR: db.dataDir,
          DATABASE_URL: db.databaseUrl,
          LATCHKEY_METRICS_TOKEN: METRICS_TOKEN,
          LATCHKEY_METRICS_PORT: String(metricsPort),
          LOG_LEVEL: 'info',
        },
        ['dist/main.js'],
      );
      await server.waitReady(60_000);
      await until(
        'both workers listening',
        () => server.stdout.includes('cluster: every worker is listening'),
        60_000,
      );
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      await db?.drop();
    });

    it('first start runs once, in the primary: one password printed, one tenant', async () => {
      const printed = [...server.stdout.matchAll(FIRST_START)];
      expect(printed).toHaveLength(1);
      expect(printed[0]?.[1]).toBe(ADMIN_EMAIL);
      expect(records(server.stdout, 'created the first tenant and its administrator')).toHaveLength(1);
      expect(await tenantCount(db)).toBe(1);
      const login = await request(port, 'POST', '/iam/login', {
        body: { auth_mode: 'password', email: ADMIN_EMAIL, password: printed[0]?.[2] },
      });
      expect(login.status, JSON.stringify(login.body)).toBe(200);
      token = login.body.token as string;
      const sa = await request(port, 'POST', '/iam/service-accounts', { token, body: { name: 'workers' } });
      expect(sa.status).toBe(201);
      const key = await request(port, 'POST', `/iam/service-accounts/${sa.body.id}/keys`, {
        token,
        body: {},
      });
      expect(key.status).toBe(201);
      creds = {
        accessKeyId: key.body.accessKeyId as string,
        secretAccessKey: key.body.secretAccessKey as string,
      };
    });

    it('both workers answer, and /metrics (main port with its token, and the metrics port) shows their sum', async () => {
      const ids = Array.from({ length: 30 }, () => rid('health'));
      for (const id of ids) {
        const res = await request(port, 'GET', '/healthcheck', { headers: { 'x-request-id': id } });
        expect(res.status).toBe(200);
      }
      const pids = await whoAnswered(server, ids);
      const perWorker = new Map<number, number>();
      for (const pid of pids) perWorker.set(pid, (perWorker.get(pid) ?? 0) + 1);
      expect(perWorker.has(0), 'every request has its access line').toBe(false);
      expect(perWorker.size).toBe(2);
      expect(perWorker.has(server.child.pid as number), 'the primary serves no requests').toBe(false);

      // Every /healthcheck so far (the readiness polls too) was answered by one of the two workers;
      // a scrape reaching one worker must count both, not its own share.
      const answered = records(server.stdout, 'request').filter((r) => r.url === '/healthcheck').length;
      const onMain = await request(port, 'GET', '/metrics', { token: METRICS_TOKEN });
      expect(onMain.status).toBe(200);
      const mainText = String(onMain.body.text);
      const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(own.status).toBe(200);
      const ownText = await own.text();
      for (const text of [mainText, ownText]) {
        const counted = series(text, HEALTHCHECKS);
        expect(counted).toBeGreaterThanOrEqual(answered);
        expect(counted).toBeGreaterThan(Math.max(...perWorker.values()));
        expect(series(text, /^latchkey_workers /)).toBe(2);
        expect(series(text, /^latchkey_metrics_workers_missing_total /)).toBe(0);
        // Gauges read from the one database are not multiplied by the number of workers.
        expect(text).toMatch(/^latchkey_mail_outbox_waiting 0$/m);
      }
    });

    it('writes through both workers at once all succeed (on SQLite each waits for the write lock)', async () => {
      // Read-then-write transactions from two processes on one file: with a deferred BEGIN, about a
      // quarter of these answered 503 (SQLITE_BUSY on a stale snapshot); see src/storage/dialect.ts.
      const ids = Array.from({ length: 160 }, () => rid('write'));
      const statuses = new Map<number, number>();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < ids.length) {
            const i = next++;
            const res = await request(port, 'PATCH', `/iam/keys/${creds.accessKeyId}`, {
              token,
              body: { name: `write-${i}` },
              headers: { 'x-request-id': ids[i] as string },
            });
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      );
      expect(Object.fromEntries(statuses)).toEqual({ 200: ids.length });
      expect(new Set(await whoAnswered(server, ids)).size).toBe(2);
    });

    it('a key revoked through one request is refused by every worker within 1 s', async () => {
      const before = Array.from({ length: 10 }, () => rid('live'));
      for (const id of before) expect((await signedProfile(id)).status).toBe(200);
      expect(new Set(await whoAnswered(server, before)).size).toBe(2);

      const revoked = await request(port, 'DELETE', `/iam/keys/${creds.accessKeyId}`, { token });
      expect([200, 204]).toContain(revoked.status);
      await sleep(1_000);
      // Four refusals, two per worker: each is a failed authentication of this address, and the
      // sixth would be throttled (the throttle test below starts from these four).
      const after = Array.from({ length: 4 }, () => rid('revoked'));
      const statuses: number[] = [];
      for (const id of after) statuses.push((await signedProfile(id)).status);
      expect(
        statuses.every((s) => s === 403),
        statuses.join(' '),
      ).toBe(true);
      expect(new Set(await whoAnswered(server, after)).size).toBe(2);

      // A fresh key for the tests after this one.
      const sa = await request(port, 'POST', '/iam/service-accounts', { token, body: { name: 'workers-2' } });
      const key = await request(port, 'POST', `/iam/service-accounts/${sa.body.id}/keys`, {
        token,
        body: {},
      });
      creds = {
        accessKeyId: key.body.accessKeyId as string,
        secretAccessKey: key.body.secretAccessKey as string,
      };
    });

    it("a key's rate limit holds across both workers (without Redis)", async () => {
      const limit = 8;
      const patched = await request(port, 'PATCH', `/iam/keys/${creds.accessKeyId}`, {
        token,
        body: { rateLimit: { limit, periodSeconds: 60 } },
      });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      await sleep(1_500); // every worker hears of the change (change feed, within 1 s)
      const ids = Array.from({ length: 3 * limit }, () => rid('limited'));
      const statuses: number[] = [];
      for (const id of ids) statuses.push((await signedProfile(id)).status);
      expect(new Set(await whoAnswered(server, ids)).size).toBe(2);
      const admitted = statuses.filter((s) => s === 200).length;
      // GCRA: a burst of `limit`, then one more every 60 s / limit = 7.5 s (the burst takes less).
      // Each worker counting alone would admit up to 2 × limit.
      expect(admitted, statuses.join(' ')).toBeGreaterThanOrEqual(limit);
      expect(admitted, statuses.join(' ')).toBeLessThanOrEqual(limit + 1);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    });

    it('failed signatures are throttled once for the machine, not per worker; `throttle clear` reaches it', async () => {
      // The four failures of the revoked key are remembered (for the machine): two more and the
      // address is blocked. Each worker counting alone would have two each so far, and block later.
      const bad = async (tag: string, n: number) => {
        const ids = Array.from({ length: n }, () => rid(tag));
        const statuses: number[] = [];
        for (const id of ids)
          statuses.push((await signedProfile(id, wrongSecret(creds.secretAccessKey))).status);
        expect(new Set(await whoAnswered(server, ids)).size).toBe(2);
        return statuses;
      };
      expect(await bad('bad', 4)).toEqual([403, 429, 429, 429]);

      // The operator lifts the blocks: the CLI's event reaches every worker, and through them the
      // primary's one throttle. Five free failures again (5 free, then blocked), whichever worker.
      const cleared = await runCli(['throttle', 'clear'], {
        LATCHKEY_DATA_DIR: db.dataDir,
        DATABASE_URL: db.databaseUrl,
      });
      expect(cleared.code, cleared.stderr).toBe(0);
      await until(
        'the blocks are lifted',
        async () => (await signedProfile(rid('probe'), wrongSecret(creds.secretAccessKey))).status === 403,
        10_000,
      );
      // Each worker passes the operator's event on when it hears it (on SQLite each polls the
      // feed on its own), so the probe's failure may be forgotten by a second clear: once both have.
      await sleep(1_500);
      const again = await bad('again', 7);
      expect(again.slice(0, 4), again.join(' ')).toEqual([403, 403, 403, 403]);
      // The fifth or sixth failure (two or three per worker) blocks the address, for both workers.
      expect(again.slice(4, 6), again.join(' ')).toContain(429);
      expect(again[6], again.join(' ')).toBe(429);
      await runCli(['throttle', 'clear'], { LATCHKEY_DATA_DIR: db.dataDir, DATABASE_URL: db.databaseUrl });
    });

    it('a killed worker is replaced, and the server keeps answering meanwhile', async () => {
      const started = () => records(server.stdout, 'cluster: worker started');
      const listening = () => records(server.stdout, 'cluster: worker listening');
      const victim = started()[0]?.workerPid as number;
      expect(alive(victim)).toBe(true);
      const startedBefore = started().length;
      const listeningBefore = listening().length;
      process.kill(victim, 'SIGKILL');
      // node:cluster's primary hands connections round-robin until it learns of the death (the
      // IPC channel closing, within milliseconds); a connection handed over in that moment is lost
      // with the worker (README, "All the cores"). From then on every request while the worker is
      // gone and being replaced is answered by the other one.
      await until(
        'the primary sees the death',
        () => records(server.stdout, 'cluster: worker died unexpectedly; replacing it').length === 1,
      );
      const statuses: number[] = [];
      const deadline = Date.now() + 30_000;
      while (listening().length === listeningBefore && Date.now() < deadline) {
        statuses.push((await request(port, 'GET', '/healthcheck')).status);
        await sleep(20);
      }
      expect(listening().length).toBe(listeningBefore + 1);
      expect(statuses.length).toBeGreaterThan(0);
      expect(
        statuses.every((s) => s === 200),
        statuses.join(' '),
      ).toBe(true);
      expect(started().length).toBe(startedBefore + 1);
      const replacement = started().at(-1)?.workerPid as number;
      expect(replacement).not.toBe(victim);
      expect(records(server.stdout, 'cluster: worker died unexpectedly; replacing it')).toHaveLength(1);
      // The replacement serves too.
      const ids = Array.from({ length: 20 }, () => rid('after'));
      for (const id of ids)
        expect((await request(port, 'GET', '/healthcheck', { headers: { 'x-request-id': id } })).status).toBe(
          200,
        );
      expect(await whoAnswered(server, ids)).toContain(replacement);
    });

    it('SIGTERM stops every worker gracefully; the primary exits 0 and the port closes', async () => {
      const workers = records(server.stdout, 'cluster: worker listening')
        .map((r) => r.workerPid as number)
        .filter(alive);
      expect(workers).toHaveLength(2);
      server.child.kill('SIGTERM');
      const { code, signal } = await server.waitExit(15_000);
      // On failure, say which process failed and how: each worker's exit and the last output.
      const how = [
        ...records(server.stdout, 'cluster: worker stopped').map((r) => JSON.stringify(r)),
        `stderr: ${server.stderr.slice(-2_000)}`,
        `stdout: ${server.stdout.split('\n').slice(-15).join('\n')}`,
      ].join('\n');
      expect({ code, signal }, how).toEqual({ code: 0, signal: null });
      expect(workers.filter(alive)).toEqual([]);
      expect(records(server.stdout, 'cluster: worker stopped')).toHaveLength(2);
      expect(records(server.stdout, 'shutting down: finishing in-flight requests')).toHaveLength(2);
      const refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    });
  });
}
