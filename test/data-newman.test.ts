/**
 * The generated Postman collection, run by newman against a listening server on both engines:
 * every folder's scenario (list, create, get, find with *, update with updatecount + 1, delete),
 * signed with awsv4 from the collection variables your_access_key / your_secret_key.
 */

import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/accounting/registry.js';
import type { TestApp } from './helpers/app.js';
import { data, listeningDataApp } from './helpers/data.js';
import { ENGINES, engineAvailable } from './helpers/engines.js';

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

describe.each(ENGINES)('Postman collection with newman on %s', (engine) => {
  const suite = engineAvailable(engine) ? describe : describe.skip;
  suite('newman', () => {
    let t: TestApp;
    let baseUrl: string;
    let key: { accessKeyId: string; secretAccessKey: string };
    beforeAll(async () => {
      ({ t, baseUrl, key } = await listeningDataApp(engine, 'postman'));
    });
    afterAll(async () => t?.close());

    it('newman runs the generated collection (each folder: list, create, get, *, update, delete)', async () => {
      // newman spends ~50 ms per request in its script sandbox: the whole collection (192 requests)
      // runs on SQLite; on PostgreSQL a folder of each shape keeps the file well under 40 s (the
      // engine-specific SQL is covered request by request in data-api and data-rules).
      const folders =
        engine === 'postgres'
          ? [
              'Agent',
              'Customer',
              'Stock Item',
              'Sales Invoice',
              'Customer Payment',
              'Journal Entry',
              'Stock Transfer',
            ]
          : undefined;
      const res = await fetch(`${baseUrl}/iam/postman-collection`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      const collection = (await res.json()) as { variable: Array<{ key: string; value: string }> };
      for (const v of collection.variable) {
        if (v.key === 'your_access_key') v.value = key.accessKeyId;
        if (v.key === 'your_secret_key') v.value = key.secretAccessKey;
      }
      expect(collection.variable.find((v) => v.key === 'base_url')?.value).toBe(baseUrl);
      const summary = await new Promise<NewmanSummary>((resolve, reject) =>
        newman.run({ collection, reporters: [], ...(folders ? { folder: folders } : {}) }, (err, s) =>
          err ? reject(err) : resolve(s),
        ),
      );
      const failures = summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`);
      expect(failures).toEqual([]);
      expect(summary.run.stats.requests.total).toBe((folders?.length ?? RESOURCES.length) * 6);
      expect(summary.run.stats.assertions.failed).toBe(0);
      // The scenario cleaned up after itself.
      expect((await data(t, 'GET', '/agent/PM-01')).status).toBe(404);
    }, 35_000);
  });
});
