/**
 * Permission decisions use the matched route, never the raw URL (issue 12, finding 5): an
 * api-type key signs data requests only, and reaches no /iam route however the path is spelled
 * (`/%69am/me` is routed to /iam/me).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, routesOf } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

/** Spellings of one path that a router may send to the same route. */
function variants(path: string): string[] {
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const out = new Set<string>([path]);
  // Percent-encode each letter of the first two segments, one at a time, in both hex cases.
  const segments = path.split('/');
  for (const s of [1, 2]) {
    const seg = segments[s];
    if (!seg || seg.startsWith(':')) continue;
    for (let i = 0; i < seg.length; i++) {
      for (const enc of [hex(seg[i] as string), hex(seg[i] as string).toUpperCase()]) {
        const copy = [...segments];
        copy[s] = seg.slice(0, i) + enc + seg.slice(i + 1);
        out.add(copy.join('/'));
      }
    }
  }
  out.add(`/${path}`);
  out.add(`${path}/`);
  out.add(path.replace('/iam', '/IAM'));
  out.add(path.replace('/iam', '/./iam'));
  out.add(path.replace('/iam', '/x/../iam'));
  out.add(path.replace('/iam', '/iam;x=1'));
  out.add(`${path}?x=1`);
  return [...out];
}

describeEachEngine('route-based authorization', (engine) => {
  describe('an api-type key and the /iam routes', () => {
    const t = useTestApp(engine);
    let api: Credentials;

    beforeAll(async () => {
      const key = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { type: 'api' } })).json();
      api = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    });

    it('is refused on every spelling of every /iam route, and still reads data', async () => {
      const open = new Set([
        '/iam/login',
        // The second step of a sign-in: open like /iam/login, answering only to a live MFA challenge.
        '/iam/login/mfa-enrolment',
        '/iam/login/webauthn-options',
        '/iam/key-reveal/:token',
        '/iam/sso/start',
        '/iam/sso/callback',
      ]);
      const iam = routesOf(t.app).filter((r) => r.path.startsWith('/iam') && !open.has(r.path));
      expect(iam.length).toBeGreaterThan(30);
      const leaks: string[] = [];
      let tried = 0;
      for (const route of iam) {
        const concrete = route.path
          .replace(':userId', t.adminId)
          .replace(':accessKeyId', api.accessKeyId)
          .replace(/:[A-Za-z]+/g, 'x');
        for (const url of variants(concrete)) {
          const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined;
          const headers = await signHeaders(api, {
            method: route.method,
            path: url,
            host: 'lk.test',
            headers: body ? { 'content-type': 'application/json' } : {},
            body,
            date: t.clock.now(),
          });
          const res = await t.app.inject({
            method: route.method as 'GET',
            url,
            headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
            payload: body,
          });
          tried++;
          const code = res.statusCode === 204 ? '' : (res.json().error?.code as string | undefined);
          // Refused as an api key, or not routed at all, or not signed as the server reads it:
          // never answered, never a different refusal that would mean the route ran.
          const refused =
            (res.statusCode === 403 && (code === 'AccessDenied' || code === 'SignatureDoesNotMatch')) ||
            res.statusCode === 404 ||
            (res.statusCode === 400 && code === 'INVALID_URL');
          if (!refused) leaks.push(`${route.method} ${url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
          if (res.statusCode === 403 && code === 'AccessDenied')
            expect(res.json().error.message).toMatch(/API-type keys/);
        }
      }
      expect(leaks).toEqual([]);
      expect(tried).toBeGreaterThan(500);
      // The percent-encoded spelling that used to answer 200 is signed correctly and refused as an api key.
      const url = '/%69am/me';
      const res = await t.app.inject({
        method: 'GET',
        url,
        headers: await signHeaders(api, { method: 'GET', path: url, host: 'lk.test', date: t.clock.now() }),
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toMatch(/API-type keys/);
      const data = await t.app.inject({
        method: 'GET',
        url: '/agent/',
        headers: await signHeaders(api, {
          method: 'GET',
          path: '/agent/',
          host: 'lk.test',
          date: t.clock.now(),
        }),
      });
      expect(data.statusCode).toBe(200);
    });
  });
});
