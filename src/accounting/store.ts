/**
 * Repository of the data API: list, find, get, create, update (optimistic locking on
 * `updatecount`), delete. Plain functions over a Kysely handle; no Fastify here.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../services.js';
import { type Engine, isUniqueViolation } from '../storage/dialect.js';
import { computeDocument } from './compute.js';
import {
  detailFields,
  detailLinkField,
  type FieldDef,
  MAX_PAGE,
  type ResourceDef,
  resourceByName,
} from './registry.js';
import { COUNTERS_TABLE, detailTable, masterTable } from './schema.js';
import {
  type DetailInput,
  INT_MAX,
  isValidDate,
  outputRow,
  type ParsedInput,
  Problems,
  parseBody,
  type Row,
  toFixedScale,
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

/** A query-string filter value in its stored form. */
function filterValue(def: ResourceDef, field: FieldDef, raw: string): string | number {
  switch (field.type) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['true', '1', 't'].includes(v)) return 1;
      if (['false', '0', 'f'].includes(v)) return 0;
      throw bad(def, `filter ${field.name} must be true or false`);
    }
    case 'integer':
      if (!/^-?\d{1,10}$/.test(raw) || Math.abs(Number(raw)) > INT_MAX) {
        throw bad(def, `filter ${field.name} must be an integer between -${INT_MAX} and ${INT_MAX}`);
      }
      return Number(raw);
    case 'date':
      if (!isValidDate(raw)) throw bad(def, `filter ${field.name} must be a date YYYY-MM-DD`);
      return raw;
    case 'decimal':
      if (!/^-?\d{1,15}(\.\d+)?$/.test(raw)) throw bad(def, `filter ${field.name} must be a decimal`);
      return toFixedScale(raw, field.scale ?? 2);
    default:
      if (raw.includes('\u0000')) throw bad(def, `filter ${field.name} must not contain a NUL character`);
      return raw;
  }
}

interface Criteria {
  equals: Array<[string, string | number]>;
  lastmodified: number | undefined;
  offset: number;
  limit: number;
}

function criteria(def: ResourceDef, query: Query, allowed: ReadonlySet<string>, what: string): Criteria {
  const equals: Array<[string, string | number]> = [];
  let lastmodified: number | undefined;
  let offset = 0;
  let limit = MAX_PAGE;
  const byName = new Map(def.fields.map((f) => [f.name, f]));
  for (const [key, raw] of Object.entries(query)) {
    if (Array.isArray(raw)) throw bad(def, `${key} is given more than once`);
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
      equals.push([key, filterValue(def, field, String(raw))]);
    }
  }
  return { equals, lastmodified, offset, limit };
}

function selectMaster(ctx: DataContext | { db: DataTx; tenantId: string }, def: ResourceDef, c: Criteria) {
  let q = ctx.db
    .selectFrom(masterTable(def))
    .select(def.fields.map((f) => f.name))
    .where('tenant_id', '=', ctx.tenantId);
  for (const [col, value] of c.equals) q = q.where(col, '=', value);
  if (c.lastmodified !== undefined) q = q.where('lastmodified', '>=', c.lastmodified);
  return q.orderBy(def.keyField).limit(c.limit).offset(c.offset);
}

/** `GET /{resource}/?field=value`: master fields only, filterable by any master field. */
export async function listRecords(ctx: DataContext, def: ResourceDef, query: Query): Promise<ListResult> {
  const c = criteria(def, query, new Set(def.fields.map((f) => f.name)), 'the list');
  const rows = await selectMaster(ctx, def, c).execute();
  return {
    pagination: { count: rows.length, offset: c.offset, limit: c.limit },
    data: rows.map((r: Record<string, unknown>) => outputRow(def.fields, r)),
  };
}

