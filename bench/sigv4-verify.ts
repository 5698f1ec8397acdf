/**
 * SigV4 verification throughput: parseSigV4 + verifySigV4 for a typical signed GET
 * (3 signed headers, short query), one core.
 *
 *   A = warm signing-key cache (same key and date every time)
 *   B = cold cache baseline (a different access key every time, so every call derives its key)
 *
 * The two are interleaved in short slices (A B B A A B B A ...) so drift (CPU boost, GC, noisy
 * neighbours) hits both alike; the medians of the per-slice rates are reported.
 *
 *   npx tsx bench/sigv4-verify.ts [sliceMs=200] [rounds=8]
 */
import {
  buildCanonicalRequest,
  canonicalHeaders,
  computeSignature,
  credentialScope,
  deriveSigningKey,
  EMPTY_SHA256,
  parseSigV4,
  SigningKeyCache,
  type SigV4Options,
  type SigV4Request,
  stringToSign,
  verifySigV4,
} from '../src/auth/sigv4/index.js';
import { median } from './stats.js';

const SLICE_MS = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 8);
const AMZ_DATE = '20261123T104500Z';
const NOW = new Date('2026-11-23T10:45:03Z');
const REGION = 'ap-southeast-5';
const SERVICE = 'sqlaccount';
const SECRET = 'lksk_0123456789abcdefghijABCDEFGHIJ0123456789';

function signedGet(accessKeyId: string): SigV4Request {
  const path = '/v1/stock/items';
  const query = 'limit=50&offset=100';
  const signed: Array<[string, string]> = [
    ['Host', 'api.example.sql.my'],
    ['X-Amz-Content-Sha256', EMPTY_SHA256],
    ['X-Amz-Date', AMZ_DATE],
  ];
  const names = ['host', 'x-amz-content-sha256', 'x-amz-date'];
  const ch = canonicalHeaders(signed, names);
  if (!ch.ok) throw new Error('bench setup');
  const creq = buildCanonicalRequest({
    method: 'GET',
    canonicalUri: path,
    canonicalQuery: query,
    canonicalHeaders: ch.headers,
    signedHeaders: names.join(';'),
    payloadHash: EMPTY_SHA256,
  });
  const scope = credentialScope(AMZ_DATE.slice(0, 8), REGION, SERVICE);
  const key = deriveSigningKey(SECRET, AMZ_DATE.slice(0, 8), REGION, SERVICE);
  const signature = computeSignature(key, stringToSign(AMZ_DATE, scope, creq));
  return {
    method: 'GET',
    rawTarget: `${path}?${query}`,
    headers: [
      ...signed,
      ['User-Agent', 'SQLAccount-Client/5.2 (Windows NT 10.0)'],
      ['Accept', 'application/json'],
      ['Accept-Encoding', 'gzip, deflate'],
      ['Connection', 'keep-alive'],
      [
        'Authorization',
        `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
      ],
    ],
  };
}

const secrets = [{ secret: SECRET, version: 3 }];
const warmCache = new SigningKeyCache();
const coldCache = new SigningKeyCache(1_000);
const baseOpts = {
  now: NOW,
  allowedScopes: [{ region: REGION, service: SERVICE }],
  allowUnsignedPayload: false,
};
const warmOpts: SigV4Options = { ...baseOpts, signingKeyCache: warmCache };
const coldOpts: SigV4Options = { ...baseOpts, signingKeyCache: coldCache };

const warmRequest = signedGet('0123456789abcdef0123456789abcdef.sql.my/DEMO01');
// 4096 distinct keys cycled through a 1000-entry LRU: every lookup misses.
const coldRequests = Array.from({ length: 4096 }, (_, i) =>
  signedGet(`${i.toString(16).padStart(32, '0')}.sql.my/DEMO${i}`),
);
let coldIndex = 0;

let sink = 0;
function once(req: SigV4Request, opts: SigV4Options): void {
  const p = parseSigV4(req, opts);
  if (!p.ok) throw new Error(`parse failed: ${p.failure.code} ${p.failure.message}`);
  const v = verifySigV4(req, p.parsed, secrets, opts);
  if (!v.ok) throw new Error(`verify failed: ${v.failure.code}`);
  sink += v.secret.version;
}

const warm = (): void => once(warmRequest, warmOpts);
const cold = (): void => {
  once(coldRequests[coldIndex] as SigV4Request, coldOpts);
  coldIndex = (coldIndex + 1) % coldRequests.length;
};

/** Runs `fn` for about `ms` milliseconds; returns operations per second. */
function slice(fn: () => void, ms: number): number {
  const budget = BigInt(Math.round(ms * 1e6));
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < 256; i++) fn();
    ops += 256;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return ops / (Number(elapsed) / 1e9);
}

// sanity + JIT warm-up
warm();
cold();
slice(warm, 300);
slice(cold, 300);

const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // A B B A
  a.push(slice(warm, SLICE_MS));
  b.push(slice(cold, SLICE_MS));
  b.push(slice(cold, SLICE_MS));
  a.push(slice(warm, SLICE_MS));
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mw = median(a);
const mc = median(b);
console.log(`SigV4 parse+verify, typical GET, 3 signed headers (node ${process.version}, ${process.arch})`);
console.log(`slices: ${a.length} x A, ${b.length} x B, ${SLICE_MS} ms each, order A B B A`);
console.log(
  `A warm cache: median ${fmt(mw)} verifications/s (${(1e6 / mw).toFixed(2)} µs each; min ${fmt(Math.min(...a))}, max ${fmt(Math.max(...a))})`,
);
console.log(
  `B cold cache: median ${fmt(mc)} verifications/s (${(1e6 / mc).toFixed(2)} µs each; min ${fmt(Math.min(...b))}, max ${fmt(Math.max(...b))})`,
);
console.log(
  `ratio warm/cold: ${(mw / mc).toFixed(2)}x; goal >= 50,000/s warm: ${mw >= 50_000 ? 'met' : 'NOT met'}`,
);
if (sink === 0) console.log('');
