/**
 * Phase 1: parse and check everything that does not need the secret, so the caller can look the
 * access key up (asynchronously) only for requests that could possibly verify.
 */
import {
  ALGORITHM,
  canonicalHeaders,
  credentialScope,
  EMPTY_SHA256,
  trimHeaderValue,
  UNSIGNED_PAYLOAD,
} from './canonical.js';
import {
  type CanonicalParam,
  canonicalQueryString,
  canonicalUriCandidates,
  decodeAsciiComponent,
  MAX_QUERY_PARAMS,
  parseQuery,
} from './encoding.js';
import { formatAmzDate, parseAmzDate, parseHttpDate } from './time.js';
import type {
  ParsedSigV4,
  ParseOptions,
  ParseResult,
  SigV4Failure,
  SigV4FailureCode,
  SigV4Request,
  SigV4Scope,
} from './types.js';

/** Hard caps on input sizes; anything larger is refused before any real work. */
export const SIGV4_LIMITS = Object.freeze({
  maxMethodLength: 32,
  maxTargetLength: 16_384,
  maxHeaderPairs: 256,
  maxAuthorizationLength: 8_192,
  maxCredentialLength: 512,
  maxAccessKeyIdLength: 256,
  maxScopePartLength: 64,
  maxSignedHeaders: 64,
  maxCanonicalHeadersLength: 65_536,
  maxQueryParams: MAX_QUERY_PARAMS,
  /** AWS's own maximum for X-Amz-Expires (7 days). */
  maxPresignExpiresSeconds: 604_800,
});

export const DEFAULT_MAX_SKEW_SECONDS = 900;

type Form = 'header' | 'query';

export function sigV4Failure(code: SigV4FailureCode, message: string): { ok: false; failure: SigV4Failure } {
  return { ok: false, failure: { code, message } };
}

function malformed(form: Form, message: string): { ok: false; failure: SigV4Failure } {
  return sigV4Failure(
    form === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
    message,
  );
}

/** RFC 9110 tchar: ALPHA / DIGIT / ! # $ % & ' * + - . ^ _ ` | ~ */
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

function isMethod(m: unknown): m is string {
  if (typeof m !== 'string' || m.length === 0 || m.length > SIGV4_LIMITS.maxMethodLength) return false;
  for (let i = 0; i < m.length; i++) if (!isTchar(m.charCodeAt(i))) return false;
  return true;
}

function isLowerHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isScopePart(s: string): boolean {
  if (s.length === 0 || s.length > SIGV4_LIMITS.maxScopePartLength) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x5f ||
      c === 0x2e;
    if (!ok) return false;
  }
  return true;
}

/** Access key IDs: printable ASCII without space or comma; `/` allowed (SQL Account IDs contain one). */
function isAccessKeyId(s: string): boolean {
  if (s.length === 0 || s.length > SIGV4_LIMITS.maxAccessKeyIdLength) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2c) return false;
  }
  return true;
}

interface Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** `YYYYMMDD/region/service/aws4_request`. */
  readonly scope: string;
}

/**
 * Parse results by the exact input string. A client sends the same credential and SignedHeaders
 * strings with every request of a day (only the date and the signature change), so most requests
 * skip both parses. A result depends on its string alone. Bounded: emptied when full, so a flood of
 * distinct strings costs re-parsing, never memory.
 */
