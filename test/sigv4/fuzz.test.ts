/**
 * Seeded fuzzing: malformed Authorization headers, presigned query strings, targets and header
 * lists. parse/verify must always return a value (never throw), and never the InternalError that
 * would betray an unexpected exception inside.
 */
import { describe, expect, it } from 'vitest';
import {
  type ParseOptions,
  parseSigV4,
  SigningKeyCache,
  type SigV4Request,
  type VerifyOptions,
  verifySigV4,
} from '../../src/auth/sigv4/index.js';
import { int, mulberry32, pick } from '../helpers/prng.js';
import { REF_DEFAULTS, refSign } from './helpers/reference-signer.js';

const NOW = new Date('2015-08-30T12:36:00Z');
const PARSE: ParseOptions = { now: NOW, allowedScopes: [{ region: 'us-east-1', service: 'service' }] };
const VERIFY: VerifyOptions = { allowUnsignedPayload: true, signingKeyCache: new SigningKeyCache(64) };
const SECRETS = [
  { secret: REF_DEFAULTS.secret, version: 1 },
  { secret: 'other', version: 2 },
];

const TOKENS = [
  ',',
  ';',
  '=',
  '/',
  ' ',
  '\t',
  '%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '+',
  '&',
  '?',
  '#',
  '*',
  '..',
  '//',
  'Credential=',
  'SignedHeaders=',
  'Signature=',
  'X-Amz-Signature=',
  'X-Amz-Credential=',
  'X-Amz-Expires=',
  'X-Amz-Date=',
  'X-Amz-Security-Token=',
  'x-amz-content-sha256=',
  'AWS4-HMAC-SHA256',
  'aws4_request',
  'host',
  '20150830',
  '20150830T123600Z',
  '604801',
  '-1',
  'é',
  '\u0000',
  '\r\n',
  '\ud800',
  '😀',
  'ሴ',
  '0'.repeat(64),
  'f'.repeat(10_240),
  'a'.repeat(600),
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'UNSIGNED-PAYLOAD',
];

function mutate(rand: () => number, s: string): string {
  let out = s;
  const ops = int(rand, 1, 4);
  for (let k = 0; k < ops; k++) {
    const pos = int(rand, 0, out.length);
    switch (int(rand, 0, 6)) {
      case 0:
        out = out.slice(0, pos) + pick(rand, TOKENS) + out.slice(pos);
        break;
      case 1:
        out = out.slice(0, pos) + out.slice(pos + int(rand, 1, 20));
        break;
      case 2:
        out = out.slice(0, pos) + String.fromCharCode(int(rand, 0, 0xffff)) + out.slice(pos + 1);
        break;
      case 3:
        out = out.slice(0, pos);
        break;
      case 4: {
        const a = int(rand, 0, out.length);
        out = out.slice(0, pos) + out.slice(a, a + int(rand, 1, 40)) + out.slice(pos);
        break;
      }
      case 5:
        out = out.replace(pick(rand, [',', ';', '=', '/', '&', '%2F', ' ']), pick(rand, TOKENS));
        break;
      default:
        out = out.toUpperCase();
    }
  }
  return out;
}

function runBoth(req: SigV4Request): void {
  const p = parseSigV4(req, PARSE);
  expect(typeof p.ok).toBe('boolean');
  if (!p.ok) {
    expect(p.failure.code).not.toBe('InternalError');
    expect(typeof p.failure.message).toBe('string');
    return;
  }
  const v = verifySigV4(req, p.parsed, SECRETS, VERIFY);
  expect(typeof v.ok).toBe('boolean');
  if (!v.ok) expect(v.failure.code).not.toBe('InternalError');
}

describe('seeded fuzz (mulberry32)', () => {
  const header = refSign({
    method: 'PUT',
    path: '/v1/items/a%20b',
    query: [['x', '1']],
    headers: [
      ['Host', 'example.amazonaws.com'],
      ['X-Amz-Meta-A', 'b'],
    ],
    body: 'hello',
    contentShaHeader: true,
  }).request;
  const presigned = refSign({
    path: '/resource/*',
    query: [['q', 'a b']],
    presign: { expires: 300 },
  }).request;

  it('malformed Authorization headers: 1500 cases', () => {
    const rand = mulberry32(0x5167_0001);
    const auth = header.headers.find(([n]) => n === 'Authorization')?.[1] ?? '';
    for (let i = 0; i < 1500; i++) {
      const value = mutate(rand, auth);
      runBoth({ ...header, headers: header.headers.map(([n, v]) => [n, n === 'Authorization' ? value : v]) });
    }
  });

  it('malformed presigned query strings and targets: 1500 cases', () => {
    const rand = mulberry32(0x5167_0002);
    for (let i = 0; i < 1500; i++) {
      runBoth({ ...presigned, rawTarget: mutate(rand, presigned.rawTarget) });
    }
  });

  it('malformed header lists, dates and bodies: 1000 cases', () => {
    const rand = mulberry32(0x5167_0003);
    for (let i = 0; i < 1000; i++) {
      const base = rand() < 0.5 ? header : presigned;
      const headers = base.headers.map(([n, v]) => {
        if (rand() < 0.3) return [rand() < 0.5 ? mutate(rand, n) : n, mutate(rand, v)] as const;
        return [n, v] as const;
      });
      if (rand() < 0.3)
        headers.push([
          pick(rand, ['X-Amz-Date', 'Date', 'x-amz-content-sha256', 'Host', 'X-Amz-Foo']),
          mutate(rand, '20150830T123600Z'),
        ]);
      const body = rand() < 0.2 ? Buffer.from(mutate(rand, 'hello')) : base.body;
      runBoth({ ...base, method: rand() < 0.1 ? mutate(rand, base.method) : base.method, headers, body });
    }
  });

  it('the unmutated requests do verify (the fuzz starts from valid input)', () => {
    for (const req of [header, presigned]) {
      const p = parseSigV4(req, PARSE);
      expect(p.ok).toBe(true);
      if (p.ok) expect(verifySigV4(req, p.parsed, SECRETS, VERIFY).ok).toBe(true);
    }
  });
});
