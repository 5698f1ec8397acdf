/**
 * `*` wildcards and `a~b` ranges on the data API's list and `*` forms (src/accounting/filters.ts),
 * on both engines over the demo data: prefix, suffix, contains, case, ranges on text, dates,
 * integers and decimals (by value, exactly), escaping, refusals, the 50-row cap, a seeded fuzz, and
 * the query plans that show a prefix is an index range scan.
 */
import { CompiledQuery, createQueryId, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { describe, expect, it } from 'vitest';
import { type ResourceDef, resourceByName } from '../src/accounting/registry.js';
import { type DataContext, type DataDb, listRecords } from '../src/accounting/store.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { mulberry32, pick } from './helpers/prng.js';

const q = encodeURIComponent;

describeEachEngine('data API filters', (engine) => {
  describe('wildcards and ranges over the demo data', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    /** The `field` values of a list answer, sorted (the key order differs between resources). */
    const values = async (url: string, field = 'code'): Promise<string[]> => {
      const res = await data(t, 'GET', url);
      expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.data.map((r: Record<string, unknown>) => String(r[field])).sort();
    };
    const docnos = (url: string) => values(url, 'docno');

    it('term* is a prefix match, *term a suffix, *term* contains, a*b both ends', async () => {
      expect(await values('/customer/?code=300-A*')).toEqual(['300-A0001']);
      expect(await values('/customer/?code=300*')).toEqual([
        '300-A0001',
        '300-B0001',
        '300-C0001',
        '300-S0001',
      ]);
      expect(await values('/customer/?code=4*')).toEqual([]);
      expect(await docnos('/salesinvoice/?docno=*001')).toEqual(['IV-00001']);
      expect(await values('/customer/?code=*0001')).toHaveLength(4);
      expect(await values('/customer/?companyname=*interior*')).toEqual(['300-B0001']);
      expect(await docnos('/salesinvoice/?docno=IV*3')).toEqual(['IV-00003']);
      expect(await docnos('/salesinvoice/?docno=I*-*2')).toEqual(['IV-00002']);
      // Adjacent stars are one; a trailing star after a full value still matches it.
      expect(await docnos('/salesinvoice/?docno=IV-00002**')).toEqual(['IV-00002']);
      // Combined with other filters (ANDed), exact and pattern.
      expect(await values('/customer/?code=300*&area=PG')).toEqual(['300-C0001']);
      expect(await values('/customer/?code=300*&companyname=*bhd')).toEqual(['300-A0001', '300-C0001']);
    });

    it('* alone matches every record that has a value', async () => {
      expect(await values('/customer/?companyname=*')).toHaveLength(4);
      // No demo customer has a companyname2: null never matches.
      expect(await values('/customer/?companyname2=*')).toEqual([]);
    });

    it('patterns and text ranges ignore the case of A–Z (only), on both engines; exact values do not', async () => {
      for (const pattern of ['*trading*', '*TRADING*', '*Trading*', 'abc*', 'ABC FURNITURE*']) {
        expect(await values(`/customer/?companyname=${q(pattern)}`), pattern).toEqual(['300-A0001']);
      }
      expect(await values(`/customer/?code=${q('300-a*')}`)).toEqual(['300-A0001']);
      // An exact value stays an exact, case-sensitive match.
      expect(await values(`/customer/?companyname=${q('ABC Furniture Trading Sdn Bhd')}`)).toEqual([
        '300-A0001',
      ]);
      expect(await values(`/customer/?companyname=${q('abc furniture trading sdn bhd')}`)).toEqual([]);
      // Letters beyond ASCII are matched as they are, on both engines.
      const created = await data(t, 'POST', '/agent', { code: 'FR-1', description: 'École Normale' });
      expect(created.status).toBe(201);
      expect(await values(`/agent/?description=${q('*COLE*')}`)).toEqual(['FR-1']);
      expect(await values(`/agent/?description=${q('École*')}`)).toEqual(['FR-1']);
      expect(await values(`/agent/?description=${q('école*')}`)).toEqual([]);
      expect(await values(`/agent/?description=${q('*NORMALE')}`)).toEqual(['FR-1']);
      expect((await data(t, 'DELETE', '/agent/FR-1')).status).toBe(204);
    });

    it('a~b on text: inclusive, open at either end, case-insensitive, by code point', async () => {
      expect(await values('/agent/?code=B~D')).toEqual(['BEN', 'CHONG']);
      expect(await values('/agent/?code=b~devi')).toEqual(['BEN', 'CHONG', 'DEVI']);
      expect(await values('/agent/?code=BEN~CHONG')).toEqual(['BEN', 'CHONG']);
      expect(await values('/agent/?code=D~')).toEqual(['DEVI', 'EMMA']);
      expect(await values('/agent/?code=~B')).toEqual(['ALI']);
      expect(await values('/customer/?code=300-B~300-C9')).toEqual(['300-B0001', '300-C0001']);
    });

    it('a~b on dates: inclusive, open ends', async () => {
      // IV-00001 2026-10-10, IV-00002 2026-10-18, IV-00003 2026-11-02
      expect(await docnos('/salesinvoice/?docdate=2026-10-01~2026-10-31')).toEqual(['IV-00001', 'IV-00002']);
      expect(await docnos('/salesinvoice/?docdate=2026-10-10~2026-10-18')).toEqual(['IV-00001', 'IV-00002']);
      expect(await docnos('/salesinvoice/?docdate=2026-10-11~2026-10-17')).toEqual([]);
      expect(await docnos('/salesinvoice/?docdate=2026-10-15~')).toEqual(['IV-00002', 'IV-00003']);
      expect(await docnos('/salesinvoice/?docdate=~2026-10-10')).toEqual(['IV-00001']);
      expect(await docnos('/salesinvoice/?docdate=2026-11-02~2026-11-02')).toEqual(['IV-00003']);
    });

    it('a~b on integers', async () => {
      const all = (await data(t, 'GET', '/salesinvoice/')).body.data as Array<{
        dockey: number;
        docno: string;
      }>;
      const byDocno = new Map(all.map((d) => [d.docno, d.dockey]));
      const second = byDocno.get('IV-00002') as number;
      expect(await docnos(`/salesinvoice/?dockey=${second}~`)).toEqual(
        all
          .filter((d) => d.dockey >= second)
          .map((d) => d.docno)
          .sort(),
      );
      expect(await docnos(`/salesinvoice/?dockey=~${second}`)).toEqual(
        all
          .filter((d) => d.dockey <= second)
          .map((d) => d.docno)
          .sort(),
      );
      expect(await docnos(`/salesinvoice/?dockey=${second}~${second}`)).toEqual(['IV-00002']);
      expect(await docnos('/salesinvoice/?dockey=-5~0')).toEqual([]);
      expect(await values('/agent/?updatecount=1~1')).toHaveLength(5);
      expect(await values('/agent/?updatecount=2~')).toEqual([]);
    });

    it('a~b on decimals compares by value, not as text', async () => {
      // Reference prices: ISCT 250.00, OFD-16 459.00, ANT-CH 149.90, RM-04 20.00, MISC 0.00.
      // As text "20.00" lies between "100" and "300", and "149.90" sorts before "99.99".
      expect(await values('/stockitem/?refprice=100~300')).toEqual(['ANT-CH', 'ISCT']);
      expect(await values('/stockitem/?refprice=~99.99')).toEqual(['MISC', 'RM-04']);
      expect(await values('/stockitem/?refprice=250~')).toEqual(['ISCT', 'OFD-16']);
      expect(await values('/stockitem/?refprice=250.00~459')).toEqual(['ISCT', 'OFD-16']);
      expect(await values('/stockitem/?refprice=20~20')).toEqual(['RM-04']);
      // Bounds finer than the scale: exact, not rounded half-up.
      expect(await values('/stockitem/?refprice=149.901~200')).toEqual([]);
      expect(await values('/stockitem/?refprice=100~149.899')).toEqual([]);
      expect(await values('/stockitem/?refprice=149.895~149.905')).toEqual(['ANT-CH']);
      // Credit limits: 300-A0001 50000.00, 300-C0001 120000.00, the others 0.00.
      expect(await values('/customer/?creditlimit=1~100000')).toEqual(['300-A0001']);
      expect(await values('/customer/?creditlimit=50000~')).toEqual(['300-A0001', '300-C0001']);
      expect(await values('/customer/?creditlimit=~0')).toEqual(['300-B0001', '300-S0001']);
    });

    it('decimal ranges are exact for negative numbers and at 15 integer digits (where a double is not)', async () => {
      const limits: Record<string, string> = {
        'DEC-N1': '-0.50',
        'DEC-N2': '-5.00',
        'DEC-N3': '-12.50',
        'DEC-N4': '-100.00',
        'DEC-P1': '0.01',
        'DEC-B1': '999999999999999.98',
        'DEC-B2': '999999999999999.99',
        'DEC-B3': '99999999999999.99',
      };
      for (const [code, creditlimit] of Object.entries(limits)) {
        const res = await data(t, 'POST', '/customer', { code, companyname: `Decimal ${code}`, creditlimit });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      const dec = (range: string) => values(`/customer/?code=DEC-*&creditlimit=${range}`);
      expect(await dec('-10~-1')).toEqual(['DEC-N2']);
      expect(await dec('-12.5~-5')).toEqual(['DEC-N2', 'DEC-N3']);
      expect(await dec('~-0.01')).toEqual(['DEC-N1', 'DEC-N2', 'DEC-N3', 'DEC-N4']);
      expect(await dec('~-12.50')).toEqual(['DEC-N3', 'DEC-N4']);
      expect(await dec('-1~0.01')).toEqual(['DEC-N1', 'DEC-P1']);
      expect(await dec('-0.5~')).toHaveLength(5);
      expect(await dec('-100~-100')).toEqual(['DEC-N4']);
      // 999999999999999.98 and .99 are the same double: a float comparison would find both.
      expect(await dec('999999999999999.99~')).toEqual(['DEC-B2']);
      expect(await dec('~999999999999999.98')).not.toContain('DEC-B2');
      expect(await dec('999999999999999.98~999999999999999.98')).toEqual(['DEC-B1']);
      expect(await dec('100000000000000~')).toEqual(['DEC-B1', 'DEC-B2']);
      expect(await dec('99999999999999.99~99999999999999.99')).toEqual(['DEC-B3']);
    });

    it('the * form takes wildcards and ranges on its indexed fields and answers one record with its detail', async () => {
      const one = await data(t, 'GET', '/salesinvoice/*?docno=IV-0000*&docdate=2026-10-11~');
      expect(one.status).toBe(200);
      expect(one.body.pagination.count).toBe(1);
      expect(one.body.data[0].docno).toBe('IV-00002');
      expect(one.body.data[0].sdsdocdetail).toHaveLength(1);
      const customer = await data(t, 'GET', '/customer/*?code=*S0001');
      expect(customer.body.data[0].code).toBe('300-S0001');
      expect(customer.body.data[0].sdsbranch).toHaveLength(1);
      const none = await data(t, 'GET', '/salesinvoice/*?docno=XX*');
      expect(none.body).toEqual({ pagination: { count: 0, offset: 0, limit: 1 }, data: [] });
    });

    it('%, _ and \\ in a pattern are literal; \\*, \\~ and \\\\ escape *, ~ and \\', async () => {
      const agents: Record<string, string> = {
        'ESC-1': 'Discount 50% off',
        'ESC-2': 'Discount 500 off',
        'ESC-3': 'Room A_B',
        'ESC-4': 'Room AXB',
        'ESC-5': 'Star * and tilde ~',
        'ESC-6': 'Path C:\\temp',
        'ESC-7': 'Path C:Xtemp',
      };
      for (const [code, description] of Object.entries(agents)) {
        expect((await data(t, 'POST', '/agent', { code, description })).status).toBe(201);
      }
      const find = (value: string) => values(`/agent/?code=ESC-*&description=${q(value)}`);
      expect(await find('*50%*')).toEqual(['ESC-1']);
      expect(await find('*50%')).toEqual([]);
      expect(await find('*a_b')).toEqual(['ESC-3']);
      expect(await find('room a_*')).toEqual(['ESC-3']);
      expect(await find('*\\**')).toEqual(['ESC-5']);
      expect(await find('*\\~')).toEqual(['ESC-5']);
      expect(await find('Star \\* and tilde \\~')).toEqual(['ESC-5']);
      expect(await find('Star \\* and*')).toEqual(['ESC-5']);
      // A backslash before anything else is itself; \\ is one backslash.
      expect(await find('*:\\temp')).toEqual(['ESC-6']);
      expect(await find('*:\\\\temp')).toEqual(['ESC-6']);
      expect(await find('Path C:\\temp')).toEqual(['ESC-6']);
      // Without the escapes, * and ~ are a wildcard and a range.
      expect((await data(t, 'GET', `/agent/?description=${q('Star*~')}`)).status).toBe(400);
    });

    it('bad patterns and ranges are a 400 VALIDATION_FAILED naming the field, never a crash', async () => {
      const cases: Array<[string, string, RegExp]> = [
        // An exact value is refused as before.
        ['/salesinvoice/', 'docdate=2026-02-30', /filter docdate must be a date YYYY-MM-DD$/],
        [
          '/salesinvoice/',
          'docdate=2026-13-01~2026-12-31',
          /docdate \(the range's lower side "2026-13-01"\) must be a date/,
        ],
        ['/salesinvoice/', 'docdate=2026-02-30~', /docdate.*date/],
        ['/salesinvoice/', 'docdate=2026-01-01~soon', /docdate.*date/],
        ['/salesinvoice/', 'docdate=2026*', /docdate.*text fields only/],
        ['/salesinvoice/', 'docdate=2026-02-01~2026-01-01', /docdate.*above/],
        ['/salesinvoice/', 'docdate=2026-01-01~2026-01-15~2026-01-31', /docdate.*a~b/],
        ['/salesinvoice/*', 'docdate=2026-01-01~2026-01-15~2026-01-31', /docdate.*a~b/],
        ['/salesinvoice/', 'docamt=1~lots', /docamt.*decimal/],
        ['/salesinvoice/', 'docamt=5*', /docamt.*text fields only/],
        ['/salesinvoice/', 'docamt=500~100', /docamt.*above/],
        ['/salesinvoice/', 'docamt=1234567890123456~', /docamt.*decimal/],
        ['/salesinvoice/', 'dockey=1~2~3', /dockey.*a~b/],
        ['/salesinvoice/', 'dockey=1.5~3', /dockey.*integer/],
        ['/salesinvoice/', 'dockey=99999999999~', /dockey.*integer/],
        ['/salesinvoice/', 'dockey=5~1', /dockey.*above/],
        ['/salesinvoice/', 'dockey=1*', /dockey.*text fields only/],
        ['/salesinvoice/', 'cancelled=t*', /cancelled.*true or false/],
        ['/salesinvoice/', 'cancelled=false~true', /cancelled.*true or false/],
        ['/customer/', 'code=a~b~c', /code.*a~b/],
        ['/customer/', 'code=~', /code.*no side/],
        ['/customer/', 'code=a*~b', /code.*wildcards/],
        ['/customer/', 'code=a~*', /code.*wildcards/],
        ['/customer/', 'code=Z~A', /code.*above/],
        ['/customer/', `code=${q('*a*b*c*d*e*f*g*h*i*j*k')}`, /code.*at most 10/],
        ['/customer/*', `code=${q('*a*b*c*d*e*f*g*h*i*j*k')}`, /code.*at most 10/],
        ['/agent/', 'lastmodified=1~5', /lastmodified/],
        ['/agent/', 'lastmodified=1*', /lastmodified/],
      ];
      for (const [path, query, message] of cases) {
        const res = await data(t, 'GET', `${path}?${query}`);
        expect(res.status, `${path}?${query}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_FAILED');
        expect(res.body.error.message, `${path}?${query}`).toMatch(message);
      }
      // Ten wildcards are fine.
      expect(await values(`/customer/?code=${q('*0*0*0*0*0*0*0*0*0*1')}`)).toHaveLength(0);
      expect(await values(`/customer/?code=${q('3*0*0*-*0*0*0*1*')}`)).toHaveLength(4);
    });

    it('seeded fuzz: random values of every kind get 200 or 400, never a 5xx', async () => {
      const rnd = mulberry32(Number(process.env.FUZZ_SEED ?? 0x5eed18));
      const alphabet = [
        '*',
        '*',
        '~',
        '~',
        '\\',
        '%',
        '_',
        'a',
        'Z',
        '0',
        '1',
        '9',
        '-',
        '.',
        ' ',
        'é',
        '😀',
        "'",
        '"',
        '2026-10-10',
      ];
      const fields: Array<[string, string]> = [
        ['/customer/', 'code'],
        ['/customer/', 'companyname'],
        ['/customer/', 'creditlimit'],
        ['/customer/*', 'code'],
        ['/salesinvoice/', 'docdate'],
        ['/salesinvoice/', 'dockey'],
        ['/salesinvoice/', 'docamt'],
        ['/salesinvoice/', 'cancelled'],
        ['/salesinvoice/*', 'docno'],
      ];
      const seen = new Map<number, number>();
      for (let i = 0; i < 150; i++) {
        const [path, field] = pick(rnd, fields);
        const length = Math.floor(rnd() * 12);
        let value = '';
        for (let j = 0; j < length; j++) value += pick(rnd, alphabet);
        const res = await data(t, 'GET', `${path}?${field}=${q(value)}`);
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect([200, 400], `${path}?${field}=${value}: ${JSON.stringify(res.body)}`).toContain(res.status);
        if (res.status === 400) expect(res.body.error.code).toBe('VALIDATION_FAILED');
        else expect(res.body.pagination.count).toBe(res.body.data.length);
      }
      // Both outcomes occurred, so the fuzz reached the SQL as well as the refusals.
      expect(seen.get(200)).toBeGreaterThan(10);
      expect(seen.get(400)).toBeGreaterThan(10);
    });

    it('a pattern still answers at most 50 records, paged with offset', async () => {
      for (let i = 0; i < 55; i++) {
        const res = await data(t, 'POST', '/area', {
          code: `CAP-${String(i).padStart(2, '0')}`,
          description: 'cap',
        });
        expect(res.status).toBe(201);
      }
      const capped = await data(t, 'GET', '/area/?code=cap-*&limit=500');
      expect(capped.body.pagination).toEqual({ count: 50, offset: 0, limit: 50 });
      const rest = await data(t, 'GET', '/area/?code=CAP-*&offset=50');
      expect(rest.body.pagination).toEqual({ count: 5, offset: 50, limit: 50 });
      expect(await values('/area/?code=CAP-0~CAP-09&limit=500')).toHaveLength(10);
    });
  });

  describe('query plans', () => {
    const t = useTestApp(engine);

    /** The SQL and parameters listRecords runs, caught on their way to the database. */
    const listSql = async (def: ResourceDef, query: Record<string, string>) => {
      const nodes: RootOperationNode[] = [];
      const catcher: KyselyPlugin = {
        transformQuery: (args) => {
          nodes.push(args.node);
          return args.node;
        },
        transformResult: async (args) => args.result,
      };
      const db = t.runtime.svc.db as unknown as DataDb;
      const ctx: DataContext = {
        db: db.withPlugin(catcher),
        engine: t.runtime.svc.engine,
        clock: t.runtime.svc.clock,
        tenantId: t.tenantId,
      };
      await listRecords(ctx, def, query);
      expect(nodes).toHaveLength(1);
      return db.getExecutor().compileQuery(nodes[0] as RootOperationNode, createQueryId());
    };

    const plan = async (def: ResourceDef, query: Record<string, string>): Promise<string> => {
      const compiled = await listSql(def, query);
      const db = t.runtime.svc.db as unknown as DataDb;
      const explain = engine === 'postgres' ? 'explain ' : 'explain query plan ';
      const rows = await db.executeQuery<Record<string, unknown>>(
        CompiledQuery.raw(explain + compiled.sql, [...compiled.parameters]),
      );
      return rows.rows.map((r) => String(r['QUERY PLAN'] ?? r.detail)).join('\n');
    };

    it('a prefix on an indexed text field is a range scan of its folded index, on both engines', async () => {
      const db = t.runtime.svc.db as unknown as DataDb;
      // Enough rows (and statistics) that a planner prefers an index when it can use one.
      const customers = Array.from({ length: 3000 }, (_, i) => ({
        tenant_id: t.tenantId,
        code: `BULK-${String(i).padStart(5, '0')}`,
        companyname: `Bulk ${i}`,
        updatecount: 1,
        lastmodified: 0,
      }));
      for (let i = 0; i < customers.length; i += 500) {
        await db
          .insertInto('acc_customer')
          .values(customers.slice(i, i + 500))
          .execute();
      }
      await db.executeQuery(CompiledQuery.raw(engine === 'postgres' ? 'analyze acc_customer' : 'analyze'));

      const customer = resourceByName('customer') as ResourceDef;
      const prefix = await plan(customer, { code: 'bulk-0012*' });
      if (engine === 'postgres') {
        expect(prefix).toMatch(/Index (Only )?Scan using acc_customer_code_folded/);
        expect(prefix).toMatch(/Index Cond: .*lower\(.*code.*>= 'bulk-0012'.*< 'bulk-0013'/);
      } else {
        expect(prefix).toContain(
          'USING INDEX acc_customer_code_folded (tenant_id=? AND <expr>>? AND <expr><?)',
        );
      }
      // A head before a later * narrows with the same index.
      const headed = await plan(customer, { code: 'BULK-001*9' });
      expect(headed).toContain('acc_customer_code_folded');
      // And it answers what it should.
      const found = await listRecords(
        { db, engine: t.runtime.svc.engine, clock: t.runtime.svc.clock, tenantId: t.tenantId },
        customer,
        { code: 'bulk-0012*' },
      );
      expect(found.data.map((r) => r.code)).toEqual(Array.from({ length: 10 }, (_, i) => `BULK-0012${i}`));
      // Documents: docno prefixes use their folded index too (no rows needed to show it on SQLite).
      const invoice = resourceByName('salesinvoice') as ResourceDef;
      if (engine === 'sqlite')
        expect(await plan(invoice, { docno: 'IV-01*' })).toContain('acc_salesinvoice_docno_folded');
    });
  });
});