class ParseMemo<T> {
  readonly #results = new Map<string, T>();
  // The last string looked up: comparing it is cheaper than hashing a new string for the map.
  #last = '';
  #lastResult: T | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly parse: (s: string) => T,
  ) {}

  get(s: string): T {
    if (s === this.#last && this.#lastResult !== undefined) return this.#lastResult;
    let result = this.#results.get(s);
    if (result === undefined) {
      result = this.parse(s);
      if (this.#results.size >= this.maxEntries) this.#results.clear();
      this.#results.set(s, result);
    }
    this.#last = s;
    this.#lastResult = result;
    return result;
  }
}

/** `<accessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request`, split from the RIGHT. */
function parseCredential(c: string): Credential | string {
  if (c.length > SIGV4_LIMITS.maxCredentialLength) return 'Credential is too long.';
  const i4 = c.lastIndexOf('/');
  const i3 = i4 > 0 ? c.lastIndexOf('/', i4 - 1) : -1;
  const i2 = i3 > 0 ? c.lastIndexOf('/', i3 - 1) : -1;
  const i1 = i2 > 0 ? c.lastIndexOf('/', i2 - 1) : -1;
  if (i1 <= 0) {
    return 'Credential must have the form <access key ID>/<YYYYMMDD>/<region>/<service>/aws4_request.';
  }
  if (c.slice(i4 + 1) !== 'aws4_request') {
    return 'Credential has an incorrect terminal; this endpoint uses "aws4_request".';
  }
  const accessKeyId = c.slice(0, i1);
  const date = c.slice(i1 + 1, i2);
  const region = c.slice(i2 + 1, i3);
  const service = c.slice(i3 + 1, i4);
  if (!isAccessKeyId(accessKeyId)) return 'Credential has an invalid access key ID.';
  if (date.length !== 8 || parseAmzDate(`${date}T000000Z`) === undefined) {
    return 'Credential has an invalid date; expected YYYYMMDD.';
  }
  if (!isScopePart(region)) return 'Credential has an invalid region.';
  if (!isScopePart(service)) return 'Credential has an invalid service.';
  return { accessKeyId, date, region, service, scope: credentialScope(date, region, service) };
}

const credentials = new ParseMemo(1024, parseCredential);

/** `host;x-amz-date`: lowercase tokens, strictly ascending (sorted, no duplicates), `host` included. */
function parseSignedHeaders(s: string): readonly string[] | string {
  if (s.length === 0) return 'SignedHeaders is empty.';
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== 0x3b) {
      const c = s.charCodeAt(i);
      if (!isTchar(c) || (c >= 0x41 && c <= 0x5a)) {
        return 'SignedHeaders must be lowercase header names separated by ";".';
      }
      continue;
    }
    if (i === start) return 'SignedHeaders contains an empty header name.';
    if (out.length >= SIGV4_LIMITS.maxSignedHeaders) return 'SignedHeaders lists too many headers.';
    const name = s.slice(start, i);
    const prev = out[out.length - 1];
    if (prev !== undefined && prev >= name) return 'SignedHeaders must be sorted and without duplicates.';
    out.push(name);
    start = i + 1;
  }
  if (!out.includes('host')) return 'SignedHeaders must include host.';
  return Object.freeze(out);
}

const signedHeaderLists = new ParseMemo(256, parseSignedHeaders);

interface AuthorizationParams {
  credential: string;
  signedHeaders: string;
  signature: string;
}

