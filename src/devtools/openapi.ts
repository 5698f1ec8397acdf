/**
 * The OpenAPI 3.1 description of the data API, from the schemas and operations that
 * src/accounting/schemas.ts reads from the resource registry (the same objects the routes
 * serialise their answers through). Each resource's record, summary and bodies are components;
 * answers and request bodies refer to them.
 *
 * `dataApiOpenApi` gives the parts to merge into a larger document (paths, tags, and the
 * component schemas, responses and security schemes they refer to); `buildOpenApi` wraps them
 * into a document of the data API alone.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import { ROUTED } from '../accounting/registry.js';
import {
  DATA_SCHEMAS,
  type DataOperation,
  dataOperations,
  Pagination,
  type ResourceSchemas,
} from '../accounting/schemas.js';
import { ErrorBody } from '../contract/common.js';
import { AUTHENTICATION_ERRORS, REQUEST_ERRORS } from '../contract/operations.js';
import { ERRORS, type ErrorCode } from '../errors.js';

export interface OpenApiOptions {
  version: string;
  serverUrl?: string;
  region: string;
  service: string;
}

type Json = Record<string, unknown>;

export interface DataApiOpenApi {
  /** Path items keyed by OpenAPI path (`/agent/`, `/agent/*`, `/agent/{code}`). */
  paths: Record<string, Json>;
  /** Components the paths refer to (`#/components/schemas/<name>`). */
  schemas: Record<string, Json>;
  /** One tag per resource, named after its title. */
  tags: Json[];
  /** Error answers shared by every operation (`#/components/responses/<name>`). */
  responses: Record<string, Json>;
  /** The security schemes the operations name (`sigv4`, `bearer`). */
  securitySchemes: Record<string, Json>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * A data API error (src/http/errors.ts): the envelope every route answers, plus a top-level
 * `message` equal to `error.message`, where SQL Account clients read it.
 */
export const DataErrorBody = Type.Object({
  message: Type.String({ description: 'the same text as error.message (SQL Account clients read it here)' }),
  error: ErrorBody.properties.error,
});

/** The bytes of a PDF answer. */
const PDF_SCHEMA = { type: 'string', format: 'binary' };

/**
 * Plain JSON of a TypeBox schema (its symbols dropped), where every nested schema object that is
 * a component is replaced by a `$ref` to it: the components are found by identity, so this
 * cannot confuse two schemas that merely look alike.
 */
function plain(schema: unknown, components: ReadonlyMap<object, string>, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((s) => plain(s, components, false));
  if (schema === null || typeof schema !== 'object') return schema;
  const component = components.get(schema);
  if (component && !top) return ref(component);
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) out[key] = plain(value, components, false);
  return out;
}

/** The components of each resource, by the schema objects they are made of. */
function componentsOf(all: readonly ResourceSchemas[]): Map<object, string> {
  const components = new Map<object, string>([
    [DataErrorBody, 'DataError'],
    [Pagination, 'Pagination'],
  ]);
  for (const s of all) {
    components.set(s.record, s.name);
    components.set(s.summary, `${s.name}Summary`);
    components.set(s.createBody, `${s.name}Create`);
    components.set(s.updateBody, `${s.name}Update`);
  }
  return components;
}

/** An error answer naming its codes (as the admin API's operations do). */
const errorResponse = (codes: readonly ErrorCode[]): Json => ({
  description: codes.map((c) => `\`${c}\``).join(', '),
  'x-error-codes': [...codes],
  content: { 'application/json': { schema: ref('DataError') } },
});

function byStatus(codes: Iterable<ErrorCode>): Map<number, ErrorCode[]> {
  const out = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code].status;
    out.set(status, [...(out.get(status) ?? []), code]);
  }
  return out;
}

/**
 * What every data operation can be refused with before its handler runs (reading the request,
 * authentication), by status: shared as `#/components/responses/Data<status>` so the ~200
 * operations do not repeat them.
 */
const COMMON = byStatus(new Set([...REQUEST_ERRORS, ...AUTHENTICATION_ERRORS]));
const commonName = (status: number) => `Data${status}`;

