/**
 * Conformance against the vendored AWS SigV4 vectors (aws-c-auth v4 and botocore aws4_testsuite):
 * for every case the verifier rebuilds exactly the expected canonical request and string to sign,
 * accepts the signature, and rejects the request once any signed part is changed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildCanonicalRequest,
  canonicalHeaders,
  canonicalQueryString,
  canonicalUri,
  canonicalUriCandidates,
  computeSignature,
  deriveSigningKey,
  type ParseOptions,
  parseQuery,
  parseSigV4,
  SigningKeyCache,
  type SigV4Request,
  sha256Hex,
  stringToSign,
  type VerifyOptions,
  verifySigV4,
} from '../../src/auth/sigv4/index.js';
import { parseRawHttpRequest } from './helpers/http.js';
import { refSign } from './helpers/reference-signer.js';
import { FIXTURES, loadAwsCAuthCases, loadBotocoreCases, type VectorCase } from './helpers/vectors.js';

const awsCAuth = loadAwsCAuthCases();
const botocore = loadBotocoreCases();
const allCases = [...awsCAuth, ...botocore];

/**
 * Vectors that cannot pass through the public verifier, each with the reason. They are still
 * checked: the building blocks must rebuild their canonical request, string to sign and signature
 * exactly, and the public API must refuse them with the stated failure.
 */
const SPECIAL: Record<string, { code: Record<VectorCase['form'], string>; reason: string }> = {
  'aws-c-auth/post-sts-header-after': {
    code: { header: 'AccessDenied', query: 'SignatureDoesNotMatch' },
    reason:
      'adds X-Amz-Security-Token after signing (an unsigned header / left out of the canonical query): latchkey requires the token signed, as the AWS SDKs, botocore, aws4 and curl send it',
  },
  'botocore/get-vanilla-with-session-token': {
    code: { header: 'SignatureDoesNotMatch', query: 'SignatureDoesNotMatch' },
    reason: 'upstream, its .sreq carries the get-vanilla signature (the .authz has the right one)',
  },
  'botocore/post-sts-token/post-sts-header-after': {
    code: { header: 'AccessDenied', query: 'AccessDenied' },
    reason:
      'adds X-Amz-Security-Token after signing (an unsigned header): latchkey requires the token signed',
  },
};

const label = (c: VectorCase): string => `${c.id} [${c.form}]`;

function parseOpts(c: VectorCase, explicitStyle = true): ParseOptions {
  return {
    now: c.now,
    allowedScopes: [{ region: c.region, service: c.service }],
    ...(explicitStyle ? { uriStyle: { doubleEncode: true, normalize: c.normalize } } : {}),
  };
}

const verifyOpts: VerifyOptions = { allowUnsignedPayload: false, signingKeyCache: new SigningKeyCache() };

function run(c: VectorCase, req: SigV4Request, explicitStyle = true) {
  const p = parseSigV4(req, parseOpts(c, explicitStyle));
  if (!p.ok) return p;
  return verifySigV4(req, p.parsed, [{ secret: c.secret, version: 1 }], verifyOpts);
}

