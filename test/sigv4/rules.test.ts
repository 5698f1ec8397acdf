/**
 * One test group per verifier rule. Requests are produced by the independent reference signer in
 * helpers/reference-signer.ts (itself checked against the vendored vectors).
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  deriveSigningKey,
  type ParseOptions,
  parseSigV4,
  type SecretCandidate,
  SigningKeyCache,
  type SigV4Failure,
  type SigV4Request,
  UNSIGNED_PAYLOAD,
  type VerifyOptions,
  verifySigV4,
} from '../../src/auth/sigv4/index.js';
import { REF_DEFAULTS, type RefSignInput, refSign } from './helpers/reference-signer.js';

const T0 = Date.parse('2015-08-30T12:36:00Z');
const at = (deltaSeconds: number): Date => new Date(T0 + deltaSeconds * 1000);
const SECRET: SecretCandidate = { secret: REF_DEFAULTS.secret, version: 1 };
const SCOPES = [{ region: 'us-east-1', service: 'service' }];

type Opts = Partial<ParseOptions> & Partial<VerifyOptions>;

/** parse + verify; returns `'ok'` or the failure. */
function check(
  req: SigV4Request,
  opts: Opts = {},
  secrets: SecretCandidate[] = [SECRET],
): 'ok' | SigV4Failure {
  const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES, ...opts });
  if (!p.ok) return p.failure;
  const v = verifySigV4(req, p.parsed, secrets, {
    allowUnsignedPayload: false,
    signingKeyCache: new SigningKeyCache(),
    ...opts,
  });
  return v.ok ? 'ok' : v.failure;
}

const code = (r: 'ok' | SigV4Failure): string => (r === 'ok' ? 'ok' : r.code);
const sign = (input: RefSignInput = {}): SigV4Request => refSign(input).request;

function mapHeader(req: SigV4Request, name: string, fn: (v: string) => string): SigV4Request {
  return { ...req, headers: req.headers.map(([n, v]) => [n, n.toLowerCase() === name ? fn(v) : v]) };
}
function dropHeader(req: SigV4Request, name: string): SigV4Request {
  return { ...req, headers: req.headers.filter(([n]) => n.toLowerCase() !== name) };
}
function addHeader(req: SigV4Request, name: string, value: string): SigV4Request {
  return { ...req, headers: [...req.headers, [name, value]] };
}
const authOf = (req: SigV4Request): string => req.headers.find(([n]) => n === 'Authorization')?.[1] ?? '';
const withAuth = (req: SigV4Request, value: string): SigV4Request =>
  mapHeader(req, 'authorization', () => value);

