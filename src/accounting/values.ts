/**
 * Input parsing and output shaping for the data API, driven by the field definitions.
 * Every problem is collected (with the field's path) so one 400 names all of them.
 */
import { Decimal as BaseDecimal } from 'decimal.js';
import { distance } from 'fastest-levenshtein';
import { AppError } from '../errors.js';
import {
  type DetailDef,
  detailFields,
  type FieldDef,
  NEW_DOCNO,
  type ResourceDef,
  UDF_PATTERN,
} from './registry.js';

/**
 * decimal.js with room for every value the API accepts (15 integer digits × 15 integer digits plus
 * scales): the default 20 significant digits would round large products.
 */
export const Decimal = BaseDecimal.clone({ precision: 64, rounding: BaseDecimal.ROUND_HALF_UP });
export type Decimal = BaseDecimal;

/** A stored column value: text, integer (booleans as 0/1) or NULL. */
export type StoredValue = string | number | null;
export type Row = Record<string, StoredValue>;

/** Integer columns are 32-bit on PostgreSQL. */
export const INT_MAX = 2_147_483_647;
/** A decimal with at most 15 integer digits, sent as a string (preferred) or a JSON number. */
const DECIMAL = /^-?\d{1,15}(\.\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** `disc`: an amount, a percent, or a chain of them joined by `+` ("10%+5"). */
export const DISC = /^\s*\d{1,15}(\.\d+)?%?(\s*\+\s*\d{1,15}(\.\d+)?%?)*\s*$/;

export function isValidDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

export function toFixedScale(value: BaseDecimal.Value, scale: number): string {
  return new Decimal(value).toDecimalPlaces(scale, BaseDecimal.ROUND_HALF_UP).toFixed(scale);
}

/** Parse one client value for a field: the stored value, or an error message. */
export function parseValue(field: FieldDef, value: unknown): { value: StoredValue } | { error: string } {
  if (value === null) {
    if (field.required) return { error: 'must not be null' };
    return { value: storedDefault(field) };
  }
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') return { error: 'must be a string' };
      // PostgreSQL text cannot hold NUL; refuse it on both engines alike.
      if (value.includes('\u0000')) return { error: 'must not contain a NUL character' };
      const max = field.maxLength ?? 200;
      if (value.length > max) return { error: `must be at most ${max} characters` };
      if (field.required && value.trim() === '') return { error: 'must not be empty' };
      if (field.name === 'disc' && value !== '' && !DISC.test(value)) {
        return { error: 'must be an amount ("5.00"), a percent ("10%") or a chain ("10%+5%")' };
      }
      return { value };
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > INT_MAX) {
        return { error: `must be an integer between -${INT_MAX} and ${INT_MAX}` };
      }
      return { value };
    case 'boolean':
      if (typeof value !== 'boolean') return { error: 'must be true or false' };
      return { value: value ? 1 : 0 };
    case 'date':
      if (typeof value !== 'string' || !isValidDate(value)) return { error: 'must be a date YYYY-MM-DD' };
      return { value };
    case 'decimal': {
      const scale = field.scale ?? 2;
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof text !== 'string' || !DECIMAL.test(text.trim())) {
        return { error: `must be a decimal string such as "${toFixedScale(0, scale)}"` };
      }
      // Extra decimal places are fine when they are zeros ("12.50000000" from an 8-place client).
      const places =
        text
          .trim()
          .replace(/(\.\d*?)0+$/, '$1')
          .split('.')[1]?.length ?? 0;
      if (places > scale) return { error: `must have at most ${scale} decimal places` };
      return { value: toFixedScale(text.trim(), scale) };
    }
  }
}

export function storedDefault(field: FieldDef): StoredValue {
  const d = field.default;
  if (d === undefined || d === null) return null;
  if (typeof d === 'boolean') return d ? 1 : 0;
  if (field.type === 'decimal') return toFixedScale(d as string, field.scale ?? 2);
  return d;
}

