/**
 * SQLite transactions against a second connection on the same file (the operator CLI beside a
 * running server, a backup): a write transaction takes the write lock when it begins, so a commit
 * from elsewhere can no longer leave it holding a snapshot it cannot write from ("database is
 * locked" at once, whatever busy_timeout says). A read-only transaction takes no lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../src/storage/dialect.js';

describe('SQLite transactions beside another connection', () => {
  let dir: string;
  let handle: DatabaseHandle;
  let other: SqliteDatabase.Database;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-locking-'));
    const file = path.join(dir, 'latchkey.db');
    handle = openDatabase({ kind: 'sqlite', file });
    await sql`create table counters (id integer primary key, n integer not null)`.execute(handle.db);
    await sql`insert into counters (id, n) values (1, 0)`.execute(handle.db);
    // The other process: fails at once instead of waiting, so the test shows who holds the lock.
    other = new SqliteDatabase(file);
    other.pragma('busy_timeout = 0');
  });
  afterEach(async () => {
    other.close();
    await handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const otherWrites = (): void => {
    other.prepare('update counters set n = n + 100 where id = 1').run();
  };
  const count = (): number => (other.prepare('select n from counters where id = 1').get() as { n: number }).n;

  it('a write transaction that read first still commits after the other connection wanted to write', async () => {
    let otherError: unknown;
    await handle.db.transaction().execute(async (trx) => {
      const row = await sql<{ n: number }>`select n from counters where id = 1`.execute(trx);
      // With a deferred BEGIN this write from elsewhere succeeds, and the update below then fails
      // with SQLITE_BUSY (its snapshot is stale). With the lock taken at BEGIN it is refused here.
      try {
        otherWrites();
      } catch (error) {
        otherError = error;
      }
      await sql`update counters set n = ${(row.rows[0]?.n ?? 0) + 1} where id = 1`.execute(trx);
    });
    expect((otherError as { code?: string } | undefined)?.code).toBe('SQLITE_BUSY');
    expect(count()).toBe(1);
    // Once committed, the other connection writes again.
    otherWrites();
    expect(count()).toBe(101);
  });

  it('a read-only transaction reads one snapshot and leaves the other connection free to write', async () => {
    const seen = await handle.db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        const first = await sql<{ n: number }>`select n from counters where id = 1`.execute(trx);
        otherWrites();
        const second = await sql<{ n: number }>`select n from counters where id = 1`.execute(trx);
        return [first.rows[0]?.n, second.rows[0]?.n];
      });
    expect(seen).toEqual([0, 0]);
    expect(count()).toBe(100);
  });
});