describe('Authorization header form', () => {
  it.each(['standard', 'no-spaces', 'reordered'] as const)('accepts the %s layout', (authStyle) => {
    expect(check(sign({ authStyle }))).toBe('ok');
  });

  it('accepts extra spaces and tabs around parameters', () => {
    const req = sign();
    const a = authOf(req)
      .replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256 \t ')
      .replace(', ', ' ,   ')
      .replace(', ', ',\t');
    expect(check(withAuth(req, `  ${a}  `))).toBe('ok');
  });

  it('accepts lowercase header names and arbitrary header order', () => {
    const req = sign({
      headers: [
        ['host', 'example.amazonaws.com'],
        ['My-Header', 'v'],
      ],
    });
    const reordered = {
      ...req,
      headers: [...req.headers].reverse().map(([n, v]) => [n.toLowerCase(), v] as const),
    };
    expect(check(reordered)).toBe('ok');
  });

  it.each([
    ['missing Signature', (a: string) => a.replace(/, Signature=[0-9a-f]+/, ''), /Signature/],
    ['missing Credential', (a: string) => a.replace(/Credential=[^,]+, /, ''), /Credential/],
    ['repeated parameter', (a: string) => `${a}, Signature=${'0'.repeat(64)}`, /unexpected|repeated/],
    ['unknown parameter', (a: string) => a.replace('SignedHeaders=', 'Signedheaders='), /unknown/],
    [
      'no separator after the algorithm',
      (a: string) => a.replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256'),
      /algorithm/,
    ],
    ['other algorithm', (a: string) => a.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'), /algorithm/],
    [
      'lowercase algorithm',
      (a: string) => a.replace('AWS4-HMAC-SHA256', 'aws4-hmac-sha256'),
      /authorization type/,
    ],
    ['other scheme', () => 'Bearer abc', /authorization type/],
    ['empty value', () => '', /authorization type/],
    ['parameter without =', (a: string) => a.replace('Credential=', 'Credential:'), /name=value/],
  ])('refuses %s', (_what, edit, message) => {
    const r = check(withAuth(sign(), edit(authOf(sign()))));
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
    expect(r !== 'ok' && r.message).toMatch(message);
  });

  it('refuses two Authorization headers', () => {
    const req = sign();
    expect(code(check(addHeader(req, 'authorization', authOf(req))))).toBe('AuthorizationHeaderMalformed');
  });

  it('refuses a request that carries both an Authorization header and presigned parameters', () => {
    const presigned = sign({ presign: { expires: 60 } });
    const header = sign();
    const both = {
      ...presigned,
      headers: [...presigned.headers, ['Authorization', authOf(header)] as const],
    };
    const r = check(both);
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
    expect(r !== 'ok' && r.message).toMatch(/Only one auth mechanism/);
  });

  it('answers MissingAuthenticationToken when there is no signature at all', () => {
    expect(code(check({ method: 'GET', rawTarget: '/', headers: [['Host', 'x']] }))).toBe(
      'MissingAuthenticationToken',
    );
    // X-Amz-Date alone in the query is an ordinary parameter, not a presigned URL.
    expect(code(check({ method: 'GET', rawTarget: '/?X-Amz-Date=20150830T123600Z', headers: [] }))).toBe(
      'MissingAuthenticationToken',
    );
  });
});

describe('credential scope', () => {
  const sqlAccountId = '0123456789abcdef0123456789abcdef.sql.my/ABC123';

  it('parses an access key ID that contains "/" (header form)', () => {
    const req = sign({ accessKeyId: sqlAccountId });
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.accessKeyId).toBe(sqlAccountId);
    expect(p.ok && p.parsed.scope).toBe('20150830/us-east-1/service/aws4_request');
    expect(check(req)).toBe('ok');
  });

  it('parses an access key ID that contains "/" (presigned form)', () => {
    const req = sign({ accessKeyId: sqlAccountId, presign: { expires: 300 } });
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.accessKeyId).toBe(sqlAccountId);
    expect(check(req)).toBe('ok');
  });

  it('accepts any of several allowed scopes', () => {
    const req = sign({ region: 'ap-southeast-5', service: 'sqlaccount' });
    expect(
      check(req, { allowedScopes: [...SCOPES, { region: 'ap-southeast-5', service: 'sqlaccount' }] }),
    ).toBe('ok');
  });

  it.each([
    ['region', { region: 'eu-west-1' }],
    ['service', { service: 's3' }],
  ])('refuses a %s outside allowedScopes', (what, input) => {
    const r = check(sign(input));
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
    expect(r !== 'ok' && r.message).toMatch(new RegExp(what));
    expect(code(check(sign({ ...input, presign: { expires: 60 } })))).toBe(
      'AuthorizationQueryParametersError',
    );
  });

  it('refuses everything when allowedScopes is empty', () => {
    expect(code(check(sign(), { allowedScopes: [] }))).toBe('AuthorizationHeaderMalformed');
  });

  it('refuses a scope date that differs from X-Amz-Date', () => {
    const req = sign();
    const r = check(withAuth(req, authOf(req).replace('/20150830/', '/20150829/')));
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
    expect(r !== 'ok' && r.message).toMatch(/credential date/);
  });

  it.each([
    ['wrong terminator', (a: string) => a.replace('aws4_request', 'aws4_requests')],
    ['missing terminator', (a: string) => a.replace('/aws4_request', '')],
    ['empty access key ID', (a: string) => a.replace('AKIDEXAMPLE', '')],
    ['unicode access key ID', (a: string) => a.replace('AKIDEXAMPLE', 'AKIDÉXAMPLE')],
    ['space in access key ID', (a: string) => a.replace('AKIDEXAMPLE', 'AKID EXAMPLE')],
    ['empty region', (a: string) => a.replace('/us-east-1/', '//')],
    ['bad scope date', (a: string) => a.replace('/20150830/', '/2015083/')],
    ['unicode region', (a: string) => a.replace('/us-east-1/', '/us-ëast-1/')],
    ['only a terminator', (a: string) => a.replace(/Credential=[^,]+/, 'Credential=aws4_request')],
    ['slash only', (a: string) => a.replace(/Credential=[^,]+/, 'Credential=/')],
  ])('refuses %s', (_what, edit) => {
    const req = sign();
    expect(code(check(withAuth(req, edit(authOf(req)))))).toBe('AuthorizationHeaderMalformed');
  });
});

describe('parse results remembered by credential and SignedHeaders string', () => {
  it('gives the same answer every time, for good and bad strings alike, in any order', () => {
    const good = sign();
    const bad = withAuth(good, authOf(good).replace('aws4_request', 'aws4_requests'));
    const badHeaders = withAuth(
      good,
      authOf(good).replace('SignedHeaders=host;', 'SignedHeaders=x-amz-date;host;'),
    );
    for (let i = 0; i < 3; i++) {
      expect(check(good)).toBe('ok');
      expect(code(check(bad))).toBe('AuthorizationHeaderMalformed');
      expect(code(check(badHeaders))).toBe('AuthorizationHeaderMalformed');
    }
  });

  it('still answers correctly once more distinct strings than it keeps have been seen', () => {
    const first = sign({ accessKeyId: 'AKIDFIRST' });
    expect(check(first)).toBe('ok');
    for (let i = 0; i < 1100; i++) {
      const req = sign({
        accessKeyId: `AKID${i}`,
        headers: [
          ['Host', 'example.amazonaws.com'],
          [`X-Extra-${i}`, 'v'],
        ],
      });
      const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
      expect(p.ok && [p.parsed.accessKeyId, p.parsed.signedHeaders.includes(`x-extra-${i}`)]).toEqual([
        `AKID${i}`,
        true,
      ]);
    }
    expect(check(first)).toBe('ok');
    const p = parseSigV4(first, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && [p.parsed.accessKeyId, p.parsed.scope]).toEqual([
      'AKIDFIRST',
      '20150830/us-east-1/service/aws4_request',
    ]);
  });
});

