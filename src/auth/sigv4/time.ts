/**
 * Strict timestamp parsing for SigV4 (no Date.parse: it accepts far too much).
 */

function digits(s: string, start: number, len: number): number {
  let n = 0;
  for (let i = start; i < start + len; i++) {
    const c = s.charCodeAt(i) - 0x30; // NaN past the end
    if (!(c >= 0 && c <= 9)) return -1;
    n = n * 10 + c;
  }
  return n;
}

function utcMs(
  year: number,
  month: number,
  day: number,
  h: number,
  m: number,
  s: number,
): number | undefined {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || h > 23 || m > 59 || s > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, h, m, s);
  // Rejects 20150231 and friends: Date.UTC rolls them over into the next month.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

// The last timestamp parsed: requests signed in the same second carry the same one.
let lastAmzDate = '';
let lastAmzDateMs: number | undefined;

/** `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC) to epoch ms; `undefined` unless exactly that shape and a real instant. */
export function parseAmzDate(value: string): number | undefined {
  if (value === lastAmzDate) return lastAmzDateMs;
  const ms = parseAmzDateUncached(value);
  lastAmzDate = value;
  lastAmzDateMs = ms;
  return ms;
}

function parseAmzDateUncached(value: string): number | undefined {
  if (value.length !== 16 || value.charCodeAt(8) !== 0x54 || value.charCodeAt(15) !== 0x5a) return undefined;
  const year = digits(value, 0, 4);
  const month = digits(value, 4, 2);
  const day = digits(value, 6, 2);
  const h = digits(value, 9, 2);
  const m = digits(value, 11, 2);
  const s = digits(value, 13, 2);
  if (year < 0 || month < 0 || day < 0 || h < 0 || m < 0 || s < 0) return undefined;
  return utcMs(year, month, day, h, m, s);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** IMF-fixdate (`Sun, 30 Aug 2015 12:36:00 GMT`, RFC 9110) to epoch ms; strict, weekday checked. */
export function parseHttpDate(value: string): number | undefined {
  if (value.length !== 29 || value.slice(3, 5) !== ', ' || !value.endsWith(' GMT')) return undefined;
  if (value[7] !== ' ' || value[11] !== ' ' || value[16] !== ' ' || value[19] !== ':' || value[22] !== ':') {
    return undefined;
  }
  const weekday = DAYS.indexOf(value.slice(0, 3));
  const month = MONTHS.indexOf(value.slice(8, 11)) + 1;
  const day = digits(value, 5, 2);
  const year = digits(value, 12, 4);
  const h = digits(value, 17, 2);
  const m = digits(value, 20, 2);
  const s = digits(value, 23, 2);
  if (weekday < 0 || month < 1 || day < 0 || year < 0 || h < 0 || m < 0 || s < 0) return undefined;
  const ms = utcMs(year, month, day, h, m, s);
  if (ms === undefined || new Date(ms).getUTCDay() !== weekday) return undefined;
  return ms;
}

/** Epoch ms to `YYYYMMDDTHHMMSSZ`. */
export function formatAmzDate(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2015-08-30T12:36:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
