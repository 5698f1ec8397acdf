/** Pure helpers: the formats users copy, expiry choices, dates. Tested in format.test.ts. */

/** The tenant access-key copy format: `key:<access key>::<secret key>,tenant id: <tenant ID>`. */
export function copyAllFormat(accessKeyId: string, secretAccessKey: string, tenantId: string): string {
  return `key:${accessKeyId}::${secretAccessKey},tenant id: ${tenantId}`;
}

export interface SigningScope {
  region: string;
  service: string;
}

export const DEFAULT_SCOPE: SigningScope = { region: 'ap-southeast-5', service: 'sqlaccount' };

/** Quote for a POSIX shell only when needed (keys and secrets are plain, origins may not be). */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A sample request that runs as-is with curl 7.75+ (`--aws-sigv4`). */
export function sampleCurl(
  origin: string,
  scope: SigningScope,
  accessKeyId: string,
  secretAccessKey: string,
  path = '/agent/',
): string {
  return `curl --aws-sigv4 "aws:amz:${scope.region}:${scope.service}" --user "${accessKeyId}:${secretAccessKey}" ${shellQuote(`${origin}${path}`)}`;
}

/** The server's default signing scope, from GET /version's `sigv4`; otherwise the documented default. */
export function scopeFromVersion(version: unknown): SigningScope {
  const scope = (version as { sigv4?: { region?: unknown; service?: unknown } } | null)?.sigv4;
  if (
    typeof scope?.region === 'string' &&
    typeof scope.service === 'string' &&
    scope.region &&
    scope.service
  ) {
    return { region: scope.region, service: scope.service };
  }
  return DEFAULT_SCOPE;
}

export type ValidityChoice =
  | { kind: 'default' }
  | { kind: 'days'; days: number }
  | { kind: 'date'; date: string }
  | { kind: 'never' };

/** Expiry fields of a create/PATCH body. `default` sends none: the server applies IAM settings. */
export function expiryFields(choice: ValidityChoice): {
  validityDays?: number;
  expiresAt?: string;
  neverExpires?: boolean;
} {
  switch (choice.kind) {
    case 'default':
      return {};
    case 'days':
      return { validityDays: choice.days };
    case 'date':
      return { expiresAt: choice.date };
    case 'never':
      return { neverExpires: true };
  }
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 10);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function relativeTime(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return 'never used';
  const seconds = Math.round((now.getTime() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} days ago`;
}

export interface StateLabel {
  label: string;
  color: string;
}

export function keyStateLabel(state: string, daysLeft: number | null): StateLabel {
  switch (state) {
    case 'active':
      return { label: 'Active', color: 'green' };
    case 'inactive':
      return { label: 'Inactive', color: 'gray' };
    case 'expired':
      return { label: 'Expired', color: 'red' };
    case 'expiring_soon': {
      const days = daysLeft ?? 0;
      return {
        label: days <= 0 ? 'Expires today' : `Expires in ${days} day${days === 1 ? '' : 's'}`,
        color: 'orange',
      };
    }
    default:
      return { label: state, color: 'gray' };
  }
}

/** Tomorrow as YYYY-MM-DD (the earliest custom expiry date). */
export function tomorrow(now = new Date()): string {
  return new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
}