describe('time (header form)', () => {
  it.each([
    [0, 'ok'],
    [900, 'ok'],
    [-900, 'ok'],
    [901, 'RequestTimeTooSkewed'],
    [-901, 'RequestTimeTooSkewed'],
  ])('server clock %i s from the signing time: %s', (delta, expected) => {
    expect(code(check(sign(), { now: at(delta) }))).toBe(expected);
  });

  it('honours maxSkewSeconds', () => {
    expect(code(check(sign(), { now: at(60), maxSkewSeconds: 60 }))).toBe('ok');
    expect(code(check(sign(), { now: at(61), maxSkewSeconds: 60 }))).toBe('RequestTimeTooSkewed');
  });

  it.each([
    '2015-08-30T12:36:00Z',
    '20150830T123600',
    '20150830T123600z',
    '20150830 123600Z',
    '20150830T246000Z',
    '20150231T123600Z',
    '20150830T123660Z',
    '２0150830T123600Z',
    '',
  ])('refuses X-Amz-Date %j', (value) => {
    const r = check(mapHeader(sign(), 'x-amz-date', () => value));
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
  });

  it('refuses a repeated X-Amz-Date header', () => {
    expect(code(check(addHeader(sign(), 'X-Amz-Date', '20150830T123600Z')))).toBe(
      'AuthorizationHeaderMalformed',
    );
  });

  it('falls back to the Date header when there is no X-Amz-Date', () => {
    const req = sign({ dateHeader: 'date' });
    expect(req.headers.find(([n]) => n === 'Date')?.[1]).toBe('Sun, 30 Aug 2015 12:36:00 GMT');
    expect(check(req)).toBe('ok');
    expect(code(check(req, { now: at(901) }))).toBe('RequestTimeTooSkewed');
  });

  it('requires the Date header to be signed when it carries the time', () => {
    expect(code(check(sign({ dateHeader: 'date', unsignedHeaders: ['date'] })))).toBe(
      'AuthorizationHeaderMalformed',
    );
  });

  it('refuses a malformed Date header and a request without any date', () => {
    const req = sign({ dateHeader: 'date' });
    expect(code(check(mapHeader(req, 'date', () => 'Mon, 30 Aug 2015 12:36:00 GMT')))).toBe(
      'AuthorizationHeaderMalformed',
    ); // wrong weekday
    expect(code(check(dropHeader(req, 'date')))).toBe('AuthorizationHeaderMalformed');
  });

  it('never reads the clock itself', () => {
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('Date.now must not be called');
    });
    try {
      expect(check(sign())).toBe('ok');
      expect(check(sign({ presign: { expires: 60 } }))).toBe('ok');
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses invalid options instead of accepting everything', () => {
    expect(code(check(sign(), { now: new Date(Number.NaN) }))).toBe('InternalError');
    expect(code(check(sign(), { maxSkewSeconds: Number.NaN }))).toBe('InternalError');
  });
});

