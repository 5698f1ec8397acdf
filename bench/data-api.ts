/**
 * Data API latency and import throughput through a real listening server with a Bearer token,
 * on SQLite and on PostgreSQL (PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 *
 *   list   GET /agent/                       (demo data, 5 agents)
 *   list50 GET /salesinvoice/?limit=50       (50 documents, master fields)
 *   get    GET /salesinvoice/{dockey}        (one document with 3 detail rows)
 *   star   GET /salesinvoice/*?docno=…       (one document by an indexed field)
 *   import POST /salesinvoice × 1,000 with 3 detail rows each, sequential and 8 in flight
 *
 *   npm run bench:data -- [requests=500] [sqlite|postgres|both]
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { startRuntime } from '../src/runtime.js';

const N = Number(process.argv[2] ?? 500);
const WHICH = process.argv[3] ?? 'both';
const DOCS = 1000;
const PG_ADMIN_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench-password-123456';

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const ms = (v: number) => `${v.toFixed(2)} ms`;

async function latency(label: string, n: number, fn: () => Promise<Response>): Promise<void> {
  for (let i = 0; i < 20; i++) await (await fn()).arrayBuffer(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const res = await fn();
    await res.arrayBuffer();
    times.push(performance.now() - start);
    if (res.status !== 200) throw new Error(`${label}: HTTP ${res.status}`);
  }
  times.sort((a, b) => a - b);
  console.log(
    `  ${label.padEnd(44)} p50 ${ms(pct(times, 50)).padStart(9)}   p99 ${ms(pct(times, 99)).padStart(9)}   (n=${n})`,
  );
}

function invoice(i: number) {
  return {
    docdate: '2026-11-23',
    code: '300-A0001',
    description: `bench ${i}`,
    sdsdocdetail: [
      { itemcode: 'ISCT', qty: '2', tax: 'ST-10' },
      { itemcode: 'OFD-16', qty: '1', disc: '5%', tax: 'ST-10' },
      { itemcode: 'MISC', description: 'Delivery', unitprice: '35.00' },
    ],
  };
}

async function importDocs(post: (body: unknown) => Promise<Response>, count: number, inFlight: number) {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await post(invoice(i));
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`import: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `  import ${count} salesinvoice × 3 rows, ${String(inFlight).padStart(1)} in flight`.padEnd(46) +
      `${(count / seconds).toFixed(0).padStart(6)} docs/s   ${((count * 3) / seconds).toFixed(0).padStart(6)} detail rows/s   (${seconds.toFixed(2)} s)`,
  );
}

async function benchEngine(engine: 'sqlite' | 'postgres'): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  let dropPg: (() => Promise<void>) | undefined;
  const env: Record<string, string> = {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_ADMIN_EMAIL: 'bench@example.com',
    LATCHKEY_ADMIN_PASSWORD: PASSWORD,
    LATCHKEY_DEMO_DATA: '1',
    LOG_LEVEL: 'silent',
  };
  if (engine === 'postgres') {
    const name = `latchkey_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropPg = async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const runtime = await startRuntime(loadConfig(env));
  const app = await buildApp(runtime);
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const login = await fetch(`${base}/iam/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth_mode: 'password', email: 'bench@example.com', password: PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const headers = { authorization: `Bearer ${token}` };
    const get = (p: string) => () => fetch(`${base}${p}`, { headers });
    const post = (body: unknown) =>
      fetch(`${base}/salesinvoice`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    console.log(`\n${engine} (node ${process.version}, ${os.cpus().length} CPUs)`);
    await importDocs(post, DOCS, 1);
    await importDocs(post, DOCS, 8);
    const sample = (await (await get('/salesinvoice/?limit=1&offset=500')()).json()) as {
      data: Array<{ dockey: number; docno: string }>;
    };
    const doc = sample.data[0];
    if (!doc) throw new Error('no document to read');
    await latency('GET /agent/ (list, 5 records)', N, get('/agent/'));
    await latency('GET /salesinvoice/?limit=50 (list, 50)', N, get('/salesinvoice/?limit=50&offset=100'));
    await latency('GET /salesinvoice/{dockey} (3 detail rows)', N, get(`/salesinvoice/${doc.dockey}`));
    await latency('GET /salesinvoice/*?docno=… (indexed)', N, get(`/salesinvoice/*?docno=${doc.docno}`));
  } finally {
    await app.close();
    await runtime.svc.close();
    await dropPg?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const engine of ['sqlite', 'postgres'] as const) {
  if (WHICH === 'both' || WHICH === engine) await benchEngine(engine);
}
