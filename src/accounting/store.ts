/**
 * Repository of the data API: list, find, get, create, update (optimistic locking on
 * `updatecount`), delete. Plain functions over a Kysely handle; no Fastify here.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../services.js';
import { CompiledOnce } from '../storage/compiled-once.js';
import { type DatabaseHandle, type Engine, isUniqueViolation } from '../storage/dialect.js';
import { computeDocument } from './compute.js';
import { engineOf, type Filter, filterCondition, parseFilter } from './filters.js';
import {
  type DocRef,
  KNOCKOFF_DETAIL,
  lockDocuments,
  openFieldOf,
  recountOpen,
  resolveKnockOffs,
  settledBy,
} from './knockoff.js';
import {
  type DetailDef,
  detailFields,
  detailLinkField,
  type FieldDef,
  hasIntegerKey,
  MAX_PAGE,
  type ResourceDef,
  resourceByName,
  storageName,
} from './registry.js';
import { COUNTERS_TABLE, detailTable, masterTable, UDF_COLUMN } from './schema.js';
import {
  Decimal,
  type DetailInput,
  INT_MAX,
  outputArrayRow,
  outputRow,
  type ParsedInput,
  Problems,
  parseBody,
  type Row,
  toFixedScale,
  type UdfValues,
  withDefaults,
} from './values.js';

// The accounting tables are generated from the registry, so they are queried untyped.
// biome-ignore lint/suspicious/noExplicitAny: table and column names come from the registry at run time
export type DataDb = Kysely<any>;
// biome-ignore lint/suspicious/noExplicitAny: see DataDb
type DataTx = Transaction<any>;

export interface DataContext {
  readonly db: DataDb;
  readonly engine: Engine;
  readonly clock: Clock;
  readonly tenantId: string;
  /** The connection handle, for the reads compiled once (`GET /{r}/{key}`); optional for scripts. */
  readonly database?: DatabaseHandle;
}

export const RECORD_CHANGED_MESSAGE = 'Record has been changed by other users.';

export interface ListResult {
  pagination: { count: number; offset: number; limit: number };
  data: Record<string, unknown>[];
}

type Query = Record<string, unknown>;

const unixNow = (clock: Clock): number => Math.floor(clock.now().getTime() / 1000);

function bad(def: ResourceDef, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${def.name}: ${message}`);
}

function intParam(
  def: ResourceDef,
  name: string,
  raw: unknown,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,12}$/.test(raw)) throw bad(def, `${name} must be a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw bad(def, `${name} must be between ${min} and ${max}`);
  return value;
}

interface Criteria {
  /** `field=value` filters (exact, `*` wildcards, `a~b` ranges: see filters.ts), ANDed. */
  filters: Filter[];
  lastmodified: number | undefined;
  offset: number;
  limit: number;
}

function criteria(def: ResourceDef, query: Query, allowed: ReadonlySet<string>, what: string): Criteria {
  const filters: Filter[] = [];
  let lastmodified: number | undefined;
  let offset = 0;
  let limit = MAX_PAGE;
  const byName = new Map(def.fields.map((f) => [f.name, f]));
  const seen = new Set<string>();
  for (const [sent, raw] of Object.entries(query)) {
    // Field names are lowercase; clients written for SQL Account also send `docNo=`.
    const key = sent.toLowerCase();
    if (Array.isArray(raw) || seen.has(key)) throw bad(def, `${key} is given more than once`);
    seen.add(key);
    if (key === 'offset') offset = intParam(def, 'offset', raw, 0, 1_000_000_000) ?? 0;
    else if (key === 'limit') {
      const asked = intParam(def, 'limit', raw, 1, 1_000_000) ?? MAX_PAGE;
      // SQL Account returns at most 50 records per request: a larger limit is capped, not refused.
      limit = Math.min(asked, MAX_PAGE);
    } else if (key === 'lastmodified') {
      lastmodified = intParam(def, 'lastmodified', raw, 0, 99_999_999_999);
    } else {
      const field = byName.get(key);
      if (!field || !allowed.has(key)) {
        throw bad(def, `${key} is not a filter of ${what}; use ${[...allowed].join(', ')}`);
      }
      filters.push(parseFilter(def, field, String(raw)));
    }
  }
  return { filters, lastmodified, offset, limit };
}

function selectMaster(
  ctx: { db: DataDb | DataTx; tenantId: string },
  def: ResourceDef,
  c: Criteria,
  columns: readonly string[] = [...def.fields.map((f) => f.name), UDF_COLUMN],
) {
  let q = ctx.db
    .selectFrom(masterTable(def))
    .select([...columns])
    .where('tenant_id', '=', ctx.tenantId);
  const engine = engineOf(ctx.db);
  for (const filter of c.filters) q = q.where(filterCondition(engine, filter));
  if (c.lastmodified !== undefined) q = q.where('lastmodified', '>=', c.lastmodified);
  return q.orderBy(def.keyField).limit(c.limit).offset(c.offset);
}

/** A stored row's user-defined fields (the `udf` JSON column). */
function udfOf(row: Record<string, unknown>): UdfValues {
  return parseUdfColumn(row[UDF_COLUMN]);
}

function parseUdfColumn(raw: unknown): UdfValues {
  if (typeof raw !== 'string' || raw === '') return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as UdfValues)
      : {};
  } catch {
    return {};
  }
}

const udfColumn = (udf: UdfValues): string | null =>
  Object.keys(udf).length > 0 ? JSON.stringify(udf) : null;

/** A stored row as JSON: its fields in order, then its `udf_*` fields. */
function outputRecord(fields: readonly FieldDef[], row: Record<string, unknown>): Record<string, unknown> {
  const out = outputRow(fields, row);
  return row[UDF_COLUMN] ? Object.assign(out, udfOf(row)) : out;
}

/** outputRecord for a row read as an array: its fields in order, then the udf column. */
function outputArrayRecord(fields: readonly FieldDef[], row: readonly unknown[]): Record<string, unknown> {
  const out = outputArrayRow(fields, row);
  const udf = row[fields.length];
  return udf ? Object.assign(out, parseUdfColumn(udf)) : out;
}

