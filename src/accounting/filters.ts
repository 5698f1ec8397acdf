/**
 * The query-string filters of the data API's list form (`GET /{r}/?field=value`) and `*` form
 * (`GET /{r}/*?field=value`): what a value means, and the SQL it becomes on SQLite and PostgreSQL.
 * store.ts reads `offset`, `limit` and `lastmodified` itself (`lastmodified` keeps its "changed
 * since", `>=`, meaning and takes neither `*` nor `~`); every other parameter is a field filter
 * parsed here. Several filters are ANDed.
 *
 * What a value means
 * - Without an unescaped `*` or `~` it is an exact match, as it always was: text compared as stored
 *   (case-sensitive), dates and integers as such, decimals by value (`50000` finds `50000.00`, rounded
 *   half-up to the field's scale), booleans `true`/`false` (also `1`/`0`, `t`/`f`).
 * - `*` (text fields only) stands for any run of characters, also none: `300*` starts with 300,
 *   `*trading*` contains "trading", `*001` ends with 001, `IV*3` starts with IV and ends with 3.
 *   `*` alone matches every record whose field has a value (is not null). At most 10 `*` in a value.
 * - `a~b` (text, dates, integers, decimals) is the inclusive range a ≤ value ≤ b; `a~` is
 *   "a or more", `~b` "b or less". Exactly one `~`, at least one side, no `*` in either side; each
 *   side must be a valid value of the field (a real calendar date, an integer within ±2147483647, a
 *   decimal with at most 15 integer digits); the lower side must not be above the upper one.
 * - `\*`, `\~` and `\\` stand for a literal `*`, `~` and `\`; a `\` before anything else is itself.
 *   So `?description=50\*` is the exact text "50*" (send `\` as `%5C` and `%` as `%25` in a URL).
 * - Booleans take no `*` and no `~`; a wildcard on a date or number is refused (use a range).
 * Anything else is a 400 VALIDATION_FAILED that names the field and what is wrong.
 *
 * Case and order of text. An exact match is case-sensitive (unchanged). Wildcard patterns and text
 * ranges ignore the case of the ASCII letters A–Z, and only theirs: both the stored value and the
 * filter are folded with SQL `lower()`, which on SQLite folds ASCII only, and on PostgreSQL does
 * the same under `COLLATE "C"` (whatever the database's own collation). Other characters match
 * exactly (`é*` does not find "École"), and text ranges compare by Unicode code point after folding
 * (SQLite's BINARY collation, PostgreSQL's "C"), so the two engines answer alike.
 *
 * The SQL
 * - The folded value F is `lower(col)` on SQLite and `lower(col COLLATE "C")` on PostgreSQL. For
 *   every indexed text field schema.ts creates a btree index on `(tenant_id, F)`, its only index
 *   (a document's docno and a master's code keep their unique one too): an exact match on such a
 *   field is `F = lower(value) AND col = value`, so that index serves it as well.
 * - A pattern's literal head (`term` of `term*`, `IV` of `IV*3`) becomes the range
 *   `F >= 'term' AND F < next('term')`, next() raising the last code point by one: exactly the
 *   values that start with `term`, and a range both engines answer from that index. The rest of a
 *   pattern is `F LIKE '…' ESCAPE '\'` with `%`, `_` and `\` of the value escaped, so `*50%*`
 *   looks for a literal "50%". Patterns that start with `*` cannot use an index (they scan the
 *   tenant's rows of that resource, still at most 50 answered).
 * - Text ranges compare F; date ranges compare the stored `YYYY-MM-DD` text (the same order in
 *   every collation) and use the field's plain index; integer ranges compare integers.
 * - Decimals are stored as canonical fixed-scale text (`"1250.00"`, see values.ts), so text order is
 *   not value order (`"20.00" > "149.90"`). Ranges compare by value, exactly: PostgreSQL casts to
 *   `numeric`. SQLite has no exact decimal type (`CAST AS REAL` is a double, 15–17 significant
 *   digits, fewer than the 19 a 15-digit amount with 4 decimals has: 999999999999999.98 and .99
 *   become the same double), so there the canonical text is compared by sign, then length, then
 *   text, which is value order for canonical numbers of one scale. A bound with more decimals than
 *   the field's scale is rounded inward (a lower bound up, an upper bound down), which selects the
 *   same stored values as the unrounded bound would.
 */
