/**
 * Reading usage (the hourly `key_usage` rows written by traffic/usage.ts): one key's outcomes over
 * time, and the tenant's usage grouped by key, principal or registered API with its outcomes over
 * time. Plain functions taking the database first; every query is scoped to one tenant.
 *
 * Ranges: `from` is rounded down to the start of its bucket (hour, or UTC day), `to` is exclusive,
 * and a bucket is in the range when it starts before `to` (so the current hour or day is in a
 * range that ends now). Series hold every bucket of the range, zeros included, so a chart has a
 * continuous axis; a range is refused (VALIDATION_FAILED) when it would need more than
 * USAGE_MAX_POINTS buckets.
 */
import { sql } from 'kysely';
import { OWN_ROUTES_NAME } from '../contract/views.js';
import { AppError } from '../errors.js';
import {
  TENANT_HOURLY_MAX_DAYS,
  USAGE_DEFAULT_DAYS,
  USAGE_INSTANT_PATTERN,
  USAGE_MAX_POINTS,
  USAGE_TOP,
} from '../limits.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { PrincipalType } from '../storage/tables.js';
import { DAY_MS } from '../time.js';
import { USAGE_OUTCOMES, type UsageOutcome } from './usage.js';

export type UsageGranularity = 'hour' | 'day';
export type UsageGroupBy = 'key' | 'principal' | 'api';
export type UsageCounts = Record<UsageOutcome, number>;
export interface UsagePoint extends UsageCounts {
  /** The bucket's start, UTC, without milliseconds (`2026-12-01T10:00:00Z`). */
  t: string;
}

const HOUR_MS = 3_600_000;
const STEP_MS: Record<UsageGranularity, number> = { hour: HOUR_MS, day: DAY_MS };

// ---- ranges

const INSTANT = new RegExp(USAGE_INSTANT_PATTERN);

/** An instant from the querystring, or VALIDATION_FAILED naming the field (never Date's roll-over of 30 February). */
export function parseUsageInstant(name: string, value: string): number {
  const parts = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(value);
  if (!INSTANT.test(value) || !parts) {
    throw new AppError(
      'VALIDATION_FAILED',
      `querystring.${name} must be a date (2026-12-01) or an ISO date-time with a time zone (2026-12-01T10:00:00Z)`,
    );
  }
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = parts
    .slice(1)
    .map((p) => Number(p ?? 0));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const ms = Date.parse(value);
  const real =
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59;
  if (Number.isNaN(ms) || !real) {
    throw new AppError('VALIDATION_FAILED', `querystring.${name} is not a real date: ${value}`);
  }
  return ms;
}

export interface UsageRange {
  granularity: UsageGranularity;
  /** The first bucket's start. */
  fromMs: number;
  /** Exclusive. */
  toMs: number;
}

const floorTo = (ms: number, step: number): number => ms - (((ms % step) + step) % step);
const bucketCount = (r: UsageRange): number => Math.ceil((r.toMs - r.fromMs) / STEP_MS[r.granularity]);

/**
 * The range a request asks for: `to` defaults to now, `from` to `defaultDays` before `to`;
 * `from` must be before `to`, and the range may need at most USAGE_MAX_POINTS buckets.
 */
export function usageRange(
  query: { from?: string; to?: string },
  granularity: UsageGranularity,
  nowMs: number,
  defaultDays: number,
): UsageRange {
  const toMs = query.to === undefined ? nowMs : parseUsageInstant('to', query.to);
  const rawFrom =
    query.from === undefined ? toMs - defaultDays * DAY_MS : parseUsageInstant('from', query.from);
  if (rawFrom >= toMs) {
    throw new AppError('VALIDATION_FAILED', 'querystring.from must be before querystring.to');
  }
  const range = { granularity, fromMs: floorTo(rawFrom, STEP_MS[granularity]), toMs };
  const buckets = bucketCount(range);
  if (buckets > USAGE_MAX_POINTS) {
    const most =
      granularity === 'hour'
        ? `${USAGE_MAX_POINTS} hours (about ${Math.floor(USAGE_MAX_POINTS / 24)} days)`
        : `${USAGE_MAX_POINTS} days`;
    throw new AppError(
      'VALIDATION_FAILED',
      `the range from ${iso(range.fromMs)} to ${iso(toMs)} spans ${buckets} ${granularity}s; at most ${most} at a time${
        granularity === 'hour' ? ': ask for granularity=day or a shorter range' : ': ask for a shorter range'
      }`,
    );
  }
  return range;
}

/** ISO 8601, without milliseconds when they are 0 (`2026-12-01T10:00:00Z`): how usage answers write instants. */
export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

// ---- sums

const zero = (): UsageCounts => ({
  ok: 0,
  denied: 0,
  throttled: 0,
  invalid_signature: 0,
  expired: 0,
  inactive: 0,
});