function splitTarget(target: string): { path: string; query: string | undefined } {
  const q = target.indexOf('?');
  return q < 0
    ? { path: target, query: undefined }
    : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** What the signer signed, read from the signed request (independently of the module's parser). */
function authInfo(c: VectorCase): { signedHeaders: string[]; amzDate: string; signature: string } {
  if (c.form === 'header') {
    const auth = c.request.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1] ?? '';
    const date = c.request.headers.find(([n]) => n.toLowerCase() === 'x-amz-date')?.[1] ?? '';
    return {
      signedHeaders: (/SignedHeaders=([^,\s]+)/.exec(auth)?.[1] ?? '').split(';'),
      amzDate: date.trim(),
      signature: /Signature=([0-9a-f]+)/.exec(auth)?.[1] ?? '',
    };
  }
  const params = new URLSearchParams(splitTarget(c.request.rawTarget).query ?? '');
  return {
    signedHeaders: (params.get('X-Amz-SignedHeaders') ?? '').split(';'),
    amzDate: params.get('X-Amz-Date') ?? '',
    signature: params.get('X-Amz-Signature') ?? '',
  };
}

/** Rebuilds canonical request and string to sign with the exported building blocks only. */
function buildWithBlocks(c: VectorCase): { creq: string; sts: string } {
  const { path, query } = splitTarget(c.request.rawTarget);
  const info = authInfo(c);
  const exclude = new Set(['X-Amz-Signature']);
  if (c.omitSessionToken) exclude.add('X-Amz-Security-Token');
  const params = parseQuery(query ?? '');
  const headers = canonicalHeaders(c.request.headers, info.signedHeaders);
  const uri = canonicalUri(path, { doubleEncode: true, normalize: c.normalize });
  if (!params || !headers.ok || uri === undefined) throw new Error(`building blocks failed for ${label(c)}`);
  const creq = buildCanonicalRequest({
    method: c.request.method,
    canonicalUri: uri,
    canonicalQuery: canonicalQueryString(params, c.form === 'query' ? exclude : undefined),
    canonicalHeaders: headers.headers,
    signedHeaders: info.signedHeaders.join(';'),
    payloadHash: sha256Hex(c.request.body ?? new Uint8Array()),
  });
  const scope = `${info.amzDate.slice(0, 8)}/${c.region}/${c.service}/aws4_request`;
  return { creq, sts: stringToSign(info.amzDate, scope, creq) };
}

function flipHex(sig: string, at = 0): string {
  const ch = sig[at] === '0' ? '1' : '0';
  return sig.slice(0, at) + ch + sig.slice(at + 1);
}

function withSignature(c: VectorCase, signature: string): SigV4Request {
  const old = authInfo(c).signature;
  if (c.form === 'header') {
    return {
      ...c.request,
      headers: c.request.headers.map(([n, v]) => [
        n,
        n.toLowerCase() === 'authorization' ? v.replace(old, signature) : v,
      ]),
    };
  }
  return {
    ...c.request,
    rawTarget: c.request.rawTarget.replace(`X-Amz-Signature=${old}`, `X-Amz-Signature=${signature}`),
  };
}

function addSeconds(amzDate: string, s: number): string {
  const ms = Date.UTC(
    Number(amzDate.slice(0, 4)),
    Number(amzDate.slice(4, 6)) - 1,
    Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)),
    Number(amzDate.slice(11, 13)),
    Number(amzDate.slice(13, 15)) + s,
  );
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Every single-part mutation of a signed request. */
function mutations(c: VectorCase): Array<{ what: string; req: SigV4Request }> {
  const r = c.request;
  const out: Array<{ what: string; req: SigV4Request }> = [];
  const { path, query } = splitTarget(r.rawTarget);
  const q = query === undefined ? '' : `?${query}`;
  const info = authInfo(c);

  out.push({ what: 'method', req: { ...r, method: r.method === 'GET' ? 'POST' : 'GET' } });
  out.push({ what: 'path (appended segment char)', req: { ...r, rawTarget: `${path}x${q}` } });
  out.push({ what: 'path (replaced)', req: { ...r, rawTarget: `/other${q}` } });

  if (query !== undefined) {
    const segs = query.split('&');
    segs.forEach((seg, i) => {
      const changed = seg.includes('=') ? `${seg}x` : `${seg}=x`;
      const next = segs.map((s, j) => (j === i ? changed : s)).join('&');
      out.push({
        what: `query value #${i} (${seg.split('=')[0]})`,
        req: { ...r, rawTarget: `${path}?${next}` },
      });
    });
  }

  r.headers.forEach(([name], i) => {
    const lower = name.toLowerCase();
    if (!info.signedHeaders.includes(lower)) return;
    out.push({
      what: `signed header ${lower} (pair #${i})`,
      req: { ...r, headers: r.headers.map(([n, v], j) => [n, j === i ? `${v}x` : v]) },
    });
  });
  const repeated = info.signedHeaders.filter(
    (h) => r.headers.filter(([n]) => n.toLowerCase() === h).length > 1,
  );
  for (const h of repeated) {
    const idx = r.headers.flatMap(([n], i) => (n.toLowerCase() === h ? [i] : []));
    const first = idx[0] as number;
    const last = idx[idx.length - 1] as number;
    if (r.headers[first]?.[1] === r.headers[last]?.[1]) continue;
    const swapped = r.headers.map((p) => [p[0], p[1]] as [string, string]);
    swapped[first] = [r.headers[last]?.[0] ?? '', r.headers[last]?.[1] ?? ''];
    swapped[last] = [r.headers[first]?.[0] ?? '', r.headers[first]?.[1] ?? ''];
    out.push({ what: `order of repeated header ${h}`, req: { ...r, headers: swapped } });
  }

  const body = Buffer.concat([Buffer.from(r.body ?? new Uint8Array()), Buffer.from('x')]);
  out.push({ what: 'body', req: { ...r, body } });

  const later = addSeconds(info.amzDate, 1);
  if (c.form === 'header') {
    out.push({
      what: 'date (X-Amz-Date + 1 s)',
      req: { ...r, headers: r.headers.map(([n, v]) => [n, n.toLowerCase() === 'x-amz-date' ? later : v]) },
    });
  } else {
    out.push({
      what: 'date (X-Amz-Date + 1 s)',
      req: { ...r, rawTarget: r.rawTarget.replace(`X-Amz-Date=${info.amzDate}`, `X-Amz-Date=${later}`) },
    });
  }
  out.push({
    what: 'signature (first hex digit flipped)',
    req: withSignature(c, flipHex(info.signature, 0)),
  });
  out.push({
    what: 'signature (last hex digit flipped)',
    req: withSignature(c, flipHex(info.signature, 63)),
  });
  return out;
}