type RowConverter = (row: Record<string, unknown>) => Record<string, unknown>;
type ArrayConverter = (row: readonly unknown[]) => Record<string, unknown>;
const CONVERTERS = new WeakMap<readonly FieldDef[], RowConverter>();
const ARRAY_CONVERTERS = new WeakMap<readonly FieldDef[], ArrayConverter>();

/**
 * The body of a converter for one field list, generated once: an object literal with every field
 * in order, so each answer gets one fixed V8 shape instead of growing an object key by key. A
 * record of a document has 80 fields and a list 50 records; this is most of the cost of reading
 * them. Written by hand because no library turns a field list into such a function; the field
 * names come from the registry and are checked to be plain lowercase identifiers. `at(i, name)`
 * is how the generated code reads field i of a row.
 */
function converterSource(fields: readonly FieldDef[], at: (i: number, name: string) => string): string {
  const parts = fields.map((field, i) => {
    if (!/^[a-z][a-z0-9_]*$/.test(field.name))
      throw new Error(`field name ${field.name} is not an identifier`);
    const v = at(i, field.name);
    const value =
      field.type === 'boolean'
        ? `(${v} === null || ${v} === undefined ? false : Number(${v}) === 1)`
        : field.type === 'integer'
          ? `(${v} === null || ${v} === undefined ? null : Number(${v}))`
          : `(${v} === null || ${v} === undefined ? null : String(${v}))`;
    return `${JSON.stringify(field.name)}: ${value}${i < fields.length - 1 ? ',' : ''}`;
  });
  return `return {${parts.join('\n')}};`;
}

/** The converter of `fields` kept in `cache`, generated once with `at` reading field i. */
function converterOf<C extends RowConverter | ArrayConverter>(
  cache: WeakMap<readonly FieldDef[], C>,
  fields: readonly FieldDef[],
  at: (i: number, name: string) => string,
): C {
  let found = cache.get(fields);
  if (!found) {
    found = new Function('r', converterSource(fields, at)) as C;
    cache.set(fields, found);
  }
  return found;
}

/** Stored row → JSON (booleans back to true/false, integers as numbers, decimals as strings). */
export function outputRow(
  fields: readonly FieldDef[],
  row: Record<string, unknown>,
): Record<string, unknown> {
  return converterOf(CONVERTERS, fields, (_, name) => `r[${JSON.stringify(name)}]`)(row);
}

/** outputRow for a row read as an array (DatabaseHandle.arrays), fields in select order. */
export function outputArrayRow(
  fields: readonly FieldDef[],
  row: readonly unknown[],
): Record<string, unknown> {
  return converterOf(ARRAY_CONVERTERS, fields, (i) => `r[${i}]`)(row);
}

export interface DetailInput {
  /** A dtlkey the client sent (positive), or null for "insert". */
  dtlkey: number | null;
  values: Row;
  /** `udf_*` values sent for this row. */
  udf: UdfValues;
  /** Read-only fields the client sent, parsed: an update checks them against the row. */
  echoed: Row;
}

/** User-defined fields of a record or row: `udf_*` names to JSON scalars. */
export type UdfValues = Record<string, string | number | boolean | null>;

export interface ParsedInput {
  master: Row;
  /** Detail arrays the client sent, by name; a missing one is left alone by PUT. */
  details: Map<string, DetailInput[]>;
  updatecount: number | undefined;
  udf: UdfValues;
  echoed: Row;
}

