/**
 * Traffic rules: a rate limit, a quota and the networks a key may be used from. They can be set on
 * a key, on its owner (user or service account: shared by all the owner's keys) and as tenant
 * defaults (applied to each key on its own). Every rule that applies is enforced, so the strictest
 * one decides: a key-level rule can tighten what its owner or tenant allow, never loosen it.
 *
 * Pure data and validation; the decision is in control.ts.
 */
import { BlockList } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';
import { ALLOWED_CIDRS_MAX, QUOTA_LIMIT, RATE_LIMIT } from '../limits.js';

export interface RateLimit {
  limit: number;
  periodSeconds: number;
}

export type QuotaPeriod = 'day' | 'month';

export interface Quota {
  limit: number;
  period: QuotaPeriod;
}

/** The rules set at one level; null: none set there. */
export interface TrafficRules {
  rateLimit: RateLimit | null;
  quota: Quota | null;
  allowedCidrs: string[] | null;
}

export const NO_RULES: TrafficRules = Object.freeze({ rateLimit: null, quota: null, allowedCidrs: null });

/** Rules as stored (a JSON column; null or absent fields: none). */
export function rulesFromJson(json: string | null | undefined): TrafficRules {
  if (!json) return NO_RULES;
  const v = JSON.parse(json) as Partial<TrafficRules>;
  return { rateLimit: v.rateLimit ?? null, quota: v.quota ?? null, allowedCidrs: v.allowedCidrs ?? null };
}

/** The column value: null when no rule is set. */
export function rulesToJson(rules: TrafficRules): string | null {
  return rules.rateLimit === null && rules.quota === null && rules.allowedCidrs === null
    ? null
    : JSON.stringify(rules);
}

export type RulesPatch = Partial<TrafficRules>;

/** Whether a patch names any traffic rule. */
export function touchesRules(patch: RulesPatch): boolean {
  return patch.rateLimit !== undefined || patch.quota !== undefined || patch.allowedCidrs !== undefined;
}

/** Apply a patch (undefined: unchanged, null: cleared) after validating it; CIDRs come back normalised. */
export function patchRules(before: TrafficRules, patch: RulesPatch): TrafficRules {
  const after: TrafficRules = {
    rateLimit: patch.rateLimit === undefined ? before.rateLimit : patch.rateLimit,
    quota: patch.quota === undefined ? before.quota : patch.quota,
    allowedCidrs:
      patch.allowedCidrs === undefined
        ? before.allowedCidrs
        : patch.allowedCidrs === null
          ? null
          : normaliseCidrs(patch.allowedCidrs),
  };
  checkRules(after);
  return after;
}

function wholeIn(name: string, value: unknown, range: { min: number; max: number }): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max)
    throw new AppError(
      'VALIDATION_FAILED',
      `${name} must be a whole number from ${range.min} to ${range.max}`,
    );
}

/** Every rule on traffic rules, whoever sets them (HTTP API, CLI); the HTTP schema checks types earlier. */
export function checkRules(rules: TrafficRules): void {
  const { rateLimit, quota } = rules;
  if (rateLimit !== null) {
    if (typeof rateLimit !== 'object' || Object.keys(rateLimit).length !== 2)
      throw new AppError('VALIDATION_FAILED', 'rateLimit must be {"limit", "periodSeconds"} or null');
    wholeIn('rateLimit.limit', rateLimit.limit, RATE_LIMIT.limit);
    wholeIn('rateLimit.periodSeconds', rateLimit.periodSeconds, RATE_LIMIT.periodSeconds);
  }
  if (quota !== null) {
    if (typeof quota !== 'object' || Object.keys(quota).length !== 2)
      throw new AppError('VALIDATION_FAILED', 'quota must be {"limit", "period"} or null');
    wholeIn('quota.limit', quota.limit, QUOTA_LIMIT);
    if (quota.period !== 'day' && quota.period !== 'month')
      throw new AppError('VALIDATION_FAILED', 'quota.period must be "day" or "month"');
  }
}

/**
 * CIDRs as written by people: `203.0.113.0/24`, `2001:db8::/32`, or one address (a /32 or /128).
 * Host bits must be zero (`10.0.0.5/8` is refused: it usually means a typo, not 10.0.0.0/8).
 * Answers 400 INVALID_CIDR naming the entry; returns each in canonical form, without duplicates.
 */
export function normaliseCidrs(list: readonly unknown[]): string[] {
  if (!Array.isArray(list) || list.length === 0 || list.length > ALLOWED_CIDRS_MAX)
    throw new AppError(
      'INVALID_CIDR',
      `allowedCidrs must be a list of 1 to ${ALLOWED_CIDRS_MAX} CIDRs, or null for any address`,
    );
  const out = new Set<string>();
  for (const entry of list) out.add(normaliseCidr(entry));
  return [...out];
}

function normaliseCidr(entry: unknown): string {
  const bad = (why: string) =>
    new AppError('INVALID_CIDR', `allowedCidrs: ${JSON.stringify(entry)} ${why}`, { cidr: entry });
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 64)
    throw bad('is not a CIDR (203.0.113.0/24, 2001:db8::/32) or an address');
  const text = entry.trim();
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (text.includes('/')) {
      // ipaddr.js accepts leading zeros and the classful shorthands (`10/8`); people mean neither.
      if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(text)) throw new Error('shape');
      [address, prefix] = ipaddr.parseCIDR(text);
    } else {
      if (!ipaddr.isValid(text) || !/^[0-9a-fA-F:.]+$/.test(text)) throw new Error('shape');
      address = ipaddr.parse(text);
      prefix = address.kind() === 'ipv4' ? 32 : 128;
    }
    if (address.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(address.toString()))
      throw new Error('shape');
  } catch {
    throw bad('is not a CIDR (203.0.113.0/24, 2001:db8::/32) or an address');
  }
  if (address.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(text.split('/')[0] as string))
    throw bad('is not a dotted-quad IPv4 address');
  const network =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
  if (network.toString() !== address.toString())
    throw bad(`has bits set beyond its /${prefix} prefix: did you mean ${network.toString()}/${prefix}?`);
  return `${network.toString()}/${prefix}`;
}

/** A matcher for a list of normalised CIDRs (node:net's BlockList: IPv4-mapped IPv6 addresses match IPv4 rules). */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), address.includes(':') ? 'ipv6' : 'ipv4');
  }
  return (ip) => {
    if (!ip) return false;
    try {
      return list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  };
}
