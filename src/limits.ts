/**
 * Every limit of the API, declared once: the request schemas, the CLI, the console and the
 * domain code read them from here. Pure data (the console imports this file).
 */

/** Lists: `limit` defaults to 50 and is at most 200; `offset` is bounded so a scan stays cheap. */
export const PAGE_SIZE = { default: 50, max: 200, maxOffset: 1_000_000 } as const;

/** A rotated-out secret may keep working for at most a day, so running clients can switch. */
export const GRACE_SECONDS_MAX = 86_400;

/** Tokens from POST /iam/login live between a minute and a day (an IAM setting within these). */
export const TOKEN_LIFETIME_SECONDS = { min: 60, max: 86_400 } as const;

/** A key's lifetime in days (validityDays, and the tenant's default and maximum lifetimes): up to a hundred years. */
export const KEY_LIFETIME_DAYS = { min: 1, max: 36_500 } as const;

/** How many keys a user who is not an administrator may hold: the range of that IAM setting. */
export const USER_KEY_LIMIT = { min: 0, max: 100 } as const;

/** How many days before expiry keys count as expiring soon and are reminded: the setting's range. */
export const REMINDER_LEAD_DAYS = { min: 0, max: 90 } as const;

/** Signing scopes a tenant may accept besides the service's default one. */
export const ACCEPTED_SCOPES_MAX = 20;

/** Names of keys, users, groups, roles and service accounts. */
export const NAME_LENGTH_MAX = 200;

/** Passwords (sign-in, a user's password, the first administrator's): from 12 to 256 characters. */
export const PASSWORD_LENGTH = { min: 12, max: 256 } as const;

/** Routes of one registered API (matched in order on every request under its base path). */
export const API_ROUTES_MAX = 100;

/** How long the gateway waits for a registered API's upstream, in milliseconds (default 30 s). */
export const UPSTREAM_TIMEOUT_MS = { min: 100, max: 300_000 } as const;

/** Traffic rules (src/traffic): a rate limit's requests and period, a quota's requests, CIDRs per list. */
export const RATE_LIMIT = {
  limit: { min: 1, max: 1_000_000 },
  periodSeconds: { min: 1, max: 86_400 },
} as const;
export const QUOTA_LIMIT = { min: 1, max: 2_000_000_000 } as const;
export const ALLOWED_CIDRS_MAX = 100;
/** How long hourly usage rows are kept (days). */
export const USAGE_RETENTION_DAYS = { min: 1, max: 3_650, default: 90 } as const;
/**
 * Single sign-ons under way at once per tenant (started, not yet back from the identity provider;
 * each is kept 10 minutes). Starting one is anonymous: the cap bounds what a flood can store.
 */
export const SSO_PENDING_SIGN_INS_MAX = 10_000;
/** Temporary credentials' lifetime, seconds (as AWS STS GetSessionToken: 15 minutes to 12 hours here). */
export const SESSION_DURATION_SECONDS = { min: 900, max: 43_200, default: 3_600 } as const;

// Reading usage (src/traffic/usage-queries.ts) and the unused-keys filter.

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

/** How long GET /readyz waits for the database or Redis to answer before calling it unreachable. */
export const READY_TIMEOUT_MS = 1_000;

/** POST /v1/leaked-keys: tokens per report and the length of each field (GitHub's reports are far smaller). */
export const LEAK_REPORT_LIMITS = {
  tokens: 100,
  tokenLength: 1_000,
  fieldLength: 200,
  urlLength: 4_000,
} as const;
