/**
 * A database that is away answers 503 SERVICE_UNAVAILABLE with Retry-After (clients and load
 * balancers retry), never 500: checked with the errors a real PostgreSQL and a real SQLite give
 * (a connection terminated by `pg_terminate_backend` mid-session, a write lock held past the busy
 * timeout), while a bug still answers 500. `npm run soak` drives the same through a whole server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../src/http/errors.js';
import { isDatabaseUnavailable } from '../src/storage/unavailable.js';
import { PG_ADMIN_URL, POSTGRES_AVAILABLE } from './helpers/engines.js';

async function answerFor(error: unknown) {
  const app = Fastify();
  registerErrorHandling(app);
  app.get('/boom', async () => {
    throw error;
  });
  const res = await app.inject({ method: 'GET', url: '/boom' });
  await app.close();
  return res;
}

function sqliteBusy(): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-busy-'));
  const file = path.join(dir, 'db.sqlite');
  const holder = new Database(file);
  const other = new Database(file, { timeout: 0 });
  try {
    holder.exec('create table t (x integer)');
    holder.exec('begin exclusive');
    try {
      other.exec('insert into t values (1)');
    } catch (error) {
      return error;
    }
    throw new Error('the write did not wait for the lock');
  } finally {
    other.close();
    holder.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('a database that is away', () => {
  it('SQLite locked past the busy timeout (SQLITE_BUSY): 503 SERVICE_UNAVAILABLE, Retry-After: 1', async () => {
    const error = sqliteBusy();
    expect((error as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(isDatabaseUnavailable(error)).toBe(true);
    const res = await answerFor(error);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE');
  });

  it.skipIf(!POSTGRES_AVAILABLE)(
    'PostgreSQL: a query on a connection pg_terminate_backend ended, and a refused connection: 503',
    async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      client.on('error', () => {});
      const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      await admin.query('select pg_terminate_backend($1)', [pid]);
      await admin.end();
      const terminated = await client.query('select 1').then(
        () => undefined,
        (error: unknown) => error,
      );
      await client.end().catch(() => {});
      expect(terminated, 'the query on the ended connection fails').toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(terminated)).toBe(true);
      expect((await answerFor(terminated)).json().error.code).toBe('SERVICE_UNAVAILABLE');

      const url = new URL(PG_ADMIN_URL);
      url.port = '1';
      const refused = await new pg.Client({ connectionString: url.toString() }).connect().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isDatabaseUnavailable(refused)).toBe(true);
      expect((await answerFor(refused)).statusCode).toBe(503);
    },
  );

  it('a bug, or a query the database refuses, is still 500 INTERNAL', async () => {
    const db = new Database(':memory:');
    let syntax: unknown;
    try {
      db.exec('selec 1');
    } catch (error) {
      syntax = error;
    } finally {
      db.close();
    }
    for (const error of [new TypeError('x is undefined'), syntax]) {
      expect(isDatabaseUnavailable(error)).toBe(false);
      const res = await answerFor(error);
      expect(res.statusCode).toBe(500);
      expect(res.json().error.code).toBe('INTERNAL');
    }
  });
});