export class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    if (this.list.length < 50) this.list.push(`${path} ${message}`);
  }
  throwIfAny(resource: string): void {
    if (this.list.length === 0) return;
    throw new AppError('VALIDATION_FAILED', `${resource}: ${this.list.join('; ')}`, {
      problems: this.list,
    });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const UDF_VALUE_MAX = 4000;
const UDF_MAX_PER_ROW = 100;

function parseUdf(key: string, value: unknown, into: UdfValues, path: string, problems: Problems): void {
  if (Object.keys(into).length >= UDF_MAX_PER_ROW) {
    problems.add(path, `has more than ${UDF_MAX_PER_ROW} udf_ fields`);
    return;
  }
  if (typeof value === 'string') {
    if (value.length > UDF_VALUE_MAX) problems.add(path, `must be at most ${UDF_VALUE_MAX} characters`);
    else if (value.includes('\u0000')) problems.add(path, 'must not contain a NUL character');
    else into[key.toLowerCase()] = value;
  } else if (
    value === null ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  ) {
    into[key.toLowerCase()] = value;
  } else {
    problems.add(path, 'must be a string, number, true/false or null (user-defined fields hold one value)');
  }
}

/** "is not a field …", with the names closest to a misspelling. */
function unknownField(key: string, known: readonly string[], what: string): string {
  const lower = key.toLowerCase();
  const near = known
    .map((name) => ({ name, d: distance(lower, name) }))
    .filter((c) => c.d <= Math.max(2, Math.floor(lower.length / 4)))
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((c) => c.name);
  const hint = near.length > 0 ? `; did you mean ${near.join(', ')}?` : '';
  return `is not a field of this ${what}${hint} (user-defined fields start with udf_)`;
}

interface FieldLookup {
  byName: Map<string, FieldDef>;
  known: string[];
}

function lookupOf(fields: readonly FieldDef[], ignored: readonly string[] = []): FieldLookup {
  const byName = new Map<string, FieldDef>();
  for (const f of fields) {
    byName.set(f.name, f);
    for (const a of f.aliases ?? []) byName.set(a, f);
  }
  return { byName, known: [...fields.map((f) => f.name), ...ignored] };
}

const LOOKUPS = new WeakMap<object, FieldLookup>();
function cachedLookup(owner: object, fields: readonly FieldDef[], ignored?: readonly string[]): FieldLookup {
  let found = LOOKUPS.get(owner);
  if (!found) {
    found = lookupOf(fields, ignored);
    LOOKUPS.set(owner, found);
  }
  return found;
}

/**
 * A read-only field sent in an update, kept for the check against the stored and computed
 * values. Clients echo what they read, in their own spelling: `""` (nothing), a percent with its
 * sign (`"6%"`), a number for a decimal. Those are read as the value they mean.
 */
function echo(field: FieldDef, value: unknown, into: Row, path: string, problems: Problems): void {
  if (value === '' || value === undefined) return;
  const plain =
    field.type === 'decimal' && typeof value === 'string' ? value.trim().replace(/%$/, '') : value;
  const parsed = parseValue({ ...field, required: false }, plain);
  if ('error' in parsed) problems.add(path, parsed.error);
  else into[field.name] = parsed.value;
}

/**
 * Parse a POST/PUT body. Unknown fields are errors naming the closest known ones (a typo must
 * not be a silent no-op); `udf_*` fields are user-defined and kept as sent. Read-only fields
 * (dockey, docamt, amounts…) are parsed and returned in `echoed`: a create ignores them, an
 * update checks them, so a record read from the API can be sent back.
 */
export function parseBody(def: ResourceDef, body: unknown, mode: 'create' | 'update'): ParsedInput {
  const problems = new Problems();
  if (!isPlainObject(body)) {
    throw new AppError('VALIDATION_FAILED', `${def.name}: the body must be a JSON object`);
  }
  const master: Row = {};
  const echoed: Row = {};
  const udf: UdfValues = {};
  const details = new Map<string, DetailInput[]>();
  let updatecount: number | undefined;
  const ignored = new Set(def.ignored ?? []);
  const { byName, known } = cachedLookup(def, def.fields, [
    ...(def.ignored ?? []),
    ...def.details.map((d) => d.name),
  ]);
  for (const [key, value] of Object.entries(body)) {
    const detail = def.details.find((d) => d.name === key);
    if (detail) {
      const rows = parseDetail(def, detail, value, problems, mode);
      if (rows) details.set(key, rows);
      continue;
    }
    if (UDF_PATTERN.test(key)) {
      parseUdf(key, value, udf, key, problems);
      continue;
    }
    if (ignored.has(key)) continue;
    const field = byName.get(key);
    if (!field) {
      problems.add(key, unknownField(key, known, 'resource'));
      continue;
    }
    if (field.name in master && field.name !== key) continue; // the current name wins over an older one
    if (key === 'updatecount') {
      if (mode === 'update' && value !== null) {
        if (typeof value !== 'number' || !Number.isSafeInteger(value))
          problems.add(key, 'must be an integer');
        else updatecount = value;
      }
      continue;
    }
    if (key === 'docno' && (value === NEW_DOCNO || value === '')) {
      if (mode === 'create') continue;
      problems.add(key, `cannot be ${value === '' ? 'empty' : `"${NEW_DOCNO}"`} on update`);
      continue;
    }
    if (field.readOnly) {
      if (mode === 'update') echo(field, value, echoed, key, problems);
      continue;
    }
    const parsed = parseValue(field, value);
    if ('error' in parsed) problems.add(key, parsed.error);
    else master[field.name] = parsed.value;
  }
  if (mode === 'update' && def.kind === 'master' && Object.keys(body).length === 0) {
    problems.add('body', 'is empty: it changes nothing; send the fields to change');
    problems.throwIfAny(def.name);
  }
  // Documents keep SQL Account's data-entry rule: an update sends the stored updatecount + 1.
  // Masters may leave it out, as the official samples for agents, customers and items do.
  if (
    mode === 'update' &&
    def.kind === 'document' &&
    updatecount === undefined &&
    !problems.list.some((p) => p.startsWith('updatecount'))
  ) {
    problems.add('updatecount', 'is required: send the stored updatecount + 1');
  }
  if (mode === 'create') {
    for (const field of def.fields) {
      if (field.required && (master[field.name] === undefined || master[field.name] === null)) {
        problems.add(field.name, 'is required');
      }
    }
  }
  problems.throwIfAny(def.name);
  return { master, details, updatecount, udf, echoed };
}

function parseDetail(
  def: ResourceDef,
  detail: DetailDef,
  value: unknown,
  problems: Problems,
  mode: 'create' | 'update',
): DetailInput[] | undefined {
  const name = detail.name;
  if (!Array.isArray(value)) {
    problems.add(name, 'must be an array');
    return undefined;
  }
  if (value.length > 500) {
    problems.add(name, 'must have at most 500 rows');
    return undefined;
  }
  const { byName, known } = cachedLookup(detail, detailFields(def, detail), detail.ignored);
  const ignored = new Set(detail.ignored ?? []);
  return value.map((item, i) => {
    const path = `${name}[${i}]`;
    const values: Row = {};
    const echoed: Row = {};
    const udf: UdfValues = {};
    let dtlkey: number | null = null;
    if (!isPlainObject(item)) {
      problems.add(path, 'must be an object');
      return { dtlkey, values, udf, echoed };
    }
    for (const [key, v] of Object.entries(item)) {
      if (UDF_PATTERN.test(key)) {
        parseUdf(key, v, udf, `${path}.${key}`, problems);
        continue;
      }
      if (ignored.has(key)) continue;
      const field = byName.get(key);
      if (!field) {
        problems.add(`${path}.${key}`, unknownField(key, known, 'detail row'));
        continue;
      }
      if (field.name in values && field.name !== key) continue;
      if (key === 'dtlkey') {
        if (v === null || v === undefined) continue;
        if (typeof v !== 'number' || !Number.isSafeInteger(v))
          problems.add(`${path}.dtlkey`, 'must be an integer');
        else if (v > 0) dtlkey = v;
        continue;
      }
      if (field.readOnly) {
        if (mode === 'update') echo(field, v, echoed, `${path}.${key}`, problems);
        continue;
      }
      const parsed = parseValue(field, v);
      if ('error' in parsed) problems.add(`${path}.${key}`, parsed.error);
      else values[field.name] = parsed.value;
    }
    return { dtlkey, values, udf, echoed };
  });
}

/** The full stored row of a new record: defaults, then what the client sent. */
export function withDefaults(fields: readonly FieldDef[], values: Row): Row {
  const row: Row = {};
  for (const field of fields)
    row[field.name] = field.name in values ? (values[field.name] ?? null) : storedDefault(field);
  return row;
}
