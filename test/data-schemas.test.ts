/**
 * One reading of the registry (src/accounting/schemas.ts): the routes serialise their answers
 * through the response schemas, and serialising changes nothing (every answer equals what the
 * store produced, and matches its schema exactly, nulls and decimal strings included); the body
 * and query schemas accept and refuse what the store accepts and refuses; the OpenAPI document's
 * components are those same schemas; the examples satisfy the schemas they sit on.
 */
import type { TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  detailFields,
  RESOURCES,
  type ResourceDef,
  ROUTED,
  resourceByName,
} from '../src/accounting/registry.js';
import { DATA_SCHEMAS, dataOperations, exampleOf, schemasOf } from '../src/accounting/schemas.js';
import { type DataContext, type DataDb, findOne, getRecord, listRecords } from '../src/accounting/store.js';
import { buildOpenApi } from '../src/devtools/api-document.js';
import { dataApiOpenApi } from '../src/devtools/openapi.js';
import type { App } from '../src/http/app-types.js';
import { dataRoutes } from '../src/http/routes/data.js';
import type { TestApp } from './helpers/app.js';
import { data, startDataApp } from './helpers/data.js';
import { describeEachEngine } from './helpers/each-engine.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// No coercion: a value must have exactly the type the schema names.
const strict = addFormats(new Ajv({ strict: false, allErrors: true }));
// Query strings are text: coerced to the declared types, as a query schema would be applied.
const text = addFormats(new Ajv({ strict: false, allErrors: true, coerceTypes: true }));