describe('vendored vectors', () => {
  it('are all present (38 aws-c-auth cases x 2 forms, 34 botocore requests)', () => {
    expect(awsCAuth).toHaveLength(76);
    expect(botocore).toHaveLength(34);
  });

  it('every special case exists, so none is skipped silently', () => {
    for (const id of Object.keys(SPECIAL)) expect(allCases.some((c) => c.id === id)).toBe(true);
  });
});

describe('independent reference signer (test helper) agrees with the vectors', () => {
  const cases = awsCAuth.filter((c) => !c.hasSessionToken);
  it.each(cases.map((c) => [label(c), c] as const))(
    '%s: same canonical request and signature from request.txt',
    (_l, c) => {
      // request.txt is the unsigned request: sign it as the vector did.
      const dir = join(FIXTURES, 'aws-c-auth', 'v4', c.id.slice('aws-c-auth/'.length));
      const raw = parseRawHttpRequest(readFileSync(join(dir, 'request.txt')));
      const { path, query } = splitTarget(raw.rawTarget);
      const params = (query ?? '')
        .split('&')
        .filter((s) => s !== '')
        .map((s) => {
          const eq = s.indexOf('=');
          const [k, v] = eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
          return [decodeURIComponent(k), decodeURIComponent(v)] as const;
        });
      const signed = refSign({
        method: raw.method,
        path,
        query: params,
        headers: raw.headers,
        body: raw.body,
        normalize: c.normalize,
        contentShaHeader: c.request.headers.some(([n]) => n.toLowerCase() === 'x-amz-content-sha256'),
        ...(c.form === 'query' ? { presign: { expires: c.expiresSeconds } } : {}),
      });
      expect(signed.canonicalRequest).toBe(c.canonicalRequest);
      expect(signed.signature).toBe(c.signature);
    },
  );
});

describe.each(allCases.map((c) => [label(c), c] as const))('%s', (_label, c) => {
  const special = SPECIAL[c.id];

  it('building blocks rebuild the exact canonical request, string to sign and signature', () => {
    const { creq, sts } = buildWithBlocks(c);
    expect(creq).toBe(c.canonicalRequest);
    expect(sts).toBe(c.stringToSign);
    const key = deriveSigningKey(
      c.secret,
      c.now.toISOString().slice(0, 10).replace(/-/g, ''),
      c.region,
      c.service,
    );
    expect(computeSignature(key, sts)).toBe(c.signature);
  });

  if (special) {
    it(`is refused with ${special.code[c.form]}: ${special.reason}`, () => {
      const result = run(c, c.request);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.failure.code).toBe(special.code[c.form]);
    });
    if (c.id === 'botocore/get-vanilla-with-session-token') {
      it('upstream quirk: the .sreq signature is not the signature of its own string to sign', () => {
        expect(authInfo(c).signature).not.toBe(c.signature);
      });
    }
    return;
  }

  if (c.hasSessionToken) {
    it('hands the session token (X-Amz-Security-Token) to the caller, which checks it', () => {
      const p = parseSigV4(c.request, parseOpts(c));
      expect(p.ok).toBe(true);
      const sent =
        c.request.headers.find(([n]) => n.toLowerCase() === 'x-amz-security-token')?.[1] ??
        new URLSearchParams(splitTarget(c.request.rawTarget).query ?? '').get('X-Amz-Security-Token');
      expect(sent).toBeTruthy();
      if (p.ok) expect(p.parsed.securityToken).toBe(sent?.trim());
    });
  }

  it('first candidate for the vector settings is the expected canonical URI; default candidates include it', () => {
    const expectedUri = c.canonicalRequest.split('\n')[1];
    const { path } = splitTarget(c.request.rawTarget);
    expect(canonicalUriCandidates(path, { doubleEncode: true, normalize: c.normalize })?.[0]).toBe(
      expectedUri,
    );
    expect(canonicalUriCandidates(path)).toContain(expectedUri);
    const p = parseSigV4(c.request, parseOpts(c));
    expect(p.ok && p.parsed.canonical.uriCandidates[0]).toBe(expectedUri);
  });

  it('parses and verifies (explicit path style, and default style)', () => {
    expect(run(c, c.request)).toEqual({ ok: true, secret: { secret: c.secret, version: 1 } });
    expect(run(c, c.request, false).ok).toBe(true);
  });

  it('reports exactly the expected canonical request and string to sign when the signature is wrong', () => {
    const res = run(c, withSignature(c, flipHex(authInfo(c).signature)));
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.failure.code).toBe('SignatureDoesNotMatch');
    expect(res.failure.canonicalRequest).toBe(c.canonicalRequest);
    expect(res.failure.stringToSign).toBe(c.stringToSign);
  });

  it('rejects a wrong secret', () => {
    const p = parseSigV4(c.request, parseOpts(c));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    const v = verifySigV4(c.request, p.parsed, [{ secret: `${c.secret}x`, version: 1 }], verifyOpts);
    expect(v.ok).toBe(false);
  });

  it.each(mutations(c).map((m) => [m.what, m.req] as const))('rejects a changed %s', (_what, req) => {
    expect(run(c, req).ok).toBe(false);
    expect(run(c, req, false).ok).toBe(false);
  });
});