/** PostgreSQL answers sums of integers as strings (bigint), SQLite as numbers. */
function countsOf(row: Record<string, unknown>): UsageCounts {
  const counts = zero();
  for (const outcome of USAGE_OUTCOMES) counts[outcome] = Number(row[outcome] ?? 0);
  return counts;
}

function sums() {
  return USAGE_OUTCOMES.map((outcome) =>
    sql<string | number>`sum(${sql.ref(`key_usage.${outcome}`)})`.as(outcome),
  );
}

const TOTAL = sql<string | number>`sum(${sql.join(
  USAGE_OUTCOMES.map((o) => sql.ref(`key_usage.${o}`)),
  sql` + `,
)})`;

/** The hour rows of the range: in the tenant, on or after the first bucket, before `to`. */
function inRange(db: DbOrTx, tenantId: string, range: UsageRange) {
  return db
    .selectFrom('key_usage')
    .where('key_usage.tenant_id', '=', tenantId)
    .where('key_usage.hour', '>=', new Date(range.fromMs).toISOString())
    .where('key_usage.hour', '<', new Date(range.toMs).toISOString());
}

/**
 * Outcomes over time, every bucket of the range (zeros where nothing was counted). Day buckets
 * group the hour rows by their first ten characters, the UTC date (`2026-12-01`): the same SQL
 * on both engines, no date functions.
 */
async function series(
  db: DbOrTx,
  tenantId: string,
  range: UsageRange,
  accessKeyId?: string,
): Promise<UsagePoint[]> {
  const bucket =
    range.granularity === 'hour'
      ? sql<string>`${sql.ref('key_usage.hour')}`
      : sql<string>`substr(${sql.ref('key_usage.hour')}, 1, 10)`;
  let query = inRange(db, tenantId, range);
  if (accessKeyId !== undefined) query = query.where('key_usage.access_key_id', '=', accessKeyId);
  const rows = await query
    .select([bucket.as('bucket'), ...sums()])
    .groupBy(bucket)
    .execute();
  const byStart = new Map<number, UsageCounts>();
  for (const row of rows) {
    const start = Date.parse(range.granularity === 'hour' ? row.bucket : `${row.bucket}T00:00:00Z`);
    byStart.set(start, countsOf(row));
  }
  const step = STEP_MS[range.granularity];
  const points: UsagePoint[] = [];
  for (let t = range.fromMs; t < range.toMs; t += step) {
    points.push({ t: iso(t), ...(byStart.get(t) ?? zero()) });
  }
  return points;
}

// ---- one key

export interface KeyUsage {
  accessKeyId: string;
  granularity: UsageGranularity;
  from: string;
  to: string;
  series: UsagePoint[];
}

/** One key's outcomes over time, summed over the APIs it called. The caller has checked access. */
export async function keyUsageSeries(
  db: DbOrTx,
  tenantId: string,
  accessKeyId: string,
  range: UsageRange,
): Promise<KeyUsage> {
  return {
    accessKeyId,
    granularity: range.granularity,
    from: iso(range.fromMs),
    to: iso(range.toMs),
    series: await series(db, tenantId, range, accessKeyId),
  };
}

// ---- the tenant

export interface UsageItem extends UsageCounts {
  /** The key ID, principal ID or registered API ID; null for latchkey's own routes. */
  id: string | null;
  /** The key's name, the principal's email (users) or name (service accounts), the API's name; null once deleted. */
  name: string | null;
  /** groupBy=principal: the principal's type. */
  type?: PrincipalType;
  /** groupBy=key: the key's owner (label null once the owner is deleted). */
  owner?: { type: PrincipalType; id: string; label: string | null };
  total: number;
}

export interface TenantUsage {
  groupBy: UsageGroupBy;
  granularity: UsageGranularity;
  from: string;
  to: string;
  totals: UsageCounts & { total: number };
  items: UsageItem[];
  series: UsagePoint[];
}

/** The range of the tenant's usage: by hour up to TENANT_HOURLY_MAX_DAYS, by day beyond. */
export function tenantUsageRange(query: { from?: string; to?: string }, nowMs: number): UsageRange {
  // Parsed once by hour to learn its length (and refuse bad input); then by the granularity it needs.
  const toMs = query.to === undefined ? nowMs : parseUsageInstant('to', query.to);
  const fromMs =
    query.from === undefined
      ? toMs - USAGE_DEFAULT_DAYS.tenant * DAY_MS
      : parseUsageInstant('from', query.from);
  const granularity: UsageGranularity = toMs - fromMs <= TENANT_HOURLY_MAX_DAYS * DAY_MS ? 'hour' : 'day';
  return usageRange(query, granularity, nowMs, USAGE_DEFAULT_DAYS.tenant);
}

type Row = Record<string, unknown>;

