/** The OpenAPI 3.1 document of the data API, generated from the resource registry. */
import {
  detailFields,
  type FieldDef,
  MAX_PAGE,
  RESOURCES,
  type ResourceDef,
} from '../accounting/registry.js';

export interface OpenApiOptions {
  version: string;
  serverUrl?: string;
  region: string;
  service: string;
}

type Schema = Record<string, unknown>;

export function fieldSchema(field: FieldDef): Schema {
  const s: Schema = {};
  switch (field.type) {
    case 'string':
      Object.assign(s, { type: ['string', 'null'], maxLength: field.maxLength ?? 200 });
      break;
    case 'integer':
      Object.assign(s, { type: 'integer' });
      break;
    case 'boolean':
      Object.assign(s, { type: 'boolean' });
      break;
    case 'date':
      Object.assign(s, { type: ['string', 'null'], format: 'date', examples: ['2026-01-15'] });
      break;
    case 'decimal': {
      const scale = field.scale ?? 2;
      Object.assign(s, {
        type: 'string',
        pattern: `^-?\\d{1,15}(\\.\\d{1,${scale}})?$`,
        description: `decimal with ${scale} places, as a string`,
        examples: [(0).toFixed(scale)],
      });
      break;
    }
  }
  const notes = [
    field.description,
    field.ref ? `a ${field.ref} code that must exist` : undefined,
    s.description as string | undefined,
  ].filter(Boolean);
  if (notes.length > 0) s.description = notes.join('; ');
  if (field.readOnly) s.readOnly = true;
  if (field.default !== undefined && field.default !== null && !field.readOnly) s.default = field.default;
  return s;
}

export const schemaName = (def: ResourceDef): string => def.title.replace(/[^A-Za-z0-9]/g, '');

function recordSchema(def: ResourceDef, withDetail: boolean): Schema {
  const properties: Record<string, Schema> = {};
  for (const f of def.fields) properties[f.name] = fieldSchema(f);
  if (withDetail && def.detail) {
    const detailProps: Record<string, Schema> = {};
    for (const f of detailFields(def)) detailProps[f.name] = fieldSchema(f);
    properties[def.detail.name] = {
      type: 'array',
      description:
        'PUT: a row with an existing dtlkey updates that row; without dtlkey, with -1 or an unknown dtlkey it is inserted; rows left out are deleted; no array leaves the detail alone',
      items: {
        type: 'object',
        properties: detailProps,
        required: def.detail.fields.filter((f) => f.required).map((f) => f.name),
      },
    };
  }
  return {
    type: 'object',
    properties,
    required: def.fields.filter((f) => f.required).map((f) => f.name),
    additionalProperties: false,
  };
}

const listOf = (ref: string): Schema => ({
  type: 'object',
  required: ['pagination', 'data'],
  properties: {
    pagination: {
      type: 'object',
      properties: {
        count: { type: 'integer', description: 'records in this response' },
        offset: { type: 'integer' },
        limit: { type: 'integer', maximum: MAX_PAGE },
      },
    },
    data: { type: 'array', items: { $ref: ref } },
  },
});

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

