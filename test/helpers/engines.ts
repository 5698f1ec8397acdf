/**
 * The engines every integration test runs on: SQLite always, PostgreSQL when one is reachable
 * (PG_URL, default postgres://postgres@127.0.0.1:5432/postgres). Each test app gets its own fresh
 * database. Without PostgreSQL the PostgreSQL runs are reported as skipped, never as passed;
 * with LATCHKEY_REQUIRE_POSTGRES=1 (set by .ci/run) an unreachable PostgreSQL fails the run.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

export const PG_ADMIN_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type EngineName = 'sqlite' | 'postgres';

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const reachable = await postgresReachable();
if (!reachable && process.env.LATCHKEY_REQUIRE_POSTGRES === '1') {
  throw new Error(`PostgreSQL is required (LATCHKEY_REQUIRE_POSTGRES=1) but ${PG_ADMIN_URL} is unreachable`);
}
if (!reachable) {
  process.stderr.write(`PostgreSQL at ${PG_ADMIN_URL} is unreachable: PostgreSQL tests are SKIPPED.\n`);
}

export const POSTGRES_AVAILABLE = reachable;

/** Run statements on a connection of its own to the admin database (create and drop databases). */
export async function withAdminClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the admin URL's server. */
export function postgresDatabaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The names of the engines, every one whether reachable or not: the caller skips an engine that is
 * not available (engineAvailable), as describeEachEngine (./each-engine.ts) does.
 */
export const ENGINES: ReadonlyArray<EngineName> = ['sqlite', 'postgres'];

export function engineAvailable(engine: EngineName): boolean {
  return engine === 'sqlite' || reachable;
}

export interface ScratchDatabase {
  /** A DATABASE_URL for the engine (sqlite: a file URL in a fresh data dir). */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Raw access for assertions on stored bytes. */
  sqliteFile?: string;
  postgresUrl?: string;
  /** Remove it (a PostgreSQL database of a run with a global setup: at the end of the run). */
  drop(): Promise<void>;
}

export interface ScratchOptions {
  /**
   * Start from the run's migrated template (test/helpers/templates.ts) rather than an empty
   * database: what a test app wants. Tests of migrations and of a first start leave it out.
   */
  migrated?: boolean;
}

export async function scratchDatabase(
  engine: EngineName,
  options: ScratchOptions = {},
): Promise<ScratchDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
  if (engine === 'sqlite') {
    const sqliteFile = path.join(dataDir, 'latchkey.sqlite');
    const template = options.migrated ? inject('sqliteTemplate') : undefined;
    if (template !== undefined) {
      fs.copyFileSync(template, sqliteFile);
      fs.chmodSync(sqliteFile, 0o600);
    }
    return {
      databaseUrl: undefined,
      dataDir,
      sqliteFile,
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  // Named for the run when it has a global setup (test/helpers/templates.ts), which drops the run's
  // databases at its end; otherwise dropped here.
  const prefix = inject('postgresPrefix');
  const name = `${prefix ?? 'latchkey_test'}_${randomBytes(6).toString('hex')}`;
  const template = options.migrated ? inject('postgresTemplate') : undefined;
  await withAdminClient((c) =>
    c.query(`create database ${name}${template === undefined ? '' : ` template ${template}`}`),
  );
  const url = postgresDatabaseUrl(name);
  return {
    databaseUrl: url,
    dataDir,
    postgresUrl: url,
    drop: async () => {
      if (prefix === undefined)
        await withAdminClient((c) => c.query(`drop database if exists ${name} with (force)`));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
