/**
 * Revocation from anywhere applies at once (issue 12, finding 8): a change made in one process
 * (the operator CLI, another instance) reaches every running instance's caches within 1 s, on
 * SQLite (several processes on one file) and on PostgreSQL.
 */
import http from 'node:http';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { type Runtime, startBackgroundWork, startRuntime } from '../../src/runtime.js';
import { type ChangeEvents, createServices } from '../../src/services.js';
import { SqliteChangeFeed } from '../../src/storage/change-feed-sqlite.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app.js';
import { describeEachEngine } from '../helpers/each-engine.js';
import { type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import {
  callServer,
  freePort,
  type ProcessResult,
  runCli,
  type ServerProcess,
  sleep,
  startServer,
} from '../helpers/process.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';

const EVENT_NAMES = ['key-changed', 'authz-changed', 'feed-reset', 'mail-queued'] as const;
const BUDGET_MS = 1000;
// Errors only: the expected warnings (a new master key, a dropped LISTEN connection) are noise here.
const quiet = () => pino({ level: 'error' }, pino.destination(2));

interface Seen {
  event: keyof ChangeEvents;
  args: unknown[];
}

/** Every event delivered on a runtime's bus (local emits and the feed's deliveries alike). */
function record(bus: Runtime['svc']['events']): Seen[] {
  const seen: Seen[] = [];
  for (const event of EVENT_NAMES) {
    bus.on(event, (...args: unknown[]) => {
      seen.push({ event, args });
    });
  }
  return seen;
}

const withTenant = (seen: Seen[], event: keyof ChangeEvents, tenantId: string) =>
  seen.filter(
    (s) => s.event === event && (s.args[0] as { tenantId?: string } | undefined)?.tenantId === tenantId,
  );

/** Milliseconds until `done()` holds (checked every 10 ms), or Infinity after `limitMs`. */
async function elapsedUntil(done: () => boolean | Promise<boolean>, limitMs = 3000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await done()) return performance.now() - started;
    await sleep(10);
  }
  return Number.POSITIVE_INFINITY;
}

function envFor(db: ScratchDatabase): Record<string, string | undefined> {
  return {
    LATCHKEY_DATA_DIR: db.dataDir,
    DATABASE_URL: db.databaseUrl,
    LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
    LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
  };
}

function configFor(db: ScratchDatabase): Config {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(envFor(db))) if (v !== undefined) env[k] = v;
  return loadConfig(env);
}

let markers = 0;
const marker = (label: string) => `${label}-${process.pid}-${++markers}`;