describe('presigned URLs', () => {
  const presigned = (expires: number, extra: RefSignInput = {}) => sign({ presign: { expires }, ...extra });
  const editQuery = (req: SigV4Request, from: string, to: string): SigV4Request => ({
    ...req,
    rawTarget: req.rawTarget.replace(from, to),
  });

  it.each([
    [1, 'ok'],
    [604800, 'ok'],
    [0, 'AuthorizationQueryParametersError'],
    [604801, 'AuthorizationQueryParametersError'],
  ])('X-Amz-Expires=%i: %s', (expires, expected) => {
    expect(code(check(presigned(expires)))).toBe(expected);
  });

  it.each(['1.5', '-1', '', 'abc', '+5', '1e3', '99999999', '%31'])('refuses X-Amz-Expires=%j', (value) => {
    const req = editQuery(presigned(60), 'X-Amz-Expires=60', `X-Amz-Expires=${value}`);
    // '%31' is '1' percent-encoded: canonical form is '1', which is fine to accept.
    expect(code(check(req))).toBe(
      value === '%31' ? 'SignatureDoesNotMatch' : 'AuthorizationQueryParametersError',
    );
  });

  it('honours maxPresignExpiresSeconds (never above 604800)', () => {
    expect(code(check(presigned(3600), { maxPresignExpiresSeconds: 3600 }))).toBe('ok');
    expect(code(check(presigned(3601), { maxPresignExpiresSeconds: 3600 }))).toBe(
      'AuthorizationQueryParametersError',
    );
    expect(code(check(presigned(604801), { maxPresignExpiresSeconds: 10_000_000 }))).toBe(
      'AuthorizationQueryParametersError',
    );
  });

  it('is valid from signing time - skew until (excluding) signing time + expires', () => {
    const req = presigned(3600);
    expect(code(check(req, { now: at(-900) }))).toBe('ok');
    expect(code(check(req, { now: at(3599.999) }))).toBe('ok');
    const expired = check(req, { now: at(3600) });
    expect(code(expired)).toBe('AccessDenied');
    expect(expired !== 'ok' && expired.message).toBe('Request has expired.');
    const early = check(req, { now: at(-901) });
    expect(code(early)).toBe('AccessDenied');
    expect(early !== 'ok' && early.message).toMatch(/not valid yet/);
  });

  it('must not outlive the key (notAfter)', () => {
    const req = presigned(3600);
    expect(code(check(req, { notAfter: at(3600) }))).toBe('ok');
    const r = check(req, { notAfter: at(3599) });
    expect(code(r)).toBe('AccessDenied');
    expect(r !== 'ok' && r.message).toMatch(/access key expires/);
    // The header form is not bounded by notAfter here: the caller checks key validity itself.
    expect(code(check(sign(), { notAfter: at(-1) }))).toBe('ok');
  });

  it.each(['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders'])(
    'refuses a URL without %s',
    (name) => {
      const req = presigned(60);
      const target = req.rawTarget.replace(new RegExp(`${name}=[^&]*&?`), '');
      const r = check({ ...req, rawTarget: target });
      expect(code(r)).toBe('AuthorizationQueryParametersError');
      expect(r !== 'ok' && r.message).toContain(name);
    },
  );

  it('refuses repeated authentication parameters', () => {
    const req = presigned(60);
    expect(code(check({ ...req, rawTarget: `${req.rawTarget}&X-Amz-Date=20150830T123600Z` }))).toBe(
      'AuthorizationQueryParametersError',
    );
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(req.rawTarget)?.[1];
    expect(code(check({ ...req, rawTarget: `${req.rawTarget}&X-Amz-Signature=${sig}` }))).toBe(
      'AuthorizationQueryParametersError',
    );
  });

  it('refuses another algorithm', () => {
    const req = editQuery(
      presigned(60),
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      'X-Amz-Algorithm=AWS4-HMAC-SHA512',
    );
    expect(code(check(req))).toBe('AuthorizationQueryParametersError');
  });

  it('accepts the parameters in any order and other parameters mixed in', () => {
    const req = presigned(60, {
      query: [
        ['list-type', '2'],
        ['prefix', 'a b/c'],
      ],
    });
    const [path, query] = req.rawTarget.split('?') as [string, string];
    const shuffled = query.split('&').reverse().join('&');
    expect(check({ ...req, rawTarget: `${path}?${shuffled}` })).toBe('ok');
  });
});

describe('signed headers', () => {
  it('requires host to be signed', () => {
    const r = check(sign({ unsignedHeaders: ['host'] }));
    expect(code(r)).toBe('AuthorizationHeaderMalformed');
    expect(r !== 'ok' && r.message).toMatch(/host/);
  });

  it('refuses a signed header that is missing from the request (host included)', () => {
    const req = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['My-Header', 'v'],
      ],
    });
    for (const name of ['my-header', 'host']) {
      const r = check(dropHeader(req, name));
      expect(code(r)).toBe('AuthorizationHeaderMalformed');
      expect(r !== 'ok' && r.message).toContain(`'${name}'`);
    }
    const presigned = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['My-Header', 'v'],
      ],
      presign: { expires: 60 },
    });
    expect(code(check(dropHeader(presigned, 'my-header')))).toBe('AuthorizationQueryParametersError');
  });

  it('refuses x-amz-* headers that are present but not signed', () => {
    const req = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Amz-Meta-Owner', 'alice'],
      ],
      unsignedHeaders: ['x-amz-meta-owner'],
    });
    const r = check(req);
    expect(code(r)).toBe('AccessDenied');
    expect(r !== 'ok' && r.message).toMatch(/x-amz-meta-owner/);
    expect(code(check(sign({ unsignedHeaders: ['x-amz-date'] })))).toBe('AccessDenied');
    // presigned: an x-amz-* header added to the request must be signed too
    expect(code(check(addHeader(sign({ presign: { expires: 60 } }), 'X-Amz-Target', 'x')))).toBe(
      'AccessDenied',
    );
  });

  it('allows x-amz-content-sha256 unsigned (it is bound through the payload line) but still checks it', () => {
    const body = 'hello';
    const req = sign({
      method: 'PUT',
      body,
      contentShaHeader: true,
      unsignedHeaders: ['x-amz-content-sha256'],
    });
    expect(check(req)).toBe('ok');
    expect(code(check({ ...req, body: Buffer.from('hellO') }))).toBe('XAmzContentSHA256Mismatch');
  });

  it('ignores unsigned non-x-amz headers, whatever their bytes', () => {
    const req = addHeader(sign(), 'User-Agent', 'curl/8 ünïcødé \u0001');
    expect(check(req)).toBe('ok');
  });

  it.each([
    ['unsorted', 'SignedHeaders=x-amz-date;host'],
    ['uppercase', 'SignedHeaders=Host;x-amz-date'],
    ['duplicate', 'SignedHeaders=host;host;x-amz-date'],
    ['empty entry', 'SignedHeaders=host;;x-amz-date'],
    ['trailing separator', 'SignedHeaders=host;x-amz-date;'],
    ['empty', 'SignedHeaders='],
    ['invalid characters', 'SignedHeaders=host;x amz'],
  ])('refuses %s SignedHeaders', (_what, replacement) => {
    const req = sign();
    expect(
      code(check(withAuth(req, authOf(req).replace('SignedHeaders=host;x-amz-date', replacement)))),
    ).toBe('AuthorizationHeaderMalformed');
  });

  it('trims header values and collapses inner whitespace (quoted strings too)', () => {
    const req = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['My-Header', '  a   b\t\tc  '],
        ['My-Quoted', '"x    y"'],
      ],
    });
    expect(check(req)).toBe('ok');
    // the verifier's own view of the canonical headers
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.canonical.headers).toContain('my-header:a b c\nmy-quoted:"x y"\n');
  });

  it('joins repeated headers with "," in wire order', () => {
    const req = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Tag', 'b'],
        ['x-tag', ' a '],
      ],
    });
    expect(check(req)).toBe('ok');
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.canonical.headers).toContain('x-tag:b,a\n');
  });

  it('refuses a signed header value outside printable ASCII with a clear failure', () => {
    const req = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['My-Header', 'ok'],
      ],
    });
    for (const bad of ['café', 'a\u0000b', 'a\u007fb']) {
      const r = check(mapHeader(req, 'my-header', () => bad));
      expect(code(r)).toBe('InvalidRequest');
      expect(r !== 'ok' && r.message).toMatch(/my-header/);
    }
  });
});

