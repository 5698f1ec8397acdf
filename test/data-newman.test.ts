/**
 * The generated Postman collection, run by newman against a listening server on both engines,
 * signed with awsv4 from the collection variables your_access_key / your_secret_key:
 * - the Read folder (list, get by key, find with *) with a read-only key (role DataReadOnly);
 * - the whole collection (Read, then Write: create, update with updatecount + 1, delete) with an
 *   administrator's key.
 */

import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DATA } from '../src/accounting/demo.js';
import { RESOURCES } from '../src/accounting/registry.js';
import { call, type TestApp } from './helpers/app.js';
import { data, listeningDataApp, signedFetch, userWithRole } from './helpers/data.js';
import { describeEachEngine } from './helpers/each-engine.js';

interface NewmanSummary {
  run: {
    failures: Array<{ error: { message: string }; source?: { name?: string } }>;
    stats: { requests: { total: number; failed: number }; assertions: { total: number; failed: number } };
  };
}
type Newman = {
  run(options: Record<string, unknown>, done: (err: Error | null, summary: NewmanSummary) => void): void;
};
// newman ships CommonJS without types.
const newman = createRequire(import.meta.url)('newman') as Newman;

type Collection = { variable: Array<{ key: string; value: string }> };
type Key = { accessKeyId: string; secretAccessKey: string };

/** The collection as a signed-in administrator downloads it, with a key filled in. */
async function collectionFor(t: TestApp, baseUrl: string, key: Key): Promise<Collection> {
  const res = await fetch(`${baseUrl}/iam/postman-collection`, {
    headers: { authorization: `Bearer ${t.adminToken}` },
  });
  const collection = (await res.json()) as Collection;
  for (const v of collection.variable) {
    if (v.key === 'your_access_key') v.value = key.accessKeyId;
    if (v.key === 'your_secret_key') v.value = key.secretAccessKey;
  }
  expect(collection.variable.find((v) => v.key === 'base_url')?.value).toBe(baseUrl);
  return collection;
}

function runNewman(collection: Collection, folder?: string | string[]): Promise<NewmanSummary> {
  return new Promise<NewmanSummary>((resolve, reject) =>
    newman.run({ collection, reporters: [], ...(folder ? { folder } : {}) }, (err, s) =>
      err ? reject(err) : resolve(s),
    ),
  );
}

const failuresOf = (summary: NewmanSummary) =>
  summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`);

/**
 * Requests the Read folder of `names` sends against the demo data: List, and Get and Find of its
 * first record unless the list is empty (then they are skipped).
 */
const withDemoRows = new Set(DEMO_DATA.filter(([, rows]) => rows.length > 0).map(([name]) => name));
const readRequests = (names: readonly string[]) =>
  names.reduce((n, name) => n + (withDemoRows.has(name) ? 3 : 1), 0);

// newman spends ~50 ms per request in its script sandbox: the whole collection runs on SQLite; on
// PostgreSQL a resource of each shape keeps the file well under 40 s (the engine-specific SQL is
// covered request by request in data-api and data-rules).
const POSTGRES_SUBSET = [
  'agent',
  'customer',
  'stockitem',
  'salesinvoice',
  'customerpayment',
  'journalentry',
  'stocktransfer',
];

describeEachEngine('Postman collection with newman', (engine) => {
  describe('newman', () => {
    let t: TestApp;
    let baseUrl: string;
    let key: { accessKeyId: string; secretAccessKey: string };
    beforeAll(async () => {
      ({ t, baseUrl, key } = await listeningDataApp(engine, 'postman'));
    });
    afterAll(async () => t?.close());

    const names = () => (engine === 'postgres' ? POSTGRES_SUBSET : RESOURCES.map((r) => r.name));

    it('newman runs the Read folder with a read-only key (DataReadOnly: *:read): every request passes', async () => {
      const reader = await userWithRole(t, `newman-ro-${engine}@example.com`, 'DataReadOnly');
      const roKey = (
        await call(t, 'POST', `/iam/users/${reader.id}/keys`, { body: { name: 'newman read-only' } })
      ).json() as Key;
      // The key really is read-only: a write is refused.
      const denied = await signedFetch(baseUrl, 'POST', '/agent', {
        ...roKey,
        body: { code: 'RO', description: 'x' },
      });
      expect(denied.status).toBe(403);

      const collection = await collectionFor(t, baseUrl, roKey);
      const folder = engine === 'postgres' ? POSTGRES_SUBSET.map((n) => `read-${n}`) : 'Read';
      const summary = await runNewman(collection, folder);
      expect(failuresOf(summary)).toEqual([]);
      expect(summary.run.stats.requests.total).toBe(readRequests(names()));
      expect(summary.run.stats.assertions.failed).toBe(0);
      expect(summary.run.stats.assertions.total).toBeGreaterThan(summary.run.stats.requests.total);
    }, 35_000);

    it('newman runs the collection with a read-write key (Read; then Write: create, update, delete)', async () => {
      const collection = await collectionFor(t, baseUrl, key);
      const folder =
        engine === 'postgres' ? POSTGRES_SUBSET.flatMap((n) => [`read-${n}`, `write-${n}`]) : undefined;
      const summary = await runNewman(collection, folder);
      expect(failuresOf(summary)).toEqual([]);
      expect(summary.run.stats.requests.total).toBe(readRequests(names()) + names().length * 3);
      expect(summary.run.stats.assertions.failed).toBe(0);
      // The Write folder cleaned up after itself.
      expect((await data(t, 'GET', '/agent/PM-01')).status).toBe(404);
      expect((await data(t, 'GET', '/salesinvoice/?description=Postman%20sample')).body.data).toEqual([]);
    }, 35_000);
  });
});
