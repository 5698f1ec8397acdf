import { describe, expect, it } from 'vitest';
import {
  copyAllFormat,
  DEFAULT_SCOPE,
  expiryFields,
  formatDate,
  formatDateTime,
  keyStateLabel,
  localizeDates,
  scopeFromVersion,
} from './format';

describe('copy formats', () => {
  it('copies all key details in the tenant access-key format', () => {
    expect(copyAllFormat('LKIA7Q3M9XK2VB8RT4HN0CJ5WD', 'lksk_abc', '123456789012')).toBe(
      'key:LKIA7Q3M9XK2VB8RT4HN0CJ5WD::lksk_abc,tenant id: 123456789012',
    );
  });
});

describe('signing scope', () => {
  it('takes it from /version when present', () => {
    expect(scopeFromVersion({ sigv4: { region: 'eu-west-1', service: 'x' } })).toEqual({
      region: 'eu-west-1',
      service: 'x',
    });
    expect(scopeFromVersion({ sigv4: { region: 'ap-southeast-1', service: 'execute-api' } })).toEqual({
      region: 'ap-southeast-1',
      service: 'execute-api',
    });
  });
  it('falls back to the documented default', () => {
    expect(scopeFromVersion({ name: 'latchkey', version: '0.1.0' })).toEqual(DEFAULT_SCOPE);
    expect(scopeFromVersion(null)).toEqual(DEFAULT_SCOPE);
  });
});

describe('expiry choice', () => {
  it('sends nothing for Default so IAM settings decide', () => {
    expect(expiryFields({ kind: 'default' })).toEqual({});
    expect(expiryFields({ kind: 'days', days: 30 })).toEqual({ validityDays: 30 });
    expect(expiryFields({ kind: 'date', date: '2030-01-01' })).toEqual({ expiresAt: '2030-01-01' });
    expect(expiryFields({ kind: 'never' })).toEqual({ neverExpires: true });
  });
});

describe('key state', () => {
  it('shows days left when expiring soon', () => {
    expect(keyStateLabel('expiring_soon', 2).label).toBe('Expires in 2 days');
    expect(keyStateLabel('expiring_soon', 1).label).toBe('Expires in 1 day');
    // The server rounds down: 0 whole days is less than a day, not "today" (it may be tomorrow).
    expect(keyStateLabel('expiring_soon', 0).label).toBe('Expires in less than a day');
    expect(keyStateLabel('expired', null)).toEqual({ label: 'Expired', color: 'red' });
  });
});

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

describe('dates', () => {
  const at = '2026-12-04T06:05:00.000Z';
  it('shows a moment in the given locale and time zone, date and time, never as ISO', () => {
    expect(formatDateTime(at, { locale: 'en-GB', timeZone: 'Asia/Kuala_Lumpur' })).toBe('4 Dec 2026, 14:05');
    expect(formatDateTime(at, { locale: 'en-US', timeZone: 'America/New_York' })).toBe(
      'Dec 4, 2026, 1:05 AM',
    );
    expect(formatDateTime(at, { locale: 'de-DE', timeZone: 'UTC' })).toBe('04.12.2026, 06:05');
  });
  it("uses the browser's locale and time zone by default", () => {
    const browser = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    expect(formatDateTime(at)).toBe(browser.format(new Date(at)));
    expect(formatDateTime(at)).not.toMatch(ISO);
    // One formatter: the older name gives the same words.
    expect(formatDate(at)).toBe(formatDateTime(at));
  });
  it('shows a dash for no date and leaves what is not a date alone', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDateTime(undefined)).toBe('—');
    expect(formatDateTime('soon')).toBe('soon');
  });
  it('localizes the ISO date-times in server-written text', () => {
    const text = 'Your access key "ci" (LKIA1) expires at 2026-12-04T06:05:00.000Z. Extend it before then.';
    const shown = localizeDates(text, { locale: 'en-GB', timeZone: 'Asia/Kuala_Lumpur' });
    expect(shown).toBe('Your access key "ci" (LKIA1) expires at 4 Dec 2026, 14:05. Extend it before then.');
    expect(localizeDates(text)).not.toMatch(ISO);
    expect(localizeDates('updated 2026-12-04T08:05+02:00', { locale: 'en-GB', timeZone: 'UTC' })).toBe(
      'updated 4 Dec 2026, 06:05',
    );
  });
});
