/**
 * Pure helpers for usage and traffic rules: outcome names, sums, the words a chart's summary and
 * a rule are read as. Tested in usage.test.tsx.
 */
import type { Static } from '@sinclair/typebox';
import type * as V from '../../src/contract/views';

export type UsagePoint = Static<typeof V.UsagePoint>;
export type UsageGranularity = Static<typeof V.UsageGranularity>;
export type KeyUsage = Static<typeof V.KeyUsage>;
export type TenantUsage = Static<typeof V.TenantUsage>;
export type UsageItem = Static<typeof V.UsageItem>;
export type UsageGroupBy = Static<typeof V.UsageGroupBy>;

export type Outcome = 'ok' | 'throttled' | 'denied' | 'invalid_signature' | 'expired' | 'inactive';

/** Every outcome a request can have, in the order charts stack them and tables list them. */
export const OUTCOMES: ReadonlyArray<{ key: Outcome; label: string }> = [
  { key: 'ok', label: 'OK' },
  { key: 'throttled', label: 'Throttled' },
  { key: 'denied', label: 'Denied' },
  { key: 'invalid_signature', label: 'Invalid signature' },
  { key: 'expired', label: 'Expired' },
  { key: 'inactive', label: 'Inactive' },
];

export type OutcomeCounts = Record<Outcome, number>;

export const pointTotal = (p: OutcomeCounts): number => OUTCOMES.reduce((n, o) => n + p[o.key], 0);

/** The counts of a whole series, by outcome, and their total. */
export function sumSeries(series: readonly OutcomeCounts[]): OutcomeCounts & { total: number } {
  const sum = { ok: 0, throttled: 0, denied: 0, invalid_signature: 0, expired: 0, inactive: 0 };
  for (const p of series) for (const o of OUTCOMES) sum[o.key] += p[o.key];
  return { ...sum, total: pointTotal(sum) };
}

const count = new Intl.NumberFormat();
export const formatCount = (n: number): string => count.format(n);

/** "312 requests: 300 OK, 12 throttled." — the outcomes that happened, most first in the fixed order. */
export function usageSummary(totals: OutcomeCounts): string {
  const total = pointTotal(totals);
  if (total === 0) return 'No requests in this period.';
  const parts = OUTCOMES.filter((o) => totals[o.key] > 0).map(
    (o) => `${formatCount(totals[o.key])} ${o.key === 'ok' ? 'OK' : o.label.toLowerCase()}`,
  );
  return `${formatCount(total)} request${total === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}

/** A bucket's start as the person reads it: an hour ("4 Dec, 14:00") or a day ("4 Dec 2026"). */
export function bucketLabel(iso: string, granularity: UsageGranularity, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return granularity === 'hour'
    ? new Intl.DateTimeFormat(locale, {
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
      }).format(d)
    : new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric' }).format(d);
}

// ---- traffic rules

export type RateLimitRule = Static<typeof V.KeyView>['rateLimit'];
export type QuotaRule = Static<typeof V.KeyView>['quota'];

export interface TrafficRules {
  rateLimit: RateLimitRule;
  quota: QuotaRule;
  allowedCidrs: string[] | null;
}

export function describeRateLimit(rule: RateLimitRule): string {
  if (!rule) return 'None';
  const per =
    rule.periodSeconds === 1
      ? 'second'
      : rule.periodSeconds === 60
        ? 'minute'
        : rule.periodSeconds === 3600
          ? 'hour'
          : `${formatCount(rule.periodSeconds)} seconds`;
  return `${formatCount(rule.limit)} request${rule.limit === 1 ? '' : 's'} per ${per}`;
}

export function describeQuota(rule: QuotaRule): string {
  if (!rule) return 'None';
  return `${formatCount(rule.limit)} request${rule.limit === 1 ? '' : 's'} per ${
    rule.period === 'day' ? 'day' : 'month'
  } (UTC)`;
}

export function describeCidrs(cidrs: readonly string[] | null): string {
  return cidrs && cidrs.length > 0 ? cidrs.join(', ') : 'Any address';
}

const QUOTA_LEVELS: Record<string, string> = {
  // The key's own quota or the tenant's default for each key, whichever is lower.
  key: 'This key',
  principal: 'Its owner (all their keys)',
  tenant: 'Tenant default',
};

/** `key-day`, `principal-month`, `tenant-day` → "This key, per day". */
export function quotaName(name: string): string {
  const m = /^(key|principal|tenant)-(day|month)$/.exec(name);
  if (!m) return name;
  return `${QUOTA_LEVELS[m[1] as string]}, per ${m[2]}`;
}

/** The three rules of a key, user, service account or the tenant's settings. */
export const rulesOfView = (v: TrafficRules): TrafficRules => ({
  rateLimit: v.rateLimit ?? null,
  quota: v.quota ?? null,
  allowedCidrs: v.allowedCidrs ?? null,
});