/** SQL written or compiled once and kept by what determines it (bounded: the oldest goes first). */
const SQL_CACHE_MAX = 1000;
function cachedSql<V>(cache: Map<string, V>, key: string, make: () => V): V {
  let found = cache.get(key);
  if (found === undefined) {
    found = make();
    if (cache.size >= SQL_CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, found);
  }
  return found;
}

/** The SQL of a master read (all columns), by resource, engine and the SQL of its shape. */
const READS = new Map<string, { sql: string; name: string }>();

/**
 * The master records the criteria select, as JSON; read as arrays when the context allows.
 * Compiling a select of 80 columns costs more than running it, so it is compiled once per shape:
 * the same read selecting only the key has the same WHERE, the same parameters in the same order
 * (a select list has none), and SQL that names the shape. On PostgreSQL each shape is a named
 * prepared statement, planned once per connection; there are finitely many (fields × filter forms).
 */
async function readMasters(ctx: DataContext, def: ResourceDef, c: Criteria) {
  const { database } = ctx;
  if (!database) {
    const rows: Record<string, unknown>[] = await selectMaster(ctx, def, c).execute();
    return rows.map((r) => outputRecord(def.fields, r));
  }
  const shape = selectMaster(ctx, def, c, [def.keyField]).compile();
  const read = cachedSql(READS, `${ctx.engine}\n${def.name}\n${shape.sql}`, () => {
    const text = selectMaster(ctx, def, c).compile().sql;
    return {
      sql: text,
      name: `latchkey_read_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`,
    };
  });
  const rows = await database.arrays(read.sql, shape.parameters, read.name);
  return rows.map((r) => outputArrayRecord(def.fields, r));
}

/** `GET /{resource}/?field=value`: master fields only, filterable by any master field. */
export async function listRecords(ctx: DataContext, def: ResourceDef, query: Query): Promise<ListResult> {
  const c = criteria(def, query, new Set(def.fields.map((f) => f.name)), 'the list');
  const data = await readMasters(ctx, def, c);
  return { pagination: { count: data.length, offset: c.offset, limit: c.limit }, data };
}

/** Detail rows by detail array name, for one record. */
type DetailRows = Map<string, Record<string, unknown>[]>;

/** The parent link of a record's detail rows: its dockey (documents) or code (masters). */
function linkOf(def: ResourceDef, record: Record<string, unknown>): string | number {
  const link = detailLinkField(def);
  return link === 'dockey' ? Number(record[link]) : String(record[link]);
}

async function loadDetails(
  db: DataDb | DataTx,
  tenantId: string,
  def: ResourceDef,
  parents: Array<string | number>,
): Promise<Map<string | number, DetailRows>> {
  const out = new Map<string | number, DetailRows>();
  if (parents.length === 0) return out;
  const link = detailLinkField(def);
  for (const detail of def.details) {
    const rows: Record<string, unknown>[] = await db
      .selectFrom(detailTable(def, detail))
      .select([...detailFields(def, detail).map((f) => f.name), UDF_COLUMN])
      .where('tenant_id', '=', tenantId)
      .where(link, 'in', parents)
      .orderBy('seq')
      .orderBy('dtlkey')
      .execute();
    for (const row of rows) {
      const parent = link === 'dockey' ? Number(row[link]) : String(row[link]);
      const byName = out.get(parent) ?? new Map<string, Record<string, unknown>[]>();
      const list = byName.get(detail.name) ?? [];
      list.push(row);
      byName.set(detail.name, list);
      out.set(parent, byName);
    }
  }
  return out;
}

/** A record as JSON with its detail arrays (rows already as JSON) added in registry order. */
function withDetails(def: ResourceDef, out: Record<string, unknown>, details: DetailRows) {
  for (const detail of def.details) out[detail.name] = details.get(detail.name) ?? [];
  return out;
}

/** `GET /{resource}/*?field=value`: one record with its detail, filterable by the indexed fields. */
export async function findOne(ctx: DataContext, def: ResourceDef, query: Query): Promise<ListResult> {
  const c = criteria(def, query, new Set([...def.indexed]), 'the * form (indexed fields only)');
  c.limit = 1;
  const [first] = await readMasters(ctx, def, c);
  if (!first) return { pagination: { count: 0, offset: c.offset, limit: 1 }, data: [] };
  return {
    pagination: { count: 1, offset: c.offset, limit: 1 },
    data: [withDetails(def, first, await detailsOf(ctx, def, linkOf(def, first)))],
  };
}

/** The stored key of a path parameter: an integer dockey, or a code. */
function keyOf(def: ResourceDef, raw: string): string | number {
  if (!hasIntegerKey(def)) return raw;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > INT_MAX)
    throw new AppError('NOT_FOUND', `${def.name} ${raw} not found (${def.keyField} is an integer)`);
  return Number(raw);
}

async function loadRecord(
  db: DataDb | DataTx,
  tenantId: string,
  def: ResourceDef,
  key: string | number,
  by: string = def.keyField,
) {
  const row: Record<string, unknown> | undefined = await db
    .selectFrom(masterTable(def))
    .select([...def.fields.map((f) => f.name), UDF_COLUMN])
    .where('tenant_id', '=', tenantId)
    .where(by, '=', key)
    .executeTakeFirst();
  return row;
}

const notFound = (def: ResourceDef, key: string | number) =>
  new AppError('NOT_FOUND', `${def.name} ${def.keyField}=${key} not found`);

type Compiled = CompiledOnce<'tenant' | 'key', Record<string, unknown>>;
const RECORD_READS = new Map<string, Compiled>();
const DETAIL_READS = new Map<string, Compiled>();

