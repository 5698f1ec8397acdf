/**
 * The data API's HTTP contract, read once from the resource registry: JSON Schemas (TypeBox) of
 * each resource's record, summary, list and one-record answers, create and update bodies, list
 * and `*` queries, and the operations that use them. The routes (src/http/routes/data.ts)
 * serialise their answers through the response schemas, and the OpenAPI document, the Postman
 * collection and the /docs page (src/devtools/) are built from the same objects, so what is
 * validated, served and documented cannot drift apart.
 *
 * Output schemas describe exactly what `outputRow` (values.ts) produces, because the routes'
 * serialiser (fast-json-stringify) coerces instead of failing: a `null` sent through a
 * `type: 'string'` property would become `""`, a decimal through `type: 'number'` a float.
 * So a property is nullable unless the server guarantees a value (see `alwaysSet`).
 *
 * Requests are still parsed by values.ts and store.ts, whose messages are SQL Account behaviour
 * (all problems of a body in one 400, `limit` above 50 capped rather than refused): the request
 * schemas here document them and are checked against them by the tests, but are not attached to
 * the routes for validation.
 */
import { type TObject, type TSchema, Type } from '@sinclair/typebox';
import type { ErrorCode } from '../errors.js';
import { MAX_WILDCARDS } from './filters.js';
import { pdfTemplatesFor } from './pdf/templates.js';
import {
  detailFields,
  detailLinkField,
  type FieldDef,
  MAX_PAGE,
  NEW_DOCNO,
  type ResourceDef,
  ROUTED,
  UDF_PATTERN,
} from './registry.js';
import { DISC, INT_MAX } from './values.js';

type Json = Record<string, unknown>;

/** The components' base name: `SalesInvoice`, `StockItem`. */
export const schemaName = (def: ResourceDef): string => def.title.replace(/[^A-Za-z0-9]/g, '');

// ---- fields ----------------------------------------------------------------------------------

/** What a field's notes say, for every schema of it. */
function notesOf(field: FieldDef): string | undefined {
  const notes = [
    field.description,
    field.ref ? `${/^[aeiou]/.test(field.ref) ? 'an' : 'a'} ${field.ref} code that must exist` : undefined,
    field.type === 'decimal' ? `decimal with ${field.scale ?? 2} places, as a string` : undefined,
    // updatecount is set by the server too, but a PUT sends it (see its description).
    field.readOnly
      ? field.name === 'updatecount'
        ? 'set by the server'
        : 'set by the server; ignored when sent'
      : undefined,
  ].filter(Boolean);
  return notes.length > 0 ? notes.join('; ') : undefined;
}

const withNotes = (field: FieldDef, schema: Json): Json => {
  const description = notesOf(field);
  return {
    ...schema,
    ...(description ? { description } : {}),
    ...(field.readOnly ? { readOnly: true } : {}),
  };
};

/**
 * Does every record carry a value (never `null`) for this field? Booleans (`null` reads as
 * false); required fields (refused as null or empty on create and update); fields with a default
 * (a `null` sent stores the default); the keys, links, counters and `seq` the server assigns; and
 * a document's `docno` (numbered when omitted, never emptied by an update).
 */
function alwaysSet(def: ResourceDef, field: FieldDef, where: 'master' | 'detail'): boolean {
  if (field.type === 'boolean' || field.required) return true;
  if (field.default !== undefined && field.default !== null) return true;
  const assigned =
    where === 'master'
      ? [def.keyField, 'updatecount', 'lastmodified', ...(def.kind === 'document' ? ['docno'] : [])]
      : ['dtlkey', detailLinkField(def), 'seq'];
  return assigned.includes(field.name);
}

const nullable = (type: string, set: boolean) => (set ? type : [type, 'null']);

