/**
 * The only engine-aware code: which Kysely dialect to build, and the few places
 * where SQLite and PostgreSQL need different SQL.
 */
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  type RawBuilder,
  type SelectQueryBuilder,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
  type Transaction,
  type TransactionSettings,
} from 'kysely';
import { jsonArrayFrom as pgJsonArrayFrom } from 'kysely/helpers/postgres';
import { jsonArrayFrom as sqliteJsonArrayFrom } from 'kysely/helpers/sqlite';
import pg from 'pg';
import type { Config } from '../config.js';
import { tracedDialect, traceQuery, tracingEnabled } from '../observability/tracing.js';
import {
  createPrivateFile,
  ensurePrivateDir,
  type ModeReporter,
  tightenPrivateFile,
} from './private-files.js';
import type { Database } from './tables.js';

/** Files SQLite keeps beside the database; an older install may have left them 0644. */
const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

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
  /**
   * Run a compiled SELECT outside any transaction and return its rows as arrays, columns in
   * select order. For wide reads (a document has some 80 columns): building one object per row,
   * key by key, cost twice as much as reading the row. `name` makes it a named prepared statement
   * on PostgreSQL: give one only to SQL that never changes under that name.
   */
  arrays(text: string, parameters: readonly unknown[], name?: string): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** Where file permissions are reported, and which directory is latchkey's own (LATCHKEY_DATA_DIR). */
export interface DatabaseFileOptions {
  readonly dataDir?: string;
  readonly report?: ModeReporter;
}

export function openDatabase(database: Config['database'], files: DatabaseFileOptions = {}): DatabaseHandle {
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: database.url, max: 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    // Nor may a client in use: pg emits 'error' on it when its connection drops (PostgreSQL
    // restarted, a connection killed), and the pool listens only while the client is idle. The query
    // on it is rejected with the same error and reported by its caller; the pool then discards the
    // client (it is no longer queryable). Without this a restart of PostgreSQL under load killed
    // latchkey with an uncaught "Connection terminated unexpectedly" (test/e2e/readyz.test.ts).
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
    const traced = tracingEnabled();
    const dialect = new PostgresDialect({ pool });
    const db = new Kysely<Database>({ dialect: traced ? tracedDialect(dialect, 'postgresql') : dialect });
    const query = async (text: string, parameters: readonly unknown[], name?: string) =>
      (await pool.query<unknown[]>({ text, values: [...parameters], rowMode: 'array', name })).rows;
    const arrays = traced
      ? (text: string, parameters: readonly unknown[], name?: string) =>
          traceQuery('postgresql', text, () => query(text, parameters, name))
      : query;
    return { db, engine: 'postgres', pool, arrays, close: () => db.destroy() };
  }
  const dir = path.dirname(database.file);
  const ownDir = files.dataDir !== undefined && path.resolve(files.dataDir) === dir;
  ensurePrivateDir(dir, ownDir, files.report);
  // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
  createPrivateFile(database.file, files.report);
  for (const suffix of SQLITE_SIDE_FILES) tightenPrivateFile(`${database.file}${suffix}`, files.report);
  const sqlite = new SqliteDatabase(database.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Traced (tracing on): every statement in a `db.query` span (src/observability/tracing.ts).
  const traced = tracingEnabled();
  const dialect = new WriteLockingSqliteDialect({ database: cachedStatements(sqlite) });
  const db = new Kysely<Database>({ dialect: traced ? tracedDialect(dialect, 'sqlite') : dialect });
  // Statements of their own: raw mode is a property of the statement, and Kysely's want objects.
  const raw = cachedStatements(sqlite, (statement) => statement.raw(true));
  const query = async (text: string, parameters: readonly unknown[]) =>
    raw.prepare(text).all(...parameters) as unknown[][];
  const arrays = traced
    ? (text: string, parameters: readonly unknown[]) =>
        traceQuery('sqlite', text, () => query(text, parameters))
    : query;
  return { db, engine: 'sqlite', arrays, close: () => db.destroy() };
}

/**
 * SQLite transactions that take the write lock when they begin (`BEGIN IMMEDIATE`), unless they
 * are read-only (`setAccessMode('read only')`: a deferred `BEGIN`, a snapshot that blocks no one).
 * Kysely's SQLite driver begins with a plain, deferred `BEGIN`: the transaction reads from a
 * snapshot and asks for the write lock at its first write. If another connection (the operator
 * CLI, a backup, a second process on the file) committed in between, that snapshot can no longer
 * be written from and SQLite fails the write at once with SQLITE_BUSY ("database is locked"),
 * without waiting out busy_timeout: nothing is left to wait for. Taking the lock first makes the
 * transaction wait its turn (busy_timeout) instead. Within one process nothing changes: Kysely runs
 * everything on the one connection, one transaction at a time.
 */
class WriteLockingSqliteDriver extends SqliteDriver {
  override async beginTransaction(
    connection: DatabaseConnection,
    settings?: TransactionSettings,
  ): Promise<void> {
    const begin = settings?.accessMode === 'read only' ? 'begin' : 'begin immediate';
    await connection.executeQuery(CompiledQuery.raw(begin));
  }
}

class WriteLockingSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new WriteLockingSqliteDriver(this.#config);
  }
}

/** Prepared statements kept per SQL text (the queries latchkey builds are a few hundred shapes). */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * The SQLite database as Kysely sees it, with prepared statements reused (LRU by SQL text).
 * Kysely prepares every query afresh; preparing costs more than running a point lookup, and every
 * statement is a native object the garbage collector must finalise, which showed up as multi-ms
 * pauses in the cold-key latency tail. Reuse is safe: Kysely runs one query at a time per
 * connection, and `all`/`run` finish before they return.
 */
function cachedStatements(
  sqlite: SqliteDatabase.Database,
  setUp: (statement: SqliteDatabase.Statement) => void = () => {},
): { close(): void; prepare(text: string): SqliteDatabase.Statement } {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement !== undefined) {
        statements.delete(text);
      } else {
        statement = sqlite.prepare(text);
        setUp(statement);
        if (statements.size >= STATEMENT_CACHE_SIZE) {
          const oldest = statements.keys().next();
          if (!oldest.done) statements.delete(oldest.value);
        }
      }
      statements.set(text, statement);
      return statement;
    },
  };
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

/**
 * A subquery's rows as one JSON array column, so a parent row and its children come back in one
 * statement (one round trip). Read the column with `jsonRows`: PostgreSQL returns it parsed,
 * SQLite as text. The subquery must name its columns (no selectAll).
 */
export function jsonArrayFrom<O>(
  engine: Engine,
  // biome-ignore lint/suspicious/noExplicitAny: any database and tables, as in Kysely's own helpers.
  subquery: SelectQueryBuilder<any, any, O>,
): RawBuilder<O[] | string> {
  const column = engine === 'postgres' ? pgJsonArrayFrom(subquery) : sqliteJsonArrayFrom(subquery);
  // Our columns are text and integers, which JSON carries unchanged (Kysely's type says "dehydrated").
  return column as unknown as RawBuilder<O[] | string>;
}

/** The rows of a `jsonArrayFrom` column. */
export function jsonRows<O>(value: O[] | string): O[] {
  return typeof value === 'string' ? (JSON.parse(value) as O[]) : value;
}
