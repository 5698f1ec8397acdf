/**
 * A key's traffic policy: every rule that applies to it (its own, its owner's, its tenant's
 * defaults), compiled once when the key is loaded into the authentication cache.
 *
 * - Addresses: the request must come from every list that is set (key, owner, tenant).
 * - Rates: each rule is its own counter. The key's own and the tenant default count the key's
 *   requests; the owner's counts all the owner's keys together.
 * - Quotas: per calendar window (UTC day or month). The key's own and the tenant default share a
 *   counter when their periods are equal (they count the same requests; the lower limit applies).
 */
import type { QuotaPeriod, TrafficRules } from './rules.js';
import { cidrMatcher } from './rules.js';

export interface RateRule {
  /** Counter id; includes the limit, so changing a rate limit starts it afresh. */
  id: string;
  /** Policy name in the RateLimit headers. */
  name: string;
  limit: number;
  periodMs: number;
  /** GCRA's emission interval: one request every `periodMs / limit`. */
  emissionMs: number;
}

export interface QuotaRule {
  /** Counter id without the window (`q:k:<key>:day`); the window start is added per request. */
  id: string;
  name: string;
  limit: number;
  period: QuotaPeriod;
}

export interface TrafficPolicy {
  /** Null: any address. */
  allows: ((ip: string) => boolean) | null;
  rates: readonly RateRule[];
  quotas: readonly QuotaRule[];
}

export const OPEN_POLICY: TrafficPolicy = Object.freeze({ allows: null, rates: [], quotas: [] });

export interface PolicyLevels {
  accessKeyId: string;
  owner: { type: string; id: string };
  key: TrafficRules;
  principal: TrafficRules;
  tenant: TrafficRules;
}

function rate(id: string, name: string, r: { limit: number; periodSeconds: number }): RateRule {
  const periodMs = r.periodSeconds * 1000;
  return {
    id: `r:${id}:${r.limit}/${r.periodSeconds}`,
    name,
    limit: r.limit,
    periodMs,
    emissionMs: periodMs / r.limit,
  };
}

export function compilePolicy({ accessKeyId, owner, key, principal, tenant }: PolicyLevels): TrafficPolicy {
  const lists = [key.allowedCidrs, principal.allowedCidrs, tenant.allowedCidrs].filter(
    (l): l is string[] => l !== null,
  );
  const matchers = lists.map(cidrMatcher);
  const allows =
    matchers.length === 0
      ? null
      : matchers.length === 1
        ? (matchers[0] as (ip: string) => boolean)
        : (ip: string) => matchers.every((m) => m(ip));

  const rates: RateRule[] = [];
  if (key.rateLimit) rates.push(rate(`k:${accessKeyId}`, 'key', key.rateLimit));
  const t = tenant.rateLimit;
  if (t && !(key.rateLimit?.limit === t.limit && key.rateLimit.periodSeconds === t.periodSeconds))
    rates.push(rate(`d:${accessKeyId}`, 'tenant', t));
  if (principal.rateLimit) rates.push(rate(`p:${owner.id}`, 'principal', principal.rateLimit));

  const quotas: QuotaRule[] = [];
  const perKey = [key.quota, tenant.quota].filter((q) => q !== null);
  for (const period of ['day', 'month'] as const) {
    const limits = perKey.filter((q) => q.period === period).map((q) => q.limit);
    if (limits.length > 0)
      quotas.push({
        id: `q:k:${accessKeyId}:${period}`,
        name: `key-${period}`,
        limit: Math.min(...limits),
        period,
      });
  }
  if (principal.quota) {
    const { limit, period } = principal.quota;
    quotas.push({ id: `q:p:${owner.id}:${period}`, name: `principal-${period}`, limit, period });
  }
  if (allows === null && rates.length === 0 && quotas.length === 0) return OPEN_POLICY;
  return { allows, rates, quotas };
}

/** The calendar window (UTC) holding `nowMs`: its start and end, in milliseconds. */
export function quotaWindow(period: QuotaPeriod, nowMs: number): { startMs: number; endMs: number } {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'day') {
    const startMs = Date.UTC(y, m, d.getUTCDate());
    return { startMs, endMs: startMs + 86_400_000 };
  }
  return { startMs: Date.UTC(y, m, 1), endMs: Date.UTC(y, m + 1, 1) };
}