const errorsOf = (ajv: Ajv, schema: TSchema, value: unknown): string[] => {
  const validate = ajv.compile(schema);
  return validate(structuredClone(value))
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

const def = (name: string) => resourceByName(name) as ResourceDef;
const plainJson = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('the schemas of the registry', () => {
  it('every example satisfies the body schema it sits on', () => {
    for (const s of DATA_SCHEMAS) {
      expect(errorsOf(strict, s.createBody, exampleOf(s.createBody)), s.def.name).toEqual([]);
      expect(errorsOf(strict, s.updateBody, exampleOf(s.updateBody)), s.def.name).toEqual([]);
    }
  });

  it('the OpenAPI components are the schemas the routes use; dataApiOpenApi gives the parts buildOpenApi assembles', () => {
    const parts = dataApiOpenApi({ region: 'ap-southeast-5', service: 'sqlaccount' });
    const doc = buildOpenApi({ version: 'test', region: 'ap-southeast-5', service: 'sqlaccount' }) as {
      paths: unknown;
      components: { schemas: unknown; responses: unknown };
    };
    expect(doc.paths).toMatchObject(parts.paths);
    expect(doc.components.schemas).toEqual(parts.schemas);
    expect(doc.components.responses).toEqual(parts.responses);
    expect(parts.tags.map((t) => t.name)).toEqual(ROUTED.map((r) => r.title));
    for (const s of DATA_SCHEMAS) {
      expect(parts.schemas[s.name]).toEqual(plainJson(s.record));
      expect(parts.schemas[`${s.name}Summary`]).toEqual(plainJson(s.summary));
      expect(parts.schemas[`${s.name}Create`]).toEqual(plainJson(s.createBody));
      expect(parts.schemas[`${s.name}Update`]).toEqual(plainJson(s.updateBody));
      for (const op of dataOperations(s.def)) {
        const documented = (parts.paths[op.path] as Record<string, { operationId: string }>)[
          op.method.toLowerCase()
        ];
        expect(documented?.operationId).toBe(op.operationId);
      }
    }
    // Every reference resolves.
    const text = JSON.stringify(doc);
    for (const [, kind, name] of text.matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
      expect(
        (doc.components as Record<string, Record<string, unknown>>)[kind as string]?.[name as string],
        `${kind}/${name}`,
      ).toBeDefined();
    }
  });

  it('the data routes serialise their JSON answers through the operations’ response schemas', async () => {
    const t = await startDataApp('sqlite', false);
    try {
      const seen: RouteOptions[] = [];
      const app = Fastify();
      app.addHook('onRoute', (route) => {
        seen.push(route);
      });
      await app.register(async (scope) =>
        dataRoutes(scope as unknown as App, { ...t.runtime, version: 'test' }),
      );
      await app.ready();
      await app.close();
      for (const r of ROUTED) {
        const ops = Object.fromEntries(dataOperations(r).map((o) => [o.name, o]));
        const routeOf = (method: string, url: string) =>
          seen.find((x) => x.method === method && x.url === url)?.schema as
            | { response?: Record<number, unknown>; operationId?: string }
            | undefined;
        const s = schemasOf(r);
        for (const url of [`/${r.name}`, `/${r.name}/`]) {
          expect(routeOf('GET', url)?.response?.[200]).toBe(s.listResponse);
          expect(routeOf('POST', url)?.response?.[201]).toBe(s.writtenResponse);
          expect(routeOf('POST', url)?.operationId).toBe(ops.create?.operationId);
        }
        expect(routeOf('GET', `/${r.name}/:key`)?.response?.[200]).toBe(s.oneResponse);
        expect(routeOf('PUT', `/${r.name}/:key`)?.response?.[200]).toBe(s.writtenResponse);
        expect(routeOf('GET', `/${r.name}/`)?.operationId).toBe(ops.list?.operationId);
        // The same objects the OpenAPI operations name.
        expect(ops.list?.response[200]).toBe(s.listResponse);
        expect(ops.update?.response[200]).toBe(s.writtenResponse);
      }
    } finally {
      await t.close();
    }
  });
});

/** A body that sends `null` for every optional field the sample leaves out (the default is stored). */
function withNulls(r: ResourceDef): Record<string, unknown> {
  const body: Record<string, unknown> = { ...r.sample };
  for (const f of r.fields) if (!f.required && !f.readOnly && !(f.name in body)) body[f.name] = null;
  for (const detail of r.details) {
    const rows = body[detail.name] as Record<string, unknown>[] | undefined;
    if (!rows) continue;
    body[detail.name] = rows.map((row) => {
      const out = { ...row };
      for (const f of detailFields(r, detail))
        if (!f.required && !f.readOnly && !(f.name in out)) out[f.name] = null;
      return out;
    });
  }
  return body;
}

describeEachEngine('answers and schemas', (engine) => {
  describe('data', () => {
    let t: TestApp;
    let ctx: DataContext;
    beforeAll(async () => {
      t = await startDataApp(engine);
      const { svc } = t.runtime;
      ctx = { db: svc.db as unknown as DataDb, engine: svc.engine, clock: svc.clock, tenantId: t.tenantId };
    });
    afterAll(async () => t?.close());

    it('every answer is what the store produced, and matches its schema exactly (demo data)', async () => {
      for (const r of ROUTED) {
        const s = schemasOf(r);
        const list = await listRecords(ctx, r, {});
        expect(errorsOf(strict, s.listResponse, list), r.name).toEqual([]);
        expect((await data(t, 'GET', `/${r.name}/`)).body).toEqual(plainJson(list));
        const found = await findOne(ctx, r, {});
        expect(errorsOf(strict, s.oneResponse, found), r.name).toEqual([]);
        expect((await data(t, 'GET', `/${r.name}/*`)).body).toEqual(plainJson(found));
        const first = list.data[0];
        if (!first) continue;
        const key = String(first[r.keyField]);
        const record = await getRecord(ctx, r, key);
        const one = await data(t, 'GET', `/${r.name}/${encodeURIComponent(key)}`);
        expect(errorsOf(strict, s.oneResponse, one.body), r.name).toEqual([]);
        expect(one.body.data[0]).toEqual(plainJson(record));
      }
    });

    it('nulls stay null and defaults fill in: created and updated records match their schemas exactly', async () => {
      for (const r of RESOURCES) {
        const s = schemasOf(r);
        const body = withNulls(r);
        expect(errorsOf(strict, s.createBody, body), r.name).toEqual([]);
        const created = await data(t, 'POST', `/${r.name}`, body);
        expect(created.status, `${r.name}: ${JSON.stringify(created.body)}`).toBe(201);
        expect(errorsOf(strict, s.writtenResponse, created.body), r.name).toEqual([]);
        const key = String(created.body.data[0][r.keyField]);
        expect(created.body.data[0]).toEqual(plainJson(await getRecord(ctx, r, key)));
        // A record read from the API can be sent back (read-only fields are ignored).
        const back = { ...created.body.data[0], updatecount: created.body.data[0].updatecount + 1 };
        expect(errorsOf(strict, s.updateBody, back), r.name).toEqual([]);
        const updated = await data(t, 'PUT', `/${r.name}/${encodeURIComponent(key)}`, back);
        expect(updated.status, `${r.name}: ${JSON.stringify(updated.body)}`).toBe(200);
        expect(errorsOf(strict, s.writtenResponse, updated.body), r.name).toEqual([]);
        expect(updated.body.data[0]).toEqual(plainJson(await getRecord(ctx, r, key)));
        expect((await data(t, 'DELETE', `/${r.name}/${encodeURIComponent(key)}`)).status).toBe(204);
      }
      // What the nulls became, spelled out for one document.
      const invoice = (await data(t, 'POST', '/salesinvoice', withNulls(def('salesinvoice')))).body.data[0];
      expect(invoice).toMatchObject({
        postdate: null,
        docnoex: null,
        currencyrate: '1.0000',
        cancelled: false,
      });
      expect(invoice.docno).toMatch(/^IV-\d{5}$/);
      expect(invoice.sdsdocdetail[0]).toMatchObject({
        disc: '',
        taxinclusive: false,
        seq: 1000,
        uom: 'UNIT',
      });
    });

    it('the body schemas accept and refuse what the store accepts and refuses', async () => {
      const cases: Array<[string, 'POST' | 'PUT', string, Record<string, unknown>]> = [
        ['agent', 'POST', '/agent', { code: 'SC-1', description: 'valid' }],
        ['agent', 'POST', '/agent', { code: 'SC-2', description: 'valid', isactive: null }],
        ['agent', 'POST', '/agent', {}],
        ['agent', 'POST', '/agent', { code: 'SC-3' }],
        ['agent', 'POST', '/agent', { code: 'SC-4', description: 'x', colour: 'red' }],
        ['agent', 'POST', '/agent', { code: 'SC-5', description: 5 }],
        ['agent', 'POST', '/agent', { code: 'SC-6', description: 'x'.repeat(201) }],
        ['agent', 'POST', '/agent', { code: 'SC-7', description: 'x', isactive: 'yes' }],
        ['agent', 'POST', '/agent', { code: 'SC-8', description: null }],
        ['agent', 'POST', '/agent', { code: '   ', description: 'x' }],
        ['agent', 'PUT', '/agent/ALI', { description: 'no updatecount' }],
        ['agent', 'PUT', '/agent/ALI', { updatecount: 'two', description: 'x' }],
        ['taxcode', 'POST', '/taxcode', { code: 'SC-T1', description: 'x', taxrate: 6 }],
        ['taxcode', 'POST', '/taxcode', { code: 'SC-T2', description: 'x', taxrate: '6.001' }],
        ['taxcode', 'POST', '/taxcode', { code: 'SC-T3', description: 'x', taxrate: '6%' }],
        ['terms', 'POST', '/terms', { code: 'SC-R1', description: 'x', termdays: 1.5 }],
        ['terms', 'POST', '/terms', { code: 'SC-R2', description: 'x', termdays: 2_147_483_648 }],
      ];
      const invoice = { docdate: '2026-11-20', code: '300-A0001' };
      const line = { itemcode: 'MISC', qty: '1', unitprice: '10.00' };
      for (const extra of [
        { sdsdocdetail: [line] },
        { sdsdocdetail: [{ ...line, qty: 2, disc: '10%+5' }] },
        { docdate: '2026-02-30', sdsdocdetail: [line] },
        { sdsdocdetail: [{ ...line, unitprice: '1.23456' }] },
        { sdsdocdetail: [{ ...line, disc: 'ten' }] },
        { sdsdocdetail: [{ ...line, dtlkey: 'x' }] },
        { sdsdocdetail: [{ ...line, colour: 'red' }] },
        { sdsdocdetail: line },
        { docno: 'x'.repeat(31) },
      ]) {
        cases.push(['salesinvoice', 'POST', '/salesinvoice', { ...invoice, ...extra }]);
      }
      for (const [name, method, url, body] of cases) {
        const s = schemasOf(def(name));
        const schema = method === 'POST' ? s.createBody : s.updateBody;
        const problems = errorsOf(strict, schema, body);
        const res = await data(t, method, url, body);
        const label = `${method} ${url} ${JSON.stringify(body).slice(0, 80)}: ${problems.join('; ')} / ${res.status} ${JSON.stringify(res.body?.error?.message)}`;
        expect(res.status, label).toBe(problems.length > 0 ? 400 : method === 'POST' ? 201 : 200);
      }
    });

    it('the query schemas accept and refuse what the store accepts and refuses', async () => {
      const cases: Array<[string, 'list' | 'find', Record<string, string>]> = [
        ['agent', 'list', { isactive: 'false' }],
        ['agent', 'list', { offset: '1', limit: '500' }],
        ['agent', 'list', { limit: '0' }],
        ['agent', 'list', { offset: '-1' }],
        ['agent', 'list', { colour: 'red' }],
        ['agent', 'list', { isactive: 'maybe' }],
        ['customer', 'list', { creditlimit: '50000' }],
        ['customer', 'list', { creditlimit: 'lots' }],
        ['salesinvoice', 'list', { agent: 'BEN', lastmodified: '0' }],
        ['salesinvoice', 'list', { docdate: '2026-13-01' }],
        ['salesinvoice', 'find', { docno: 'IV-00001' }],
        ['salesinvoice', 'find', { code: '300-A0001', docdate: '2026-10-10' }],
        ['salesinvoice', 'find', { agent: 'ALI' }],
        ['terms', 'list', { termdays: '30' }],
        ['terms', 'list', { termdays: 'thirty' }],
        // `*` wildcards and `a~b` ranges (src/accounting/filters.ts).
        ['customer', 'list', { code: '300*' }],
        ['customer', 'list', { companyname: '*trading*', code: '*0001' }],
        ['customer', 'list', { code: 'A\\*B', companyname: 'A\\~B\\\\' }],
        ['customer', 'list', { code: '300-A~300-C' }],
        ['customer', 'list', { code: '~300-B' }],
        ['customer', 'list', { code: 'a~b~c' }],
        ['customer', 'list', { code: '~' }],
        ['customer', 'list', { code: 'a*~b' }],
        ['customer', 'list', { code: '*0*0*0*0*0*0*0*0*0*1' }],
        ['customer', 'list', { code: '*0*0*0*0*0*0*0*0*0*0*1' }],
        ['customer', 'list', { creditlimit: '100~500' }],
        ['customer', 'list', { creditlimit: '~0' }],
        ['customer', 'list', { creditlimit: '-5.5~' }],
        ['customer', 'list', { creditlimit: '5*' }],
        ['customer', 'list', { creditlimit: '1~lots' }],
        ['salesinvoice', 'list', { docdate: '2026-01-01~2026-01-31' }],
        ['salesinvoice', 'list', { docdate: '2026-01-01~' }],
        ['salesinvoice', 'list', { docdate: '~2026-01-31' }],
        ['salesinvoice', 'list', { docdate: '2026-13-01~' }],
        ['salesinvoice', 'list', { docdate: '2026*' }],
        ['salesinvoice', 'list', { dockey: '1~3' }],
        ['salesinvoice', 'list', { dockey: '~3' }],
        ['salesinvoice', 'list', { dockey: '1~2~3' }],
        ['salesinvoice', 'list', { dockey: '1*' }],
        ['salesinvoice', 'list', { cancelled: 't*' }],
        ['salesinvoice', 'list', { docamt: '100~500', docno: 'IV*' }],
        ['salesinvoice', 'find', { docno: 'IV-0000*', docdate: '2026-10-11~' }],
        ['salesinvoice', 'find', { docno: 'a~b~c' }],
        ['agent', 'list', { lastmodified: '1~5' }],
      ];
      for (const [name, form, query] of cases) {
        const s = schemasOf(def(name));
        const problems = errorsOf(text, form === 'list' ? s.listQuery : s.findQuery, query);
        const url = `/${name}/${form === 'find' ? '*' : ''}?${new URLSearchParams(query)}`;
        const res = await data(t, 'GET', url);
        expect(
          res.status,
          `${url}: ${problems.join('; ')} / ${JSON.stringify(res.body?.error?.message)}`,
        ).toBe(problems.length === 0 ? 200 : 400);
      }
    });
  });
});