describeEachEngine('change feed between runtimes', (engine) => {
  describe('runtimes sharing one database', { timeout: 60_000 }, () => {
    let db: ScratchDatabase;
    let config: Config;
    /** Publishes only, as the CLI's runtime does (no startBackgroundWork). */
    let cli: Runtime;
    /** Two serving instances (startBackgroundWork: they listen). */
    let one: Runtime;
    let two: Runtime;
    let seenOne: Seen[];
    let seenTwo: Seen[];

    beforeAll(async () => {
      db = await scratchDatabase(engine);
      config = configFor(db);
      cli = await startRuntime(config, { logger: quiet() });
      one = await startRuntime(config, { logger: quiet() });
      await startBackgroundWork(one, { notifications: false });
      two = await startRuntime(config, { logger: quiet() });
      await startBackgroundWork(two, { notifications: false });
      seenOne = record(one.svc.events);
      seenTwo = record(two.svc.events);
    });
    afterAll(async () => {
      for (const rt of [two, one, cli]) await rt?.close();
      await db?.drop();
    });

    it('an event emitted by a publish-only runtime (the CLI) reaches every listening instance within 1 s', async () => {
      const tenantId = marker('from-cli');
      cli.svc.events.emit('key-changed', { tenantId, accessKeyId: 'LKIAFROMCLI' });
      const elapsed = await elapsedUntil(
        () =>
          withTenant(seenOne, 'key-changed', tenantId).length > 0 &&
          withTenant(seenTwo, 'key-changed', tenantId).length > 0,
      );
      expect(elapsed).toBeLessThan(BUDGET_MS);
      expect(withTenant(seenTwo, 'key-changed', tenantId)[0]?.args).toEqual([
        { tenantId, accessKeyId: 'LKIAFROMCLI' },
      ]);
    });

    it("an instance's events reach the other instance; no process receives its own events", async () => {
      const own = marker('own');
      one.svc.events.emit('authz-changed', { tenantId: own });
      expect(await elapsedUntil(() => withTenant(seenTwo, 'authz-changed', own).length > 0)).toBeLessThan(
        BUDGET_MS,
      );
      // Another process's change makes `one` read the feed again, its own row included (SQLite), and
      // PostgreSQL delivers a NOTIFY to its sender's LISTEN too: the origin must filter both.
      const other = marker('other');
      cli.svc.events.emit('authz-changed', { tenantId: other });
      expect(await elapsedUntil(() => withTenant(seenOne, 'authz-changed', other).length > 0)).toBeLessThan(
        BUDGET_MS,
      );
      await sleep(600); // more than two polls
      expect(withTenant(seenOne, 'authz-changed', own), 'the local emit only').toHaveLength(1);
      expect(withTenant(seenOne, 'authz-changed', other)).toHaveLength(1);
      expect(withTenant(seenTwo, 'authz-changed', own)).toHaveLength(1);
      expect(withTenant(seenTwo, 'authz-changed', other)).toHaveLength(1);
    });

    it('closing a runtime right after a change still publishes it (as a CLI command exits)', async () => {
      const shortLived = await startRuntime(config, { logger: quiet() });
      const tenantId = marker('closing');
      shortLived.svc.events.emit('authz-changed', { tenantId });
      await shortLived.close();
      expect(
        await elapsedUntil(
          () =>
            withTenant(seenOne, 'authz-changed', tenantId).length > 0 &&
            withTenant(seenTwo, 'authz-changed', tenantId).length > 0,
        ),
      ).toBeLessThan(BUDGET_MS);
    });

    it('events missed by a listener (gap in the feed) make it emit feed-reset', async () => {
      const resetsBefore = [seenOne, seenTwo].map((s) => s.filter((e) => e.event === 'feed-reset').length);
      const lost = marker('lost');
      if (engine === 'sqlite') {
        // Rows written and pruned before the listeners read them, as after a pause longer than the
        // retention: one synchronous exec, so no poll can run in between.
        const raw = new SqliteDatabase(db.sqliteFile as string);
        try {
          const payload = JSON.stringify({ e: 'authz-changed', a: [{ tenantId: lost }] });
          const at = new Date().toISOString();
          raw.exec(`
            insert into change_events (origin, payload, created_at) values ('elsewhere', '${payload}', '${at}');
            insert into change_events (origin, payload, created_at) values ('elsewhere', '${payload}', '${at}');
            delete from change_events where origin = 'elsewhere';
          `);
        } finally {
          raw.close();
        }
      } else {
        // The listening connections drop: notifications sent meanwhile are lost.
        const admin = new pg.Client({ connectionString: db.postgresUrl });
        await admin.connect();
        try {
          const { rowCount } = await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen %'`,
          );
          expect(rowCount, 'one LISTEN connection per listening instance').toBe(2);
        } finally {
          await admin.end();
        }
      }
      const resets = () => [seenOne, seenTwo].map((s) => s.filter((e) => e.event === 'feed-reset').length);
      const elapsed = await elapsedUntil(() => resets().every((n, i) => n > (resetsBefore[i] as number)));
      expect(elapsed, 'both listeners emit feed-reset').toBeLessThan(BUDGET_MS);
      // Each reconnection is counted in /metrics (latchkey_change_feed_reconnects_total).
      const reconnects = async (rt: Runtime) =>
        (await rt.svc.metrics.changeFeedReconnects.get()).values[0]?.value;
      for (const rt of [one, two]) expect(await reconnects(rt)).toBe(engine === 'postgres' ? 1 : 0);
      expect(withTenant(seenOne, 'authz-changed', lost)).toHaveLength(0);

      // The feed keeps working afterwards.
      const after = marker('after-gap');
      cli.svc.events.emit('authz-changed', { tenantId: after });
      expect(
        await elapsedUntil(
          () =>
            withTenant(seenOne, 'authz-changed', after).length > 0 &&
            withTenant(seenTwo, 'authz-changed', after).length > 0,
        ),
      ).toBeLessThan(BUDGET_MS);
    });

    if (engine === 'sqlite') {
      it('a listener paused past the retention: another process prunes its unread rows, it resets; recent rows stay', async () => {
        // Two more processes' feeds on the same file, polled by hand: `paused` stands for a process
        // that stopped (a long GC, a suspended VM); `pruner` for any other listening instance.
        const svcPaused = createServices(config, { logger: quiet() });
        const svcPruner = createServices(config, { logger: quiet() });
        const manual = { pollMs: 3_600_000, retainMs: 1_000, pruneEveryMs: 0 };
        const paused = new SqliteChangeFeed(svcPaused, manual);
        const pruner = new SqliteChangeFeed(svcPruner, manual);
        const seenPaused = record(svcPaused.events);
        try {
          const early = marker('before-start');
          cli.svc.events.emit('authz-changed', { tenantId: early });
          await elapsedUntil(() => withTenant(seenOne, 'authz-changed', early).length > 0);
          await paused.listen();
          await pruner.listen();

          const missed = marker('missed');
          cli.svc.events.emit('authz-changed', { tenantId: missed });
          await elapsedUntil(() => withTenant(seenOne, 'authz-changed', missed).length > 0);
          await sleep(1_100); // older than retainMs now
          const recent = marker('recent');
          cli.svc.events.emit('authz-changed', { tenantId: recent });
          // Pruned as soon as its row is written: a loaded machine must not age it past retainMs
          // while a listener takes its time to read it.
          const written = async () =>
            (await svcPruner.db.selectFrom('change_events').select('payload').execute()).some((r) =>
              r.payload.includes(recent),
            );
          expect(await elapsedUntil(written)).toBeLessThan(Number.POSITIVE_INFINITY);
          await pruner.poll();

          const rows = await svcPruner.db.selectFrom('change_events').select('payload').execute();
          expect(
            rows.some((r) => r.payload.includes(missed)),
            'the old row is pruned',
          ).toBe(false);
          expect(
            rows.some((r) => r.payload.includes(recent)),
            'the recent row stays',
          ).toBe(true);

          await paused.poll();
          expect(seenPaused.filter((s) => s.event === 'feed-reset')).toHaveLength(1);
          expect(
            withTenant(seenPaused, 'authz-changed', recent),
            'rows still there are delivered',
          ).toHaveLength(1);
          expect(withTenant(seenPaused, 'authz-changed', missed)).toHaveLength(0);
          expect(
            withTenant(seenPaused, 'authz-changed', early),
            'events before its start are not replayed',
          ).toHaveLength(0);

          // No gap now: the next event is delivered without another reset.
          const next = marker('next');
          cli.svc.events.emit('authz-changed', { tenantId: next });
          await elapsedUntil(() => withTenant(seenOne, 'authz-changed', next).length > 0);
          await paused.poll();
          expect(withTenant(seenPaused, 'authz-changed', next)).toHaveLength(1);
          expect(seenPaused.filter((s) => s.event === 'feed-reset')).toHaveLength(1);
        } finally {
          await paused.close();
          await pruner.close();
          await svcPaused.close();
          await svcPruner.close();
        }
      });
    }
  });
});

