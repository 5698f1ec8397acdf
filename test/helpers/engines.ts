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

export const PG_ADMIN_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type EngineName = 'sqlite' | 'postgres';

async function postgresReachable(): Promise<boolean> {
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
  drop(): Promise<void>;
}

export async function scratchDatabase(engine: EngineName): Promise<ScratchDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
  if (engine === 'sqlite') {
    return {
      databaseUrl: undefined,
      dataDir,
      sqliteFile: path.join(dataDir, 'latchkey.sqlite'),
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `latchkey_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    postgresUrl: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
