/**
 * Canonical headers, canonical request and string to sign (AWS SigV4, "Create a canonical request").
 */
import { hash } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty string. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Hex SHA-256 (one-shot `crypto.hash`: no Hash object, about twice as fast as `createHash`). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

const PLAIN_HEADER_VALUE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * SigV4 `Trimall` of one header value: leading/trailing whitespace removed and every inner run of
 * whitespace (space, tab, and CR/LF left over from obs-fold) collapsed to one space, quoted strings
 * included (as botocore and smithy do). `undefined` when the value holds a byte the service refuses
 * in a signed header: other control characters or anything outside printable ASCII.
 */
export function trimHeaderValue(value: string): string | undefined {
  // The usual value (printable ASCII, single inner spaces, nothing to trim) is returned as it is.
  if (PLAIN_HEADER_VALUE.test(value)) return value;
  let start = 0;
  let end = value.length;
  while (start < end && isSpace(value.charCodeAt(start))) start++;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  let out = '';
  let run = start;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    if (!isSpace(c)) return undefined;
    // A whitespace run needs rewriting unless it is a single plain space.
    let j = i + 1;
    while (isSpace(value.charCodeAt(j))) j++;
    if (c === 0x20 && j === i + 1) continue;
    out += `${value.slice(run, i)} `;
    run = j;
    i = j - 1;
  }
  if (run === 0 && end === value.length) return value;
  return out + value.slice(run, end);
}

/** Result of canonicalising the signed headers of a request. */
export type CanonicalHeadersResult =
  | { readonly ok: true; readonly headers: string }
  | { readonly ok: false; readonly reason: 'missing' | 'invalid'; readonly header: string };

/**
 * The canonical headers block for `signedHeaders` (already lowercase and sorted): one
 * `name:value\n` line per signed header, repeated headers trimmed one by one and joined with `,` in
 * wire order. `lowerNames[i]` must be `headers[i][0].toLowerCase()` (passed in so a caller that has
 * it does not lowercase twice).
 */
export function canonicalHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
  signedHeaders: readonly string[],
  lowerNames: readonly string[] = headers.map((h) => h[0].toLowerCase()),
): CanonicalHeadersResult {
  let out = '';
  for (const name of signedHeaders) {
    let joined: string | undefined;
    for (let i = 0; i < lowerNames.length; i++) {
      if (lowerNames[i] !== name) continue;
      const pair = headers[i] as readonly [string, string];
      const v = trimHeaderValue(pair[1]);
      if (v === undefined) return { ok: false, reason: 'invalid', header: name };
      joined = joined === undefined ? v : `${joined},${v}`;
    }
    if (joined === undefined) return { ok: false, reason: 'missing', header: name };
    out += `${name}:${joined}\n`;
  }
  return { ok: true, headers: out };
}

export interface CanonicalRequestInput {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  /** Canonical headers block, each line ending with `\n` (as returned by `canonicalHeaders`). */
  readonly canonicalHeaders: string;
  /** Signed headers line, e.g. `host;x-amz-date`. */
  readonly signedHeaders: string;
  /** Hex SHA-256 of the payload, or `UNSIGNED-PAYLOAD`. */
  readonly payloadHash: string;
}

export function buildCanonicalRequest(p: CanonicalRequestInput): string {
  return `${p.method}\n${p.canonicalUri}\n${p.canonicalQuery}\n${p.canonicalHeaders}\n${p.signedHeaders}\n${p.payloadHash}`;
}

/** `YYYYMMDD/region/service/aws4_request`. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

/** The string to sign for a canonical request. */
export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}