/** Access key ID and secret from the CLI's `--json` key output. */
function keyFromJson(res: ProcessResult): Credentials {
  expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
  const body = JSON.parse(res.stdout) as { accessKeyId: string; secretAccessKey: string };
  return { accessKeyId: body.accessKeyId, secretAccessKey: body.secretAccessKey };
}

function expectOk(res: ProcessResult): void {
  expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
}

describeEachEngine('the real CLI against a running server process', (engine) => {
  describe('revocation', { timeout: 180_000, sequential: true }, () => {
    let db: ScratchDatabase;
    let env: Record<string, string | undefined>;
    let server: ServerProcess;
    let adminToken = '';
    const cli = (args: string[]) => runCli(args, env, 60_000);

    const api = async (method: string, url: string, token: string, body?: unknown) => {
      const { status, text } = await callServer(server, method, url, token, body);
      return { status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    };

    /**
     * A signed GET /profile from `from` (a loopback address of its own per test: the refusals a
     * test waits through are counted by the server's throttle per address and key, and must not
     * turn the next test's answers into 429 SlowDown): the status and the error code, if any.
     */
    const signed = async (c: Credentials, from: string) => {
      const headers = await signHeaders(c, {
        method: 'GET',
        path: '/profile',
        host: `127.0.0.1:${server.port}`,
      });
      return new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: server.port, path: '/profile', headers, localAddress: from },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
            });
            res.on('end', () => {
              const body = JSON.parse(text) as { error?: { code?: string } };
              resolve({ status: res.statusCode ?? 0, code: body.error?.code });
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
    };

    /** Milliseconds until `check` holds, polling every 50 ms (Infinity after 5 s). */
    const delay = async (check: () => Promise<boolean>): Promise<number> => {
      const started = performance.now();
      while (performance.now() - started < 5000) {
        if (await check()) return performance.now() - started;
        await sleep(50);
      }
      return Number.POSITIVE_INFINITY;
    };
    const refusedWith = (c: Credentials, code: string, from: string) => async () => {
      const res = await signed(c, from);
      return res.status !== 200 && res.code === code;
    };
    /** A key of its own for each test (a key's refusals are counted against it too). */
    const newKey = async () =>
      keyFromJson(await cli(['--json', 'keys', 'create', '--service-account', saId]));
    let saId = '';
    const delays: Record<string, number> = {};

    beforeAll(async () => {
      db = await scratchDatabase(engine);
      env = envFor(db);
      server = startServer(await freePort(), env);
      await server.waitReady(60_000);
      const login = await fetch(`${server.url}/iam/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
      });
      adminToken = ((await login.json()) as { token: string }).token;
      const sa = await api('POST', '/iam/service-accounts', adminToken, { name: 'feed-test' });
      expect(sa.status).toBe(201);
      saId = sa.body.id as string;
    }, 120_000);
    afterAll(async () => {
      if (delays && Object.keys(delays).length > 0) {
        process.stdout.write(
          `CLI → server propagation on ${engine}: ${Object.entries(delays)
            .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
            .join(', ')}\n`,
        );
      }
      await server?.stop();
      if (server && server.exitCode !== 0) process.stderr.write(server.stderr);
      await db?.drop();
    });

    it('keys disable: the key is refused within 1 s (and keys enable restores it within 1 s)', async () => {
      const key = await newKey();
      const from = '127.0.0.2';
      expect((await signed(key, from)).status, 'warm: the server caches the key').toBe(200);
      expectOk(await cli(['keys', 'disable', key.accessKeyId]));
      delays.disable = await delay(refusedWith(key, 'AccessKeyInactive', from));
      expect(delays.disable).toBeLessThan(BUDGET_MS);

      expectOk(await cli(['keys', 'enable', key.accessKeyId]));
      delays.enable = await delay(async () => (await signed(key, from)).status === 200);
      expect(delays.enable).toBeLessThan(BUDGET_MS);
    });

    it('keys rotate: the old secret is refused within 1 s; the new one works', async () => {
      const key = await newKey();
      const from = '127.0.0.3';
      expect((await signed(key, from)).status).toBe(200);
      const rotated = keyFromJson(await cli(['--json', 'keys', 'rotate', key.accessKeyId]));
      expect(rotated.accessKeyId).toBe(key.accessKeyId);
      delays.rotate = await delay(refusedWith(key, 'SignatureDoesNotMatch', from));
      expect(delays.rotate).toBeLessThan(BUDGET_MS);
      expect((await signed(rotated, from)).status).toBe(200);
    });

    it('keys delete: the key is refused within 1 s', async () => {
      const key = await newKey();
      const from = '127.0.0.4';
      expect((await signed(key, from)).status).toBe(200);
      expectOk(await cli(['keys', 'delete', key.accessKeyId]));
      delays.delete = await delay(refusedWith(key, 'InvalidAccessKeyId', from));
      expect(delays.delete).toBeLessThan(BUDGET_MS);
    });

    it("users disable: the user's password token is refused within 1 s", async () => {
      const email = `feed-user-${engine}@example.com`;
      const password = 'feed-user-password-0001';
      const user = await api('POST', '/iam/users', adminToken, { email, name: 'Feed User', password });
      expect(user.status, JSON.stringify(user.body)).toBe(201);
      const login = await fetch(`${server.url}/iam/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth_mode: 'password', email, password }),
      });
      expect(login.status).toBe(200);
      const token = ((await login.json()) as { token: string }).token;
      expect((await api('GET', '/iam/me', token)).status, 'warm: the server caches the user').toBe(200);
      expectOk(await cli(['users', 'disable', user.body.id as string]));
      delays.userDisable = await delay(async () => (await api('GET', '/iam/me', token)).status === 401);
      expect(delays.userDisable).toBeLessThan(BUDGET_MS);
    });
  });
});
