/** Demo data: `latchkey demo seed` (a real CLI process) and LATCHKEY_DEMO_DATA on first start, on both engines. */
import { describe, expect, it } from 'vitest';
import { DEMO_DATA } from '../src/accounting/demo.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';

const DEMO_RECORDS = DEMO_DATA.reduce((n, [, records]) => n + records.length, 0);

describeEachEngine('demo data', (engine) => {
  describe('seeding', () => {
    const t = useTestApp(engine);

    it('starts empty without LATCHKEY_DEMO_DATA; `latchkey demo seed` fills the tenant once', async () => {
      expect((await data(t, 'GET', '/agent/')).body.data).toEqual([]);
      const env = { LATCHKEY_DATA_DIR: t.db.dataDir, DATABASE_URL: t.db.databaseUrl };
      const first = await runCli(['--json', 'demo', 'seed'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ created: DEMO_RECORDS, skipped: 0 });
      const agents = await data(t, 'GET', '/agent/');
      expect(agents.body.data.map((a: { code: string }) => a.code)).toEqual([
        'ALI',
        'BEN',
        'CHONG',
        'DEVI',
        'EMMA',
      ]);
      const iv = await data(t, 'GET', '/salesinvoice/*?docno=IV-00001');
      expect(iv.body.data[0].sdsdocdetail).toHaveLength(3);
      const again = await runCli(['--json', 'demo', 'seed'], env);
      expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, skipped: DEMO_RECORDS });
    }, 35_000);

    it('every sample body of the registry is valid against the demo data', async () => {
      const { RESOURCES } = await import('../src/accounting/registry.js');
      for (const def of RESOURCES) {
        const res = await data(t, 'POST', `/${def.name}`, def.sample);
        expect(res.status, `${def.name}: ${JSON.stringify(res.body)}`).toBe(201);
      }
    });
  });
});