/** The compiled read of one record by key (see src/storage/compiled-once.ts). */
function recordRead(db: DataDb, engine: Engine, def: ResourceDef): Compiled {
  const name = `latchkey_get_${masterTable(def)}_${def.keyField}`;
  // One per engine: the SQL differs (`?` or `$1` placeholders).
  let read = RECORD_READS.get(`${engine}:${name}`);
  if (!read) {
    read = new CompiledOnce(name, (arg) =>
      db
        .selectFrom(masterTable(def))
        .select([...def.fields.map((f) => f.name), UDF_COLUMN])
        .where('tenant_id', '=', arg('tenant'))
        .where(def.keyField, '=', arg('key')),
    );
    RECORD_READS.set(`${engine}:${name}`, read);
  }
  return read;
}

/** The compiled read of one record's rows of one detail array. */
function detailRead(db: DataDb, engine: Engine, def: ResourceDef, detail: DetailDef): Compiled {
  const link = detailLinkField(def);
  const name = `latchkey_get_${detailTable(def, detail)}`;
  let read = DETAIL_READS.get(`${engine}:${name}`);
  if (!read) {
    read = new CompiledOnce(name, (arg) =>
      db
        .selectFrom(detailTable(def, detail))
        .select([...detailFields(def, detail).map((f) => f.name), UDF_COLUMN])
        .where('tenant_id', '=', arg('tenant'))
        .where(link, '=', arg('key'))
        .orderBy('seq')
        .orderBy('dtlkey'),
    );
    DETAIL_READS.set(`${engine}:${name}`, read);
  }
  return read;
}

/**
 * `GET /{resource}/{key}`: one record with its detail. The hottest read of the data API, so its
 * queries are compiled once (and prepared on PostgreSQL): a document has some 80 columns, and
 * building, compiling and planning that query anew was most of the request's cost.
 */
export async function getRecord(
  ctx: DataContext,
  def: ResourceDef,
  rawKey: string,
): Promise<Record<string, unknown>> {
  const key = keyOf(def, rawKey);
  if (!ctx.database) {
    const row = await loadRecord(ctx.db, ctx.tenantId, def, key);
    if (!row) throw notFound(def, key);
    const out = outputRecord(def.fields, row);
    return withDetails(def, out, await detailsOf(ctx, def, linkOf(def, out)));
  }
  const read = recordRead(ctx.db, ctx.engine, def).arrays(ctx.database, { tenant: ctx.tenantId, key });
  // PostgreSQL: when the key is also what links the detail rows (a document's dockey), the record
  // and its rows are read at once, on two connections: one round trip instead of two.
  if (ctx.engine === 'postgres' && def.details.length > 0 && detailLinkField(def) === def.keyField) {
    const [[row], details] = await Promise.all([read, detailsOf(ctx, def, key)]);
    if (!row) throw notFound(def, key);
    return withDetails(def, outputArrayRecord(def.fields, row), details);
  }
  const [row] = await read;
  if (!row) throw notFound(def, key);
  const out = outputArrayRecord(def.fields, row);
  return withDetails(def, out, await detailsOf(ctx, def, linkOf(def, out)));
}

/**
 * A record's detail rows by array as JSON, read with the compiled queries when the context
 * allows. `parent` is what links them: the record's dockey (documents) or code (masters).
 */
async function detailsOf(ctx: DataContext, def: ResourceDef, parent: string | number): Promise<DetailRows> {
  const details: DetailRows = new Map();
  const { database } = ctx;
  if (!database) {
    const stored = (await loadDetails(ctx.db, ctx.tenantId, def, [parent])).get(parent);
    for (const detail of def.details) {
      const fields = detailFields(def, detail);
      details.set(
        detail.name,
        (stored?.get(detail.name) ?? []).map((r) => outputRecord(fields, r)),
      );
    }
    return details;
  }
  for (const detail of def.details) {
    const fields = detailFields(def, detail);
    const rows = await detailRead(ctx.db, ctx.engine, def, detail).arrays(database, {
      tenant: ctx.tenantId,
      key: parent,
    });
    details.set(
      detail.name,
      rows.map((r) => outputArrayRecord(fields, r)),
    );
  }
  return details;
}

/** Reserve `count` values of a per-tenant sequence; returns the last one. Atomic on both engines. */
async function nextCounter(trx: DataTx, tenantId: string, name: string, count: number): Promise<number> {
  const row = await trx
    .insertInto(COUNTERS_TABLE)
    .values({ tenant_id: tenantId, name, value: count })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'name'])
        .doUpdateSet({ value: sql`${sql.ref(`${COUNTERS_TABLE}.value`)} + ${count}` }),
    )
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/**
 * Reserve values of several sequences in one statement (a new document's number, key and detail
 * keys: one round trip instead of three). Returns the last value of each. Rows are upserted in
 * name order, so concurrent transactions lock them in the same order.
 */
async function reserveCounters(
  trx: DataTx,
  tenantId: string,
  counts: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  const names = [...counts.keys()].sort();
  const rows = await trx
    .insertInto(COUNTERS_TABLE)
    .values(names.map((name) => ({ tenant_id: tenantId, name, value: counts.get(name) as number })))
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'name'])
        .doUpdateSet({ value: sql`${sql.ref(`${COUNTERS_TABLE}.value`)} + ${sql.ref('excluded.value')}` }),
    )
    .returning(['name', 'value'])
    .execute();
  return new Map(rows.map((r) => [String(r.name), Number(r.value)]));
}

const dtlCounter = (def: ResourceDef, detail: DetailDef) =>
  detail.table === 'dtl' ? `dtlkey:${storageName(def)}` : `dtlkey:${storageName(def)}:${detail.table}`;

/** The next free document number; `reserved` is a number already taken from the series. */
async function nextDocno(
  trx: DataTx,
  tenantId: string,
  def: ResourceDef,
  reserved?: number,
): Promise<string> {
  const series = def.numbering ?? { prefix: '', digits: 5 };
  // A number taken by an explicitly sent docno is skipped.
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const n =
      attempt === 0 && reserved !== undefined
        ? reserved
        : await nextCounter(trx, tenantId, `docno:${storageName(def)}`, 1);
    const docno = `${series.prefix}${String(n).padStart(series.digits, '0')}`;
    if (!(await docnoTaken(trx, tenantId, def, docno))) return docno;
  }
  throw new AppError('CONFLICT', `${def.name}: the numbering series ${series.prefix} is exhausted`);
}

