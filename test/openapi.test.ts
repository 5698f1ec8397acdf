/**
 * One contract: `/openapi.json` is a valid OpenAPI 3.1 document (checked by a maintained
 * validator against the official schema) and it describes exactly the routes the server has.
 * The document does not depend on the database engine, so this runs on SQLite only.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTED } from '../src/accounting/registry.js';
import { errorsOf, type Operation, operations } from '../src/contract/operations.js';
import { ERRORS } from '../src/errors.js';
import { routesOf, startTestApp, type TestApp } from './helpers/app.js';

type Doc = {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
};

let t: TestApp;
let doc: Doc;
beforeAll(async () => {
  t = await startTestApp('sqlite');
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => t?.close());

/** A registered route as the document names it (data routes have a few spellings of one path). */
function documentedAs(method: string, path: string): string {
  const data = ROUTED.find((r) => path === `/${r.name}` || path.startsWith(`/${r.name}/`));
  if (data) {
    if (path === `/${data.name}`) return `/${data.name}/`;
    if (path === `/${data.name}/:key`)
      return method === 'GET' ? `/${data.name}/*` : `/${data.name}/{${data.keyField}}`;
    return path;
  }
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every registered route, and nothing the server does not have', () => {
    // `/*` is the gateway's catch-all: registered APIs' requests follow their own contracts (the
    // document's description says so), so it is the one route the document does not list.
    const registered = new Set(
      routesOf(t.app)
        .filter(({ path }) => path !== '/*')
        .map(({ method, path }) => `${method} ${documentedAs(method, path)}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    // `GET /{resource}/:key` serves both `/{resource}/*` and `/{resource}/{key}`.
    for (const r of ROUTED) registered.add(`GET /${r.name}/{${r.keyField}}`);
    expect([...registered].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((d) => !registered.has(d)).sort()).toEqual([]);
  });

  it('gives every operation an id, a success answer and the error codes it can send, each with its status', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect(operation.operationId, `${method} ${path}`).toBeTruthy();
        expect(ids.has(operation.operationId), operation.operationId).toBe(false);
        ids.add(operation.operationId);
        expect(Object.keys(operation.responses).some((s) => /^[23]/.test(s))).toBe(true);
      }
    }
    for (const op of Object.values(operations) as Operation[]) {
      const path = op.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const responses = doc.paths[path]?.[op.method.toLowerCase()]?.responses as Record<
        string,
        { 'x-error-codes'?: string[] }
      >;
      for (const code of errorsOf(op)) {
        const status = String(ERRORS[code].status);
        expect(responses[status]?.['x-error-codes'], `${op.schema.operationId} ${code}`).toContain(code);
      }
    }
  });

  it('the contract and the routes agree: each contract operation is served by its own route', () => {
    const served = new Set(routesOf(t.app).map(({ method, path }) => `${method} ${path}`));
    for (const op of Object.values(operations) as Operation[]) {
      expect(served.has(`${op.method} ${op.url}`), `${op.method} ${op.url}`).toBe(true);
    }
  });

  it('/docs renders all of it: every operation, the error catalogue and the data API', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    for (const op of Object.values(operations) as Operation[]) {
      expect(res.body, op.schema.operationId).toContain(`id="${op.schema.operationId}"`);
    }
    for (const code of Object.keys(ERRORS)) expect(res.body, code).toContain(`<code>${code}</code>`);
    for (const r of ROUTED) expect(res.body).toContain(`id="${r.name}"`);
  });
});