/** A field as the API answers it (`outputRow`): decimals as strings with exactly `scale` places. */
export function outputFieldSchema(def: ResourceDef, field: FieldDef, where: 'master' | 'detail'): TSchema {
  const set = alwaysSet(def, field, where);
  let schema: Json;
  switch (field.type) {
    case 'string':
      schema = { type: nullable('string', set), maxLength: field.maxLength ?? 200 };
      break;
    case 'integer':
      schema = { type: nullable('integer', set) };
      break;
    case 'boolean':
      schema = { type: 'boolean' };
      break;
    case 'date':
      schema = { type: nullable('string', set), format: 'date', examples: ['2026-01-15'] };
      break;
    case 'decimal': {
      const scale = field.scale ?? 2;
      schema = {
        type: nullable('string', set),
        pattern: `^-?\\d+\\.\\d{${scale}}$`,
        examples: [(0).toFixed(scale)],
      };
      break;
    }
  }
  return Type.Unsafe(withNotes(field, schema));
}

/** A field as a create or update body may send it (`parseValue`): `null` means the default. */
export function inputFieldSchema(field: FieldDef): TSchema {
  // Ignored when sent (so a record read from the API can be sent back): only the type is shown.
  if (field.readOnly) {
    const type = field.type === 'integer' || field.type === 'boolean' ? field.type : 'string';
    return Type.Unsafe(withNotes(field, { type: [type, 'null'] }));
  }
  const orNull = (type: string | string[]) => {
    const types = Array.isArray(type) ? type : [type];
    return field.required ? (types.length === 1 ? types[0] : types) : [...types, 'null'];
  };
  let schema: Json;
  switch (field.type) {
    case 'string':
      schema = {
        type: orNull('string'),
        maxLength: field.maxLength ?? 200,
        ...(field.required ? { pattern: '\\S' } : {}),
        // The discount rule of values.ts, or empty for none.
        ...(field.name === 'disc' ? { pattern: `^$|${DISC.source}` } : {}),
      };
      break;
    case 'integer':
      schema = { type: orNull('integer'), minimum: -INT_MAX, maximum: INT_MAX };
      break;
    case 'boolean':
      schema = { type: orNull('boolean') };
      break;
    case 'date':
      schema = { type: orNull('string'), format: 'date', examples: ['2026-01-15'] };
      break;
    case 'decimal': {
      const scale = field.scale ?? 2;
      schema = {
        type: orNull(['string', 'number']),
        pattern: `^-?\\d{1,15}(\\.\\d{1,${scale}})?$`,
        examples: [(0).toFixed(scale)],
      };
      break;
    }
  }
  if (field.default !== undefined && field.default !== null && !field.readOnly) {
    schema.default = field.default;
  }
  return Type.Unsafe(withNotes(field, schema));
}

// Query-string filters (the grammar is filters.ts's): each pattern accepts what the store accepts.
const RANGE_OF = (side: string) => `^(?:${side}~(?:${side})?|~${side})$`;
const INTEGER_SIDE = '-?\\d{1,10}';
const DATE_SIDE = '\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])';
const DECIMAL_SIDE = '-?\\d{1,15}(?:\\.\\d+)?';
/** A text character: not `*`, `~`, `\` or NUL; or `\*`, `\~`, `\\`; or a `\` before anything else. */
const TEXT_CHAR = '(?:[^*~\\\\\\x00]|\\\\[*~\\\\]|\\\\(?![*~\\\\]))';
const TEXT_FILTER = `^(?:${TEXT_CHAR}*(?:\\*${TEXT_CHAR}*){0,${MAX_WILDCARDS}}|${TEXT_CHAR}+~${TEXT_CHAR}*|~${TEXT_CHAR}+)$`;
const RANGE_NOTE = 'a~b is an inclusive range, a~ and ~b open ones (the lower side not above the upper)';

/**
 * A field as a query-string filter (`?field=value`): an exact value, a `*` pattern (text) or an
 * `a~b` range (text, dates, integers, decimals), as filters.ts reads them.
 */
