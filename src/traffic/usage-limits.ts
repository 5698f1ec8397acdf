/**
 * The bounds of reading usage (traffic/usage-queries.ts) and of the unused-keys filter. Pure data:
 * the contract (src/contract), which the console compiles against too, imports them.
 */

/** At most this many buckets in a usage series: 2,000 hours (about 83 days) or 2,000 days. */
export const USAGE_MAX_POINTS = 2_000;
/** Without `from`: a key's last 7 days by hour or 30 days by day; the tenant's last 30 days. */
export const USAGE_DEFAULT_DAYS = { hour: 7, day: 30, tenant: 30 } as const;
/** The tenant's series is by hour for ranges up to this many days, by day beyond. */
export const TENANT_HOURLY_MAX_DAYS = 7;
/** The tenant's usage lists the top groups by total: `limit` of them. */
export const USAGE_TOP = { min: 1, default: 100, max: 1_000 } as const;
/** `GET /iam/keys?unusedDays=N`: keys not used (or, never used, not created) in the last N days. */
export const UNUSED_DAYS = { min: 1, max: 3_650 } as const;
/** `from` and `to`: `YYYY-MM-DD` (a UTC day) or an ISO 8601 date-time with `Z` or an offset. */
export const USAGE_INSTANT_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?$';
/** What the `api` grouping calls latchkey's own routes (`api_id` ''). */
export const OWN_ROUTES_NAME = 'latchkey (data API and /iam)';
