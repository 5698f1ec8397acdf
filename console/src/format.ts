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

export interface DateFormatOptions {
  /** Tests pin these; the console leaves them to the browser. */
  locale?: string;
  timeZone?: string;
}

/**
 * The one way the console shows a moment: in the browser's locale and time zone, date and time,
 * e.g. "4 Dec 2026, 14:05" (en-GB) or "Dec 4, 2026, 2:05 PM" (en-US). The API speaks ISO-8601 UTC;
 * no ISO string reaches the screen.
 */
export function formatDateTime(iso: string | null | undefined, options: DateFormatOptions = {}): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return dateTimeFormat(options).format(d);
}

const formats = new Map<string, Intl.DateTimeFormat>();
function dateTimeFormat({ locale, timeZone }: DateFormatOptions): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${timeZone ?? ''}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone });
    formats.set(key, format);
  }
  return format;
}

/** The same formatter under its older name (some components still import it). */
export const formatDate = formatDateTime;

/** ISO-8601 date-times inside free text (e.g. a server-written notification), as in formatDateTime. */
const ISO_IN_TEXT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})/g;

/** Text the server wrote with ISO date-times in it, with each shown as formatDateTime shows it. */
export function localizeDates(text: string, options: DateFormatOptions = {}): string {
  return text.replace(ISO_IN_TEXT, (iso) => formatDateTime(iso, options));
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
      // Whole days, rounded down by the server: 0 means less than a day is left.
      const days = daysLeft ?? 0;
      return {
        label: days <= 0 ? 'Expires in less than a day' : `Expires in ${days} day${days === 1 ? '' : 's'}`,
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