function commonResponses(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [status, codes] of COMMON) out[commonName(status)] = errorResponse(codes);
  return out;
}

/** Error answers by status: the operation's own codes inline, the common ones by reference. */
function errorResponses(op: DataOperation): Record<string, Json> {
  const own = byStatus(op.errors.filter((c) => !COMMON.get(ERRORS[c].status)?.includes(c)));
  const out: Record<string, Json> = {};
  for (const status of [...new Set([...COMMON.keys(), ...own.keys()])].sort((a, b) => a - b)) {
    const extra = own.get(status);
    out[String(status)] = extra
      ? errorResponse([...(COMMON.get(status) ?? []), ...extra])
      : { $ref: `#/components/responses/${commonName(status)}` };
  }
  return out;
}

function parameters(op: DataOperation, keyField: string, components: Map<object, string>): Json[] {
  const out: Json[] = [];
  if (op.key) out.push({ name: keyField, in: 'path', required: true, schema: plain(op.key, components) });
  const properties = (op.querystring?.properties ?? {}) as Record<string, TSchema>;
  for (const [name, property] of Object.entries(properties)) {
    const { description, ...schema } = plain(property, components) as Json;
    out.push({ name, in: 'query', required: false, ...(description ? { description } : {}), schema });
  }
  return out;
}

function operationObject(op: DataOperation, keyField: string, components: Map<object, string>): Json {
  const responses: Record<string, Json> = {};
  for (const [status, body] of Object.entries(op.response)) {
    // A success that can also be a PDF (documents' get) lists it as a second content type.
    const pdf = op.pdf && Number(status) < 300 ? { 'application/pdf': { schema: PDF_SCHEMA } } : {};
    responses[status] = body
      ? {
          description: String((body.properties.data as Json | undefined)?.description ?? 'success'),
          content: { 'application/json': { schema: plain(body, components) }, ...pdf },
        }
      : { description: 'no content' };
  }
  const params = parameters(op, keyField, components);
  const example = (op.body as Json | undefined)?.examples as unknown[] | undefined;
  return {
    tags: [...op.tags],
    operationId: op.operationId,
    summary: op.summary,
    description: op.description,
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: plain(op.body, components, false),
                ...(example?.[0] ? { example: example[0] } : {}),
              },
            },
          },
        }
      : {}),
    security: [{ sigv4: [] }, { bearer: [] }],
    responses: { ...responses, ...errorResponses(op) },
    'x-permission': op.permission,
  };
}

export function securitySchemes(options: Pick<OpenApiOptions, 'region' | 'service'>): Record<string, Json> {
  return {
    sigv4: {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: `AWS Signature Version 4 (AWS4-HMAC-SHA256), scope ${options.region}/${options.service}`,
      'x-amazon-apigateway-authtype': 'awsSigv4',
    },
    bearer: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'token from POST /iam/login',
    },
  };
}

/** The data API's paths, component schemas and tags, to merge into an OpenAPI 3.1 document. */
export function dataApiOpenApi(options: Pick<OpenApiOptions, 'region' | 'service'>): DataApiOpenApi {
  const components = componentsOf(DATA_SCHEMAS);
  const schemas: Record<string, Json> = {};
  for (const [schema, name] of components) schemas[name] = plain(schema, components) as Json;
  const paths: Record<string, Json> = {};
  for (const s of DATA_SCHEMAS) {
    for (const op of dataOperations(s.def)) {
      paths[op.path] = {
        ...(paths[op.path] ?? {}),
        [op.method.toLowerCase()]: operationObject(op, s.def.keyField, components),
      };
    }
  }
  return {
    paths,
    schemas,
    tags: ROUTED.map((r) => ({
      name: r.title,
      description: `${r.kind} \`/${r.name}/\`${r.table ? ` (the same records as \`/${r.table}/\`)` : ''}`,
    })),
    responses: commonResponses(),
    securitySchemes: securitySchemes(options),
  };
}