export function filterSchema(field: FieldDef): TSchema {
  switch (field.type) {
    case 'boolean':
      return Type.Boolean({ description: 'true or false (also 1/0, t/f); no * or ~' });
    case 'integer':
      return Type.Union(
        [
          Type.Integer({ minimum: -INT_MAX, maximum: INT_MAX }),
          Type.String({ pattern: RANGE_OF(INTEGER_SIDE), examples: ['1~10', '5~', '~100'] }),
        ],
        { description: `an integer, or a range of them: ${RANGE_NOTE}; each side within ±${INT_MAX}` },
      );
    case 'date':
      return Type.Union(
        [
          Type.String({ format: 'date' }),
          Type.String({
            pattern: RANGE_OF(DATE_SIDE),
            examples: ['2026-01-01~2026-01-31', '2026-01-01~', '~2026-01-31'],
          }),
        ],
        { description: `a date YYYY-MM-DD, or a range of them: ${RANGE_NOTE}; each side a real date` },
      );
    case 'decimal':
      return Type.String({
        pattern: `^${DECIMAL_SIDE}$|${RANGE_OF(DECIMAL_SIDE)}`,
        examples: ['50000', '100~500', '1000.50~', '~0'],
        description: `compared by value: "50000" finds "50000.00"; ${RANGE_NOTE}`,
      });
    default:
      return Type.String({
        pattern: TEXT_FILTER,
        examples: ['300-A0001', '300*', '*trading*', '*001', 'A~C'],
        description:
          `exact text (case-sensitive); or a pattern where * is any run of characters (300*, *trading*, *001; at most ${MAX_WILDCARDS}), ` +
          `or a range: ${RANGE_NOTE}. Patterns and ranges ignore the case of A–Z. \\*, \\~ and \\\\ are a literal *, ~ and \\.`,
      });
  }
}

// ---- envelopes -------------------------------------------------------------------------------

export const Pagination = Type.Object(
  {
    count: Type.Integer({ minimum: 0, description: 'records in this response' }),
    offset: Type.Integer({ minimum: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE }),
  },
  { additionalProperties: false },
);

/** A list or one-record answer: `{pagination, data: [...]}`; `data` is always an array. */
export const PagedOf = (item: TSchema, description: string): TObject =>
  Type.Object(
    { pagination: Pagination, data: Type.Array(item, { description }) },
    { additionalProperties: false },
  );

/** A create or update answer: `{data: [record]}`. */
export const WrittenOf = (item: TSchema): TObject =>
  Type.Object(
    { data: Type.Array(item, { minItems: 1, maxItems: 1, description: 'the record as stored' }) },
    { additionalProperties: false },
  );

// ---- resources -------------------------------------------------------------------------------

export interface ResourceSchemas {
  readonly def: ResourceDef;
  /** Component base name (`SalesInvoice`). */
  readonly name: string;
  /** One record with its detail rows, as `GET /{r}/{key}`, `GET /{r}/*`, POST and PUT answer it. */
  readonly record: TObject;
  /** The master fields only, as the list answers them. */
  readonly summary: TObject;
  /** `{pagination, data: [summary…]}` */
  readonly listResponse: TObject;
  /** `{pagination, data: [record]}` (`data` is empty when `*` finds nothing) */
  readonly oneResponse: TObject;
  /** `{data: [record]}` */
  readonly writtenResponse: TObject;
  readonly createBody: TObject;
  readonly updateBody: TObject;
  /** `GET /{r}/?…`: paging and a filter per master field. */
  readonly listQuery: TObject;
  /** `GET /{r}/*?…`: a filter per indexed field. */
  readonly findQuery: TObject;
  /** The path parameter `{code}` or `{dockey}`. */
  readonly key: TSchema;
}

const DETAIL_RULES =
  'PUT: a row with an existing dtlkey updates that row; without dtlkey, with -1 or an unknown dtlkey it is inserted; rows left out are deleted; no array leaves the detail alone';

/** User-defined fields: any `udf_*` name, one JSON scalar each, answered as sent. */
const UDF_PROPERTIES = {
  patternProperties: {
    [UDF_PATTERN.source.replace('/i', '')]: {
      type: ['string', 'number', 'boolean', 'null'],
      description: 'a user-defined field (udf_<name>): stored and answered as sent',
    },
  },
  additionalProperties: false,
};