/** SQL Account's "none" code: `----` in a reference field means no record, like an empty one. */
export const NONE_CODE = '----';

interface RefUse {
  path: string;
  resource: string;
  code: string;
}

function collectRefs(fields: readonly FieldDef[], values: Row, path: string, into: RefUse[]): void {
  for (const field of fields) {
    const v = values[field.name];
    if (field.ref && typeof v === 'string' && v !== '' && v !== NONE_CODE)
      into.push({ path: `${path}${field.name}`, resource: field.ref, code: v });
  }
}

type Refs = Map<string, Map<string, Record<string, unknown>>>;

/** What a referenced record lends a document (applyDefaults, taxRatesOf): its code and these. */
const LENT = ['companyname', 'agent', 'area', 'creditterm', 'currencycode', 'tin', 'idtype', 'idno'].concat([
  'description',
  'refcost',
  'refprice',
  'taxrate',
]);
const REF_COLUMNS = new Map<string, string[]>();
function refColumns(def: ResourceDef): string[] {
  let found = REF_COLUMNS.get(def.name);
  if (!found) {
    found = def.fields.map((f) => f.name).filter((n) => n === 'code' || LENT.includes(n));
    REF_COLUMNS.set(def.name, found);
  }
  return found;
}

/** Load every referenced record; a missing one is a 422 naming the field, the resource and the code. */
async function resolveRefs(trx: DataTx, tenantId: string, uses: RefUse[]): Promise<Refs> {
  const byResource = new Map<string, Set<string>>();
  for (const u of uses) {
    const set = byResource.get(u.resource) ?? new Set<string>();
    set.add(u.code);
    byResource.set(u.resource, set);
  }
  const found: Refs = new Map();
  for (const [resource, codes] of byResource) {
    const def = resourceByName(resource);
    if (!def) continue;
    const rows: Record<string, unknown>[] = await trx
      .selectFrom(masterTable(def))
      .select(refColumns(def))
      .where('tenant_id', '=', tenantId)
      .where('code', 'in', [...codes])
      .execute();
    found.set(resource, new Map(rows.map((r) => [String(r.code), r])));
  }
  const missing = uses.filter((u) => !found.get(u.resource)?.has(u.code));
  if (missing.length > 0) {
    const seen = new Set<string>();
    const parts = missing
      .filter((m) => !seen.has(m.path) && seen.add(m.path))
      .map((m) => `${m.path}: ${m.resource} "${m.code}" does not exist`);
    throw new AppError('UNKNOWN_REFERENCE', parts.join('; '), {
      missing: missing.map((m) => ({ field: m.path, resource: m.resource, code: m.code })),
    });
  }
  return found;
}

/** Tax rates of the rows' tax codes: from the records resolveRefs already loaded, the rest from the table. */
async function taxRatesOf(
  trx: DataTx,
  tenantId: string,
  rows: Row[],
  refs: Refs,
): Promise<Map<string, string>> {
  const rates = new Map<string, string>();
  for (const [code, rec] of refs.get('taxcode') ?? []) rates.set(code, String(rec.taxrate ?? '0'));
  const codes = [
    ...new Set(
      rows
        .map((r) => r.tax)
        .filter((t): t is string => typeof t === 'string' && t !== '' && t !== NONE_CODE && !rates.has(t)),
    ),
  ];
  if (codes.length === 0) return rates;
  const found: Array<{ code: string; taxrate: string | null }> = await trx
    .selectFrom('acc_taxcode')
    .select(['code', 'taxrate'])
    .where('tenant_id', '=', tenantId)
    .where('code', 'in', codes)
    .execute();
  for (const t of found) rates.set(t.code, t.taxrate ?? '0');
  return rates;
}

/** A record being written: its header and its detail rows by detail array. */
interface Draft {
  header: Row;
  rows: Map<DetailDef, Row[]>;
}

/** The record as GET shows it, from rows this transaction wrote (saves reading them back). */
function recordOf(def: ResourceDef, draft: Draft): Record<string, unknown> {
  const details: DetailRows = new Map();
  for (const [detail, rows] of draft.rows) {
    const sorted = [...rows].sort(
      (a, b) => Number(a.seq) - Number(b.seq) || Number(a.dtlkey) - Number(b.dtlkey),
    );
    const fields = detailFields(def, detail);
    details.set(
      detail.name,
      sorted.map((r) => outputRecord(fields, r)),
    );
  }
  return withDetails(def, outputRecord(def.fields, draft.header), details);
}

function checkDetailRequired(detail: DetailDef, rows: Row[], problems: Problems): void {
  rows.forEach((row, i) => {
    for (const field of detail.fields) {
      if (
        field.required &&
        (row[field.name] === null || row[field.name] === undefined || row[field.name] === '')
      ) {
        problems.add(`${detail.name}[${i}].${field.name}`, 'is required');
      }
    }
  });
}

