/**
 * A real upgrade: a deployment made by the previous release (d75cbe2: demo data plus records that
 * use the field names issue 18 renamed; test/fixtures/upgrade/README.md says how it was made) is
 * restored from its SQL dump into a scratch database, and the current latchkey starts on it. Its
 * migrations bring the accounting tables up to the registry, and the data API must answer every
 * old record with its old values (renamed fields under their new names), number stock items and
 * tax codes, open what is owed on settleable documents, and take new knock-off payments against
 * old invoices. A second start on the upgraded database runs no migration and changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detailFields, type FieldDef, RESOURCES, type ResourceDef } from '../src/accounting/registry.js';
import { detailTable, masterTable } from '../src/accounting/schema.js';
import { Decimal, outputRow, storedDefault, toFixedScale } from '../src/accounting/values.js';
import { migrateToLatest } from '../src/storage/migrate.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, login, type TestApp, TestClock } from './helpers/app.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import type { EngineName, ScratchDatabase } from './helpers/engines.js';
import { scratchDatabase } from './helpers/engines.js';
import { signHeaders } from './helpers/sign.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'upgrade');

interface Manifest {
  madeBy: string;
  madeAt: string;
  adminEmail: string;
  adminPassword: string;
  masterKey: string;
  secondTenant: { name: string; adminEmail: string; password: string };
  accessKeyId: string;
  secretAccessKey: string;
}

type Json = Record<string, unknown>;
type Rows = Array<Record<string, unknown>>;
/** Every row of every table, by table name. */
type Tables = Map<string, Rows>;

/** Replay the fixture's SQL dump into the (empty) scratch database. */
async function restore(engine: EngineName, db: ScratchDatabase): Promise<void> {
  const dump = fs.readFileSync(path.join(FIXTURES, `${engine}.sql`), 'utf8');
  if (engine === 'sqlite') {
    const sqlite = new SqliteDatabase(db.sqliteFile as string);
    try {
      sqlite.exec(dump);
    } finally {
      sqlite.close();
    }
    return;
  }
  // pg_dump's `\restrict`/`\unrestrict` lines are psql commands, not SQL (the dump has no COPY:
  // it was made with --column-inserts), so the rest runs as one multi-statement query.
  const script = dump
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n');
  const client = new pg.Client({ connectionString: db.postgresUrl });
  await client.connect();
  try {
    await client.query(script);
  } finally {
    await client.end();
  }
}

