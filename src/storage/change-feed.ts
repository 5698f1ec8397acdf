/**
 * The change feed: how a change made in one process (a server instance, a worker, the operator
 * CLI) reaches the caches of every other process on the same database within a second.
 * PostgreSQL uses LISTEN/NOTIFY (change-feed-postgres.ts); SQLite, shared by processes on one
 * host, an event table polled by a cheap counter (change-feed-sqlite.ts).
 */
import type { Services } from '../services.js';
import { PostgresChangeFeed } from './change-feed-postgres.js';
import { SqliteChangeFeed } from './change-feed-sqlite.js';

export interface ChangeFeed {
  /**
   * Forward every event emitted on this process's ChangeBus to the other processes. Every runtime
   * does this, the CLI included: a change is in force only once the running servers hear of it.
   */
  publish(): void;
  /** Deliver the other processes' events to this process's ChangeBus (serving instances). */
  listen(): Promise<void>;
  /** Stop listening, wait until every event emitted so far is published, then stop publishing. */
  close(): Promise<void>;
}

/** The feed for the runtime's engine (the database must be migrated: SQLite needs its table). */
export function createChangeFeed(svc: Services): ChangeFeed {
  const { database } = svc.config;
  if (database.kind === 'postgres') {
    const { pool } = svc.database;
    if (!pool) throw new Error('change feed: a PostgreSQL database handle without a pool');
    return new PostgresChangeFeed(svc, database.url, pool);
  }
  return new SqliteChangeFeed(svc);
}