async function topGroups(
  db: DbOrTx,
  tenantId: string,
  range: UsageRange,
  groupBy: UsageGroupBy,
  limit: number,
): Promise<UsageItem[]> {
  const base = inRange(db, tenantId, range).select([...sums(), TOTAL.as('total')]);
  if (groupBy === 'key') {
    const rows: Row[] = await db
      .selectFrom(
        base
          .select(['key_usage.access_key_id', 'key_usage.owner_type', 'key_usage.owner_id'])
          .groupBy(['key_usage.access_key_id', 'key_usage.owner_type', 'key_usage.owner_id'])
          .orderBy('total', 'desc')
          .orderBy('key_usage.access_key_id')
          .limit(limit)
          .as('u'),
      )
      .leftJoin('access_keys', (j) =>
        j.onRef('access_keys.id', '=', 'u.access_key_id').on('access_keys.tenant_id', '=', tenantId),
      )
      .leftJoin('users', (j) =>
        j
          .onRef('users.id', '=', 'u.owner_id')
          .on('u.owner_type', '=', 'user')
          .on('users.tenant_id', '=', tenantId),
      )
      .leftJoin('service_accounts', (j) =>
        j
          .onRef('service_accounts.id', '=', 'u.owner_id')
          .on('u.owner_type', '=', 'service_account')
          .on('service_accounts.tenant_id', '=', tenantId),
      )
      .selectAll('u')
      .select((eb) => [
        'access_keys.name as key_name',
        eb.fn.coalesce('users.email', 'service_accounts.name').as('owner_label'),
      ])
      .execute();
    return rows.map((r) => ({
      id: r.access_key_id as string,
      name: (r.key_name as string | null) ?? null,
      owner: {
        type: r.owner_type as PrincipalType,
        id: r.owner_id as string,
        label: (r.owner_label as string | null) ?? null,
      },
      ...countsOf(r),
      total: Number(r.total),
    }));
  }
  if (groupBy === 'principal') {
    const rows: Row[] = await db
      .selectFrom(
        base
          .select(['key_usage.owner_type', 'key_usage.owner_id'])
          .groupBy(['key_usage.owner_type', 'key_usage.owner_id'])
          .orderBy('total', 'desc')
          .orderBy('key_usage.owner_id')
          .limit(limit)
          .as('u'),
      )
      .leftJoin('users', (j) =>
        j
          .onRef('users.id', '=', 'u.owner_id')
          .on('u.owner_type', '=', 'user')
          .on('users.tenant_id', '=', tenantId),
      )
      .leftJoin('service_accounts', (j) =>
        j
          .onRef('service_accounts.id', '=', 'u.owner_id')
          .on('u.owner_type', '=', 'service_account')
          .on('service_accounts.tenant_id', '=', tenantId),
      )
      .selectAll('u')
      .select((eb) => eb.fn.coalesce('users.email', 'service_accounts.name').as('label'))
      .execute();
    return rows.map((r) => ({
      id: r.owner_id as string,
      name: (r.label as string | null) ?? null,
      type: r.owner_type as PrincipalType,
      ...countsOf(r),
      total: Number(r.total),
    }));
  }
  const rows: Row[] = await db
    .selectFrom(
      base
        .select('key_usage.api_id')
        .groupBy('key_usage.api_id')
        .orderBy('total', 'desc')
        .orderBy('key_usage.api_id')
        .limit(limit)
        .as('u'),
    )
    .leftJoin('apis', (j) => j.onRef('apis.id', '=', 'u.api_id').on('apis.tenant_id', '=', tenantId))
    .selectAll('u')
    .select('apis.name as api_name')
    .execute();
  return rows.map((r) => ({
    id: r.api_id === '' ? null : (r.api_id as string),
    name: r.api_id === '' ? OWN_ROUTES_NAME : ((r.api_name as string | null) ?? null),
    ...countsOf(r),
    total: Number(r.total),
  }));
}

/**
 * The tenant's usage in the range: the top `limit` keys, principals or APIs by total requests
 * (most first), the totals, and the outcomes over time.
 */
export async function tenantUsage(
  db: DbOrTx,
  tenantId: string,
  groupBy: UsageGroupBy,
  range: UsageRange,
  limit: number = USAGE_TOP.default,
): Promise<TenantUsage> {
  const [items, points] = await Promise.all([
    topGroups(db, tenantId, range, groupBy, limit),
    series(db, tenantId, range),
  ]);
  // The join does not keep the subquery's order.
  items.sort((a, b) => b.total - a.total || ((a.id ?? '') < (b.id ?? '') ? -1 : 1));
  const totals = zero();
  for (const p of points) for (const o of USAGE_OUTCOMES) totals[o] += p[o];
  return {
    groupBy,
    granularity: range.granularity,
    from: iso(range.fromMs),
    to: iso(range.toMs),
    totals: { ...totals, total: USAGE_OUTCOMES.reduce((n, o) => n + totals[o], 0) },
    items,
    series: points,
  };
}
