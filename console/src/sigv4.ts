/**
 * AWS Signature Version 4 for the browser, on Web Crypto (crypto.subtle): enough to sign the
 * console's Test Connection request with a just-generated key. Header signing only (no
 * presigned URLs); the secret never leaves this function's arguments.
 */

export interface SignInput {
  method: string;
  /** Absolute URL of the request. */
  url: string;
  /** Headers to sign besides `host` and `x-amz-date` (which are always signed). */
  headers?: Record<string, string>;
  body?: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  /** Signing time; defaults to now. */
  date?: Date;
}

export interface SignedRequest {
  /** Headers to send (without `host`, which the browser sets itself). */
  headers: Record<string, string>;
  authorization: string;
  amzDate: string;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

const encoder = new TextEncoder();

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(data: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(data)));
}

async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const cryptoKey = await crypto.subtle.importKey(
    'raw',
    key as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(data));
}

/** `YYYYMMDDTHHMMSSZ` */
export function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, uppercase hex. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The path, each segment decoded then encoded once (what curl and the AWS SDKs send). */
export function canonicalUri(pathname: string): string {
  if (pathname === '') return '/';
  return pathname
    .split('/')
    .map((segment) => uriEncode(safeDecode(segment)))
    .join('/');
}

export function canonicalQuery(search: string): string {
  const query = search.startsWith('?') ? search.slice(1) : search;
  if (query === '') return '';
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const rawKey = eq === -1 ? part : part.slice(0, eq);
      const rawValue = eq === -1 ? '' : part.slice(eq + 1);
      const decode = (s: string) => safeDecode(s.replace(/\+/g, '%20'));
      return [uriEncode(decode(rawKey)), uriEncode(decode(rawValue))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function trimValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export async function signingKey(
  secretAccessKey: string,
  dateStamp: string,
  region: string,
  service: string,
): Promise<ArrayBuffer> {
  const kDate = await hmac(encoder.encode(`AWS4${secretAccessKey}`), dateStamp);
  const kRegion = await hmac(kDate, region);
  const kService = await hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export async function signRequest(input: SignInput): Promise<SignedRequest> {
  const url = new URL(input.url);
  const stamp = amzDate(input.date ?? new Date());
  const dateStamp = stamp.slice(0, 8);
  const all = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers ?? {})) all.set(name.toLowerCase(), value);
  all.set('host', url.host);
  all.set('x-amz-date', stamp);
  const names = [...all.keys()].sort();
  const canonicalHeaders = names.map((n) => `${n}:${trimValue(all.get(n) ?? '')}\n`).join('');
  const signedHeaders = names.join(';');
  const payloadHash = await sha256Hex(input.body ?? '');
  const canonicalRequest = [
    input.method.toUpperCase(),
    canonicalUri(url.pathname),
    canonicalQuery(url.search),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${dateStamp}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, await sha256Hex(canonicalRequest)].join('\n');
  const key = await signingKey(input.secretAccessKey, dateStamp, input.region, input.service);
  const signature = toHex(await hmac(key, stringToSign));
  const authorization = `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  const headers: Record<string, string> = {};
  for (const [name, value] of all) if (name !== 'host') headers[name] = value;
  headers.authorization = authorization;
  return { headers, authorization, amzDate: stamp, canonicalRequest, stringToSign, signature };
}

/**
 * Test Connection: a GET signed here, in the browser, with a key the person pasted (the secret
 * leaves the browser only as the signature) and sent without cookies or cache. The response, or
 * null when the server could not be reached.
 */
export async function signedGet(
  url: string,
  scope: { region: string; service: string },
  accessKeyId: string,
  secretAccessKey: string,
  init: Omit<RequestInit, 'headers' | 'method' | 'credentials' | 'cache'> = {},
): Promise<Response | null> {
  const signed = await signRequest({
    method: 'GET',
    url,
    accessKeyId,
    secretAccessKey,
    region: scope.region,
    service: scope.service,
  });
  try {
    return await fetch(url, { ...init, headers: signed.headers, credentials: 'omit', cache: 'no-store' });
  } catch {
    return null;
  }
}
