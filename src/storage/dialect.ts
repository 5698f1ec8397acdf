/**
 * The only engine-aware code: which Kysely dialect to build, and the few places
 * where SQLite and PostgreSQL need different SQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from './tables.js';

export type Engine = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or an open transaction: repositories accept both. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly engine: Engine;
  /** For PostgreSQL, the pool (LISTEN/NOTIFY and advisory locks need raw connections). */
  readonly pool?: pg.Pool;
  close(): Promise<void>;
}

export function openDatabase(database: Config['database']): DatabaseHandle {
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: database.url, max: 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', pool, close: () => db.destroy() };
  }
  fs.mkdirSync(path.dirname(database.file), { recursive: true });
  const sqlite = new SqliteDatabase(database.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, engine: 'sqlite', close: () => db.destroy() };
}

/** Is this error a unique-constraint violation on either engine? */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; message?: unknown };
  return (
    e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * Serialise one-off work across instances inside a transaction. PostgreSQL: a transaction-scoped
 * advisory lock. SQLite: one writer at a time already; a second process that raced us fails its
 * write with SQLITE_BUSY instead of duplicating.
 */
export async function lockForSetup(trx: Tx, engine: Engine, lockId: number): Promise<void> {
  if (engine === 'postgres') await sql`select pg_advisory_xact_lock(${lockId})`.execute(trx);
}

/** `SELECT … FOR UPDATE` where the engine has it (SQLite transactions already hold the write lock). */
export function forUpdate<QB extends { forUpdate(): QB }>(qb: QB, engine: Engine): QB {
  return engine === 'postgres' ? qb.forUpdate() : qb;
}

/** `lower(column) LIKE '%needle%'` with %, _ and \ in the needle matched literally, on both engines. */
export function containsText(column: string, needle: string) {
  const escaped = needle.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<boolean>`lower(${sql.ref(column)}) like ${`%${escaped}%`} escape '\\'`;
}

/** `column LIKE 'prefix%'` with the prefix matched literally. */
export function startsWith(column: string, prefix: string) {
  const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<boolean>`${sql.ref(column)} like ${`${escaped}%`} escape '\\'`;
}

/**
 * `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers on several instances
 * claim disjoint rows instead of waiting for (or double-claiming) each other's. SQLite has one
 * writer at a time: the claiming transaction itself is the lock.
 */
export function forUpdateSkipLocked<QB extends { forUpdate(): QB; skipLocked(): QB }>(
  qb: QB,
  engine: Engine,
): QB {
  return engine === 'postgres' ? qb.forUpdate().skipLocked() : qb;
}
