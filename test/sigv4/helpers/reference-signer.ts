/**
 * A tiny, independent SigV4 signer for tests. It deliberately shares no code with
 * src/auth/sigv4 (own encoding via encodeURIComponent, own canonicalisation, own HMAC chain) and is
 * itself checked against the vendored vectors in vectors.test.ts.
 */
import { createHash, createHmac } from 'node:crypto';
import type { SigV4Request } from '../../../src/auth/sigv4/index.js';

const enc = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export interface RefSignInput {
  method?: string;
  /** Path exactly as it will be sent (already percent-encoded). */
  path?: string;
  /** Decoded query parameters, in the order they will appear in the URL. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Headers to send; `host` must be among them. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string | Uint8Array;
  accessKeyId?: string;
  secret?: string;
  region?: string;
  service?: string;
  /** YYYYMMDDTHHMMSSZ */
  amzDate?: string;
  /** Presign instead of an Authorization header. */
  presign?: { expires: number };
  /** The payload hash to sign (default: hex SHA-256 of the body). */
  payloadHash?: string;
  /** Also send `x-amz-content-sha256: <payloadHash>` (signed unless listed in `unsignedHeaders`). */
  contentShaHeader?: boolean;
  /** Canonical URI to sign (default: every path segment encoded again). */
  canonicalUri?: string;
  /** Remove dot segments and empty segments before encoding the default canonical URI. */
  normalize?: boolean;
  /** Header names (lowercase) to send but leave out of SignedHeaders. */
  unsignedHeaders?: readonly string[];
  /** Authorization header layout. */
  authStyle?: 'standard' | 'no-spaces' | 'reordered';
  /** Put the time in this header instead of X-Amz-Date (header form). */
  dateHeader?: 'x-amz-date' | 'date';
}

export const REF_DEFAULTS = {
  accessKeyId: 'AKIDEXAMPLE',
  secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  amzDate: '20150830T123600Z',
};

function httpDate(amzDate: string): string {
  const iso = `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`;
  return new Date(iso).toUTCString();
}

export interface RefSigned {
  request: SigV4Request;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

export function refSign(input: RefSignInput = {}): RefSigned {
  const method = input.method ?? 'GET';
  const path = input.path ?? '/';
  const accessKeyId = input.accessKeyId ?? REF_DEFAULTS.accessKeyId;
  const secret = input.secret ?? REF_DEFAULTS.secret;
  const region = input.region ?? REF_DEFAULTS.region;
  const service = input.service ?? REF_DEFAULTS.service;
  const amzDate = input.amzDate ?? REF_DEFAULTS.amzDate;
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const body = typeof input.body === 'string' ? Buffer.from(input.body) : (input.body ?? Buffer.alloc(0));
  const payloadHash = input.payloadHash ?? hex(body);

  const headers: Array<[string, string]> = (input.headers ?? [['Host', 'example.amazonaws.com']]).map(
    ([n, v]) => [n, v] as [string, string],
  );
  if (!input.presign) {
    if ((input.dateHeader ?? 'x-amz-date') === 'x-amz-date') headers.push(['X-Amz-Date', amzDate]);
    else headers.push(['Date', httpDate(amzDate)]);
  }
  if (input.contentShaHeader) headers.push(['x-amz-content-sha256', payloadHash]);

  const unsigned = new Set(input.unsignedHeaders ?? []);
  const byName = new Map<string, string[]>();
  for (const [n, v] of headers) {
    const k = n.toLowerCase();
    if (unsigned.has(k)) continue;
    const list = byName.get(k) ?? [];
    list.push(v.trim().replace(/\s+/g, ' '));
    byName.set(k, list);
  }
  const signedNames = [...byName.keys()].sort();
  const signedHeaders = signedNames.join(';');
  const canonicalHeaders = signedNames.map((k) => `${k}:${(byName.get(k) ?? []).join(',')}\n`).join('');

  const query: Array<[string, string]> = (input.query ?? []).map(([k, v]) => [k, v] as [string, string]);
  if (input.presign) {
    query.push(
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Credential', `${accessKeyId}/${scope}`],
      ['X-Amz-Date', amzDate],
      ['X-Amz-Expires', String(input.presign.expires)],
      ['X-Amz-SignedHeaders', signedHeaders],
    );
  }
  const canonicalQuery = query
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  let signedPath = path;
  if (input.normalize) {
    const kept: string[] = [];
    for (const seg of path.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') kept.pop();
      else kept.push(seg);
    }
    signedPath = `/${kept.join('/')}${kept.length > 0 && path.endsWith('/') ? '/' : ''}`;
  }
  const canonicalUri = input.canonicalUri ?? signedPath.split('/').map(enc).join('/');

  const canonicalRequest = [
    method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const signature = hmac(key, stringToSign).toString('hex');

  if (input.presign) query.push(['X-Amz-Signature', signature]);
  const qs = query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  const rawTarget = qs ? `${path}?${qs}` : path;
  if (!input.presign) {
    const cred = `Credential=${accessKeyId}/${scope}`;
    const sh = `SignedHeaders=${signedHeaders}`;
    const sig = `Signature=${signature}`;
    const style = input.authStyle ?? 'standard';
    const params =
      style === 'no-spaces'
        ? `${cred},${sh},${sig}`
        : style === 'reordered'
          ? `${sig}, ${cred}, ${sh}`
          : `${cred}, ${sh}, ${sig}`;
    headers.push(['Authorization', `AWS4-HMAC-SHA256 ${params}`]);
  }
  return {
    request: { method, rawTarget, headers, body },
    canonicalRequest,
    stringToSign,
    signature,
  };
}
