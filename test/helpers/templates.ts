/**
 * Vitest global setup: one migrated database per engine for the whole run, which each test app's
 * own database is copied from (`CREATE DATABASE … TEMPLATE` on PostgreSQL, a file copy on SQLite),
 * instead of running every migration again for each of some 150 test apps: on PostgreSQL that took
 * 1.5–4 s an app on these machines, a copy takes a fraction of it. The migrations are the run's own
 * (src/storage/migrate.ts), so a test app starts on exactly the schema a new deployment gets; what
 * tests migrations themselves (test/data-upgrade.test.ts, the servers the e2e tests spawn) still
 * starts from empty databases (scratchDatabase without `migrated`).
 *
 * It also makes the built server (dist/) current before any test starts (./build.ts).
 *
 * The templates' names reach the test files through `provide`/`inject`; teardown drops them. It
 * also drops the run's PostgreSQL test databases, side by side: every DROP DATABASE forces a
 * checkpoint (1–6 s each on these machines, in every suite's afterAll), and checkpoints requested
 * together are made once.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/storage/dialect.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { ensureConsoleBuilt, ensureServerBuilt } from './build.js';
import { postgresDatabaseUrl, postgresReachable, withAdminClient } from './engines.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated SQLite file to copy (absent: copy nothing, migrate as usual). */
    sqliteTemplate?: string;
    /** A migrated PostgreSQL database to create test databases from. */
    postgresTemplate?: string;
    /** The run's PostgreSQL test databases are named `<prefix>_…`; teardown drops them all. */
    postgresPrefix?: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The built server and console, current before any test spawns or browses them (see ./build.ts).
  await ensureServerBuilt();
  ensureConsoleBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-template-'));
  const file = path.join(dir, 'latchkey.sqlite');
  const sqlite = openDatabase({ kind: 'sqlite', file });
  await migrateToLatest(sqlite.db);
  await sqlite.close();
  project.provide('sqliteTemplate', file);

  let postgresTemplate: string | undefined;
  const run = randomBytes(4).toString('hex');
  const prefix = `latchkey_test_${run}`;
  if (await postgresReachable()) {
    postgresTemplate = `latchkey_template_${run}`;
    const name = postgresTemplate;
    await withAdminClient((c) => c.query(`create database ${name}`));
    const postgres = openDatabase({ kind: 'postgres', url: postgresDatabaseUrl(name) });
    await migrateToLatest(postgres.db);
    // A template must have no connections while databases are created from it.
    await postgres.close();
    project.provide('postgresTemplate', name);
    project.provide('postgresPrefix', prefix);
  }

  return async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (postgresTemplate === undefined) return;
    const { rows } = await withAdminClient((c) =>
      c.query<{ datname: string }>('select datname from pg_database where datname like $1', [
        `${prefix}\\_%`,
      ]),
    );
    const names = [...rows.map((r) => r.datname), postgresTemplate];
    // A few at a time, each on its own connection: their checkpoints coincide.
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(
        names
          .slice(i, i + 8)
          .map((name) => withAdminClient((c) => c.query(`drop database if exists ${name} with (force)`))),
      );
    }
  };
}
