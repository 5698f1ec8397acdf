/**
 * AWS `UriEncode` and the canonical URI / canonical query string built from a raw request target.
 *
 * Everything here scans strings by char code (no regular expressions) and returns `undefined` for
 * input that cannot be canonicalised (bad percent-escape, control character, lone surrogate).
 */
import type { UriOptions } from './types.js';

const HEX = '0123456789ABCDEF';

/** 1 for the RFC 3986 unreserved characters AWS leaves alone: A-Z a-z 0-9 - _ . ~ */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x7e
  ) {
    UNRESERVED[c] = 1;
  }
}

/** `%XX` for every byte value, precomputed. */
const PCT: string[] = [];
for (let b = 0; b < 256; b++) PCT.push(`%${HEX[b >> 4]}${HEX[b & 15]}`);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Core re-encoder over `raw[start, end)`.
 * - `keepSlash`: `/` stays literal (paths).
 * - `decode`: `%XX` escapes are decoded and the byte re-encoded (single encoding, query strings);
 *   otherwise `%` is itself encoded as `%25` (double encoding).
 * - `plusAsSpace` (only with `decode`): a raw `+` means a space (`%20`) instead of a plus (`%2B`).
 * Non-ASCII code points are encoded as UTF-8. Returns `undefined` on a malformed escape, an ASCII
 * control character or a lone surrogate.
 */
function recode(
  raw: string,
  start: number,
  end: number,
  keepSlash: boolean,
  decode: boolean,
  plusAsSpace: boolean,
): string | undefined {
  let out = '';
  let run = start;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c < 128 && UNRESERVED[c] === 1) continue;
    if (c === 0x2f && keepSlash) continue;
    if (i > run) out += raw.slice(run, i);
    if (c === 0x25 && decode) {
      if (i + 2 >= end) return undefined;
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      const b = (hi << 4) | lo;
      out += b < 128 && UNRESERVED[b] === 1 ? String.fromCharCode(b) : (PCT[b] as string);
      i += 2;
    } else if (c === 0x2b && decode) {
      out += plusAsSpace ? '%20' : '%2B';
    } else if (c < 0x20 || c === 0x7f) {
      return undefined;
    } else if (c < 0x80) {
      out += PCT[c] as string;
    } else if (c < 0x800) {
      out += (PCT[0xc0 | (c >> 6)] as string) + (PCT[0x80 | (c & 63)] as string);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < end ? raw.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) return undefined;
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      out +=
        (PCT[0xf0 | (cp >> 18)] as string) +
        (PCT[0x80 | ((cp >> 12) & 63)] as string) +
        (PCT[0x80 | ((cp >> 6) & 63)] as string) +
        (PCT[0x80 | (cp & 63)] as string);
      i++;
    } else {
      out +=
        (PCT[0xe0 | (c >> 12)] as string) +
        (PCT[0x80 | ((c >> 6) & 63)] as string) +
        (PCT[0x80 | (c & 63)] as string);
    }
    run = i + 1;
  }
  if (run === start) return raw.slice(start, end);
  if (end > run) out += raw.slice(run, end);
  return out;
}

/**
 * AWS `UriEncode` of an already-decoded string: unreserved characters kept, everything else as
 * UTF-8 `%XX` (uppercase), space as `%20`; `/` kept when `keepSlash`. `undefined` for a lone
 * surrogate or an ASCII control character.
 */
export function uriEncode(value: string, keepSlash = false): string | undefined {
  return recode(value, 0, value.length, keepSlash, false, false);
}

/**
 * Decodes one percent-encoded component and encodes it again with `UriEncode`; `+` is read as a
 * plus unless `plusAsSpace`. `undefined` for invalid percent-encoding.
 */
export function recodeComponent(raw: string, plusAsSpace = false): string | undefined {
  return recode(raw, 0, raw.length, false, true, plusAsSpace);
}

/**
 * Removes `.` and `..` segments and merges duplicate slashes, keeping a trailing slash
 * (botocore's `normalize_url_path`, smithy's `getCanonicalPath`): `//a/./b/../c//` -> `/a/c/`.
 */
export function normalizePath(path: string): string {
  const out: string[] = [];
  let segStart = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 0x2f) {
      if (i > segStart) {
        const seg = path.slice(segStart, i);
        if (seg === '..') out.pop();
        else if (seg !== '.') out.push(seg);
      }
      segStart = i + 1;
    }
  }
  const lead = path.charCodeAt(0) === 0x2f ? '/' : '';
  const trail = out.length > 0 && path.charCodeAt(path.length - 1) === 0x2f ? '/' : '';
  return lead + out.join('/') + trail;
}

/**
 * The canonical URI for one explicit style. `rawPath` is the path as sent (percent-encoded,
 * without the query). `undefined` when the path cannot be canonicalised.
 */
export function canonicalUri(rawPath: string, options: UriOptions): string | undefined {
  const path = options.normalize ? normalizePath(rawPath) : rawPath;
  return recode(path, 0, path.length, true, !options.doubleEncode, false);
}

/** True when every style gives the path unchanged: only unreserved characters and single slashes, no dot segments. */
function isPlainPath(path: string): boolean {
  let segStart = 0;
  for (let i = 0; i <= path.length; i++) {
    const c = i === path.length ? 0x2f : path.charCodeAt(i);
    if (c === 0x2f) {
      const len = i - segStart;
      if (i > 0 && len === 0 && i < path.length) return false; // "//"
      if (len === 1 && path.charCodeAt(segStart) === 0x2e) return false; // "."
      if (len === 2 && path.charCodeAt(segStart) === 0x2e && path.charCodeAt(segStart + 1) === 0x2e)
        return false;
      segStart = i + 1;
    } else if (c >= 128 || UNRESERVED[c] !== 1) {
      return false;
    }
  }
  return true;
}