/** The rows of the tables whose names match, read straight from the database. */
async function readTables(engine: EngineName, db: ScratchDatabase, match: RegExp): Promise<Tables> {
  const out: Tables = new Map();
  const sorted = (rows: Rows) =>
    rows.map((r) => ({ ...r })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  if (engine === 'sqlite') {
    const sqlite = new SqliteDatabase(db.sqliteFile as string, { readonly: true });
    try {
      const names = sqlite.prepare("select name from sqlite_master where type = 'table'").all() as Array<{
        name: string;
      }>;
      for (const { name } of names.filter((n) => match.test(n.name)))
        out.set(name, sorted(sqlite.prepare(`select * from "${name}"`).all() as Rows));
    } finally {
      sqlite.close();
    }
    return out;
  }
  const client = new pg.Client({ connectionString: db.postgresUrl });
  await client.connect();
  try {
    const names = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    for (const { table_name: name } of names.rows.filter((n) => match.test(n.table_name)))
      out.set(name, sorted((await client.query(`select * from "${name}"`)).rows));
  } finally {
    await client.end();
  }
  return out;
}

/** A stored value as the API answers a field of that type (outputRow). */
const answered = (field: FieldDef, value: unknown): unknown =>
  outputRow([field], { [field.name]: value })[field.name];

/** The field an old column became: the same name, or a field that lists it as an older name. */
const fieldFor = (fields: readonly FieldDef[], column: string): FieldDef | undefined =>
  fields.find((f) => f.name === column) ?? fields.find((f) => f.aliases?.includes(column));

const money = (v: Decimal) => toFixedScale(v, 2);

describeEachEngine('upgrade of a deployment made by the previous release', (engine) => {
  const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${engine}.json`), 'utf8')) as Manifest;
  // The fixture's clock: its access key and token-signing keys are as fresh as on the day it was made.
  const clock = new TestClock(new Date(Date.parse(fixture.madeAt) + 3_600_000));
  const env = { LATCHKEY_MASTER_KEY: fixture.masterKey };
  const db = {} as ScratchDatabase;
  /** The old deployment's accounting tables, as restored (before any migration of this release). */
  let before: Tables;
  /** The accounting tables and the migration log after the first start and the test's writes. */
  let afterFirst: Tables;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    expect([fixture.adminEmail, fixture.adminPassword]).toEqual([ADMIN_EMAIL, ADMIN_PASSWORD]);
    Object.assign(db, await scratchDatabase(engine));
    await restore(engine, db);
    before = await readTables(engine, db, /^(acc_|kysely_migration$)/);
  }, 60_000);
  afterAll(async () => db.drop?.());

  describe('first start of this release', () => {
    const t = useTestApp(engine, () => ({ db, clock, env }));
    // Registered after useTestApp's, so it runs before the app closes: what the second start must keep.
    afterAll(async () => {
      afterFirst = await readTables(engine, db, /^(acc_|kysely_migration$)/);
    });
    const get = async (p: string, token?: string) => {
      const res = await data(t, 'GET', p, undefined, token);
      expect(res.status, `GET ${p}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.data as Json[];
    };
    const one = async (p: string, token?: string) => (await get(p, token))[0] as Json;
    const created = async (p: string, body: Json, token?: string) => {
      const res = await data(t, 'POST', p, body, token);
      expect(res.status, `POST ${p}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.data[0] as Json;
    };
    /** The record an old row is, read through the API by its key as the owner tenant. */
    const recordOf = async (def: ResourceDef, row: Record<string, unknown>) => {
      const token = tokens.get(String(row.tenant_id));
      expect(token, `a token for tenant ${row.tenant_id}`).toBeDefined();
      const p =
        def.kind === 'document'
          ? `/${def.name}/${row.dockey}`
          : def.keyField === 'code'
            ? `/${def.name}/${encodeURIComponent(String(row.code))}`
            : `/${def.name}/*?code=${encodeURIComponent(String(row.code))}`;
      return one(p, token);
    };

    it('ran the new migration, and both tenants sign in', async () => {
      const names = (before.get('kysely_migration') ?? []).map((r) => r.name);
      expect(names).toEqual([
        '2026-11-23-0001-core',
        '2026-11-23-0002-accounting',
        '2026-11-23-0003-notify',
        '2026-12-04-0004-security',
      ]);
      const now = await readTables(engine, db, /^kysely_migration$/);
      expect((now.get('kysely_migration') ?? []).map((r) => r.name)).toEqual([
        ...names,
        '2026-12-04-0005-fidelity',
        '2026-12-04-0006-gateway',
        '2026-12-04-0007-traffic',
        '2026-12-05-0008-webhooks',
        '2026-12-05-0009-mfa',
        '2026-12-05-0010-sso',
        '2026-12-05-0011-leaks',
        '2026-12-05-0012-session-credentials',
        '2026-12-05-0013-sso-flow-tenant',
      ]);
      tokens.set(t.tenantId, t.adminToken);
      const second = await login(t, fixture.secondTenant.adminEmail, fixture.secondTenant.password);
      const me = await data(t, 'GET', '/iam/me', undefined, second);
      expect(me.body.tenantId).not.toBe(t.tenantId);
      tokens.set(me.body.tenantId, second);
      const tenants = new Set((before.get('acc_stockitem') ?? []).map((r) => r.tenant_id));
      expect([...tenants].sort()).toEqual([...tokens.keys()].sort());
    });

    it('answers every old record with its old values, renamed fields under their new names', async () => {
      const unanswered = new Set<string>();
      let compared = 0;
      for (const def of RESOURCES) {
        const oldRows = before.get(masterTable(def)) ?? [];
        for (const row of oldRows) {
          const record = await recordOf(def, row);
          for (const [column, value] of Object.entries(row)) {
            if (column === 'tenant_id') continue;
            const field = fieldFor(def.fields, column);
            if (!field) {
              if (value !== null) unanswered.add(`${masterTable(def)}.${column}`);
              continue;
            }
            expect(record[field.name], `${def.name} ${row.code ?? row.docno} ${column}`).toEqual(
              answered(field, value),
            );
            compared++;
          }
          // Detail rows, by dtlkey: the array stored in the table the old release wrote them to.
          for (const [table, rows] of before) {
            if (!table.startsWith(`${masterTable(def)}_`)) continue;
            const link = def.kind === 'document' ? 'dockey' : 'code';
            const mine = rows.filter((r) => r.tenant_id === row.tenant_id && r[link] === row[link]);
            const detail = def.details.find((d) => detailTable(def, d) === table);
            if (!detail) {
              for (const r of mine)
                for (const [c, v] of Object.entries(r))
                  if (c !== 'tenant_id' && v !== null) unanswered.add(`${table}.${c}`);
              continue;
            }
            const answeredRows = (record[detail.name] ?? []) as Json[];
            expect(answeredRows.map((r) => r.dtlkey).sort()).toEqual(
              mine.map((r) => Number(r.dtlkey)).sort(),
            );
            const fields = detailFields(def, detail);
            for (const r of mine) {
              const got = answeredRows.find((a) => a.dtlkey === Number(r.dtlkey)) as Json;
              for (const [column, value] of Object.entries(r)) {
                if (column === 'tenant_id') continue;
                const field = fieldFor(fields, column);
                if (!field) {
                  if (value !== null) unanswered.add(`${table}.${column}`);
                  continue;
                }
                expect(got[field.name], `${def.name} ${row.code ?? row.docno} ${table} ${column}`).toEqual(
                  answered(field, value),
                );
                compared++;
              }
            }
          }
        }
      }
      expect(compared).toBeGreaterThan(1000);
      // Only the old payment lines are no longer answered: a payment now takes docamt and knock-offs.
      expect([...unanswered].sort()).toEqual(
        ['account', 'amount', 'dockey', 'dtlkey', 'seq', 'taxamt', 'taxrate'].map(
          (c) => `acc_customerpayment_dtl.${c}`,
        ),
      );
    });

    it('new fields of old records and their detail rows answer what a new record would hold', async () => {
      /** Fields (not computed) the old table lacked, under no older name: they hold their default. */
      const newFields = (fields: readonly FieldDef[], oldRow: Record<string, unknown> | undefined) =>
        fields.filter(
          (f) => !f.readOnly && !(f.name in (oldRow ?? {})) && !f.aliases?.some((a) => a in (oldRow ?? {})),
        );
      const wrong: string[] = [];
      const check = (what: string, fields: FieldDef[], got: Json) => {
        for (const field of fields) {
          const want = answered(field, storedDefault(field));
          if (got[field.name] !== want)
            wrong.push(
              `${what} ${field.name}: ${JSON.stringify(got[field.name])}, not ${JSON.stringify(want)}`,
            );
        }
      };
      let checked = 0;
      for (const def of RESOURCES) {
        const oldRows = before.get(masterTable(def)) ?? [];
        const added = newFields(def.fields, oldRows[0]);
        for (const row of oldRows) {
          const record = await recordOf(def, row);
          check(`${def.name} ${row.code ?? row.docno}`, added, record);
          for (const detail of def.details) {
            const oldLines = before.get(detailTable(def, detail)) ?? [];
            const addedInLines = newFields(detailFields(def, detail), oldLines[0]);
            for (const line of (record[detail.name] ?? []) as Json[]) {
              check(`${def.name} ${row.code ?? row.docno} ${detail.name} ${line.dtlkey}`, addedInLines, line);
              checked++;
            }
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(150);
      expect(wrong).toEqual([]);
    });

    it('renamed fields: journal and voucher lines code, creditterm, termday, sales/purchase, sltax/phtax, unitprice', async () => {
      const jv = await one('/journalentry/*?docno=JV-U0001');
      expect(jv.sdsdocdetail).toMatchObject([
        { code: '900-000', description: 'Stationery', dr: '120.00', cr: '0.00' },
        { code: '320-000', dr: '0.00', cr: '120.00' },
      ]);
      expect((jv.sdsdocdetail as Json[])[0]).not.toHaveProperty('account');
      const demoJv = await one('/journalentry/*?docno=JV-00001');
      expect((demoJv.sdsdocdetail as Json[]).map((l) => [l.code, l.project, l.dr, l.cr])).toEqual([
        ['905-000', 'SHOWROOM', '4500.00', '0.00'],
        ['310-000', null, '0.00', '4500.00'],
      ]);
      const pv = await one('/paymentvoucher/*?docno=PV-U0001');
      expect(pv).toMatchObject({ paymentmethod: '310-000', chequenumber: 'MBB 100234', docamt: '800.00' });
      expect(pv.sdsdocdetail).toMatchObject([
        { code: '905-000', description: 'Rent Nov 2026', amount: '800.00' },
      ]);

      expect(await one('/customer/300-U0001')).toMatchObject({
        creditterm: '45 DAYS',
        creditlimit: '8000.00',
      });
      expect((await one('/customer/300-A0001')).creditterm).toBe('30 DAYS');
      expect((await one('/supplier/400-B0001')).creditterm).toBe('C.O.D.');
      expect(await one(`/terms/${encodeURIComponent('45 DAYS')}`)).toMatchObject({ termday: 45 });
      expect((await one(`/terms/${encodeURIComponent('60 DAYS')}`)).termday).toBe(60);
      expect(await one('/stockgroup/FURN')).toMatchObject({ sales: '500-000', purchase: '610-000' });
      expect(await one('/stockgroup/UPG')).toMatchObject({ sales: '500-000', purchase: '610-000' });
      expect(await one('/stockitem/*?code=AAA-UPG')).toMatchObject({
        sltax: 'ST-5',
        phtax: 'AA-0',
        refcost: '7.00',
        remark1: 'made by the previous release',
      });
      expect((await one('/stockitem/*?code=ISCT')).sltax).toBe('ST-10');
      const sr = await one('/stockreceived/*?docno=SR-U0001');
      expect(sr.sdsdocdetail).toMatchObject([
        { itemcode: 'AAA-UPG', location: 'KL-WH', qty: '5.0000', unitprice: '7.2500', amount: '36.25' },
      ]);
      expect(sr.docamt).toBe('36.25');
      // The renamed fields are found by their new names in filters too.
      expect((await get('/customer/?creditterm=45%20DAYS')).map((c) => c.code)).toEqual(['300-U0001']);
    });

    it('computed line fields of old documents agree with their stored amounts', async () => {
      for (const def of RESOURCES.filter((r) => ['trade', 'lines', 'journal'].includes(r.compute))) {
        for (const row of before.get(masterTable(def)) ?? []) {
          const doc = await recordOf(def, row);
          const rate = new Decimal(String(doc.currencyrate));
          for (const line of (doc.sdsdocdetail ?? []) as Json[]) {
            const what = `${def.name} ${doc.docno} line ${line.dtlkey}`;
            if (def.compute === 'journal') {
              expect([line.localdr, line.localcr], what).toEqual([
                money(rate.mul(String(line.dr))),
                money(rate.mul(String(line.cr))),
              ]);
              continue;
            }
            const amount = new Decimal(String(line.amount));
            const taxamt = new Decimal(String(line.taxamt));
            expect([line.localamount, line.localtaxamt, line.amountwithtax], what).toEqual([
              money(amount.mul(rate)),
              money(taxamt.mul(rate)),
              money(amount.add(taxamt)),
            ]);
          }
        }
      }
    });

    it('stock items get distinct dockeys in code order per tenant, GET /stockitem/{dockey} works, a new item takes the next', async () => {
      for (const [tenant, token] of tokens) {
        const codes = (before.get('acc_stockitem') ?? [])
          .filter((r) => r.tenant_id === tenant)
          .map((r) => String(r.code))
          .sort();
        const items = await get('/stockitem/', token);
        const keys = new Map(items.map((i) => [i.code, i.dockey]));
        expect(codes.map((c) => keys.get(c))).toEqual(codes.map((_, i) => i + 1));
        for (const code of codes) {
          const item = await one(`/stockitem/${keys.get(code)}`, token);
          expect(item.code).toBe(code);
        }
      }
      const tenantItems = (tenant: string) =>
        (before.get('acc_stockitem') ?? []).filter((r) => r.tenant_id === tenant).length;
      expect(await one('/stockitem/1')).toMatchObject({ code: 'AAA-UPG', description: 'Upgrade item' });
      expect(((await one('/stockitem/1')).sdsuom as Json[]).map((u) => [u.uom, u.rate])).toEqual([
        ['UNIT', '1.0000'],
        ['CTN', '24.0000'],
      ]);
      const item = await created('/stockitem', {
        code: 'NEW-01',
        description: 'Made after the upgrade',
        sltax: 'ST-10',
        sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true }],
      });
      expect(item.dockey).toBe(tenantItems(t.tenantId) + 1);
      expect((await one(`/stockitem/${item.dockey}`)).code).toBe('NEW-01');
      const [secondTenant, secondToken] = [...tokens].find(([id]) => id !== t.tenantId) as [string, string];
      const other = await created(
        '/stockitem',
        { code: 'NEW-01', description: 'Second tenant' },
        secondToken,
      );
      expect(other.dockey).toBe(tenantItems(secondTenant) + 1);
      // An old item updates and deletes like a new one.
      const old = await one('/stockitem/*?code=MISC');
      const changed = await data(t, 'PUT', `/stockitem/${old.dockey}`, {
        ...old,
        description: 'Miscellaneous (upgraded)',
        updatecount: Number(old.updatecount) + 1,
      });
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      expect(changed.body.data[0]).toMatchObject({ dockey: old.dockey, sltax: old.sltax });
      expect((await data(t, 'POST', '/stockitem', { code: 'ISCT', description: 'again' })).status).toBe(409);
    });

    it('tax codes get autokeys in code order per tenant: /tax/{autokey} works, a new one takes the next', async () => {
      for (const [tenant, token] of tokens) {
        const codes = (before.get('acc_taxcode') ?? [])
          .filter((r) => r.tenant_id === tenant)
          .map((r) => String(r.code))
          .sort();
        for (const [i, code] of codes.entries()) {
          const tax = await one(`/tax/${i + 1}`, token);
          expect(tax).toMatchObject({ code, autokey: i + 1 });
          expect((await one(`/taxcode/${encodeURIComponent(code)}`, token)).autokey).toBe(i + 1);
        }
      }
      expect(await one('/tax/1')).toMatchObject({ code: 'AA-0', taxrate: '0.00' });
      const count = (before.get('acc_taxcode') ?? []).filter((r) => r.tenant_id === t.tenantId).length;
      const tax = await created('/taxcode', { code: 'ZZ-1', description: 'New', taxrate: '1.00' });
      expect(tax.autokey).toBe(count + 1);
      expect((await one(`/tax/${count + 1}`)).code).toBe('ZZ-1');
    });

    it('what is open on old documents is their docamt: invoices outstanding, payments unapplied', async () => {
      for (const def of RESOURCES.filter((r) => r.knockOffTarget || r.knocksOff)) {
        const open = def.knockOffTarget?.openField ?? 'outstanding';
        for (const row of before.get(masterTable(def)) ?? []) {
          const doc = await recordOf(def, row);
          expect(doc[open], `${def.name} ${doc.docno} ${open}`).toBe(doc.docamt);
        }
      }
      expect(await one('/salesinvoice/*?docno=IV-U0001')).toMatchObject({
        docamt: '99.00',
        outstanding: '99.00',
      });
      const payment = await one('/customerpayment/*?docno=OR-U0001');
      expect(payment).toMatchObject({
        code: '300-U0001',
        paymentmethod: '310-000',
        description: 'Part payment',
        docamt: '45.50',
        unappliedamt: '45.50',
        sdsknockoff: [],
      });
      expect(payment).not.toHaveProperty('sdsdocdetail');
      expect(await one('/customerpayment/*?docno=OR-00001')).toMatchObject({
        docamt: '1500.00',
        unappliedamt: '1500.00',
      });
    });

    it('a new customer payment knocks off an old invoice and lowers what it has outstanding', async () => {
      const invoice = await one('/salesinvoice/*?docno=IV-U0001');
      const payment = await created('/customerpayment', {
        code: '300-U0001',
        docdate: '2026-12-01',
        paymentmethod: '310-000',
        docamt: '60.00',
        sdsknockoff: [{ doctype: 'IV', docno: 'IV-U0001', koamt: '30.00' }],
      });
      expect(payment).toMatchObject({ docamt: '60.00', unappliedamt: '30.00' });
      expect((payment.sdsknockoff as Json[])[0]).toMatchObject({
        refresource: 'salesinvoice',
        refdockey: invoice.dockey,
        koamt: '30.00',
        outstanding: '69.00',
      });
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('69.00');
      // More than is outstanding is refused and changes nothing.
      const over = await data(t, 'POST', '/customerpayment', {
        code: '300-U0001',
        docdate: '2026-12-01',
        paymentmethod: '310-000',
        docamt: '70.00',
        sdsknockoff: [{ doctype: 'IV', docno: 'IV-U0001', koamt: '70.00' }],
      });
      expect(over.status).toBe(400);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('69.00');
      // The old payments are still there as they were, and the old invoice can still be paid off.
      expect((await one('/customerpayment/*?docno=OR-U0001')).unappliedamt).toBe('45.50');
      const rest = await created('/customerpayment', {
        code: '300-U0001',
        docdate: '2026-12-02',
        paymentmethod: '310-000',
        docamt: '69.00',
        sdsknockoff: [{ doctype: 'IV', refdockey: invoice.dockey, koamt: '69.00' }],
      });
      expect(rest.unappliedamt).toBe('0.00');
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('0.00');
    });

    it('an old record read from the API can be sent back', async () => {
      for (const p of ['/journalentry/*?docno=JV-U0001', '/paymentvoucher/*?docno=PV-U0001']) {
        const doc = await one(p);
        const res = await data(t, 'PUT', `${p.split('/*')[0]}/${doc.dockey}`, {
          ...doc,
          description: 'sent back',
          updatecount: Number(doc.updatecount) + 1,
        });
        expect(res.status, `${p}: ${JSON.stringify(res.body)}`).toBe(200);
        expect(res.body.data[0]).toMatchObject({ description: 'sent back', docamt: doc.docamt });
      }
      const customer = await one('/customer/300-U0001');
      const res = await data(t, 'PUT', '/customer/300-U0001', {
        ...customer,
        companyname: 'Upgrade Test Sdn Bhd (sent back)',
        updatecount: Number(customer.updatecount) + 1,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data[0].creditterm).toBe('45 DAYS');
    });

    it("the old deployment's access key still signs requests", async () => {
      const headers = await signHeaders(
        { accessKeyId: fixture.accessKeyId, secretAccessKey: fixture.secretAccessKey },
        { method: 'GET', path: '/customer/300-U0001', host: 'localhost:80', date: clock.now() },
      );
      const res = await t.app.inject({ method: 'GET', url: '/customer/300-U0001', headers });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().data[0].creditterm).toBe('45 DAYS');
    });
  });

  describe('second start on the upgraded database', () => {
    const t: TestApp = useTestApp(engine, () => ({ db, clock, env }));

    it('runs no migration and changes nothing', async () => {
      expect(afterFirst, 'the first start ran').toBeDefined();
      expect(await migrateToLatest(t.runtime.svc.db)).toEqual([]);
      const now = await readTables(engine, db, /^(acc_|kysely_migration$)/);
      expect([...now.keys()].sort()).toEqual([...afterFirst.keys()].sort());
      for (const [table, rows] of afterFirst) expect(now.get(table), table).toEqual(rows);
      const item = await data(t, 'GET', '/stockitem/*?code=NEW-01');
      expect(item.body.data[0].dockey).toBe(7);
      const next = await data(t, 'POST', '/stockitem', { code: 'NEW-02', description: 'After a restart' });
      expect(next.body.data[0].dockey).toBe(8);
    });
  });
});