/** Server defaults: the party's name/agent/area/terms/currency, dates from docdate, item description and price. */
function applyDefaults(def: ResourceDef, header: Row, provided: Row, inserted: Row[], refs: Refs): void {
  if (def.kind !== 'document') return;
  const partyRef = def.fields.find((f) => f.name === 'code')?.ref;
  const party =
    partyRef && typeof header.code === 'string' ? refs.get(partyRef)?.get(header.code) : undefined;
  if (party) {
    // The document's field, and the party's field it defaults from.
    const from: Array<[string, string]> = [
      ['companyname', 'companyname'],
      ['agent', 'agent'],
      ['area', 'area'],
      ['terms', 'creditterm'],
      ['currencycode', 'currencycode'],
      ['tin', 'tin'],
      ['idtype', 'idtype'],
      ['idno', 'idno'],
    ];
    for (const [f, p] of from) {
      if (f in header && !(f in provided) && party[p] !== undefined && party[p] !== null)
        header[f] = party[p] as string;
    }
  }
  if (!('postdate' in provided) && header.postdate === null) header.postdate = header.docdate ?? null;
  if (!('taxdate' in provided) && header.taxdate === null) header.taxdate = header.docdate ?? null;
  const items = refs.get('stockitem');
  for (const row of inserted) {
    const item = typeof row.itemcode === 'string' ? items?.get(row.itemcode) : undefined;
    if (!item) continue;
    if (row.description === null) row.description = (item.description as string) ?? null;
    // Sales take the item's reference price; purchases and stock documents its reference cost.
    if ('unitprice' in row && row.__unitpriceGiven !== 1) {
      const cost = partyRef === 'supplier' || def.compute === 'stock';
      row.unitprice = toFixedScale(String((cost ? item.refcost : item.refprice) ?? '0'), 4);
    }
  }
}

function numberSeq(rows: Row[]): void {
  let last = 0;
  for (const row of rows) {
    if (typeof row.seq === 'number') last = row.seq;
    else {
      last = (Math.floor(last / 1000) + 1) * 1000;
      if (last > INT_MAX)
        throw new AppError('VALIDATION_FAILED', `seq would pass ${INT_MAX}; send smaller seq values`);
      row.seq = last;
    }
  }
}

function newDetailRow(def: ResourceDef, detail: DetailDef, input: DetailInput): Row {
  const row = withDefaults(detailFields(def, detail), input.values);
  row[UDF_COLUMN] = udfColumn(input.udf);
  // Remember whether a price was sent, so an item's reference price fills only the missing ones.
  if ('unitprice' in input.values) row.__unitpriceGiven = 1;
  return row;
}

const stripMarks = (row: Row): Row => {
  const { __unitpriceGiven: _a, ...rest } = row;
  return rest;
};

function duplicate(def: ResourceDef, field: string, value: unknown): AppError {
  return new AppError(
    'ALREADY_EXISTS',
    `${def.name}: ${field} "${String(value)}" already exists; ${field} must be unique`,
    {
      field,
    },
  );
}

/** Does another document of this resource and tenant have this number? */
async function docnoTaken(trx: DataTx, tenantId: string, def: ResourceDef, docno: string): Promise<boolean> {
  const row = await trx
    .selectFrom(masterTable(def))
    .select('dockey')
    .where('tenant_id', '=', tenantId)
    .where('docno', '=', docno)
    .executeTakeFirst();
  return row !== undefined;
}

/** A document number is unique per resource and tenant: ALREADY_EXISTS when another document has it. */
async function assertDocnoFree(
  trx: DataTx,
  tenantId: string,
  def: ResourceDef,
  docno: string,
): Promise<void> {
  if (await docnoTaken(trx, tenantId, def, docno)) throw duplicate(def, 'docno', docno);
}

async function inTransaction<T>(
  ctx: DataContext,
  def: ResourceDef,
  fn: (trx: DataTx) => Promise<T>,
): Promise<T> {
  try {
    return await ctx.db.transaction().execute(fn);
  } catch (error) {
    if (isUniqueViolation(error)) {
      const field = def.kind === 'document' ? 'docno' : 'code';
      throw new AppError(
        'ALREADY_EXISTS',
        `${def.name}: that ${field} already exists; ${field} must be unique`,
        {
          field,
        },
      );
    }
    throw error;
  }
}

/** The lines: the detail array amounts are computed from (documents' first). */
const linesOf = (def: ResourceDef, draft: Draft): Row[] =>
  def.kind === 'document' && def.details[0] && def.details[0].name !== KNOCKOFF_DETAIL
    ? (draft.rows.get(def.details[0]) ?? [])
    : [];

const knockOffRows = (def: ResourceDef, draft: Draft): Row[] => {
  const ko = def.details.find((d) => d.name === KNOCKOFF_DETAIL);
  return ko ? (draft.rows.get(ko) ?? []) : [];
};

/** Refs of the header and every detail row. */
function refsOf(def: ResourceDef, header: Row, details: Map<DetailDef, Row[]>): RefUse[] {
  const uses: RefUse[] = [];
  collectRefs(def.fields, header, '', uses);
  for (const [detail, rows] of details) {
    rows.forEach((r, i) => {
      collectRefs(detail.fields, r, `${detail.name}[${i}].`, uses);
    });
  }
  return uses;
}

/**
 * Amounts, knock-offs and what is open, for a record about to be stored. Returns the documents
 * whose open amounts must be recounted after the write (besides this one).
 */
async function computeDraft(
  ctx: DataContext,
  trx: DataTx,
  def: ResourceDef,
  draft: Draft,
  refs: Refs,
  creating: boolean,
): Promise<DocRef[]> {
  for (const rows of draft.rows.values()) numberSeq(rows);
  const lines = linesOf(def, draft);
  computeDocument(def, draft.header, lines, await taxRatesOf(trx, ctx.tenantId, lines, refs));
  // A new document has all of its docamt open (nothing can have settled it yet); settle() recounts
  // what changes later.
  const open = openFieldOf(def);
  if (open && creating) draft.header[open] = draft.header.docamt ?? '0.00';
  const targets = await resolveKnockOffs(trx, ctx.tenantId, def, draft.header, knockOffRows(def, draft));
  return targets;
}