function outputObject(def: ResourceDef, withDetail: boolean): TObject {
  const properties: Record<string, TSchema> = {};
  for (const f of def.fields) properties[f.name] = outputFieldSchema(def, f, 'master');
  if (withDetail) {
    for (const detail of def.details) {
      const row: Record<string, TSchema> = {};
      for (const f of detailFields(def, detail)) row[f.name] = outputFieldSchema(def, f, 'detail');
      properties[detail.name] = Type.Array(Type.Object(row, UDF_PROPERTIES), {
        description: 'detail rows, by seq',
      });
    }
  }
  return Type.Object(properties, UDF_PROPERTIES);
}

/** Older names of fields and names latchkey accepts without keeping them, as body properties. */
function acceptedNames(
  fields: readonly FieldDef[],
  ignored: readonly string[] = [],
): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const f of fields) {
    for (const alias of f.aliases ?? []) {
      out[alias] = Type.Optional(
        Type.Unsafe({
          ...(inputFieldSchema(f) as Json),
          deprecated: true,
          description: `older name of ${f.name}`,
        }),
      );
    }
  }
  for (const name of ignored) {
    out[name] = Type.Optional(
      Type.Unsafe({ description: 'sent by SQL Account clients; accepted and not kept' }),
    );
  }
  return out;
}

function bodyObject(def: ResourceDef, mode: 'create' | 'update'): TObject {
  const properties: Record<string, TSchema> = {};
  // TypeBox lists every property that is not Optional as required.
  const optionalUnless = (required: boolean, schema: TSchema) => (required ? schema : Type.Optional(schema));
  for (const f of def.fields) {
    let schema: TSchema;
    if (f.name === 'updatecount' && mode === 'update') {
      schema = Type.Integer({
        description:
          def.kind === 'document'
            ? 'the stored updatecount + 1; otherwise 409 RECORD_CHANGED and nothing changes'
            : 'optional for masters; when sent, the stored updatecount + 1 (otherwise 409 RECORD_CHANGED)',
      });
    } else if (f.name === 'docno' && def.kind === 'document' && mode === 'update') {
      schema = Type.Unsafe({
        ...(inputFieldSchema(f) as Json),
        description: `the document number; "${NEW_DOCNO}" is refused on update`,
      });
    } else {
      schema = inputFieldSchema(f);
    }
    const required =
      mode === 'create' ? f.required === true : f.name === 'updatecount' && def.kind === 'document';
    properties[f.name] = optionalUnless(required, schema);
  }
  Object.assign(properties, acceptedNames(def.fields, def.ignored));
  for (const detail of def.details) {
    const row: Record<string, TSchema> = {};
    for (const f of detailFields(def, detail)) {
      const schema =
        f.name === 'dtlkey'
          ? Type.Unsafe({
              type: ['integer', 'null'],
              description: 'an existing row to update; omit (or -1) to insert a row',
            })
          : inputFieldSchema(f);
      // On update a row with a dtlkey keeps its stored values, so only new rows need the required ones.
      row[f.name] = optionalUnless(mode === 'create' && f.required === true, schema);
    }
    Object.assign(row, acceptedNames(detail.fields, detail.ignored));
    properties[detail.name] = Type.Optional(
      Type.Array(Type.Object(row, UDF_PROPERTIES), {
        maxItems: 500,
        description: DETAIL_RULES,
      }),
    );
  }
  return Type.Object(properties, {
    ...UDF_PROPERTIES,
    description:
      mode === 'create'
        ? 'Unknown fields are refused (the message names the closest known ones); udf_* fields are user-defined. Read-only fields are ignored, so a record read from the API can be sent back.'
        : 'Only the fields sent change. Unknown fields are refused; udf_* fields are user-defined. Read-only fields sent back must be unchanged (or equal what the server computes now), otherwise 400 naming them.',
  });
}

const paging = {
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
  limit: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: MAX_PAGE,
    description: `at most ${MAX_PAGE} records are answered; a larger limit is capped`,
  }),
  lastmodified: Type.Integer({
    minimum: 0,
    maximum: 99_999_999_999,
    description: 'Unix seconds: only records changed since',
  }),
};

