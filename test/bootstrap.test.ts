import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startRuntime } from '../src/runtime.js';
import { ENGINES, engineAvailable, type ScratchDatabase, scratchDatabase } from './helpers/engines.js';

describe.each(ENGINES)('first start on %s', (engine) => {
  const run = engineAvailable(engine) ? it : it.skip;
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

  run(
    'creates one tenant and administrator, generates a password when none is given, and never again',
    async () => {
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
    },
  );

  run('instances starting at the same moment create exactly one tenant', async () => {
    const db = await scratchDatabase(engine);
    dbs.push(db);
    const config = env(db, { LATCHKEY_ADMIN_PASSWORD: 'the-same-admin-password' });
    const results = await Promise.allSettled([
      startRuntime(config),
      startRuntime(config),
      startRuntime(config),
    ]);
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // On SQLite a racing process may fail with SQLITE_BUSY rather than duplicate; on PostgreSQL all start.
    if (engine === 'postgres') expect(started).toHaveLength(3);
    expect(started.filter((r) => r.bootstrap.created)).toHaveLength(1);
    const tenants = await started[0]?.svc.db.selectFrom('tenants').selectAll().execute();
    expect(tenants).toHaveLength(1);
    for (const r of started) await r.svc.close();
  });
});