/** After the write: lock and recount what is open on this document and those it settles. */
async function settle(
  ctx: DataContext,
  trx: DataTx,
  def: ResourceDef,
  draft: Draft,
  affected: DocRef[],
  stored?: Record<string, unknown>,
) {
  if (!openFieldOf(def) && affected.length === 0) return;
  // A document that settles nothing: on create nothing can settle it yet (computeDraft set what is
  // open to its docamt); on update only a new docamt or cancelled flag changes what is open.
  if (!def.knocksOff && affected.length === 0) {
    if (!stored) return;
    const same = (f: string) => String(stored[f] ?? '') === String(draft.header[f] ?? '');
    if (same('docamt') && same('cancelled')) {
      const field = openFieldOf(def);
      if (field) draft.header[field] = (stored[field] ?? draft.header.docamt) as Row[string];
      return;
    }
  }
  // An alias (`/purchasereturned/`) settles and is settled as its resource.
  const resource = storageName(def);
  const self = def.kind === 'document' ? [{ resource, dockey: Number(draft.header.dockey) }] : [];
  await lockDocuments(trx, ctx.engine, ctx.tenantId, affected);
  const open = await recountOpen(trx, ctx.tenantId, [...self, ...affected]);
  const field = openFieldOf(def);
  const mine = open.get(`${resource}:${draft.header.dockey}`);
  if (field && mine !== undefined) draft.header[field] = mine;
  for (const row of knockOffRows(def, draft)) {
    const after = open.get(`${row.refresource}:${row.refdockey}`);
    if (after !== undefined) row.outstanding = after;
  }
  // The rows' outstanding values are a snapshot of the settled documents after this write.
  const ko = def.details.find((d) => d.name === KNOCKOFF_DETAIL);
  if (ko) {
    for (const row of knockOffRows(def, draft)) {
      await trx
        .updateTable(detailTable(def, ko))
        .set({ outstanding: row.outstanding })
        .where('tenant_id', '=', ctx.tenantId)
        .where('dtlkey', '=', row.dtlkey as number)
        .execute();
    }
  }
}

/** `POST /{resource}`: create a record (and its detail); returns it as `GET /{resource}/{key}` would. */
export async function createRecord(
  ctx: DataContext,
  def: ResourceDef,
  body: unknown,
): Promise<Record<string, unknown>> {
  const input: ParsedInput = parseBody(def, body, 'create');
  const now = unixNow(ctx.clock);
  return inTransaction(ctx, def, async (trx) => {
    const header = withDefaults(def.fields, input.master);
    header[UDF_COLUMN] = udfColumn(input.udf);
    const rows = new Map<DetailDef, Row[]>();
    const problems = new Problems();
    for (const detail of def.details) {
      const list = (input.details.get(detail.name) ?? []).map((d) => newDetailRow(def, detail, d));
      checkDetailRequired(detail, list, problems);
      rows.set(detail, list);
    }
    problems.throwIfAny(def.name);
    const draft: Draft = { header, rows };
    const refs = await resolveRefs(trx, ctx.tenantId, refsOf(def, header, rows));
    applyDefaults(def, header, input.master, linesOf(def, draft), refs);

    /** Documents: the first of the detail keys reserved for each detail array. */
    const firstKeys = new Map<DetailDef, number>();
    if (def.kind === 'master') {
      if (await loadRecord(trx, ctx.tenantId, def, header.code as string, 'code'))
        throw duplicate(def, 'code', header.code);
      // Integer keys of masters: a stock item's dockey, a tax code's autokey.
      for (const f of def.fields.filter(
        (x) => x.readOnly && x.type === 'integer' && /^(dockey|autokey)$/.test(x.name),
      ))
        header[f.name] = await nextCounter(trx, ctx.tenantId, `${f.name}:${storageName(def)}`, 1);
    } else {
      const explicit = typeof header.docno === 'string' && header.docno !== '';
      const wanted = new Map<string, number>([[`dockey:${storageName(def)}`, 1]]);
      if (!explicit) wanted.set(`docno:${storageName(def)}`, 1);
      for (const [detail, list] of rows) {
        if (list.length > 0)
          wanted.set(dtlCounter(def, detail), (wanted.get(dtlCounter(def, detail)) ?? 0) + list.length);
      }
      const got = await reserveCounters(trx, ctx.tenantId, wanted);
      // The detail arrays of one table share its counter: each takes the next part of the range.
      const next = new Map([...wanted].map(([name, count]) => [name, (got.get(name) as number) - count + 1]));
      for (const [detail, list] of rows) {
        if (list.length === 0) continue;
        const first = next.get(dtlCounter(def, detail)) as number;
        firstKeys.set(detail, first);
        next.set(dtlCounter(def, detail), first + list.length);
      }
      if (explicit) await assertDocnoFree(trx, ctx.tenantId, def, header.docno as string);
      else header.docno = await nextDocno(trx, ctx.tenantId, def, got.get(`docno:${storageName(def)}`));
      header.dockey = got.get(`dockey:${storageName(def)}`) as number;
    }
    const affected = await computeDraft(ctx, trx, def, draft, refs, true);
    header.updatecount = 1;
    header.lastmodified = now;
    await insertRows(trx, ctx.engine, masterTable(def), [{ tenant_id: ctx.tenantId, ...header }]);
    for (const [detail, list] of rows)
      await insertDetail(
        trx,
        ctx.engine,
        ctx.tenantId,
        def,
        detail,
        linkOf(def, header),
        list,
        firstKeys.get(detail),
      );
    await settle(ctx, trx, def, draft, affected);
    return recordOf(def, draft);
  });
}

const INSERTS = new Map<string, string>();

/**
 * Insert rows, leaving out the columns that are null in every row (a column left out is null).
 * A document has some 80 columns, most of them empty: sending only the others makes the INSERT a
 * third of the size to send, parse and bind. The SQL is written here and kept per table, columns
 * and row count: building and compiling an 80-column insert through the query builder cost more
 * than running it. Table and column names come from the registry (plain identifiers).
 */
async function insertRows(trx: DataTx, engine: Engine, table: string, rows: Row[]): Promise<void> {
  const used = new Set<string>();
  for (const row of rows)
    for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) used.add(k);
  const columns = [...used];
  const text = cachedSql(INSERTS, `${engine}:${table}:${rows.length}:${columns.join(',')}`, () => {
    let n = 0;
    const mark = () => (engine === 'postgres' ? `$${++n}` : '?');
    const values = rows.map(() => `(${columns.map(mark).join(', ')})`).join(', ');
    return `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${values}`;
  });
  const parameters = rows.flatMap((row) => columns.map((c) => row[c] ?? null));
  await trx.executeQuery(CompiledQuery.raw(text, parameters));
}

