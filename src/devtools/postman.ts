/**
 * The Postman v2.1 collection of the data API, generated from the resource registry through the
 * schemas of src/accounting/schemas.ts (example bodies, filters and the fields each answer must
 * have). `awsv4` auth from the collection variables `your_access_key` / `your_secret_key`.
 *
 * Two top-level folders, so a read-only key (e.g. the DataReadOnly role, `*:read`) has a folder
 * that passes as a whole:
 * - Read: per resource, List, then Get by key and Find (`*`) for the first record the list
 *   answered (skipped when it is empty). Only GETs; nothing is changed.
 * - Write: per resource, Create (the registry's sample body, valid against the demo data), Update
 *   (with updatecount + 1) and Delete of the record Create made, so it cleans up after itself.
 * A request that uses a value another request set says so in its description; the values pass
 * through collection variables set by that request's test script.
 */
import type { TSchema } from '@sinclair/typebox';
import type { ResourceDef } from '../accounting/registry.js';
import { DATA_SCHEMAS, editableField, exampleOf, type ResourceSchemas } from '../accounting/schemas.js';

/** One folder per resource: the aliases (`/tax/`…) reach the same records, so they get none. */
const RESOURCE_SCHEMAS = DATA_SCHEMAS.filter((s) => s.def.table === undefined);

export interface PostmanOptions {
  baseUrl: string;
  region: string;
  service: string;
  version: string;
}

export const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

type Item = Record<string, unknown>;
type Json = Record<string, unknown>;

const script = (listen: 'test' | 'prerequest', lines: string[]) => ({
  listen,
  script: { type: 'text/javascript', exec: lines },
});

const expectStatus = (status: number) =>
  `pm.test('status ${status}', function () { pm.response.to.have.status(${status}); });`;

const q = (value: unknown) => JSON.stringify(value);

function jsonBody(raw: string): Item {
  return { mode: 'raw', raw, options: { raw: { language: 'json' } } };
}

interface RequestSpec {
  id: string;
  name: string;
  method: string;
  path: string;
  description: string;
  body?: Item;
  tests: string[];
  prerequest?: string[];
}

function request(spec: RequestSpec): Item {
  return {
    id: spec.id,
    name: spec.name,
    request: {
      method: spec.method,
      header: spec.body ? [{ key: 'Content-Type', value: 'application/json' }] : [],
      url: `{{base_url}}${spec.path}`,
      ...(spec.body ? { body: spec.body } : {}),
      description: spec.description,
    },
    event: [...(spec.prerequest ? [script('prerequest', spec.prerequest)] : []), script('test', spec.tests)],
    response: [],
  };
}

/**
 * Test lines that hold every record of `records` (a JS expression) to its schema: exactly the
 * schema's fields, in order, and every string with a pattern (the decimals: "1250.00") matching it.
 */
function shapeTests(
  label: string,
  records: string,
  schema: TSchema,
  detail?: { name: string; row: TSchema },
) {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const patterns: Record<string, string> = {};
  for (const [name, p] of Object.entries(properties))
    if (typeof p.pattern === 'string') patterns[name] = p.pattern;
  const lines = [
    `pm.test('${label}: the fields of the schema, decimals as strings', function () {`,
    `  var patterns = ${q(patterns)};`,
    `  ${records}.forEach(function (record) {`,
    `    pm.expect(Object.keys(record)).to.eql(${q(Object.keys(properties))});`,
    '    Object.keys(patterns).forEach(function (f) { if (record[f] !== null) pm.expect(record[f]).to.match(new RegExp(patterns[f])); });',
  ];
  if (detail) {
    const rowKeys = Object.keys((detail.row.properties ?? {}) as Json);
    lines.push(
      `    pm.expect(record.${detail.name}).to.be.an('array');`,
      `    record.${detail.name}.forEach(function (row) { pm.expect(Object.keys(row)).to.eql(${q(rowKeys)}); });`,
    );
  }
  lines.push('  });', '});');
  return lines;
}