async function loadDetail(db: DataDb | DataTx, tenantId: string, def: ResourceDef, keys: unknown[]) {
  if (!def.detail || keys.length === 0) return new Map<unknown, Record<string, unknown>[]>();
  const link = detailLinkField(def);
  const rows: Record<string, unknown>[] = await db
    .selectFrom(detailTable(def))
    .select(detailFields(def).map((f) => f.name))
    .where('tenant_id', '=', tenantId)
    .where(link, 'in', keys)
    .orderBy('seq')
    .orderBy('dtlkey')
    .execute();
  const byParent = new Map<unknown, Record<string, unknown>[]>();
  for (const row of rows) {
    const parent = link === 'dockey' ? Number(row[link]) : row[link];
    const list = byParent.get(parent) ?? [];
    list.push(row);
    byParent.set(parent, list);
  }
  return byParent;
}

function withDetail(def: ResourceDef, master: Record<string, unknown>, detail: Record<string, unknown>[]) {
  const out = outputRow(def.fields, master);
  if (def.detail) out[def.detail.name] = detail.map((r) => outputRow(detailFields(def), r));
  return out;
}

/** `GET /{resource}/*?field=value`: one record with its detail, filterable by the indexed fields. */
export async function findOne(ctx: DataContext, def: ResourceDef, query: Query): Promise<ListResult> {
  const c = criteria(def, query, new Set([...def.indexed]), 'the * form (indexed fields only)');
  c.limit = 1;
  const rows: Record<string, unknown>[] = await selectMaster(ctx, def, c).execute();
  const first = rows[0];
  if (!first) return { pagination: { count: 0, offset: c.offset, limit: 1 }, data: [] };
  const key = def.keyField === 'dockey' ? Number(first.dockey) : first.code;
  const detail = await loadDetail(ctx.db, ctx.tenantId, def, [key]);
  return {
    pagination: { count: 1, offset: c.offset, limit: 1 },
    data: [withDetail(def, first, detail.get(key) ?? [])],
  };
}

/** The stored key of a path parameter: dockey (integer) for documents, code for masters. */
function keyOf(def: ResourceDef, raw: string): string | number {
  if (def.keyField === 'code') return raw;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > INT_MAX)
    throw new AppError('NOT_FOUND', `${def.name} ${raw} not found (dockey is an integer)`);
  return Number(raw);
}

async function loadRecord(db: DataDb | DataTx, tenantId: string, def: ResourceDef, key: string | number) {
  const row: Record<string, unknown> | undefined = await db
    .selectFrom(masterTable(def))
    .select(def.fields.map((f) => f.name))
    .where('tenant_id', '=', tenantId)
    .where(def.keyField, '=', key)
    .executeTakeFirst();
  return row;
}

const notFound = (def: ResourceDef, key: string | number) =>
  new AppError('NOT_FOUND', `${def.name} ${def.keyField}=${key} not found`);

/** `GET /{resource}/{key}`: one record with its detail. */
export async function getRecord(
  ctx: DataContext,
  def: ResourceDef,
  rawKey: string,
): Promise<Record<string, unknown>> {
  const key = keyOf(def, rawKey);
  const row = await loadRecord(ctx.db, ctx.tenantId, def, key);
  if (!row) throw notFound(def, key);
  const detail = await loadDetail(ctx.db, ctx.tenantId, def, [key]);
  return withDetail(def, row, detail.get(key) ?? []);
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

async function nextDocno(trx: DataTx, tenantId: string, def: ResourceDef): Promise<string> {
  const series = def.numbering ?? { prefix: '', digits: 5 };
  // A number taken by an explicitly sent docno is skipped.
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const n = await nextCounter(trx, tenantId, `docno:${def.name}`, 1);
    const docno = `${series.prefix}${String(n).padStart(series.digits, '0')}`;
    if (!(await docnoTaken(trx, tenantId, def, docno))) return docno;
  }
  throw new AppError('CONFLICT', `${def.name}: the numbering series ${series.prefix} is exhausted`);
}

interface RefUse {
  path: string;
  resource: string;
  code: string;
}

function collectRefs(fields: readonly FieldDef[], values: Row, path: string, into: RefUse[]): void {
  for (const field of fields) {
    const v = values[field.name];
    if (field.ref && typeof v === 'string' && v !== '')
      into.push({ path: `${path}${field.name}`, resource: field.ref, code: v });
  }
}