export function buildOpenApi(options: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, Schema> = {
    Error: {
      type: 'object',
      properties: {
        error: {
          type: 'object',
          properties: {
            code: { type: 'string' },
            message: { type: 'string' },
            requestId: { type: 'string' },
          },
        },
      },
    },
  };
  const common = {
    '401': errorResponse('missing or invalid credentials'),
    '403': errorResponse('AccessDenied: the credentials lack the permission'),
  };
  for (const def of RESOURCES) {
    const name = schemaName(def);
    schemas[name] = recordSchema(def, true);
    schemas[`${name}Summary`] = { ...recordSchema(def, false), description: 'master fields only' };
    const tag = def.title;
    const paging = [
      { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
      {
        name: 'limit',
        in: 'query',
        schema: { type: 'integer', minimum: 1, default: MAX_PAGE },
        description: `at most ${MAX_PAGE}; larger values are capped`,
      },
      {
        name: 'lastmodified',
        in: 'query',
        schema: { type: 'integer' },
        description: 'Unix seconds: only records changed since',
      },
    ];
    const filters = (fields: readonly string[]) =>
      fields.map((f) => {
        const field = def.fields.find((x) => x.name === f) as FieldDef;
        return { name: f, in: 'query', required: false, schema: fieldSchema(field) };
      });
    const keyParam = {
      name: def.keyField,
      in: 'path',
      required: true,
      schema: def.keyField === 'dockey' ? { type: 'integer' } : { type: 'string' },
    };
    const security = { security: [{ sigv4: [] }, { bearer: [] }] };
    const one = {
      '200': {
        description: 'one record with its detail',
        content: { 'application/json': { schema: listOf(`#/components/schemas/${name}`) } },
      },
    };
    const body = {
      required: true,
      content: {
        'application/json': { schema: { $ref: `#/components/schemas/${name}` }, example: def.sample },
      },
    };
    paths[`/${def.name}/`] = {
      get: {
        tags: [tag],
        operationId: `list_${def.name}`,
        summary: `List ${def.title} records (master fields only)`,
        description: `Filter by any master field (\`?field=value\`). Needs \`${def.permissions.read}\`.`,
        parameters: [
          ...paging,
          ...filters(def.fields.map((f) => f.name).filter((f) => f !== 'lastmodified')),
        ],
        ...security,
        responses: {
          '200': {
            description: 'a page of records',
            content: { 'application/json': { schema: listOf(`#/components/schemas/${name}Summary`) } },
          },
          ...common,
        },
      },
      post: {
        tags: [tag],
        operationId: `create_${def.name}`,
        summary: `Create a ${def.title}`,
        description: `Needs \`${def.permissions.write}\`.${def.numbering ? ` Omit docno (or send "<<New>>") for the next ${def.numbering.prefix} number.` : ''}`,
        requestBody: body,
        ...security,
        responses: {
          '201': {
            description: 'created',
            content: { 'application/json': { schema: listOf(`#/components/schemas/${name}`) } },
          },
          '400': errorResponse('VALIDATION_FAILED: names the fields'),
          '409': errorResponse('ALREADY_EXISTS: duplicate code or docno'),
          '422': errorResponse('UNKNOWN_REFERENCE: names the missing code'),
          ...common,
        },
      },
    };
    paths[`/${def.name}/*`] = {
      get: {
        tags: [tag],
        operationId: `find_${def.name}`,
        summary: `One ${def.title} with its detail, by indexed fields`,
        description: `Filter by ${def.indexed.map((f) => `\`${f}\``).join(', ')}. Signed clients may send \`*\` as \`%2A\`.`,
        parameters: [paging[0], ...filters(def.indexed)],
        ...security,
        responses: { ...one, ...common },
      },
    };
    paths[`/${def.name}/{${def.keyField}}`] = {
      get: {
        tags: [tag],
        operationId: `get_${def.name}`,
        summary: `One ${def.title} with its detail, by ${def.keyField}`,
        parameters: [keyParam],
        ...security,
        responses: { ...one, '404': errorResponse('not found'), ...common },
      },
      put: {
        tags: [tag],
        operationId: `update_${def.name}`,
        summary: `Update a ${def.title}`,
        description:
          'Send `updatecount` = the stored value + 1; otherwise 409 RECORD_CHANGED "Record has been changed by other users." and nothing changes.',
        parameters: [keyParam],
        requestBody: body,
        ...security,
        responses: {
          ...one,
          '400': errorResponse('VALIDATION_FAILED'),
          '404': errorResponse('not found'),
          '409': errorResponse('RECORD_CHANGED'),
          '422': errorResponse('UNKNOWN_REFERENCE'),
          ...common,
        },
      },
      delete: {
        tags: [tag],
        operationId: `delete_${def.name}`,
        summary: `Delete a ${def.title}`,
        parameters: [keyParam],
        ...security,
        responses: { '204': { description: 'deleted' }, '404': errorResponse('not found'), ...common },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'latchkey accounting data API (SQL Account compatible)',
      version: options.version,
      description:
        'Every request is signed with AWS Signature Version 4 (an access key and its secret) or carries a Bearer token from POST /iam/login. ' +
        `Signing scope: region \`${options.region}\`, service \`${options.service}\`.`,
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: RESOURCES.map((r) => ({ name: r.title, description: `${r.kind} \`/${r.name}/\`` })),
    paths,
    components: {
      schemas,
      securitySchemes: {
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
      },
    },
    security: [{ sigv4: [] }, { bearer: [] }],
  };
}