/** The first detail array's row schema of a record schema, if the resource has detail rows. */
function detailOf(s: ResourceSchemas): { name: string; row: TSchema } | undefined {
  const first = s.def.details[0];
  if (!first) return undefined;
  const array = (s.record.properties as Record<string, TSchema>)[first.name] as TSchema;
  return { name: first.name, row: array.items as TSchema };
}

/** The indexed field the Find request filters by: the document number, else the code. */
function findField(def: ResourceDef): string {
  return ['docno', 'code', def.keyField].find((f) => def.indexed.includes(f)) ?? def.keyField;
}

function readFolder(s: ResourceSchemas): Item {
  const { def } = s;
  const r = def.name;
  const list = `List ${def.title}`;
  const keyVar = `${r}_first_${def.keyField}`;
  const find = findField(def);
  const findVar = `${r}_first_${find}`;
  const filters = Object.keys(s.listQuery.properties).filter(
    (f) => !['offset', 'limit', 'lastmodified'].includes(f),
  );
  const needsFirst = (variable: string) => [
    `// "${list}" sets ${variable}; an empty list leaves nothing to read.`,
    `if (!pm.collectionVariables.get('${variable}')) { pm.execution.skipRequest(); }`,
  ];
  const uses = (variable: string) =>
    `Uses \`{{${variable}}}\`, which the request "${list}" above sets from the first record it answers: send that first, or put a value in the variable. Skipped when that list is empty.`;
  return {
    id: `read-${r}`,
    name: def.title,
    description: `\`/${r}/\`: needs \`${def.permissions.read}\`.`,
    item: [
      request({
        id: `read-${r}-list`,
        name: list,
        method: 'GET',
        path: `/${r}/?offset=0&limit=50`,
        description: `Master fields only, at most 50 records a page (\`offset\`, \`limit\`). Filter with \`?field=value\` on ${filters.map((f) => `\`${f}\``).join(', ')}; \`lastmodified\` finds records changed since a Unix time.`,
        tests: [
          expectStatus(200),
          'var body = pm.response.json();',
          "pm.test('{pagination, data}', function () {",
          "  pm.expect(Object.keys(body)).to.eql(['pagination', 'data']);",
          "  pm.expect(Object.keys(body.pagination)).to.eql(['count', 'offset', 'limit']);",
          "  pm.expect(body.data).to.be.an('array');",
          '  pm.expect(body.pagination.count).to.eql(body.data.length);',
          '});',
          ...shapeTests('every record', 'body.data', s.summary),
          'var first = body.data[0];',
          `pm.collectionVariables.set('${keyVar}', first ? String(first.${def.keyField}) : '');`,
          ...(findVar !== keyVar
            ? [`pm.collectionVariables.set('${findVar}', first ? String(first.${find}) : '');`]
            : []),
        ],
      }),
      request({
        id: `read-${r}-get`,
        name: `Get ${def.title} by ${def.keyField}`,
        method: 'GET',
        path: `/${r}/{{${keyVar}}}`,
        description: `One record with its detail. ${uses(keyVar)}`,
        prerequest: needsFirst(keyVar),
        tests: [
          expectStatus(200),
          'var body = pm.response.json();',
          "pm.test('one record, the one asked for', function () {",
          '  pm.expect(body.data.length).to.eql(1);',
          `  pm.expect(String(body.data[0].${def.keyField})).to.eql(pm.collectionVariables.get('${keyVar}'));`,
          '});',
          ...shapeTests('the record', 'body.data', s.record, detailOf(s)),
        ],
      }),
      request({
        id: `read-${r}-find`,
        name: `Find ${def.title} with detail (*)`,
        method: 'GET',
        path: `/${r}/*?${find}={{${findVar}}}`,
        description: `One record with its detail, by indexed fields: ${Object.keys(s.findQuery.properties)
          .filter((f) => !['offset', 'limit', 'lastmodified'].includes(f))
          .map((f) => `\`${f}\``)
          .join(', ')}. ${uses(findVar)}`,
        prerequest: needsFirst(findVar),
        tests: [
          expectStatus(200),
          'var body = pm.response.json();',
          "pm.test('one record, with the value asked for', function () {",
          '  pm.expect(body.pagination.count).to.eql(1);',
          `  pm.expect(String(body.data[0].${find})).to.eql(pm.collectionVariables.get('${findVar}'));`,
          '});',
          ...shapeTests('the record', 'body.data', s.record, detailOf(s)),
        ],
      }),
    ],
  };
}

function writeFolder(s: ResourceSchemas): Item {
  const { def } = s;
  const r = def.name;
  const create = `Create ${def.title}`;
  const keyVar = `${r}_key`;
  const nextVar = `${r}_next_updatecount`;
  const field = editableField(def);
  const createExample = exampleOf(s.createBody);
  const updateExample = exampleOf(s.updateBody);
  // The example's updatecount becomes the variable Create sets (a number, so unquoted).
  const updateRaw = JSON.stringify({ ...updateExample, updatecount: 0 }, null, 2).replace(
    '"updatecount": 0',
    `"updatecount": {{${nextVar}}}`,
  );
  const uses = (what: string) =>
    `Uses ${what}, which the request "${create}" above sets from its answer: send that first, or set the variables yourself.`;
  return {
    id: `write-${r}`,
    name: def.title,
    description: `\`/${r}/\`: needs \`${def.permissions.write}\` (and \`${def.permissions.read}\`). Create, update and delete one record.`,
    item: [
      request({
        id: `write-${r}-create`,
        name: create,
        method: 'POST',
        path: `/${r}/`,
        description: `Required: ${(s.createBody.required ?? []).map((f: string) => `\`${f}\``).join(', ') || 'nothing'}. Unknown fields are refused; read-only fields are ignored.${def.numbering ? ` Omit docno for the next ${def.numbering.prefix} number.` : ''} Sets \`{{${keyVar}}}\` and \`{{${nextVar}}}\` for the requests below.`,
        body: jsonBody(JSON.stringify(createExample, null, 2)),
        tests: [
          expectStatus(201),
          'var rec = pm.response.json().data[0];',
          ...shapeTests('the record', '[rec]', s.record, detailOf(s)),
          `pm.collectionVariables.set('${keyVar}', rec.${def.keyField});`,
          `pm.collectionVariables.set('${nextVar}', rec.updatecount + 1);`,
        ],
      }),
      request({
        id: `write-${r}-update`,
        name: `Update ${def.title}`,
        method: 'PUT',
        path: `/${r}/{{${keyVar}}}`,
        description: `\`updatecount\` must be the stored value + 1, else 409 RECORD_CHANGED. ${uses(`\`{{${keyVar}}}\` and \`{{${nextVar}}}\``)}`,
        body: jsonBody(updateRaw),
        tests: [
          expectStatus(200),
          'var rec = pm.response.json().data[0];',
          "pm.test('changed, with the updatecount sent', function () {",
          `  pm.expect(rec.${field}).to.eql(${q(updateExample[field])});`,
          `  pm.expect(rec.updatecount).to.eql(Number(pm.collectionVariables.get('${nextVar}')));`,
          '});',
        ],
      }),
      request({
        id: `write-${r}-delete`,
        name: `Delete ${def.title}`,
        method: 'DELETE',
        path: `/${r}/{{${keyVar}}}`,
        description: `Deletes the record and its detail rows. ${uses(`\`{{${keyVar}}}\``)}`,
        tests: [
          expectStatus(204),
          `pm.collectionVariables.unset('${keyVar}');`,
          `pm.collectionVariables.unset('${nextVar}');`,
        ],
      }),
    ],
  };
}

/** Every collection signs with the same awsv4 auth, filled from its variables. */
const AWSV4_AUTH = {
  type: 'awsv4',
  awsv4: [
    { key: 'accessKey', value: '{{your_access_key}}', type: 'string' },
    { key: 'secretKey', value: '{{your_secret_key}}', type: 'string' },
    { key: 'region', value: '{{region}}', type: 'string' },
    { key: 'service', value: '{{service}}', type: 'string' },
  ],
};

/** The variables AWSV4_AUTH reads (the fixed contract: `your_access_key`, `your_secret_key`), and the base URL. */
function signingVariables(options: PostmanOptions): Item[] {
  return [
    { key: 'your_access_key', value: 'your_access_key', type: 'string' },
    { key: 'your_secret_key', value: 'your_secret_key', type: 'string' },
    { key: 'base_url', value: options.baseUrl, type: 'string' },
    { key: 'region', value: options.region, type: 'string' },
    { key: 'service', value: options.service, type: 'string' },
  ];
}

export function buildPostmanCollection(options: PostmanOptions): Record<string, unknown> {
  return {
    info: {
      _postman_id: 'latchkey-data-api',
      name: 'latchkey data API',
      description:
        'Fill your_access_key and your_secret_key in the collection Variables, then send Read › Agent › List Agent. ' +
        'The Read folder only reads (a read-only key, e.g. the DataReadOnly role, runs all of it); ' +
        'the Write folder creates, updates and deletes one sample record per resource (it needs write permissions and the demo data). ' +
        `Generated by latchkey ${options.version} from its resource registry.`,
      schema: POSTMAN_SCHEMA,
    },
    auth: AWSV4_AUTH,
    variable: [...signingVariables(options)],
    item: [
      {
        id: 'read',
        name: 'Read',
        description:
          'GET requests only, a folder per resource: needs `<resource>:read` (`*:read` for all of it). Nothing is changed.',
        item: RESOURCE_SCHEMAS.map(readFolder),
      },
      {
        id: 'write',
        name: 'Write',
        description:
          'Per resource: create a sample record, update it, delete it. Needs `<resource>:write`; the samples refer to the demo data (LATCHKEY_DEMO_DATA=1).',
        item: RESOURCE_SCHEMAS.map(writeFolder),
      },
    ],
  };
}

/** A registered API's collection: one request per route, signed with the same awsv4 variables. */
export function buildApiPostmanCollection(
  options: PostmanOptions & {
    api: {
      id: string;
      name: string;
      basePath: string;
      routes: ReadonlyArray<{ method: string; path: string; permission: string }>;
    };
  },
): Record<string, unknown> {
  const { api } = options;
  const variables = new Set<string>();
  const items = api.routes.map((route, i) => {
    let n = 0;
    // `*` stands for any one segment: a variable to fill; a final `/*` (the rest) is left off.
    const segments = route.path === '/' ? [] : route.path.slice(1).split('/');
    if (route.path.endsWith('/*')) segments.pop();
    const path = segments
      .map((s) => {
        if (s !== '*') return s;
        const name = `segment_${i + 1}_${++n}`;
        variables.add(name);
        return `{{${name}}}`;
      })
      .join('/');
    const method = route.method === '*' ? 'GET' : route.method;
    return request({
      id: `route-${i + 1}`,
      name: `${route.method} ${route.path}`,
      method,
      path: `${api.basePath}/${path}`,
      description: `Route ${i + 1} of ${api.name}: needs \`${route.permission}\`.${route.method === '*' ? ' Any method matches; the request uses GET.' : ''}`,
      tests: [
        "pm.test('latchkey let the request through', function () { pm.expect(pm.response.code).to.not.be.oneOf([401, 403]); });",
      ],
    });
  });
  return {
    info: {
      _postman_id: `latchkey-api-${api.id}`,
      name: `${api.name} (through latchkey)`,
      description:
        `Requests to ${api.name} through the latchkey gateway, one per route. Fill your_access_key and your_secret_key in the collection Variables. ` +
        `Generated by latchkey ${options.version}.`,
      schema: POSTMAN_SCHEMA,
    },
    auth: AWSV4_AUTH,
    variable: [
      ...signingVariables(options),
      ...[...variables].map((key) => ({ key, value: '1', type: 'string' })),
    ],
    item: items,
  };
}
