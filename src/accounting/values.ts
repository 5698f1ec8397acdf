/**
 * Input parsing and output shaping for the data API, driven by the field definitions.
 * Every problem is collected (with the field's path) so one 400 names all of them.
 */
import { Decimal as BaseDecimal } from 'decimal.js';
import { AppError } from '../errors.js';
import { detailFields, type FieldDef, NEW_DOCNO, type ResourceDef } from './registry.js';

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
      const places = text.trim().split('.')[1]?.length ?? 0;
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

/** Stored row → JSON (booleans back to true/false, integers as numbers, decimals as strings). */
export function outputRow(
  fields: readonly FieldDef[],
  row: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const v = row[field.name];
    if (v === null || v === undefined) {
      out[field.name] = field.type === 'boolean' ? false : null;
    } else if (field.type === 'boolean') {
      out[field.name] = Number(v) === 1;
    } else if (field.type === 'integer') {
      out[field.name] = Number(v);
    } else {
      out[field.name] = String(v);
    }
  }
  return out;
}

export interface DetailInput {
  /** A dtlkey the client sent (positive), or null for "insert". */
  dtlkey: number | null;
  values: Row;
}

export interface ParsedInput {
  master: Row;
  /** undefined: the client sent no detail array (PUT leaves the detail alone). */
  detail: DetailInput[] | undefined;
  updatecount: number | undefined;
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

/**
 * Parse a POST/PUT body. Read-only fields (dockey, docamt, amounts, lastmodified…) are ignored so
 * a record read from the API can be sent back; unknown fields are errors (a typo must not be a
 * silent no-op).
 */
export function parseBody(def: ResourceDef, body: unknown, mode: 'create' | 'update'): ParsedInput {
  const problems = new Problems();
  if (!isPlainObject(body)) {
    throw new AppError('VALIDATION_FAILED', `${def.name}: the body must be a JSON object`);
  }
  const master: Row = {};
  let detail: DetailInput[] | undefined;
  let updatecount: number | undefined;
  const byName = new Map(def.fields.map((f) => [f.name, f]));
  for (const [key, value] of Object.entries(body)) {
    if (def.detail && key === def.detail.name) {
      detail = parseDetail(def, value, problems);
      continue;
    }
    const field = byName.get(key);
    if (!field) {
      problems.add(key, 'is not a field of this resource');
      continue;
    }
    if (key === 'updatecount') {
      if (mode === 'update') {
        if (typeof value !== 'number' || !Number.isSafeInteger(value))
          problems.add(key, 'must be an integer');
        else updatecount = value;
      }
      continue;
    }
    if (field.readOnly) continue;
    if (key === 'docno' && value === NEW_DOCNO) {
      if (mode === 'create') continue;
      problems.add(key, `cannot be "${NEW_DOCNO}" on update`);
      continue;
    }
    const parsed = parseValue(field, value);
    if ('error' in parsed) problems.add(key, parsed.error);
    else master[key] = parsed.value;
  }
  if (
    mode === 'update' &&
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
  return { master, detail, updatecount };
}

function parseDetail(def: ResourceDef, value: unknown, problems: Problems): DetailInput[] | undefined {
  const name = def.detail?.name ?? 'detail';
  if (!Array.isArray(value)) {
    problems.add(name, 'must be an array');
    return undefined;
  }
  if (value.length > 500) {
    problems.add(name, 'must have at most 500 rows');
    return undefined;
  }
  const fields = detailFields(def);
  const byName = new Map(fields.map((f) => [f.name, f]));
  return value.map((item, i) => {
    const path = `${name}[${i}]`;
    const values: Row = {};
    let dtlkey: number | null = null;
    if (!isPlainObject(item)) {
      problems.add(path, 'must be an object');
      return { dtlkey, values };
    }
    for (const [key, v] of Object.entries(item)) {
      const field = byName.get(key);
      if (!field) {
        problems.add(`${path}.${key}`, 'is not a field of this detail row');
        continue;
      }
      if (key === 'dtlkey') {
        if (v === null || v === undefined) continue;
        if (typeof v !== 'number' || !Number.isSafeInteger(v))
          problems.add(`${path}.dtlkey`, 'must be an integer');
        else if (v > 0) dtlkey = v;
        continue;
      }
      if (field.readOnly) continue;
      const parsed = parseValue(field, v);
      if ('error' in parsed) problems.add(`${path}.${key}`, parsed.error);
      else values[key] = parsed.value;
    }
    return { dtlkey, values };
  });
}

/** The full stored row of a new record: defaults, then what the client sent. */
export function withDefaults(fields: readonly FieldDef[], values: Row): Row {
  const row: Row = {};
  for (const field of fields)
    row[field.name] = field.name in values ? (values[field.name] ?? null) : storedDefault(field);
  return row;
}