function queryObject(def: ResourceDef, names: readonly string[], extra: Record<string, TSchema>): TObject {
  const properties: Record<string, TSchema> = {};
  for (const [name, schema] of Object.entries(extra)) properties[name] = Type.Optional(schema);
  for (const name of names) {
    const field = def.fields.find((f) => f.name === name);
    if (field && name !== 'lastmodified') properties[name] = Type.Optional(filterSchema(field));
  }
  return Type.Object(properties, {
    additionalProperties: false,
    description: 'Each filter at most once; other parameters are refused with 400 VALIDATION_FAILED.',
  });
}

/** The field a sample update changes: a free-text field that takes "Edited from Postman". */
export function editableField(def: ResourceDef): string {
  const candidates = def.fields.filter(
    (f) =>
      !f.readOnly && !f.ref && f.type === 'string' && f.name !== def.keyField && (f.maxLength ?? 200) >= 30,
  );
  const names = candidates.map((f) => f.name);
  return names.find((n) => n === 'description') ?? names.find((n) => n === 'remark') ?? (names[0] as string);
}

/** The first example of a body schema (the Postman collection's and the docs' sample body). */
export function exampleOf(schema: TObject): Record<string, unknown> {
  const examples = (schema as Json).examples as Array<Record<string, unknown>> | undefined;
  return examples?.[0] ?? {};
}

function build(def: ResourceDef): ResourceSchemas {
  const record = outputObject(def, true);
  const summary = outputObject(def, false);
  const createBody = bodyObject(def, 'create');
  const updateBody = bodyObject(def, 'update');
  // Examples live on the schemas they must satisfy (the tests check that they do).
  (createBody as Json).examples = [def.sample];
  (updateBody as Json).examples = [{ updatecount: 2, [editableField(def)]: 'Edited from Postman' }];
  return {
    def,
    name: schemaName(def),
    record,
    summary,
    listResponse: PagedOf(summary, 'master fields only'),
    oneResponse: PagedOf(record, 'one record with its detail, or none'),
    writtenResponse: WrittenOf(record),
    createBody,
    updateBody,
    listQuery: queryObject(
      def,
      def.fields.map((f) => f.name),
      paging,
    ),
    findQuery: queryObject(def, def.indexed, {
      offset: paging.offset,
      limit: Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: 'ignored: the * form answers one record',
      }),
      lastmodified: paging.lastmodified,
    }),
    key:
      def.keyField === 'code'
        ? Type.String({ minLength: 1, description: 'the code' })
        : Type.Integer({ minimum: 0, maximum: INT_MAX, description: `the ${def.keyField} (an integer)` }),
  };
}

const BY_NAME = new Map(ROUTED.map((def) => [def.name, build(def)]));

/** The schemas of a registry resource (built once per process). */
export function schemasOf(def: ResourceDef): ResourceSchemas {
  const found = BY_NAME.get(def.name);
  if (found && found.def === def) return found;
  return build(def);
}

export const DATA_SCHEMAS: readonly ResourceSchemas[] = [...BY_NAME.values()];

// ---- operations ------------------------------------------------------------------------------

export type DataOperationName = 'list' | 'find' | 'get' | 'create' | 'update' | 'delete';

export interface DataOperation {
  readonly name: DataOperationName;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI style: `/agent/`, `/agent/*`, `/agent/{code}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly permission: string;
  /** The path parameter (named after the resource's key field), when the path has one. */
  readonly key?: TSchema;
  readonly querystring?: TObject;
  readonly body?: TObject;
  /** JSON answers by status; `null` for an answer without a body. */
  readonly response: Readonly<Record<number, TObject | null>>;
  /**
   * The success answer is also available as `application/pdf` (a document asked for with
   * `Content-Type` or `Accept: application/pdf;template=<name>`; see accounting/pdf/).
   */
  readonly pdf?: true;
  /** What this operation answers beyond authentication and reading the request. */
  readonly errors: readonly ErrorCode[];
}

/** How a document is fetched as a PDF, with the names of its templates. */
function pdfNote(def: ResourceDef): string {
  const names = pdfTemplatesFor(def).map((t) => `\`${t.name}\``);
  return `Send \`Content-Type: application/pdf;template=<name>\` (or the same media type in \`Accept\`) for the document as a PDF; templates: ${names.join(', ')} (no template: \`Default\`). An unknown template is 400 VALIDATION_FAILED.`;
}

