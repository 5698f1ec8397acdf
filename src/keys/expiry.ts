import { AppError } from '../errors.js';
import type { IamSettings } from '../identity/settings.js';
import { addDays, DAY_MS, iso } from '../time.js';

export interface ExpiryInput {
  validityDays?: number;
  /** `YYYY-MM-DD` (valid through the end of that day, UTC) or an ISO-8601 date-time with offset. */
  expiresAt?: string;
  neverExpires?: boolean;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * Does every field name a real calendar moment? `Date` rolls impossible values over (2030-02-30
 * becomes 2 March, 24:00 the next day) instead of refusing them, so the fields are built back
 * through Date.UTC and must come out unchanged. A leap second (:60) is refused too: Date cannot
 * hold it. Offsets go up to ±23:59 (RFC 3339).
 */
function realCalendarFields(m: RegExpExecArray): boolean {
  const field = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const [year, month, day, hour, minute, second] = [
    field(1),
    field(2),
    field(3),
    field(4),
    field(5),
    field(6),
  ];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC maps years 0-99 to 1900-1999; such years fail here (they are past anyway).
  const same =
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month - 1 &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hour &&
    at.getUTCMinutes() === minute &&
    at.getUTCSeconds() === second;
  return same && field(7) <= 23 && field(8) <= 59;
}

export function hasExpiryInput(input: ExpiryInput): boolean {
  return (
    input.validityDays !== undefined || input.expiresAt !== undefined || input.neverExpires !== undefined
  );
}

/**
 * Turn the request's expiry choice (or the tenant default when `useDefault`) into the stored
 * value: an ISO time, or null for "never". Enforces the tenant's maximum lifetime from `now`.
 */
export function resolveExpiry(input: ExpiryInput, settings: IamSettings, now: Date): string | null {
  const given = [
    input.validityDays !== undefined,
    input.expiresAt !== undefined,
    input.neverExpires !== undefined,
  ].filter(Boolean).length;
  if (given > 1)
    throw new AppError('INVALID_EXPIRY', 'give only one of validityDays, expiresAt and neverExpires');
  let expires: Date | null;
  if (input.neverExpires !== undefined) {
    if (input.neverExpires !== true) throw new AppError('INVALID_EXPIRY', 'neverExpires can only be true');
    expires = null;
  } else if (input.validityDays !== undefined) {
    expires = addDays(now, input.validityDays);
  } else if (input.expiresAt !== undefined) {
    const text = input.expiresAt;
    const dateOnly = DATE_ONLY.exec(text);
    const fields = dateOnly ?? DATE_TIME.exec(text);
    if (fields === null) {
      throw new AppError(
        'INVALID_EXPIRY',
        'expiresAt must be YYYY-MM-DD or an ISO-8601 date-time with a time zone',
      );
    }
    expires = new Date(dateOnly ? `${text}T23:59:59.999Z` : text);
    if (!realCalendarFields(fields) || Number.isNaN(expires.getTime()))
      throw new AppError(
        'INVALID_EXPIRY',
        `expiresAt ${text} is not a real date (no such day in that month, or a time field out of range)`,
      );
    if (expires.getTime() <= now.getTime())
      throw new AppError('INVALID_EXPIRY', 'expiresAt must be in the future');
  } else {
    expires = settings.defaultKeyLifetimeDays === null ? null : addDays(now, settings.defaultKeyLifetimeDays);
  }
  if (settings.maxKeyLifetimeDays !== null) {
    const limit = now.getTime() + settings.maxKeyLifetimeDays * DAY_MS;
    if (expires === null || expires.getTime() > limit) {
      throw new AppError(
        'EXPIRY_BEYOND_MAXIMUM',
        `keys in this tenant may live at most ${settings.maxKeyLifetimeDays} days (until ${iso(new Date(limit))})`,
        { maxKeyLifetimeDays: settings.maxKeyLifetimeDays },
      );
    }
  }
  return expires === null ? null : iso(expires);
}

export type KeyState = 'active' | 'inactive' | 'expired' | 'expiring_soon';

export function keyState(
  key: { status: 'active' | 'inactive'; expires_at: string | null },
  now: Date,
  reminderLeadDays: number,
): KeyState {
  if (key.status === 'inactive') return 'inactive';
  if (key.expires_at === null) return 'active';
  const left = Date.parse(key.expires_at) - now.getTime();
  if (left <= 0) return 'expired';
  return left <= reminderLeadDays * DAY_MS ? 'expiring_soon' : 'active';
}

/**
 * Whole days left before expiry, rounded down (1 day 2 hours is 1, less than a day is 0: never
 * more time than the key has), null for never, 0 once expired.
 */
export function daysLeft(expiresAt: string | null, now: Date): number | null {
  if (expiresAt === null) return null;
  return Math.max(0, Math.floor((Date.parse(expiresAt) - now.getTime()) / DAY_MS));
}