/** Load every referenced record; a missing one is a 422 naming the field, the resource and the code. */
async function resolveRefs(trx: DataTx, tenantId: string, uses: RefUse[]) {
  const byResource = new Map<string, Set<string>>();
  for (const u of uses) {
    const set = byResource.get(u.resource) ?? new Set<string>();
    set.add(u.code);
    byResource.set(u.resource, set);
  }
  const found = new Map<string, Map<string, Record<string, unknown>>>();
  for (const [resource, codes] of byResource) {
    const def = resourceByName(resource);
    if (!def) continue;
    const rows: Record<string, unknown>[] = await trx
      .selectFrom(masterTable(def))
      .selectAll()
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
  refs: Map<string, Map<string, Record<string, unknown>>>,
): Promise<Map<string, string>> {
  const rates = new Map<string, string>();
  for (const [code, rec] of refs.get('taxcode') ?? []) rates.set(code, String(rec.taxrate ?? '0'));
  const codes = [
    ...new Set(
      rows.map((r) => r.tax).filter((t): t is string => typeof t === 'string' && t !== '' && !rates.has(t)),
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

/** The record as GET shows it, from rows this transaction wrote (saves reading them back). */
function recordOf(def: ResourceDef, header: Row, rows: Row[]): Record<string, unknown> {
  const sorted = [...rows].sort(
    (a, b) => Number(a.seq) - Number(b.seq) || Number(a.dtlkey) - Number(b.dtlkey),
  );
  return withDetail(def, header, sorted);
}

function checkDetailRequired(def: ResourceDef, rows: Row[], problems: Problems): void {
  if (!def.detail) return;
  rows.forEach((row, i) => {
    for (const field of def.detail?.fields ?? []) {
      if (
        field.required &&
        (row[field.name] === null || row[field.name] === undefined || row[field.name] === '')
      ) {
        problems.add(`${def.detail?.name}[${i}].${field.name}`, 'is required');
      }
    }
  });
}

/** Server defaults: the party's name/agent/area/terms/currency, dates from docdate, item description and price. */
function applyDefaults(
  def: ResourceDef,
  header: Row,
  provided: Row,
  inserted: Row[],
  refs: Map<string, Map<string, Record<string, unknown>>>,
): void {
  if (def.kind !== 'document') return;
  const partyRef = def.fields.find((f) => f.name === 'code')?.ref;
  const party =
    partyRef && typeof header.code === 'string' ? refs.get(partyRef)?.get(header.code) : undefined;
  if (party) {
    for (const f of ['companyname', 'agent', 'area', 'terms', 'currencycode']) {
      if (f in header && !(f in provided) && party[f] !== undefined && party[f] !== null)
        header[f] = party[f] as string;
    }
  }
  if (!('postdate' in provided) && header.postdate === null) header.postdate = header.docdate ?? null;
  if (!('taxdate' in provided) && header.taxdate === null) header.taxdate = header.docdate ?? null;
  const items = refs.get('stockitem');
  for (const row of inserted) {
    const item = typeof row.itemcode === 'string' ? items?.get(row.itemcode) : undefined;
    if (!item) continue;
    if (row.description === null) row.description = (item.description as string) ?? null;
    if ('unitprice' in row && row.__unitpriceGiven !== 1) {
      row.unitprice = toFixedScale(
        String((partyRef === 'supplier' ? item.refcost : item.refprice) ?? '0'),
        4,
      );
    }
    if ('unitcost' in row && row.__unitcostGiven !== 1)
      row.unitcost = toFixedScale(String(item.refcost ?? '0'), 4);
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

function newDetailRow(def: ResourceDef, input: DetailInput): Row {
  const row = withDefaults(detailFields(def), input.values);
  // Remember whether a price was sent, so an item's reference price fills only the missing ones.
  if ('unitprice' in input.values) row.__unitpriceGiven = 1;
  if ('unitcost' in input.values) row.__unitcostGiven = 1;
  return row;
}

const stripMarks = (row: Row): Row => {
  const { __unitpriceGiven: _a, __unitcostGiven: _b, ...rest } = row;
  return rest;
};

function duplicate(def: ResourceDef, field: string, value: unknown): AppError {
  return new AppError(
    'ALREADY_EXISTS',
    `${def.name}: ${field} "${String(value)}" already exists; ${field} must be unique`,
    { field },
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
    const rows = (input.detail ?? []).map((d) => newDetailRow(def, { dtlkey: null, values: d.values }));
    const problems = new Problems();
    checkDetailRequired(def, rows, problems);
    problems.throwIfAny(def.name);

    const uses: RefUse[] = [];
    collectRefs(def.fields, header, '', uses);
    rows.forEach((r, i) => {
      collectRefs(def.detail?.fields ?? [], r, `${def.detail?.name}[${i}].`, uses);
    });
    const refs = await resolveRefs(trx, ctx.tenantId, uses);
    applyDefaults(def, header, input.master, rows, refs);

    if (def.kind === 'master') {
      const exists = await loadRecord(trx, ctx.tenantId, def, header.code as string);
      if (exists) throw duplicate(def, 'code', header.code);
    } else {
      if (typeof header.docno === 'string' && header.docno !== '') {
        await assertDocnoFree(trx, ctx.tenantId, def, header.docno);
      } else {
        header.docno = await nextDocno(trx, ctx.tenantId, def);
      }
      header.dockey = await nextCounter(trx, ctx.tenantId, `dockey:${def.name}`, 1);
    }
    numberSeq(rows);
    computeDocument(def, header, rows, await taxRatesOf(trx, ctx.tenantId, rows, refs));
    header.updatecount = 1;
    header.lastmodified = now;
    await trx
      .insertInto(masterTable(def))
      .values({ tenant_id: ctx.tenantId, ...header })
      .execute();
    await insertDetail(trx, ctx.tenantId, def, header[def.keyField] as string | number, rows);
    return recordOf(def, header, rows);
  });
}

async function insertDetail(
  trx: DataTx,
  tenantId: string,
  def: ResourceDef,
  parent: string | number,
  rows: Row[],
) {
  if (!def.detail || rows.length === 0) return;
  const last = await nextCounter(trx, tenantId, `dtlkey:${def.name}`, rows.length);
  const link = detailLinkField(def);
  rows.forEach((row, i) => {
    row.dtlkey = last - rows.length + 1 + i;
    row[link] = parent;
  });
  const values = rows.map((row) => ({ tenant_id: tenantId, ...stripMarks(row) }));
  await trx.insertInto(detailTable(def)).values(values).execute();
}

/**
 * `PUT /{resource}/{key}`: `updatecount` must be the stored value + 1, else RECORD_CHANGED and
 * nothing changes. The conditional UPDATE (… WHERE updatecount = n - 1) makes two racing
 * updates safe on both engines: exactly one matches the row.
 */
export async function updateRecord(
  ctx: DataContext,
  def: ResourceDef,
  rawKey: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const key = keyOf(def, rawKey);
  const input = parseBody(def, body, 'update');
  if (def.kind === 'master' && 'code' in input.master && input.master.code !== key) {
    throw bad(def, 'code cannot be changed (it is the key); create a new record instead');
  }
  const wanted = input.updatecount as number;
  const now = unixNow(ctx.clock);
  return inTransaction(ctx, def, async (trx) => {
    const stored = await loadRecord(trx, ctx.tenantId, def, key);
    if (!stored) throw notFound(def, key);
    const changed = () =>
      new AppError('RECORD_CHANGED', RECORD_CHANGED_MESSAGE, {
        storedUpdatecount: Number(stored.updatecount),
        hint: 'send the stored updatecount + 1',
      });
    if (Number(stored.updatecount) + 1 !== wanted) throw changed();

    const header: Row = {};
    for (const f of def.fields) header[f.name] = (stored[f.name] ?? null) as Row[string];
    Object.assign(header, input.master);
    const problems = new Problems();
    for (const f of def.fields) {
      if (f.required && (header[f.name] === null || header[f.name] === ''))
        problems.add(f.name, 'is required');
    }

    const existing = (await loadDetail(trx, ctx.tenantId, def, [key])).get(key) ?? [];
    const existingByKey = new Map(existing.map((r) => [Number(r.dtlkey), r]));
    let rows: Row[];
    const kept = new Set<number>();
    const inserted: Row[] = [];
    const uses: RefUse[] = [];
    collectRefs(def.fields, input.master, '', uses);
    if (input.detail === undefined) {
      rows = existing.map((r) => ({ ...(r as Row) }));
    } else {
      rows = input.detail.map((d, i) => {
        collectRefs(def.detail?.fields ?? [], d.values, `${def.detail?.name}[${i}].`, uses);
        const old = d.dtlkey !== null && !kept.has(d.dtlkey) ? existingByKey.get(d.dtlkey) : undefined;
        if (old) {
          kept.add(d.dtlkey as number);
          return { ...(old as Row), ...d.values };
        }
        // No dtlkey, -1, or a dtlkey this record does not have: a new row.
        const row = newDetailRow(def, { dtlkey: null, values: d.values });
        inserted.push(row);
        return row;
      });
    }
    checkDetailRequired(def, rows, problems);
    problems.throwIfAny(def.name);
    const refs = await resolveRefs(trx, ctx.tenantId, uses);
    applyDefaults(def, header, { ...stored, ...input.master } as Row, inserted, refs);
    if (def.kind === 'document' && header.docno !== stored.docno) {
      if (typeof header.docno !== 'string' || header.docno === '') throw bad(def, 'docno must not be empty');
      await assertDocnoFree(trx, ctx.tenantId, def, header.docno);
    }
    numberSeq(rows);
    const before = new Map(rows.map((r) => [r, JSON.stringify(r)]));
    computeDocument(def, header, rows, await taxRatesOf(trx, ctx.tenantId, rows, refs));
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

    if (def.detail) {
      const link = detailLinkField(def);
      const removed = existing.map((r) => Number(r.dtlkey)).filter((k) => !kept.has(k));
      if (input.detail !== undefined && removed.length > 0) {
        await trx
          .deleteFrom(detailTable(def))
          .where('tenant_id', '=', ctx.tenantId)
          .where('dtlkey', 'in', removed)
          .execute();
      }
      for (const row of rows) {
        if (inserted.includes(row)) continue;
        const original = existingByKey.get(Number(row.dtlkey));
        // Untouched rows whose computed values did not change need no write.
        if (
          original &&
          before.get(row) === JSON.stringify(original) &&
          JSON.stringify(row) === before.get(row)
        ) {
          continue;
        }
        const { dtlkey, [link]: _parent, ...rest } = row;
        await trx
          .updateTable(detailTable(def))
          .set(stripMarks(rest))
          .where('tenant_id', '=', ctx.tenantId)
          .where('dtlkey', '=', dtlkey as number)
          .execute();
      }
      await insertDetail(trx, ctx.tenantId, def, key, inserted);
    }
    return recordOf(def, header, rows);
  });
}

/** `DELETE /{resource}/{key}`: the record and its detail. */
export async function deleteRecord(ctx: DataContext, def: ResourceDef, rawKey: string): Promise<void> {
  const key = keyOf(def, rawKey);
  await ctx.db.transaction().execute(async (trx) => {
    const result = await trx
      .deleteFrom(masterTable(def))
      .where('tenant_id', '=', ctx.tenantId)
      .where(def.keyField, '=', key)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) !== 1) throw notFound(def, key);
    if (def.detail) {
      await trx
        .deleteFrom(detailTable(def))
        .where('tenant_id', '=', ctx.tenantId)
        .where(detailLinkField(def), '=', key)
        .execute();
    }
  });
}