async function insertDetail(
  trx: DataTx,
  engine: Engine,
  tenantId: string,
  def: ResourceDef,
  detail: DetailDef,
  parent: string | number,
  rows: Row[],
  /** The first of the keys already reserved for these rows; without it they are reserved here. */
  reserved?: number,
) {
  if (rows.length === 0) return;
  const first =
    reserved ?? (await nextCounter(trx, tenantId, dtlCounter(def, detail), rows.length)) - rows.length + 1;
  const link = detailLinkField(def);
  rows.forEach((row, i) => {
    row.dtlkey = first + i;
    row[link] = parent;
  });
  const values = rows.map((row) => ({ tenant_id: tenantId, ...stripMarks(row) }));
  await insertRows(trx, engine, detailTable(def, detail), values);
}

/** Are two stored values the same (decimals by value)? */
function sameValue(field: FieldDef, a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (field.type === 'decimal') return new Decimal(String(a)).eq(new Decimal(String(b)));
  if (field.type === 'integer' || field.type === 'boolean') return Number(a) === Number(b);
  return String(a) === String(b);
}

/**
 * Read-only fields an update sent: each must equal the stored value or the value just computed
 * (a record read from the API and sent back, changed or not); anything else is a 400 naming it.
 */
function checkEchoed(
  fields: readonly FieldDef[],
  echoed: Row,
  stored: Record<string, unknown> | undefined,
  computed: Row,
  path: string,
  problems: Problems,
): void {
  for (const field of fields) {
    if (!(field.name in echoed) || field.name === 'lastmodified' || field.name === 'updatecount') continue;
    const sent = echoed[field.name];
    if (sameValue(field, sent, computed[field.name])) continue;
    if (stored && sameValue(field, sent, stored[field.name])) continue;
    problems.add(
      `${path}${field.name}`,
      `is computed by the server and cannot be changed (sent ${JSON.stringify(sent)}, it is ${JSON.stringify(computed[field.name] ?? null)})`,
    );
  }
}

/**
 * `PUT /{resource}/{key}`. Documents: `updatecount` must be the stored value + 1, else
 * RECORD_CHANGED and nothing changes. Masters: the same when sent; without it the update applies.
 * The conditional UPDATE (… WHERE updatecount = n - 1) makes two racing updates safe on both
 * engines: exactly one matches the row.
 */