/** The six operations of a resource, in the order the API reference lists them. */
export function dataOperations(def: ResourceDef): readonly DataOperation[] {
  const s = schemasOf(def);
  const a = /^[AEIOU]/i.test(def.title) ? 'an' : 'a';
  const r = def.name;
  const tags = [def.title];
  const read = def.permissions.read;
  const write = def.permissions.write;
  const keyPath = `/${r}/{${def.keyField}}`;
  return [
    {
      name: 'list',
      method: 'GET',
      path: `/${r}/`,
      operationId: `list_${r}`,
      summary: `List ${def.title} records (master fields only)`,
      description: `Filter by any master field (\`?field=value\`); page with \`offset\` and \`limit\` (at most ${MAX_PAGE}). Needs \`${read}\`.`,
      tags,
      permission: read,
      querystring: s.listQuery,
      response: { 200: s.listResponse },
      errors: ['VALIDATION_FAILED'],
    },
    {
      name: 'find',
      method: 'GET',
      path: `/${r}/*`,
      operationId: `find_${r}`,
      summary: `One ${def.title} with its detail, by indexed fields`,
      description: `Filter by ${def.indexed.map((f) => `\`${f}\``).join(', ')}; \`data\` is empty when nothing matches. Signed clients may send \`*\` as \`%2A\`. Needs \`${read}\`.`,
      tags,
      permission: read,
      querystring: s.findQuery,
      response: { 200: s.oneResponse },
      errors: ['VALIDATION_FAILED'],
    },
    {
      name: 'get',
      method: 'GET',
      path: keyPath,
      operationId: `get_${r}`,
      summary: `One ${def.title} with its detail, by ${def.keyField}`,
      description: `Needs \`${read}\`.${pdfTemplatesFor(def).length > 0 ? ` ${pdfNote(def)}` : ''}`,
      tags,
      permission: read,
      key: s.key,
      response: { 200: s.oneResponse },
      ...(pdfTemplatesFor(def).length > 0 ? { pdf: true as const } : {}),
      errors: ['NOT_FOUND'],
    },
    {
      name: 'create',
      method: 'POST',
      path: `/${r}/`,
      operationId: `create_${r}`,
      summary: `Create ${a} ${def.title}`,
      description: `Needs \`${write}\`.${def.numbering ? ` Omit docno (or send "${NEW_DOCNO}") for the next ${def.numbering.prefix} number.` : ''}`,
      tags,
      permission: write,
      body: s.createBody,
      response: { 201: s.writtenResponse },
      errors: ['VALIDATION_FAILED', 'ALREADY_EXISTS', 'UNKNOWN_REFERENCE', 'CONFLICT'],
    },
    {
      name: 'update',
      method: 'PUT',
      path: keyPath,
      operationId: `update_${r}`,
      summary: `Update ${a} ${def.title}`,
      description: `Send \`updatecount\` = the stored value + 1; otherwise 409 RECORD_CHANGED "Record has been changed by other users." and nothing changes. Needs \`${write}\`.`,
      tags,
      permission: write,
      key: s.key,
      body: s.updateBody,
      response: { 200: s.writtenResponse },
      errors: ['VALIDATION_FAILED', 'NOT_FOUND', 'RECORD_CHANGED', 'ALREADY_EXISTS', 'UNKNOWN_REFERENCE'],
    },
    {
      name: 'delete',
      method: 'DELETE',
      path: keyPath,
      operationId: `delete_${r}`,
      summary: `Delete ${a} ${def.title}`,
      description: `Deletes the record and its detail rows. Needs \`${write}\`.`,
      tags,
      permission: write,
      key: s.key,
      response: { 204: null },
      errors: ['NOT_FOUND'],
    },
  ];
}

/** One operation of a resource. */
export function dataOperation(def: ResourceDef, name: DataOperationName): DataOperation {
  return dataOperations(def).find((o) => o.name === name) as DataOperation;
}
