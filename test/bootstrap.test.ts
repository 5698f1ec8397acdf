import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startRuntime } from '../src/runtime.js';
import { describeEachEngine } from './helpers/each-engine.js';
import { type ScratchDatabase, scratchDatabase } from './helpers/engines.js';
import { runCli } from './helpers/process.js';

/** A logger that keeps every line it writes, parsed. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  return { logger, lines };
}

describeEachEngine('first start', (engine) => {
  const dbs: ScratchDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });
  const env = (db: ScratchDatabase, extra: Record<string, string> = {}) =>
    loadConfig({
      LATCHKEY_DATA_DIR: db.dataDir,
      ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : {}),
      LOG_LEVEL: 'silent',
      ...extra,
    });

  it('creates one tenant and administrator, generates a password when none is given, and never again', async () => {
    const db = await scratchDatabase(engine);
    dbs.push(db);
    const first = await startRuntime(env(db));
    expect(first.bootstrap.created).toBe(true);
    expect(first.bootstrap.generatedPassword).toMatch(/^[0-9A-Za-z]{20}$/);
    expect(first.bootstrap.tenantId).toMatch(/^\d{12}$/);
    const users = await first.svc.db.selectFrom('users').selectAll().execute();
    expect(users).toHaveLength(1);
    expect(users[0]?.password_hash).not.toContain(first.bootstrap.generatedPassword);
    await first.svc.close();
    const again = await startRuntime(env(db, { LATCHKEY_ADMIN_EMAIL: 'other@example.com' }));
    expect(again.bootstrap).toEqual({ created: false, tenantId: first.bootstrap.tenantId });
    expect(await again.svc.db.selectFrom('tenants').selectAll().execute()).toHaveLength(1);
    expect(await again.svc.db.selectFrom('users').selectAll().execute()).toHaveLength(1);
    await again.svc.close();
  });

  it('instances starting at the same moment create exactly one tenant', async () => {
    const db = await scratchDatabase(engine);
    dbs.push(db);
    const config = env(db, { LATCHKEY_ADMIN_PASSWORD: 'the-same-admin-password' });
    const captures = [capturingLogger(), capturingLogger(), capturingLogger()];
    const results = await Promise.allSettled(captures.map(({ logger }) => startRuntime(config, { logger })));
    // The instances that found the tenant just made by another had the same settings: no false alarm.
    const alarms = captures.flatMap(({ lines }) =>
      lines.filter((l) => String(l.msg).includes('LATCHKEY_ADMIN')),
    );
    expect(alarms).toEqual([]);
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // On SQLite a racing process may fail with SQLITE_BUSY rather than duplicate; on PostgreSQL all start.
    if (engine === 'postgres') expect(started).toHaveLength(3);
    expect(started.filter((r) => r.bootstrap.created)).toHaveLength(1);
    const tenants = await started[0]?.svc.db.selectFrom('tenants').selectAll().execute();
    expect(tenants).toHaveLength(1);
    for (const r of started) await r.svc.close();
  });

  it('settings given for the first start, on a database that already has a tenant: a warning says they were ignored, where, and how to reset (never the password)', async () => {
    const db = await scratchDatabase(engine);
    dbs.push(db);
    const password = 'the-first-admin-password';
    const first = await startRuntime(
      env(db, { LATCHKEY_ADMIN_EMAIL: 'first@example.com', LATCHKEY_ADMIN_PASSWORD: password }),
    );
    expect(first.bootstrap.created).toBe(true);
    await first.svc.close();

    // A database URL with credentials in it (PostgreSQL here trusts any password): never logged.
    const urlPassword = 'url-password-never-logged';
    const databaseUrl = db.databaseUrl?.replace('postgres@', `postgres:${urlPassword}@`);
    const ignoredPassword = 'a-new-password-that-is-ignored';
    const { logger, lines } = capturingLogger();
    const again = await startRuntime(
      loadConfig({
        LATCHKEY_DATA_DIR: db.dataDir,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        LATCHKEY_ADMIN_EMAIL: 'second@example.com',
        LATCHKEY_ADMIN_PASSWORD: ignoredPassword,
      }),
      { logger },
    );
    await again.svc.close();
    expect(again.bootstrap).toEqual({ created: false, tenantId: first.bootstrap.tenantId });

    const warnings = lines.filter((l) => String(l.msg).includes('LATCHKEY_ADMIN'));
    expect(warnings, JSON.stringify(lines)).toHaveLength(1);
    expect(warnings[0]?.level, 'warn level').toBe(40);
    const warning = warnings[0] as Record<string, unknown>;
    const msg = String(warning.msg);
    expect(msg).toContain('LATCHKEY_ADMIN_EMAIL and LATCHKEY_ADMIN_PASSWORD were ignored');
    expect(msg).toContain('already has a tenant');
    expect(msg).toContain(first.bootstrap.tenantId);
    // How to reset: a fresh database, or the CLI's password reset for the administrator who exists.
    expect(msg).toContain('npx latchkey admin reset-password --email first@example.com');
    if (engine === 'sqlite') {
      expect(msg).toContain(path.join(db.dataDir, 'latchkey.sqlite'));
      expect(msg).toContain(`remove the data directory ${db.dataDir}`);
      expect(msg).toContain('LATCHKEY_DATA_DIR');
    } else {
      const url = new URL(db.databaseUrl as string);
      expect(msg).toContain(`${url.host}${url.pathname}`);
      expect(msg).toContain('DATABASE_URL');
      expect(msg).toContain('an empty database');
    }
    expect(warning.tenantId).toBe(first.bootstrap.tenantId);
    expect(warning.ignored).toEqual(['LATCHKEY_ADMIN_EMAIL', 'LATCHKEY_ADMIN_PASSWORD']);
    const everything = JSON.stringify(lines);
    for (const secret of [password, ignoredPassword, urlPassword]) expect(everything).not.toContain(secret);
  });

  it('no warning on the first start, nor on a restart without first-start settings; one setting is named alone', async () => {
    const db = await scratchDatabase(engine);
    dbs.push(db);
    const runWith = async (extra: Record<string, string>) => {
      const { logger, lines } = capturingLogger();
      const rt = await startRuntime(env(db, extra), { logger });
      await rt.svc.close();
      return lines
        .filter((l) => String(l.msg).includes('LATCHKEY_ADMIN'))
        .map((l) => l as { level: number; msg: string; ignored?: string[] });
    };
    expect(await runWith({ LATCHKEY_ADMIN_PASSWORD: 'the-first-admin-password' })).toEqual([]);
    expect(await runWith({})).toEqual([]);
    // Restarted with the settings it was set up with: they agree with the database, nothing to say.
    expect(
      await runWith({
        LATCHKEY_ADMIN_EMAIL: 'ADMIN@example.com',
        LATCHKEY_ADMIN_PASSWORD: 'the-first-admin-password',
      }),
    ).toEqual([]);
    const [onlyPassword] = await runWith({ LATCHKEY_ADMIN_PASSWORD: 'another-admin-password' });
    expect(onlyPassword?.ignored).toEqual(['LATCHKEY_ADMIN_PASSWORD']);
    expect(onlyPassword?.msg).toContain('npx latchkey admin reset-password --email admin@example.com');
    const [onlyEmail] = await runWith({ LATCHKEY_ADMIN_EMAIL: 'someone@example.com' });
    expect(onlyEmail?.level).toBe(40);
    expect(onlyEmail?.ignored).toEqual(['LATCHKEY_ADMIN_EMAIL']);
    expect(onlyEmail?.msg).toMatch(/^LATCHKEY_ADMIN_EMAIL was ignored/);
  });
});

describe('the command the warning names', () => {
  it('exists: `latchkey admin reset-password --email` is a CLI command', async () => {
    const res = await runCli(['admin', 'reset-password', '--help'], {});
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('--email <email>');
  });
});