import { type Expression, type Kysely, PostgresAdapter, type SqlBool, sql } from 'kysely';
import { AppError } from '../errors.js';
import type { Engine } from '../storage/dialect.js';
import type { FieldDef, ResourceDef } from './registry.js';
import { Decimal, INT_MAX, isValidDate, toFixedScale } from './values.js';

/** The most `*` one value may hold. */
export const MAX_WILDCARDS = 10;

/** A parsed filter: what `filterCondition` turns into SQL. */
export type Filter =
  | {
      readonly kind: 'equals';
      readonly field: FieldDef;
      readonly value: string | number;
      /** Text whose only index is the folded one (schema.ts): matched through it. */
      readonly folded: boolean;
    }
  | {
      readonly kind: 'pattern';
      readonly field: FieldDef;
      /** Folded literal text before the first `*` ('' when the pattern starts with `*`). */
      readonly head: string;
      /** The whole pattern as a LIKE pattern (folded, escaped), unless the head's range says it all. */
      readonly like: string | undefined;
    }
  | {
      readonly kind: 'range';
      readonly field: FieldDef;
      /** Stored form of the inclusive bounds (text folded, decimals at the field's scale). */
      readonly low: string | number | undefined;
      readonly high: string | number | undefined;
    };

/** One character of a value: literal text, or an unescaped `*` or `~`. */
type Token = { readonly literal: string } | '*' | '~';

// ---- parsing ---------------------------------------------------------------------------------