describe('payload', () => {
  it('hashes the real body when there is no x-amz-content-sha256', () => {
    const req = sign({ method: 'POST', body: '{"a":1}' });
    expect(check(req)).toBe('ok');
    expect(code(check({ ...req, body: Buffer.from('{"a":2}') }))).toBe('SignatureDoesNotMatch');
    expect(code(check({ ...req, body: undefined }))).toBe('SignatureDoesNotMatch');
  });

  it('treats an undefined and an empty body alike', () => {
    const req = sign();
    expect(check({ ...req, body: undefined })).toBe('ok');
    expect(check({ ...req, body: new Uint8Array() })).toBe('ok');
  });

  it('checks x-amz-content-sha256 against the body', () => {
    const req = sign({ method: 'PUT', body: 'data', contentShaHeader: true });
    expect(check(req)).toBe('ok');
    const r = check({ ...req, body: Buffer.from('date') });
    expect(code(r)).toBe('XAmzContentSHA256Mismatch');
  });

  it('refuses an x-amz-content-sha256 that is neither a lowercase hash nor UNSIGNED-PAYLOAD', () => {
    const hash = createHash('sha256').update('data').digest('hex');
    for (const value of [hash.toUpperCase(), 'abc', 'unsigned-payload', '']) {
      const req = sign({ method: 'PUT', body: 'data', contentShaHeader: true, payloadHash: value });
      expect(code(check(req))).toBe('InvalidRequest');
    }
  });

  it('accepts UNSIGNED-PAYLOAD only with allowUnsignedPayload', () => {
    const req = sign({
      method: 'PUT',
      body: 'anything',
      contentShaHeader: true,
      payloadHash: UNSIGNED_PAYLOAD,
    });
    expect(check(req, { allowUnsignedPayload: true })).toBe('ok');
    const r = check(req, { allowUnsignedPayload: false });
    expect(code(r)).toBe('InvalidRequest');
    expect(r !== 'ok' && r.message).toMatch(/UNSIGNED-PAYLOAD/);
    const get = sign({ contentShaHeader: true, payloadHash: UNSIGNED_PAYLOAD });
    expect(code(check(get, { allowUnsignedPayload: false }))).toBe('InvalidRequest');
  });

  it.each([
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  ])('refuses streaming payload %s', (value) => {
    const req = sign({ method: 'PUT', body: 'x', contentShaHeader: true, payloadHash: value });
    const r = check(req, { allowUnsignedPayload: true });
    expect(code(r)).toBe('InvalidRequest');
    expect(r !== 'ok' && r.message).toMatch(/Streaming/);
  });

  it('presigned: accepts the body hash (generic signers) and UNSIGNED-PAYLOAD (S3 style) for an empty body', () => {
    expect(check(sign({ presign: { expires: 60 } }))).toBe('ok');
    expect(check(sign({ presign: { expires: 60 }, payloadHash: UNSIGNED_PAYLOAD }))).toBe('ok');
  });

  it('presigned with a body: the body hash always, UNSIGNED-PAYLOAD only with allowUnsignedPayload', () => {
    const hashed = sign({ method: 'PUT', body: 'file', presign: { expires: 60 } });
    expect(check(hashed)).toBe('ok');
    const unsigned = sign({
      method: 'PUT',
      body: 'file',
      presign: { expires: 60 },
      payloadHash: UNSIGNED_PAYLOAD,
    });
    expect(code(check(unsigned))).toBe('SignatureDoesNotMatch');
    expect(check(unsigned, { allowUnsignedPayload: true })).toBe('ok');
  });

  it('presigned: honours X-Amz-Content-Sha256 carried in the query (AWS SDK v3 style)', () => {
    const req = sign({
      presign: { expires: 60 },
      query: [['X-Amz-Content-Sha256', UNSIGNED_PAYLOAD]],
      payloadHash: UNSIGNED_PAYLOAD,
    });
    expect(check(req)).toBe('ok');
    const body = 'payload';
    const hash = createHash('sha256').update(body).digest('hex');
    const put = sign({
      method: 'PUT',
      body,
      presign: { expires: 60 },
      query: [['x-amz-content-sha256', hash]],
    });
    expect(check(put)).toBe('ok');
    expect(code(check({ ...put, body: Buffer.from('other') }))).toBe('XAmzContentSHA256Mismatch');
  });
});