const DEFAULT_STYLE: UriOptions = { doubleEncode: true, normalize: true };

/**
 * Distinct candidate canonical URIs for a raw path, most likely first: the `preferred` style, then
 * the same encoding with the other normalisation, then the other encoding (both normalisations).
 * For a plain path (the usual case) all styles agree and there is one candidate.
 *
 * Compatibility (SQL Account clients): when the last segment is `*` (sent as `*` or `%2A`), clients
 * sign it in three ways: the raw `*`, `%2A` (correct UriEncode), or the path without the trailing
 * `*` (`/resource/`). All three are added, for a trailing `*` segment only.
 *
 * Returns `undefined` when the path cannot be canonicalised (invalid percent-encoding etc.).
 */
export function canonicalUriCandidates(
  rawPath: string,
  preferred: UriOptions = DEFAULT_STYLE,
): string[] | undefined {
  if (isPlainPath(rawPath)) return [rawPath];
  const d = preferred.doubleEncode;
  const n = preferred.normalize;
  const styles: UriOptions[] = [
    preferred,
    { doubleEncode: d, normalize: !n },
    { doubleEncode: !d, normalize: n },
    { doubleEncode: !d, normalize: !n },
  ];
  const out: string[] = [];
  for (const style of styles) {
    const uri = canonicalUri(rawPath, style);
    if (uri === undefined) return undefined;
    if (!out.includes(uri)) out.push(uri);
  }
  const lastSlash = rawPath.lastIndexOf('/');
  const last = rawPath.slice(lastSlash + 1);
  if (last === '*' || last === '%2A' || last === '%2a') {
    const bases = out.slice();
    for (const base of bases) {
      const prefix = base.slice(0, base.lastIndexOf('/') + 1);
      for (const form of [`${prefix}*`, `${prefix}%2A`, prefix]) {
        if (!out.includes(form)) out.push(form);
      }
    }
  }
  return out;
}

/** One query parameter, both parts already in canonical (UriEncode) form. */
export interface CanonicalParam {
  readonly key: string;
  readonly value: string;
}

/** Query parameter cap; beyond it the query is refused. */
export const MAX_QUERY_PARAMS = 256;

/**
 * Splits a raw query string (without `?`) on `&` and the first `=`, and re-encodes both parts in
 * canonical form (`a` becomes key `a`, value ``). Empty segments (`a=1&&b=2`) are skipped.
 * `undefined` on invalid percent-encoding or more than {@link MAX_QUERY_PARAMS} parameters.
 */
export function parseQuery(rawQuery: string, plusAsSpace = false): CanonicalParam[] | undefined {
  const params: CanonicalParam[] = [];
  let start = 0;
  const len = rawQuery.length;
  while (start <= len) {
    let amp = rawQuery.indexOf('&', start);
    if (amp < 0) amp = len;
    if (amp > start) {
      if (params.length >= MAX_QUERY_PARAMS) return undefined;
      let eq = rawQuery.indexOf('=', start);
      if (eq < 0 || eq > amp) eq = amp;
      const key = recode(rawQuery, start, eq, false, true, plusAsSpace);
      const value = eq < amp ? recode(rawQuery, eq + 1, amp, false, true, plusAsSpace) : '';
      if (key === undefined || value === undefined) return undefined;
      params.push({ key, value });
    }
    start = amp + 1;
  }
  return params;
}

function compareParams(a: CanonicalParam, b: CanonicalParam): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}

/**
 * The canonical query string: parameters sorted by encoded key then encoded value (byte order),
 * joined as `k=v&k=v`. Parameters whose key is in `exclude` are left out (`X-Amz-Signature` for
 * presigned URLs). Sorts a copy.
 */
export function canonicalQueryString(
  params: readonly CanonicalParam[],
  exclude?: ReadonlySet<string>,
): string {
  if (params.length === 0) return '';
  const kept = exclude ? params.filter((p) => !exclude.has(p.key)) : params.slice();
  if (kept.length > 1) kept.sort(compareParams);
  let out = '';
  for (let i = 0; i < kept.length; i++) {
    const p = kept[i] as CanonicalParam;
    out += i === 0 ? `${p.key}=${p.value}` : `&${p.key}=${p.value}`;
  }
  return out;
}

/**
 * Decodes a canonical (strict `%XX`) component to a string when it is printable ASCII only;
 * otherwise `undefined`. Used for the values of the presigned `X-Amz-*` parameters.
 */
export function decodeAsciiComponent(canonical: string): string | undefined {
  if (!canonical.includes('%')) return canonical;
  let out = '';
  let run = 0;
  for (let i = 0; i < canonical.length; i++) {
    if (canonical.charCodeAt(i) !== 0x25) continue;
    const hi = hexValue(canonical.charCodeAt(i + 1));
    const lo = hexValue(canonical.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const b = (hi << 4) | lo;
    if (b < 0x20 || b > 0x7e) return undefined;
    out += canonical.slice(run, i) + String.fromCharCode(b);
    i += 2;
    run = i + 1;
  }
  return out + canonical.slice(run);
}
