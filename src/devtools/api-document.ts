/**
 * The OpenAPI 3.1 document of the whole API: the admin API from the contract's operations (the
 * same objects the routes are registered from) and the data API from the resource registry.
 * test/openapi.test.ts checks it against the OpenAPI schema and against the registered routes.
 */
import type { TSchema } from '@sinclair/typebox';
import { ErrorBody } from '../contract/common.js';
import { errorsOf, type Operation, operations } from '../contract/operations.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { dataApiOpenApi, type OpenApiOptions } from './openapi.js';

type Json = Record<string, unknown>;

/** TypeBox schemas are JSON Schema (2020-12, as OpenAPI 3.1 uses): only its symbols are dropped. */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(op: Operation): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', op.schema.params],
    ['query', op.schema.querystring],
  ] as const) {
    if (!schema) continue;
    const object = plain(schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...rest } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

function errorResponses(op: Operation): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorsOf(op)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, Json> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const body = plain(ErrorBody) as { properties: { error: Json & { properties: Json } } };
    body.properties.error.properties = {
      ...(body.properties.error.properties as Json),
      code: { type: 'string', enum: codes },
    };
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERRORS[c].meaning}`).join('; '),
      'x-error-codes': codes,
      content: { 'application/json': { schema: body } },
    };
  }
  return out;
}

function operationObject(op: Operation): Json {
  const { schema } = op;
  const responses: Record<string, Json> = {};
  for (const [status, body] of Object.entries(schema.response)) {
    responses[status] =
      body === null
        ? { description: 'no content' }
        : { description: 'success', content: { 'application/json': { schema: plain(body) } } };
  }
  if (op.html) {
    const ok = responses['200'] ?? { description: op.html };
    responses['200'] = {
      ...ok,
      description: ok.content ? `${String(ok.description)}; or ${op.html}` : op.html,
      content: { ...((ok.content as Json) ?? {}), 'text/html': { schema: { type: 'string' } } },
    };
  }
  if (op.text)
    responses['200'] = { description: op.text, content: { 'text/plain': { schema: { type: 'string' } } } };
  Object.assign(responses, errorResponses(op));
  const who =
    op.auth === 'none'
      ? op.access
        ? '' // an open route that checks something else (the metrics token, the original request's credentials)
        : 'Open: no credentials.'
      : op.permission
        ? `Needs \`${op.permission}\`.`
        : '';
  const access = op.access ? `Who: ${op.access}.` : '';
  const description = [schema.description, who, access].filter(Boolean).join('\n\n');
  const body = schema.body
    ? {
        requestBody: {
          required: !op.bodyOptional,
          content: {
            'application/json': { schema: plain(schema.body) },
            ...(op.formBody ? { 'application/x-www-form-urlencoded': { schema: plain(schema.body) } } : {}),
          },
        },
      }
    : {};
  const params = parameters(op);
  return {
    operationId: schema.operationId,
    summary: schema.summary,
    ...(description ? { description } : {}),
    tags: [...schema.tags],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...body,
    responses,
    ...(op.auth === 'none' ? { security: [] } : {}),
    ...(op.permission ? { 'x-permission': op.permission } : {}),
  };
}

/** The document served at /openapi.json. */
export function buildOpenApi(options: OpenApiOptions): Json {
  const data = dataApiOpenApi(options);
  const paths: Record<string, Json> = {};
  for (const op of Object.values(operations) as Operation[]) {
    const path = openApiPath(op.url);
    paths[path] = { ...(paths[path] ?? {}), [op.method.toLowerCase()]: operationObject(op) };
  }
  const adminTags = [...new Set(Object.values(operations).flatMap((o) => o.schema.tags))];
  return {
    openapi: '3.1.0',
    info: {
      title: 'latchkey API',
      version: options.version,
      description:
        'The admin API (`/iam`: users, service accounts, access keys, groups, roles, settings, audit) and the accounting data API (SQL Account compatible). ' +
        'Every request but the open ones is signed with AWS Signature Version 4 (an access key and its secret) or carries a Bearer token from `POST /iam/login`. ' +
        `Signing scope: region \`${options.region}\`, service \`${options.service}\`. ` +
        'Errors are `{"error":{"code","message","requestId"}}`; each operation lists the codes it can answer. ' +
        'Requests under the base path of a registered API (`/iam/apis`) are not listed here: latchkey verifies them, authorizes them by the matched route and forwards them to the API, whose own contract they follow (`403 NO_MATCHING_ROUTE`, `502 UPSTREAM_UNAVAILABLE`, `504 UPSTREAM_TIMEOUT` are the gateway’s).',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [...adminTags.map((name) => ({ name })), ...data.tags],
    paths: { ...paths, ...data.paths },
    components: {
      schemas: data.schemas,
      responses: data.responses,
      securitySchemes: data.securitySchemes,
    },
    security: [{ sigv4: [] }, { bearer: [] }],
  };
}