it('header form: a query parameter named x-amz-content-sha256 is an ordinary parameter', () => {
  const req = sign({ method: 'POST', body: 'b', query: [['x-amz-content-sha256', 'anything']] });
  expect(check(req)).toBe('ok');
});

describe('secrets, rotation and the signing-key cache', () => {
  const OLD: SecretCandidate = { secret: 'old-secret-0000000000000000000000000000', version: 1 };
  const NEW: SecretCandidate = { secret: 'new-secret-1111111111111111111111111111', version: 2 };

  it('accepts either secret during a rotation grace period and says which one matched', () => {
    for (const s of [OLD, NEW]) {
      const req = sign({ secret: s.secret });
      const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
      expect(p.ok).toBe(true);
      if (!p.ok) continue;
      const v = verifySigV4(req, p.parsed, [NEW, OLD], { allowUnsignedPayload: false });
      expect(v).toEqual({ ok: true, secret: s });
    }
    expect(code(check(sign({ secret: 'someone-else' }), {}, [NEW, OLD]))).toBe('SignatureDoesNotMatch');
  });

  it('answers InvalidAccessKeyId when no secret is given', () => {
    expect(code(check(sign(), {}, []))).toBe('InvalidAccessKeyId');
  });

  it('never reuses a derived key across secret versions, nor across secrets under a reused version', () => {
    const cache = new SigningKeyCache();
    const signedByOld = sign({ secret: OLD.secret });
    expect(check(signedByOld, { signingKeyCache: cache }, [OLD])).toBe('ok');
    expect(cache.size).toBe(1);
    // after rotation only NEW is valid: the cached OLD-derived key must not be used
    expect(code(check(signedByOld, { signingKeyCache: cache }, [NEW]))).toBe('SignatureDoesNotMatch');
    // even if a caller reuses version 1 for a different secret
    expect(code(check(signedByOld, { signingKeyCache: cache }, [{ secret: NEW.secret, version: 1 }]))).toBe(
      'SignatureDoesNotMatch',
    );
  });

  it('caches per access key, secret version, date, region and service', () => {
    const cache = new SigningKeyCache();
    const o = {
      signingKeyCache: cache,
      allowedScopes: [...SCOPES, { region: 'eu-west-1', service: 'service' }],
    };
    expect(check(sign(), o)).toBe('ok');
    expect(check(sign(), o)).toBe('ok');
    expect(cache.size).toBe(1);
    expect(check(sign({ accessKeyId: 'OTHER' }), o)).toBe('ok');
    expect(check(sign({ region: 'eu-west-1' }), o)).toBe('ok');
    expect(
      check(sign({ amzDate: '20150831T000100Z' }), { ...o, now: new Date('2015-08-31T00:01:00Z') }),
    ).toBe('ok');
    expect(cache.size).toBe(4);
    expect(cache.invalidate('OTHER')).toBe(1);
    expect(cache.size).toBe(3);
  });

  it('works without a cache', () => {
    expect(check(sign(), { signingKeyCache: null })).toBe('ok');
  });
});

describe('signature', () => {
  const withSig = (sig: string) => {
    const req = sign();
    return withAuth(req, authOf(req).replace(/Signature=[0-9a-f]+/, `Signature=${sig}`));
  };

  it.each([
    ['uppercase hex', (s: string) => s.toUpperCase()],
    ['63 digits', (s: string) => s.slice(1)],
    ['65 digits', (s: string) => `${s}0`],
    ['non-hex', (s: string) => `${s.slice(1)}g`],
    ['10 KB', (s: string) => s.repeat(160)],
    ['empty', () => ''],
  ])('refuses a %s signature as malformed', (_what, edit) => {
    expect(code(check(withSig(edit(refSign().signature))))).toBe('AuthorizationHeaderMalformed');
  });

  it('reports the canonical request and string to sign, never the secret or the derived key', () => {
    const good = refSign({ headers: [['Host', 'example.amazonaws.com']] });
    const r = check(withSig('0'.repeat(64)));
    expect(r).not.toBe('ok');
    if (r === 'ok') return;
    expect(r.code).toBe('SignatureDoesNotMatch');
    expect(r.canonicalRequest).toBe(good.canonicalRequest);
    expect(r.stringToSign).toBe(good.stringToSign);
    const derived = deriveSigningKey(SECRET.secret, '20150830', 'us-east-1', 'service');
    const text = JSON.stringify(r);
    expect(text).not.toContain(SECRET.secret);
    expect(text).not.toContain(derived.toString('hex'));
    expect(text).not.toContain(derived.toString('base64'));
  });
});