function invalid(def: ResourceDef, field: FieldDef, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${def.name}: filter ${field.name} ${message}`);
}

/** Lone UTF-16 surrogates (possible after URL decoding) become U+FFFD, as the drivers would send them. */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function tokenize(raw: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    const next = raw[i + 1];
    if (c === '\\' && (next === '*' || next === '~' || next === '\\')) {
      tokens.push({ literal: next });
      i++;
    } else if (c === '*' || c === '~') {
      tokens.push(c);
    } else {
      tokens.push({ literal: c });
    }
  }
  return tokens;
}

const textOf = (tokens: readonly Token[]): string =>
  tokens.map((t) => (typeof t === 'string' ? t : t.literal)).join('');

/** A–Z to a–z and nothing else: what SQLite's lower() and PostgreSQL's lower(… COLLATE "C") do. */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Compare by Unicode code point (the order of SQLite's BINARY and PostgreSQL's "C" collation). */
function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * The least string above every string that starts with `prefix` (in code point order): the last
 * code point raised by one, skipping the surrogate range; undefined when there is none.
 */
export function nextPrefix(prefix: string): string | undefined {
  const points = Array.from(prefix).map((c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    let last = points.pop() as number;
    if (last < 0x10ffff) {
      last += 1;
      if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
      points.push(last);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const INTEGER = /^-?\d{1,10}$/;
const DECIMAL = /^-?\d{1,15}(\.\d+)?$/;

/** One exact value of a field, in its stored form; `what` (empty, or ending in a space) names a range side. */
function exactValue(def: ResourceDef, field: FieldDef, text: string, what: string): string | number {
  switch (field.type) {
    case 'boolean': {
      const v = text.toLowerCase();
      if (['true', '1', 't'].includes(v)) return 1;
      if (['false', '0', 'f'].includes(v)) return 0;
      throw invalid(def, field, `must be true or false (a flag takes no * or ~)`);
    }
    case 'integer':
      if (!INTEGER.test(text) || Math.abs(Number(text)) > INT_MAX) {
        throw invalid(def, field, `${what}must be an integer between -${INT_MAX} and ${INT_MAX}`);
      }
      return Number(text);
    case 'date':
      if (!isValidDate(text)) throw invalid(def, field, `${what}must be a date YYYY-MM-DD`);
      return text;
    case 'decimal':
      if (!DECIMAL.test(text)) {
        throw invalid(def, field, `${what}must be a decimal such as 1250.00 (at most 15 integer digits)`);
      }
      return toFixedScale(text, field.scale ?? 2);
    default:
      if (text.includes('\u0000')) throw invalid(def, field, 'must not contain a NUL character');
      return text;
  }
}

function parsePattern(def: ResourceDef, field: FieldDef, tokens: readonly Token[]): Filter {
  if (field.type !== 'string') {
    const hint = field.type === 'boolean' ? 'true or false' : 'an exact value or a range a~b';
    const kind = field.type === 'integer' ? 'an integer' : `a ${field.type}`;
    throw invalid(def, field, `is ${kind}: * wildcards work on text fields only; use ${hint}`);
  }
  const stars = tokens.filter((t) => t === '*').length;
  if (stars > MAX_WILDCARDS) throw invalid(def, field, `has ${stars} * wildcards; at most ${MAX_WILDCARDS}`);
  // The literal runs between the stars; adjacent stars are one.
  const runs: string[] = [''];
  for (const t of tokens) {
    if (t === '*') {
      if (runs[runs.length - 1] !== '' || runs.length === 1) runs.push('');
    } else runs[runs.length - 1] += (t as { literal: string }).literal;
  }
  const folded = runs.map((r) => foldAscii(wellFormed(r)));
  if (folded.some((r) => r.includes('\u0000'))) throw invalid(def, field, 'must not contain a NUL character');
  const head = folded[0] as string;
  // `term*`: the head's range says it all. (`*` alone is the LIKE pattern `%`: "has a value".)
  const prefixOnly = head !== '' && folded.length === 2 && folded[1] === '';
  return {
    kind: 'pattern',
    field,
    head,
    like: prefixOnly ? undefined : folded.map(escapeLike).join('%'),
  };
}

function parseRange(def: ResourceDef, field: FieldDef, tokens: readonly Token[]): Filter {
  if (field.type === 'boolean') throw invalid(def, field, 'must be true or false (a flag takes no * or ~)');
  const tildes = tokens.filter((t) => t === '~').length;
  if (tildes > 1) {
    throw invalid(def, field, `has ${tildes} ~: a range is a~b, a~ or ~b (write \\~ for a literal ~)`);
  }
  const at = tokens.indexOf('~');
  const sides = [tokens.slice(0, at), tokens.slice(at + 1)];
  if (sides.some((s) => s.includes('*'))) {
    throw invalid(
      def,
      field,
      'mixes a range with * wildcards: a range side is one value (write \\* for a literal *)',
    );
  }
  const [lowText, highText] = sides.map(textOf) as [string, string];
  if (lowText === '' && highText === '') {
    throw invalid(def, field, 'has a ~ with no side: a range is a~b, a~ or ~b');
  }
  const side = (text: string, which: 'lower' | 'upper'): string | number | undefined => {
    if (text === '') return undefined;
    const what = `(the range's ${which} side "${text}") `;
    if (field.type === 'decimal') {
      exactValue(def, field, text, what);
      // Inward, so the bound selects the same stored values as the exact one would.
      const rounding = which === 'lower' ? Decimal.ROUND_CEIL : Decimal.ROUND_FLOOR;
      const scale = field.scale ?? 2;
      const rounded = new Decimal(text).toDecimalPlaces(scale, rounding);
      return (rounded.isZero() ? new Decimal(0) : rounded).toFixed(scale);
    }
    const value = exactValue(def, field, text, what);
    return typeof value === 'string' && field.type === 'string' ? foldAscii(wellFormed(value)) : value;
  };
  const low = side(lowText, 'lower');
  const high = side(highText, 'upper');
  if (low !== undefined && high !== undefined) {
    const order =
      field.type === 'decimal'
        ? new Decimal(lowText).comparedTo(new Decimal(highText))
        : typeof low === 'number'
          ? low - (high as number)
          : compareCodePoints(low, high as string);
    if (order > 0) {
      throw invalid(def, field, `has its lower side "${lowText}" above its upper side "${highText}"`);
    }
  }
  return { kind: 'range', field, low, high };
}

/** A query-string value of a field as a filter; a 400 VALIDATION_FAILED when it is not a valid one. */
export function parseFilter(def: ResourceDef, field: FieldDef, raw: string): Filter {
  const tokens = tokenize(raw);
  if (tokens.includes('~')) return parseRange(def, field, tokens);
  if (tokens.includes('*')) return parsePattern(def, field, tokens);
  // A document's docno and a master's code have their own unique index; other indexed text
  // fields only the folded one.
  const ownIndex = field.name === (def.kind === 'document' ? 'docno' : 'code') || field.name === def.keyField;
  const folded = field.type === 'string' && def.indexed.includes(field.name) && !ownIndex;
  return { kind: 'equals', field, value: exactValue(def, field, textOf(tokens), ''), folded };
}

// ---- SQL ---------------------------------------------------------------------------------------

