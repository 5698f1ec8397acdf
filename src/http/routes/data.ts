/**
 * The accounting data API at the root, SQL Account style, generated from the resource registry:
 * for every resource `GET /{r}/` (list), `GET /{r}/*` (one with detail, by indexed fields; `%2A`
 * arrives decoded as `*`), `GET /{r}/{key}`, `POST /{r}`, `PUT /{r}/{key}`, `DELETE /{r}/{key}`.
 * Each route declares its permission (`<resource>:read|write`) for the auth hook.
 *
 * Answers are serialised through the response schemas of src/accounting/schemas.ts (the ones the
 * OpenAPI document shows), so a record can only carry the fields its schema names. Requests are
 * parsed by the store (its messages are SQL Account behaviour), so no body or query schema is
 * attached for validation.
 */

import fastJsonStringify from 'fast-json-stringify';
import type { FastifyRequest } from 'fastify';
import { seedDemoOnFirstStart } from '../../accounting/demo.js';
import { PDF_MEDIA_TYPE, pdfRequested } from '../../accounting/pdf/media.js';
import { renderDocumentPdf } from '../../accounting/pdf/render.js';
import { pdfTemplate } from '../../accounting/pdf/templates.js';
import { type ResourceDef, ROUTED } from '../../accounting/registry.js';
import { type DataOperation, type DataOperationName, dataOperations } from '../../accounting/schemas.js';
import {
  createRecord,
  type DataContext,
  type DataDb,
  deleteRecord,
  findOne,
  getRecord,
  type ListResult,
  listRecords,
  updateRecord,
} from '../../accounting/store.js';
import { withoutSigV4QueryAuth } from '../../auth/sigv4/query-auth-params.js';
import { getTenant } from '../../identity/tenants.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';

type KeyRequest = FastifyRequest<{ Params: { key: string }; Querystring: Record<string, unknown> }>;
type QueryRequest = FastifyRequest<{ Querystring: Record<string, unknown> }>;

/**
 * The query's filters: everything but a presigned URL's authentication parameters (X-Amz-Signature
 * and the rest), which the auth hook has already checked and which are not fields of any record.
 * The write routes read no query, so a presigned POST, PUT or DELETE needs nothing more.
 */
function filtersOf(request: QueryRequest): Record<string, unknown> {
  return withoutSigV4QueryAuth(request.query ?? {});
}

/** `IV-00001.pdf`: the docno, reduced to characters every client takes in a file name. */
function pdfFileName(def: ResourceDef, record: Record<string, unknown>): string {
  const docno = typeof record.docno === 'string' ? record.docno.replace(/[^A-Za-z0-9._-]+/g, '_') : '';
  return `${docno || `${def.name}-${String(record[def.keyField])}`}.pdf`;
}

type Serializer = (data: unknown) => string;
const SERIALIZERS = new WeakMap<object, Serializer>();

/**
 * The data API's response serialisers, by schema object. The schemas are built once per process
 * (src/accounting/schemas.ts) and shared by every route and every app instance of the process, so
 * each is compiled once, when first used, instead of for each of the ~340 routes of every app
 * (a document's schema has some 80 fields: compiling them all took a third of a second per app).
 */
function serializerOf(schema: object): Serializer {
  let found = SERIALIZERS.get(schema);
  if (!found) {
    let compiled: Serializer | undefined;
    found = (data) => {
      compiled ??= fastJsonStringify(schema as Parameters<typeof fastJsonStringify>[0]) as Serializer;
      return compiled(data);
    };
    SERIALIZERS.set(schema, found);
  }
  return found;
}

export async function dataRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  app.setSerializerCompiler(({ schema }) => serializerOf(schema as object));

  const contextOf = (request: FastifyRequest): DataContext => ({
    db: svc.db as unknown as DataDb,
    engine: svc.engine,
    clock: svc.clock,
    tenantId: actorOf(request).tenantId,
    database: svc.database,
  });

  const register = (def: ResourceDef) => {
    const ops = new Map(dataOperations(def).map((o) => [o.name, o]));
    // The route's description for OpenAPI tooling, and its JSON answers for serialisation.
    const schemaOf = (name: DataOperationName) => {
      const op = ops.get(name) as DataOperation;
      const response: Record<number, unknown> = {};
      for (const [status, body] of Object.entries(op.response)) if (body) response[Number(status)] = body;
      return { operationId: op.operationId, summary: op.summary, tags: [...op.tags], response };
    };
    // `dataApi`: error bodies carry a top-level `message` too (src/http/errors.ts).
    const read = (name: DataOperationName) => ({
      schema: schemaOf(name),
      config: { permission: def.permissions.read, dataApi: true },
    });
    const write = (name: DataOperationName) => ({
      schema: schemaOf(name),
      config: { permission: def.permissions.write, dataApi: true },
    });
    const base = `/${def.name}`;

    const list = async (request: QueryRequest) => listRecords(contextOf(request), def, filtersOf(request));
    app.get(base, read('list'), list);
    app.get(`${base}/`, read('list'), list);

    // One route serves `/{r}/*` (find) and `/{r}/{key}` (get): both answer `{pagination, data}`,
    // or, asked for `application/pdf` (accounting/pdf/media.ts), the document found as a PDF. The
    // template is checked before the record is read; a `*` that finds nothing answers its empty list.
    app.get(`${base}/:key`, read('get'), async (request: KeyRequest, reply) => {
      const ctx = contextOf(request);
      const pdf = pdfRequested(request.headers);
      const template = pdf ? pdfTemplate(def, pdf.template) : undefined;
      if (def.kind === 'document') reply.header('vary', 'Accept, Content-Type');
      const answer: ListResult =
        request.params.key === '*'
          ? await findOne(ctx, def, filtersOf(request))
          : {
              pagination: { count: 1, offset: 0, limit: 1 },
              data: [await getRecord(ctx, def, request.params.key)],
            };
      const record = answer.data[0];
      if (!template || !record) return answer;
      const tenant = await getTenant(svc.db, ctx.tenantId);
      const bytes = await renderDocumentPdf({ def, record, template, companyName: tenant?.name ?? '' });
      return reply
        .type(PDF_MEDIA_TYPE)
        .header('content-disposition', `inline; filename="${pdfFileName(def, record)}"`)
        .send(bytes);
    });

    const create = async (request: FastifyRequest, reply: { status(code: number): unknown }) => {
      const record = await createRecord(contextOf(request), def, request.body);
      reply.status(201);
      return { data: [record] };
    };
    app.post(base, write('create'), create);
    app.post(`${base}/`, write('create'), create);

    app.put(`${base}/:key`, write('update'), async (request: KeyRequest) => ({
      data: [await updateRecord(contextOf(request), def, request.params.key, request.body)],
    }));

    app.delete(`${base}/:key`, write('delete'), async (request: KeyRequest, reply) => {
      await deleteRecord(contextOf(request), def, request.params.key);
      return reply.status(204).send();
    });
  };

  for (const def of ROUTED) register(def);
  await seedDemoOnFirstStart(svc);
}