describe('canonical URI candidates', () => {
  it('accepts double-encoded (generic) and single-encoded (S3) forms of an encoded path', () => {
    const path = '/my%20file%2Bv2.txt';
    expect(check(sign({ path }))).toBe('ok'); // signer default: encode the sent path again
    expect(check(sign({ path, canonicalUri: path }))).toBe('ok'); // S3: the path as sent
    expect(check(sign({ path: '/my file+v2.txt', canonicalUri: '/my%20file%2Bv2.txt' }))).toBe('ok');
    expect(code(check(sign({ path, canonicalUri: '/my%20file+v2.txt' })))).toBe('SignatureDoesNotMatch');
  });

  it('accepts normalised and non-normalised forms', () => {
    const path = '//a/./b/../c//d';
    expect(check(sign({ path, normalize: true }))).toBe('ok');
    expect(check(sign({ path, canonicalUri: path }))).toBe('ok');
    expect(code(check(sign({ path, canonicalUri: '/a/b/c/d' })))).toBe('SignatureDoesNotMatch');
  });

  it('tries the configured style first (reported on mismatch)', () => {
    const req = withAuth(
      sign({ path: '/a/../b' }),
      authOf(sign({ path: '/a/../b' })).replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`),
    );
    const normalised = check(req);
    const s3 = check(req, { uriStyle: { doubleEncode: false, normalize: false } });
    expect(normalised !== 'ok' && normalised.canonicalRequest?.split('\n')[1]).toBe('/b');
    expect(s3 !== 'ok' && s3.canonicalRequest?.split('\n')[1]).toBe('/a/../b');
  });

  // SQL Account clients sign a trailing "*" segment three ways; all three are accepted.
  it.each(['/resource/*', '/resource/%2A'])('accepts the three SQL Account forms of %s', (path) => {
    for (const canonicalUri of ['/resource/*', '/resource/%2A', '/resource/']) {
      expect(check(sign({ path, canonicalUri }))).toBe('ok');
    }
    expect(code(check(sign({ path, canonicalUri: '/resource' })))).toBe('SignatureDoesNotMatch');
  });

  it('applies the "*" compatibility to a trailing "*" segment only', () => {
    expect(code(check(sign({ path: '/a*/b', canonicalUri: '/a*/b' })))).toBe('SignatureDoesNotMatch');
    expect(code(check(sign({ path: '/res/x*', canonicalUri: '/res/x*' })))).toBe('SignatureDoesNotMatch');
    expect(code(check(sign({ path: '/res/x*', canonicalUri: '/res/' })))).toBe('SignatureDoesNotMatch');
    expect(check(sign({ path: '/a*/b' }))).toBe('ok'); // the correct encoding still works
  });
});

describe('canonical query string', () => {
  it('reads a raw "+" as a plus (RFC 3986) or as a space (form encoding)', () => {
    const base = sign({ query: [['q', 'a+b']] }); // sent as q=a%2Bb, signed as a plus
    expect(check(base)).toBe('ok');
    const plusAsPlus = refSign({ query: [['q', 'a+b']] });
    const sentRaw = { ...plusAsPlus.request, rawTarget: '/?q=a+b' };
    expect(check(sentRaw)).toBe('ok');
    const space = refSign({ query: [['q', 'a b']] }); // signed as a%20b
    expect(check({ ...space.request, rawTarget: '/?q=a+b' })).toBe('ok');
    const other = refSign({ query: [['q', 'a-b']] });
    expect(code(check({ ...other.request, rawTarget: '/?q=a+b' }))).toBe('SignatureDoesNotMatch');
  });

  it('an unsorted query signed as sent (curl before 8.1) verifies, and only with the same parameters', () => {
    const req = sign({
      query: [
        ['b', '2'],
        ['a', '1'],
      ],
    });
    expect(check(req)).toBe('ok');
    const unsortedSigned = { ...req };
    const p = parseSigV4(unsortedSigned, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.canonical.queryCandidates).toContain('b=2&a=1');
    expect(check({ ...req, rawTarget: req.rawTarget.replace('b=2', 'b=3') })).not.toBe('ok');
  });

  it('sorts by encoded key then value, and encodes a bare key as "key="', () => {
    const req = sign({
      query: [
        ['b', '2'],
        ['a', 'z'],
        ['a', 'y'],
        ['flag', ''],
        ['ሴ', 'u'],
      ],
    });
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    // The sorted form first; the query as sent (curl 7.75 to 8.0 signs it unsorted) last.
    expect(p.ok && p.parsed.canonical.queryCandidates[0]).toBe('%E1%88%B4=u&a=y&a=z&b=2&flag=');
    expect(p.ok && p.parsed.canonical.queryCandidates.at(-1)).toBe(req.rawTarget.split('?')[1]);
    const bare = { ...req, rawTarget: req.rawTarget.replace('flag=', 'flag') };
    expect(check(bare)).toBe('ok');
  });

  it('decodes then re-encodes: differently escaped but equal queries verify', () => {
    const req = sign({ query: [['k~', 'v!*']] });
    expect(req.rawTarget).toBe('/?k~=v%21%2A');
    expect(check({ ...req, rawTarget: '/?k%7E=v!*' })).toBe('ok');
    expect(check({ ...req, rawTarget: '/?k%7e=v%21%2a' })).toBe('ok');
  });
});

describe('session tokens', () => {
  const parse = (req: SigV4Request) => parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
  it('hands a signed X-Amz-Security-Token (header or presigned query) to the caller, which checks it', () => {
    const h = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Amz-Security-Token', 'tok/en+='],
      ],
    });
    expect(code(check(h))).toBe('ok');
    const ph = parse(h);
    expect(ph.ok && ph.parsed.securityToken).toBe('tok/en+=');
    const q = sign({ presign: { expires: 60 }, query: [['X-Amz-Security-Token', 'tok/en+=']] });
    expect(code(check(q))).toBe('ok');
    const pq = parse(q);
    expect(pq.ok && pq.parsed.securityToken).toBe('tok/en+=');
    // None sent: none handed over.
    const plain = parse(sign());
    expect(plain.ok && plain.parsed.securityToken).toBeUndefined();
  });

  it('refuses an unsigned token header, and two tokens, before any secret is needed', () => {
    const unsigned = addHeader(sign(), 'X-Amz-Security-Token', 'tok');
    expect(code(check(unsigned))).toBe('AccessDenied');
    const twice = addHeader(
      sign({
        headers: [
          ['Host', 'example.amazonaws.com'],
          ['X-Amz-Security-Token', 'tok'],
        ],
      }),
      'X-Amz-Security-Token',
      'tok2',
    );
    expect(code(check(twice))).toBe('InvalidToken');
    const both = addHeader(
      sign({ presign: { expires: 60 }, query: [['X-Amz-Security-Token', 'tok']] }),
      'X-Amz-Security-Token',
      'tok',
    );
    expect(code(check(both))).toBe('InvalidToken');
  });
});

describe('garbage in, failure value out', () => {
  const good = sign();
  afterEach(() => vi.restoreAllMocks());

  it.each<[string, SigV4Request, string]>([
    ['invalid escape in path', { ...good, rawTarget: '/a%zz' }, 'InvalidURI'],
    ['truncated escape in query', { ...good, rawTarget: '/?q=%E0%A4%A' }, 'InvalidURI'],
    ['"%" at the end', { ...good, rawTarget: '/a%' }, 'InvalidURI'],
    ['lone surrogate in path', { ...good, rawTarget: '/\ud800' }, 'InvalidURI'],
    ['control character in path', { ...good, rawTarget: '/a\u0000' }, 'InvalidURI'],
    ['empty target', { ...good, rawTarget: '' }, 'InvalidURI'],
    ['absolute-form target', { ...good, rawTarget: 'http://example.com/' }, 'InvalidURI'],
    ['asterisk-form target', { ...good, rawTarget: '*' }, 'InvalidURI'],
    ['20 KB target', { ...good, rawTarget: `/${'a'.repeat(20_000)}` }, 'InvalidURI'],
    ['too many query parameters', { ...good, rawTarget: `/?${'a=1&'.repeat(300)}` }, 'InvalidURI'],
    ['empty method', { ...good, method: '' }, 'InvalidRequest'],
    ['method with a space', { ...good, method: 'GE T' }, 'InvalidRequest'],
    [
      'too many headers',
      { ...good, headers: [...good.headers, ...Array.from({ length: 300 }, () => ['x-a', 'b'] as const)] },
      'InvalidRequest',
    ],
    [
      '1 MB Authorization header',
      withAuth(good, `AWS4-HMAC-SHA256 ${'x'.repeat(1 << 20)}`),
      'AuthorizationHeaderMalformed',
    ],
  ])('%s', (_what, req, expected) => {
    expect(code(check(req))).toBe(expected);
  });

  it('refuses non-string header parts passed by a careless caller', () => {
    const bad = { ...good, headers: [['Host', 42]] } as unknown as SigV4Request;
    expect(code(check(bad))).toBe('InvalidRequest');
    const worse = { ...good, headers: [null] } as unknown as SigV4Request;
    expect(code(check(worse))).toBe('InvalidRequest');
  });

  it('accepts invalid UTF-8 that is still valid percent-encoding (bytes are re-encoded as is)', () => {
    const req = { ...good, rawTarget: '/%E0%A4?x=%FF' };
    const p = parseSigV4(req, { now: at(0), allowedScopes: SCOPES });
    expect(p.ok && p.parsed.canonical.uriCandidates).toContain('/%E0%A4');
    expect(p.ok && p.parsed.canonical.queryCandidates).toEqual(['x=%FF']);
  });

  it('refuses a huge signed header', () => {
    const big = sign({
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Big', 'v'.repeat(70_000)],
      ],
    });
    expect(code(check(big))).toBe('InvalidRequest');
  });
});