/** The form every SDK sends; anything else takes the general path below (same grammar, same result). */
const USUAL_AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^\s,]+), ?SignedHeaders=([^\s,]+), ?Signature=([^\s,]+)$/;

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`, any order, spaces after commas optional. */
function parseAuthorization(raw: string): AuthorizationParams | string {
  if (raw.length > SIGV4_LIMITS.maxAuthorizationLength) return 'Authorization header is too long.';
  const usual = USUAL_AUTHORIZATION.exec(raw);
  if (usual !== null) {
    return {
      credential: usual[1] as string,
      signedHeaders: usual[2] as string,
      signature: usual[3] as string,
    };
  }
  const value = raw.trim();
  if (!value.startsWith(ALGORITHM)) {
    return value.startsWith('AWS4-')
      ? 'Unsupported signing algorithm; only AWS4-HMAC-SHA256 is supported.'
      : 'Unsupported authorization type; expected AWS4-HMAC-SHA256.';
  }
  const sep = value.charCodeAt(ALGORITHM.length);
  if (sep !== 0x20 && sep !== 0x09)
    return 'Unsupported signing algorithm; only AWS4-HMAC-SHA256 is supported.';
  const parts = value.slice(ALGORITHM.length + 1).split(',');
  if (parts.length > 3) return 'Authorization header has unexpected parameters.';
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) return 'Authorization header parameters must be name=value pairs separated by commas.';
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === 'Credential' && credential === undefined) credential = val;
    else if (key === 'SignedHeaders' && signedHeaders === undefined) signedHeaders = val;
    else if (key === 'Signature' && signature === undefined) signature = val;
    else return 'Authorization header has an unknown or repeated parameter.';
  }
  const missing: string[] = [];
  if (credential === undefined) missing.push('Credential');
  if (signedHeaders === undefined) missing.push('SignedHeaders');
  if (signature === undefined) missing.push('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return `Authorization header requires ${missing.join(', ')}.`;
  }
  return { credential, signedHeaders, signature };
}

/** Presigned-URL parameter names, exactly as AWS spells them (their canonical encoding is themselves). */
const Q_ALGORITHM = 'X-Amz-Algorithm';
const Q_CREDENTIAL = 'X-Amz-Credential';
const Q_DATE = 'X-Amz-Date';
const Q_EXPIRES = 'X-Amz-Expires';
const Q_SIGNED_HEADERS = 'X-Amz-SignedHeaders';
const Q_SIGNATURE = 'X-Amz-Signature';
const EXCLUDE_SIGNATURE: ReadonlySet<string> = new Set([Q_SIGNATURE]);
/** The authentication parameters of a request without a query: always empty, never written. */
const NO_QUERY = new Map<string, string>();

function joinValue(prev: string | undefined, value: string): string {
  return prev === undefined ? value : `${prev},${value}`;
}

/**
 * Parses a SigV4 request (Authorization header or presigned query) and checks everything that
 * does not need the secret: syntax, credential scope against `allowedScopes`, dates, clock skew or
 * presigned expiry, signed-header rules, payload declaration, and input limits. Never throws.
 */
export function parseSigV4(req: SigV4Request, opts: ParseOptions): ParseResult {
  try {
    return parseUnchecked(req, opts);
  } catch {
    return sigV4Failure('InternalError', 'Unexpected error while parsing the request.');
  }
}

function parseUnchecked(req: SigV4Request, opts: ParseOptions): ParseResult {
  const nowMs = opts.now instanceof Date ? opts.now.getTime() : Number.NaN;
  const maxSkewSeconds = opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  const maxExpires = Math.min(
    opts.maxPresignExpiresSeconds ?? SIGV4_LIMITS.maxPresignExpiresSeconds,
    SIGV4_LIMITS.maxPresignExpiresSeconds,
  );
  if (!Number.isFinite(nowMs) || !(maxSkewSeconds >= 0) || !(maxExpires >= 1)) {
    return sigV4Failure(
      'InternalError',
      'Invalid verifier options (now, maxSkewSeconds or maxPresignExpiresSeconds).',
    );
  }

  // --- request line -------------------------------------------------------------------------
  if (!isMethod(req.method)) return sigV4Failure('InvalidRequest', 'Invalid HTTP method.');
  const target = req.rawTarget;
  if (
    typeof target !== 'string' ||
    target.length > SIGV4_LIMITS.maxTargetLength ||
    target.charCodeAt(0) !== 0x2f
  ) {
    return sigV4Failure('InvalidURI', 'The request target must be an absolute path of reasonable length.');
  }
  const qIdx = target.indexOf('?');
  const rawPath = qIdx < 0 ? target : target.slice(0, qIdx);
  const rawQuery = qIdx < 0 ? '' : target.slice(qIdx + 1);

  // --- headers: one pass, lowercase names once ---------------------------------------------------
  const headers = req.headers;
  if (!Array.isArray(headers) || headers.length > SIGV4_LIMITS.maxHeaderPairs) {
    return sigV4Failure('InvalidRequest', 'Too many request headers.');
  }
  const lowerNames: string[] = new Array(headers.length);
  const amzHeaderNames: string[] = [];
  let authorization: string | undefined;
  let authorizationCount = 0;
  let amzDateHeader: string | undefined;
  let dateHeader: string | undefined;
  let contentShaHeader: string | undefined;
  let securityTokenHeader: string | undefined;
  let securityTokenHeaders = 0;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    const name = pair?.[0];
    const value = pair?.[1];
    if (typeof name !== 'string' || typeof value !== 'string') {
      return sigV4Failure('InvalidRequest', 'Request headers must be name/value string pairs.');
    }
    const lower = name.toLowerCase();
    lowerNames[i] = lower;
    if (lower.startsWith('x-amz-')) {
      amzHeaderNames.push(lower);
      if (lower === 'x-amz-date') amzDateHeader = joinValue(amzDateHeader, value);
      else if (lower === 'x-amz-content-sha256') contentShaHeader = joinValue(contentShaHeader, value);
      else if (lower === 'x-amz-security-token') {
        securityTokenHeader = value;
        securityTokenHeaders++;
      }
    } else if (lower === 'authorization') {
      authorizationCount++;
      authorization = value;
    } else if (lower === 'date') {
      dateHeader = joinValue(dateHeader, value);
    }
  }

  // --- query ---------------------------------------------------------------------------------
  let params: CanonicalParam[] = [];
  if (rawQuery.length > 0) {
    const parsedQuery = parseQuery(rawQuery);
    if (parsedQuery === undefined) {
      return sigV4Failure(
        'InvalidURI',
        'The query string has invalid percent-encoding or too many parameters.',
      );
    }
    params = parsedQuery;
  }
  // Without a query (the usual signed request) the loop below never runs: no map is made for it.
  const q = params.length === 0 ? NO_QUERY : new Map<string, string>();
  let duplicateAuthParam = false;
  let queryContentSha: string | undefined;
  let securityTokenQuery: string | undefined;
  let securityTokenParams = 0;
  for (const p of params) {
    const k = p.key;
    if (k.length < 10 || (k.charCodeAt(0) | 0x20) !== 0x78) continue; // fast reject: not "x-amz-..."
    if (
      k === Q_ALGORITHM ||
      k === Q_CREDENTIAL ||
      k === Q_DATE ||
      k === Q_EXPIRES ||
      k === Q_SIGNED_HEADERS ||
      k === Q_SIGNATURE
    ) {
      if (q.has(k)) duplicateAuthParam = true;
      q.set(k, p.value);
      continue;
    }
    const lk = k.toLowerCase();
    if (lk === 'x-amz-security-token') {
      securityTokenQuery = p.value;
      securityTokenParams++;
    } else if (lk === 'x-amz-content-sha256') {
      if (queryContentSha !== undefined) duplicateAuthParam = true;
      queryContentSha = p.value;
    }
  }

  // --- which form ----------------------------------------------------------------------------
  const presigned =
    q.has(Q_ALGORITHM) || q.has(Q_CREDENTIAL) || q.has(Q_SIGNATURE) || q.has(Q_SIGNED_HEADERS);
  if (authorizationCount > 0 && presigned) {
    return sigV4Failure(
      'AuthorizationHeaderMalformed',
      'Only one auth mechanism allowed: send either the Authorization header or the X-Amz-* query parameters.',
    );
  }
  if (authorizationCount === 0 && !presigned) {
    return sigV4Failure(
      'MissingAuthenticationToken',
      'Request is missing an Authorization header or presigned query parameters.',
    );
  }
  const form: Form = presigned ? 'query' : 'header';
  // Temporary credentials' session token: in a header (signed, like every x-amz-* header) or, in a
  // presigned URL, in the query (where it is part of the signed canonical query). Whether one is
  // needed, and whether it is right, depends on the access key ID: the caller decides.
  let securityToken: string | undefined;
  if (securityTokenHeaders + (form === 'query' ? securityTokenParams : 0) > 1) {
    return sigV4Failure('InvalidToken', 'The request carries more than one X-Amz-Security-Token.');
  }
  if (securityTokenHeader !== undefined) securityToken = securityTokenHeader.trim();
  else if (form === 'query' && securityTokenQuery !== undefined) {
    const decoded = decodeAsciiComponent(securityTokenQuery);
    if (decoded === undefined) {
      return sigV4Failure(
        'InvalidToken',
        'The X-Amz-Security-Token parameter is not valid percent-encoding.',
      );
    }
    securityToken = decoded;
  }

  let credentialRaw: string;
  let signedHeadersRaw: string;
  let signature: string;
  let amzDate: string;
  let signingTimeMs: number;
  let expiresSeconds: number | undefined;
  let timestampHeader: string | undefined;

  if (form === 'header') {
    if (authorizationCount > 1) return malformed(form, 'Only one Authorization header is allowed.');
    const auth = parseAuthorization(authorization as string);
    if (typeof auth === 'string') return malformed(form, auth);
    credentialRaw = auth.credential;
    signedHeadersRaw = auth.signedHeaders;
    signature = auth.signature;
    if (amzDateHeader !== undefined) {
      const v = trimHeaderValue(amzDateHeader) ?? '';
      const ms = parseAmzDate(v);
      if (ms === undefined)
        return malformed(form, "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.");
      amzDate = v;
      signingTimeMs = ms;
      timestampHeader = 'x-amz-date';
    } else if (dateHeader !== undefined) {
      const v = trimHeaderValue(dateHeader) ?? '';
      const iso = parseAmzDate(v);
      const ms = iso ?? parseHttpDate(v);
      if (ms === undefined)
        return malformed(form, 'The Date header must be an IMF-fixdate or YYYYMMDDTHHMMSSZ.');
      amzDate = iso === undefined ? formatAmzDate(ms) : v;
      signingTimeMs = ms;
      timestampHeader = 'date';
    } else {
      return malformed(form, 'Signed requests need an X-Amz-Date (or Date) header.');
    }
  } else {
    if (duplicateAuthParam) return malformed(form, 'X-Amz-* authentication parameters must not be repeated.');
    const missing = [Q_ALGORITHM, Q_CREDENTIAL, Q_DATE, Q_EXPIRES, Q_SIGNED_HEADERS, Q_SIGNATURE].filter(
      (k) => !q.has(k),
    );
    if (missing.length > 0) return malformed(form, `Presigned URL is missing ${missing.join(', ')}.`);
    const algorithm = q.get(Q_ALGORITHM);
    if (algorithm !== ALGORITHM) return malformed(form, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".');
    const cred = decodeAsciiComponent(q.get(Q_CREDENTIAL) as string);
    const sh = decodeAsciiComponent(q.get(Q_SIGNED_HEADERS) as string);
    const sig = decodeAsciiComponent(q.get(Q_SIGNATURE) as string);
    const date = decodeAsciiComponent(q.get(Q_DATE) as string);
    const expires = q.get(Q_EXPIRES) as string;
    if (cred === undefined) return malformed(form, 'X-Amz-Credential must be printable ASCII.');
    if (sh === undefined) return malformed(form, 'X-Amz-SignedHeaders must be printable ASCII.');
    if (sig === undefined) return malformed(form, 'X-Amz-Signature must be 64 lowercase hexadecimal digits.');
    const ms = date === undefined ? undefined : parseAmzDate(date);
    if (date === undefined || ms === undefined) {
      return malformed(form, "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.");
    }
    let n = 0;
    let digitsOk = expires.length > 0 && expires.length <= 7;
    for (let i = 0; digitsOk && i < expires.length; i++) {
      const c = expires.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) digitsOk = false;
      else n = n * 10 + c;
    }
    if (!digitsOk || n < 1 || n > maxExpires) {
      return malformed(form, `X-Amz-Expires must be an integer from 1 to ${maxExpires} seconds.`);
    }
    credentialRaw = cred;
    signedHeadersRaw = sh;
    signature = sig;
    amzDate = date;
    signingTimeMs = ms;
    expiresSeconds = n;
  }

  // --- credential, scope, signed headers, signature --------------------------------------------
  const credential = credentials.get(credentialRaw);
  if (typeof credential === 'string') return malformed(form, credential);
  const signedHeaders = signedHeaderLists.get(signedHeadersRaw);
  if (typeof signedHeaders === 'string') return malformed(form, signedHeaders);
  if (!isLowerHex64(signature)) return malformed(form, 'Signature must be 64 lowercase hexadecimal digits.');
  if (credential.date !== amzDate.slice(0, 8)) {
    const source = timestampHeader === 'date' ? 'the Date header' : 'X-Amz-Date';
    return malformed(form, `Invalid credential date: it is not the same as the date of ${source}.`);
  }
  let scopeAllowed = opts.allowedScopes === 'any';
  if (!scopeAllowed) {
    for (const s of opts.allowedScopes as ReadonlyArray<SigV4Scope>) {
      if (s.region === credential.region && s.service === credential.service) {
        scopeAllowed = true;
        break;
      }
    }
  }
  if (!scopeAllowed) {
    return malformed(
      form,
      `Credential scope region '${credential.region}' / service '${credential.service}' is not accepted by this endpoint.`,
    );
  }
  if (timestampHeader === 'date' && !signedHeaders.includes('date')) {
    return malformed(form, 'The Date header carries the request time, so it must be signed.');
  }
  for (const name of amzHeaderNames) {
    if (name !== 'x-amz-content-sha256' && !signedHeaders.includes(name)) {
      return sigV4Failure(
        'AccessDenied',
        `There were headers present in the request which were not signed: ${name}.`,
      );
    }
  }

  // --- payload declaration -----------------------------------------------------------------------
  let payloadClaim: string | undefined;
  if (contentShaHeader !== undefined) payloadClaim = trimHeaderValue(contentShaHeader) ?? '';
  if (queryContentSha !== undefined && form === 'query') {
    // Presigned URLs carry it in the query (AWS SDK v3 hoists it); in the header form a query
    // parameter of that name is just an ordinary (signed) parameter.
    const v = decodeAsciiComponent(queryContentSha) ?? '';
    if (payloadClaim !== undefined && payloadClaim !== v) {
      return sigV4Failure('InvalidRequest', 'x-amz-content-sha256 differs between the header and the query.');
    }
    payloadClaim = v;
  }
  if (
    payloadClaim !== undefined &&
    payloadClaim !== UNSIGNED_PAYLOAD &&
    payloadClaim !== EMPTY_SHA256 &&
    !isLowerHex64(payloadClaim)
  ) {
    if (payloadClaim.startsWith('STREAMING-')) {
      return sigV4Failure(
        'InvalidRequest',
        'Streaming (aws-chunked) payloads are not supported; send the whole body.',
      );
    }
    return sigV4Failure(
      'InvalidRequest',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the lowercase hex SHA-256 of the body.',
    );
  }

  // --- time ------------------------------------------------------------------------------------
  const skewMs = maxSkewSeconds * 1000;
  if (form === 'header') {
    if (Math.abs(nowMs - signingTimeMs) > skewMs) {
      return sigV4Failure(
        'RequestTimeTooSkewed',
        "The difference between the request time and the server's time is too large.",
      );
    }
  } else {
    if (nowMs < signingTimeMs - skewMs) return sigV4Failure('AccessDenied', 'Request is not valid yet.');
    if (nowMs >= signingTimeMs + (expiresSeconds as number) * 1000) {
      return sigV4Failure('AccessDenied', 'Request has expired.');
    }
  }

  // --- canonical pieces ------------------------------------------------------------------------
  const ch = canonicalHeaders(headers, signedHeaders, lowerNames);
  if (!ch.ok) {
    return ch.reason === 'missing'
      ? malformed(form, `Signed header '${ch.header}' is not present in the request.`)
      : sigV4Failure(
          'InvalidRequest',
          `Signed header '${ch.header}' contains characters outside printable ASCII.`,
        );
  }
  if (ch.headers.length > SIGV4_LIMITS.maxCanonicalHeadersLength) {
    return sigV4Failure('InvalidRequest', 'Signed headers are too large.');
  }
  const uriCandidates = canonicalUriCandidates(rawPath, opts.uriStyle);
  if (uriCandidates === undefined) {
    return sigV4Failure('InvalidURI', 'The request path has invalid percent-encoding or characters.');
  }
  const exclude = form === 'query' ? EXCLUDE_SIGNATURE : undefined;
  const queryCandidates = [canonicalQueryString(params, exclude)];
  if (rawQuery.includes('+')) {
    // RFC 3986 reads a raw '+' as a plus (%2B, tried first); form-encoding clients (URLSearchParams)
    // mean a space (%20). AWS accepts both, so both are tried.
    const spaced = parseQuery(rawQuery, true);
    const alt = spaced === undefined ? undefined : canonicalQueryString(spaced, exclude);
    if (alt !== undefined && alt !== queryCandidates[0]) queryCandidates.push(alt);
  }
  if (form === 'header' && rawQuery.includes('&') && !queryCandidates.includes(rawQuery)) {
    // curl 7.75 to 8.0 (--aws-sigv4) signs the query exactly as sent, unsorted. Same parameters,
    // same meaning, only the order differs, so this last candidate widens nothing an attacker can use.
    queryCandidates.push(rawQuery);
  }

  const parsed: ParsedSigV4 = {
    form,
    accessKeyId: credential.accessKeyId,
    date: credential.date,
    amzDate,
    signingTimeMs,
    region: credential.region,
    service: credential.service,
    scope: credential.scope,
    signedHeaders,
    signature,
    expiresSeconds,
    payloadClaim,
    securityToken,
    canonical: {
      method: req.method,
      uriCandidates,
      queryCandidates,
      headers: ch.headers,
      signedHeaders: signedHeadersRaw,
    },
  };
  return { ok: true, parsed };
}