/** The engine behind a Kysely handle (or transaction). */
// biome-ignore lint/suspicious/noExplicitAny: any database
export function engineOf(db: Kysely<any>): Engine {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * The folded text of a column: ASCII letters lowered, compared by code point. schema.ts indexes
 * exactly this expression, so keep the two in step.
 */
export function foldedColumn(engine: Engine, column: string) {
  return engine === 'postgres'
    ? sql<string>`lower(${sql.ref(column)} collate "C")`
    : sql<string>`lower(${sql.ref(column)})`;
}

const and = (parts: ReadonlyArray<Expression<SqlBool>>) =>
  parts.length === 1 ? (parts[0] as Expression<SqlBool>) : sql<SqlBool>`(${sql.join(parts, sql` and `)})`;

/**
 * `column >= bound` or `column <= bound` by value for canonical fixed-scale decimal text. SQLite:
 * sign first, then (same sign) the longer magnitude is the larger, then (same length, so the point
 * sits in the same place) the text. PostgreSQL: numeric.
 */
function decimalBound(engine: Engine, column: string, op: '>=' | '<=', bound: string) {
  const c = sql.ref(column);
  if (engine === 'postgres') {
    return op === '>='
      ? sql<SqlBool>`cast(${c} as numeric) >= cast(${bound} as numeric)`
      : sql<SqlBool>`cast(${c} as numeric) <= cast(${bound} as numeric)`;
  }
  const len = bound.length;
  const negative = bound.startsWith('-');
  // "above" on the magnitude's side: for a positive bound and >=, a larger magnitude of the same sign.
  const sameSignBeyond = (longer: boolean) =>
    longer
      ? sql<SqlBool>`(length(${c}) > ${len} or (length(${c}) = ${len} and ${c} >= ${bound}))`
      : sql<SqlBool>`(length(${c}) < ${len} or (length(${c}) = ${len} and ${c} <= ${bound}))`;
  if (op === '>=') {
    return negative
      ? sql<SqlBool>`(substr(${c}, 1, 1) <> '-' or ${sameSignBeyond(false)})`
      : sql<SqlBool>`(substr(${c}, 1, 1) <> '-' and ${sameSignBeyond(true)})`;
  }
  return negative
    ? sql<SqlBool>`(substr(${c}, 1, 1) = '-' and ${sameSignBeyond(true)})`
    : sql<SqlBool>`(substr(${c}, 1, 1) = '-' or ${sameSignBeyond(false)})`;
}

/** The WHERE condition of one filter. */
export function filterCondition(engine: Engine, filter: Filter): Expression<SqlBool> {
  const column = filter.field.name;
  const c = sql.ref(column);
  switch (filter.kind) {
    case 'equals':
      // Text: the exact value, found through the folded index (schema.ts keeps one index per
      // indexed text field, the folded one, which serves exact matches, patterns and ranges alike).
      if (filter.folded && typeof filter.value === 'string') {
        return sql<SqlBool>`(${foldedColumn(engine, column)} = ${foldAscii(filter.value)} and ${c} = ${filter.value})`;
      }
      return sql<SqlBool>`${c} = ${filter.value}`;
    case 'pattern': {
      const folded = foldedColumn(engine, column);
      const parts: Expression<SqlBool>[] = [];
      if (filter.head !== '') {
        parts.push(sql<SqlBool>`${folded} >= ${filter.head}`);
        const next = nextPrefix(filter.head);
        if (next !== undefined) parts.push(sql<SqlBool>`${folded} < ${next}`);
      }
      if (filter.like !== undefined) {
        // `*` alone (and `**`…) is "has a value".
        parts.push(
          filter.like === '%'
            ? sql<SqlBool>`${c} is not null`
            : sql<SqlBool>`${folded} like ${filter.like} escape '\\'`,
        );
      }
      return and(parts);
    }
    case 'range': {
      const parts: Expression<SqlBool>[] = [];
      for (const [op, bound] of [
        ['>=', filter.low],
        ['<=', filter.high],
      ] as const) {
        if (bound === undefined) continue;
        if (filter.field.type === 'decimal') parts.push(decimalBound(engine, column, op, String(bound)));
        else if (filter.field.type === 'string') {
          const folded = foldedColumn(engine, column);
          parts.push(op === '>=' ? sql<SqlBool>`${folded} >= ${bound}` : sql<SqlBool>`${folded} <= ${bound}`);
        } else parts.push(op === '>=' ? sql<SqlBool>`${c} >= ${bound}` : sql<SqlBool>`${c} <= ${bound}`);
      }
      return and(parts);
    }
  }
}