export async function updateRecord(
  ctx: DataContext,
  def: ResourceDef,
  rawKey: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const key = keyOf(def, rawKey);
  const input = parseBody(def, body, 'update');
  const now = unixNow(ctx.clock);
  return inTransaction(ctx, def, async (trx) => {
    const stored = await loadRecord(trx, ctx.tenantId, def, key);
    if (!stored) throw notFound(def, key);
    if (def.kind === 'master' && 'code' in input.master && input.master.code !== stored.code) {
      throw bad(
        def,
        'code cannot be changed (it is what other records refer to); create a new record instead',
      );
    }
    const storedCount = Number(stored.updatecount);
    const wanted = input.updatecount ?? storedCount + 1;
    const changed = () =>
      new AppError('RECORD_CHANGED', RECORD_CHANGED_MESSAGE, {
        storedUpdatecount: storedCount,
        hint: 'send the stored updatecount + 1',
      });
    if (storedCount + 1 !== wanted) throw changed();

    const header: Row = {};
    for (const f of def.fields) header[f.name] = (stored[f.name] ?? null) as Row[string];
    Object.assign(header, input.master);
    header[UDF_COLUMN] = udfColumn({ ...udfOf(stored), ...input.udf });
    const problems = new Problems();
    for (const f of def.fields) {
      if (f.required && (header[f.name] === null || header[f.name] === ''))
        problems.add(f.name, 'is required');
    }

    const parent = linkOf(def, stored);
    const existingAll = (await loadDetails(trx, ctx.tenantId, def, [parent])).get(parent);
    const rows = new Map<DetailDef, Row[]>();
    const inserted = new Set<Row>();
    const kept = new Map<DetailDef, Set<number>>();
    const sentRows = new Map<Row, DetailInput>();
    const uses: RefUse[] = [];
    collectRefs(def.fields, input.master, '', uses);
    for (const detail of def.details) {
      const existing = existingAll?.get(detail.name) ?? [];
      const existingByKey = new Map(existing.map((r) => [Number(r.dtlkey), r]));
      const keep = new Set<number>();
      kept.set(detail, keep);
      const sent = input.details.get(detail.name);
      if (sent === undefined) {
        rows.set(
          detail,
          existing.map((r) => ({ ...(r as Row) })),
        );
        continue;
      }
      const list = sent.map((d, i) => {
        collectRefs(detail.fields, d.values, `${detail.name}[${i}].`, uses);
        const old = d.dtlkey !== null && !keep.has(d.dtlkey) ? existingByKey.get(d.dtlkey) : undefined;
        let row: Row;
        if (old) {
          keep.add(d.dtlkey as number);
          const merged: Row = { ...(old as Row), ...d.values };
          if (Object.keys(d.udf).length > 0) merged[UDF_COLUMN] = udfColumn({ ...udfOf(old), ...d.udf });
          row = merged;
        } else {
          // No dtlkey, -1, or a dtlkey this record does not have: a new row.
          row = newDetailRow(def, detail, d);
          inserted.add(row);
        }
        sentRows.set(row, d);
        return row;
      });
      checkDetailRequired(detail, list, problems);
      rows.set(detail, list);
    }
    problems.throwIfAny(def.name);
    const draft: Draft = { header, rows };
    const refs = await resolveRefs(trx, ctx.tenantId, uses);
    applyDefaults(
      def,
      header,
      { ...stored, ...input.master } as Row,
      linesOf(def, draft).filter((r) => inserted.has(r)),
      refs,
    );
    if (def.kind === 'document' && header.docno !== stored.docno) {
      if (typeof header.docno !== 'string' || header.docno === '') throw bad(def, 'docno must not be empty');
      await assertDocnoFree(trx, ctx.tenantId, def, header.docno);
    }
    // What was settled before this update: its open amounts are recounted too.
    const before: DocRef[] = knockOffRows(def, {
      header,
      rows: new Map(def.details.map((d) => [d, (existingAll?.get(d.name) ?? []) as Row[]])),
    })
      .filter((r) => typeof r.refresource === 'string')
      .map((r) => ({ resource: String(r.refresource), dockey: Number(r.refdockey) }));
    const snapshot = new Map<Row, string>();
    for (const list of rows.values()) for (const r of list) snapshot.set(r, JSON.stringify(r));
    const affected = await computeDraft(ctx, trx, def, draft, refs, false);

    // Computed fields sent back must be unchanged (or what the server computes now).
    const echoProblems = new Problems();
    checkEchoed(def.fields, input.echoed, { ...stored, [def.keyField]: key }, header, '', echoProblems);
    for (const [detail, list] of rows) {
      const existingByKey = new Map((existingAll?.get(detail.name) ?? []).map((r) => [Number(r.dtlkey), r]));
      list.forEach((row, i) => {
        const d = sentRows.get(row);
        if (!d || inserted.has(row)) return; // a new row's computed fields are ignored, as on create
        checkEchoed(
          detailFields(def, detail),
          d.echoed,
          existingByKey.get(Number(row.dtlkey)),
          row,
          `${detail.name}[${i}].`,
          echoProblems,
        );
      });
    }
    echoProblems.throwIfAny(def.name);

    header.updatecount = wanted;
    header.lastmodified = now;
    const { [def.keyField]: _key, ...changes } = header;
    const result = await trx
      .updateTable(masterTable(def))
      .set(changes)
      .where('tenant_id', '=', ctx.tenantId)
      .where(def.keyField, '=', key)
      .where('updatecount', '=', wanted - 1)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw changed();

    const link = detailLinkField(def);
    for (const detail of def.details) {
      const list = rows.get(detail) ?? [];
      const existing = existingAll?.get(detail.name) ?? [];
      const keep = kept.get(detail) as Set<number>;
      const removed = existing.map((r) => Number(r.dtlkey)).filter((k) => !keep.has(k));
      if (input.details.has(detail.name) && removed.length > 0) {
        await trx
          .deleteFrom(detailTable(def, detail))
          .where('tenant_id', '=', ctx.tenantId)
          .where('dtlkey', 'in', removed)
          .execute();
      }
      const existingByKey = new Map(existing.map((r) => [Number(r.dtlkey), r]));
      for (const row of list) {
        if (inserted.has(row)) continue;
        const original = existingByKey.get(Number(row.dtlkey));
        // Untouched rows whose computed values did not change need no write.
        if (
          original &&
          snapshot.get(row) === JSON.stringify(original) &&
          JSON.stringify(row) === snapshot.get(row)
        ) {
          continue;
        }
        const { dtlkey, [link]: _parent, ...rest } = row;
        await trx
          .updateTable(detailTable(def, detail))
          .set(stripMarks(rest))
          .where('tenant_id', '=', ctx.tenantId)
          .where('dtlkey', '=', dtlkey as number)
          .execute();
      }
      await insertDetail(
        trx,
        ctx.engine,
        ctx.tenantId,
        def,
        detail,
        parent,
        list.filter((r) => inserted.has(r)),
      );
    }
    const all = [...before];
    for (const a of affected)
      if (!all.some((b) => b.resource === a.resource && b.dockey === a.dockey)) all.push(a);
    await settle(ctx, trx, def, draft, all, stored);
    return recordOf(def, draft);
  });
}

/** `DELETE /{resource}/{key}`: the record and its detail. A document others settle is refused. */
export async function deleteRecord(ctx: DataContext, def: ResourceDef, rawKey: string): Promise<void> {
  const key = keyOf(def, rawKey);
  await ctx.db.transaction().execute(async (trx) => {
    const stored = await loadRecord(trx, ctx.tenantId, def, key);
    if (!stored) throw notFound(def, key);
    if (def.knockOffTarget) {
      const by = await settledBy(trx, ctx.tenantId, resourceByName(storageName(def)) ?? def, Number(key));
      if (by.length > 0) {
        throw new AppError(
          'CONFLICT',
          `${def.name} ${stored.docno} is knocked off by ${by.map((b) => `${b.resource} ${b.docno}`).join(', ')}; delete or change those first`,
        );
      }
    }
    let affected: DocRef[] = [];
    const ko = def.details.find((d) => d.name === KNOCKOFF_DETAIL);
    if (ko) {
      const rows: Array<{ refresource: string | null; refdockey: number | null }> = await trx
        .selectFrom(detailTable(def, ko))
        .select(['refresource', 'refdockey'])
        .where('tenant_id', '=', ctx.tenantId)
        .where('dockey', '=', Number(key))
        .execute();
      affected = rows
        .filter((r) => r.refresource !== null && r.refdockey !== null)
        .map((r) => ({ resource: String(r.refresource), dockey: Number(r.refdockey) }));
      await lockDocuments(trx, ctx.engine, ctx.tenantId, affected);
    }
    await trx
      .deleteFrom(masterTable(def))
      .where('tenant_id', '=', ctx.tenantId)
      .where(def.keyField, '=', key)
      .execute();
    const parent = linkOf(def, stored);
    for (const detail of def.details) {
      await trx
        .deleteFrom(detailTable(def, detail))
        .where('tenant_id', '=', ctx.tenantId)
        .where(detailLinkField(def), '=', parent)
        .execute();
    }
    if (affected.length > 0) await recountOpen(trx, ctx.tenantId, affected);
  });
}
