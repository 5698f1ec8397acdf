/**
 * Seeded fuzzing of signed-request parsing through the HTTP stack: hundreds of malformed
 * Authorization headers and presigned query parameters. Every answer must be a 4xx with the
 * stable error shape (or 200 when a mutation happens to leave a valid request), never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './helpers/app.js';
import { mulberry32 } from './helpers/prng.js';
import { presign, signHeaders } from './helpers/sign.js';

const NASTY = [
  '',
  ' ',
  ',',
  '=',
  '/',
  '//',
  '%',
  '%zz',
  '%E0%A4%A',
  '\u00e9',
  '\u{1F511}',
  'a'.repeat(5000),
  '\t',
  'null',
  '0',
  '-1',
  '99999999999999999999',
  'AWS4-HMAC-SHA256',
  'aws4_request',
  'LKIA',
  '../..',
];

describe('fuzzing signed requests over HTTP', () => {
  let t: TestApp;
  let valid: { headers: Record<string, string>; presigned: string; ak: string; sk: string };
  beforeAll(async () => {
    t = await startTestApp('sqlite');
    const key = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: {} })).json();
    const creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    valid = {
      headers: await signHeaders(creds, {
        method: 'GET',
        path: '/profile?x=1',
        host: 'lk.test',
        date: t.clock.now(),
      }),
      presigned: await presign(creds, {
        method: 'GET',
        path: '/profile',
        host: 'lk.test',
        date: t.clock.now(),
      }),
      ak: key.accessKeyId,
      sk: key.secretAccessKey,
    };
  });
  afterAll(async () => t?.close());

  it('never answers 5xx to 600 mutated Authorization headers and presigned URLs', async () => {
    const rnd = mulberry32(20261123);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const mutate = (s: string): string => {
      const i = Math.floor(rnd() * (s.length + 1));
      switch (Math.floor(rnd() * 5)) {
        case 0:
          return s.slice(0, i) + s.slice(i + 1 + Math.floor(rnd() * 10));
        case 1:
          return s.slice(0, i) + pick(NASTY) + s.slice(i);
        case 2:
          return s.slice(0, i);
        case 3:
          return s.replace(
            pick([',', '=', '/', ' ', 'Credential', 'SignedHeaders', 'Signature', 'X-Amz-']),
            pick(NASTY),
          );
        default:
          return s + pick(NASTY);
      }
    };
    const statuses = new Map<number, number>();
    for (let i = 0; i < 600; i++) {
      let res: Awaited<ReturnType<typeof t.app.inject>>;
      const ip = `10.2.${i % 250}.${Math.floor(i / 250)}`;
      if (i % 2 === 0) {
        const headers = { ...valid.headers };
        const field = pick(['authorization', 'authorization', 'x-amz-date', 'host', 'x-amz-content-sha256']);
        headers[field] = mutate(headers[field] ?? '');
        res = await t.app.inject({ method: 'GET', url: '/profile?x=1', headers, remoteAddress: ip });
      } else {
        // Mutate the presigned URL's query text (keep it a syntactically valid request target).
        const url = mutate(valid.presigned)
          .replace(/[\s#]/g, '')
          .replace(/^([^/])/, '/$1');
        res = await t.app.inject({ method: 'GET', url, headers: { host: 'lk.test' }, remoteAddress: ip });
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      expect(res.statusCode, `case ${i}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
      if (res.statusCode >= 400) {
        const body = res.json();
        expect(typeof body.error?.code, `case ${i}: ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(
          'string',
        );
        expect(typeof body.error.message).toBe('string');
        expect(typeof body.error.requestId).toBe('string');
        expect(res.body).not.toContain(valid.sk);
      }
    }
    // The mutations really exercised the error paths.
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(2);
  });
});
