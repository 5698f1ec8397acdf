/**
 * Traffic control (issue 15): rate limits (GCRA), quotas (calendar windows), allowed networks, on
 * keys, principals and tenant defaults; the 429 / 403 answers with the RateLimit header fields;
 * for signed requests, key tokens, the gateway and the verify API alike. Then Redis: two
 * instances enforcing one limit, and what happens when Redis goes away.
 */
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createServices } from '../src/services.js';
import { migrateToLatest } from '../src/storage/migrate.js';
import { TrafficControl } from '../src/traffic/control.js';
import { MemoryRates, RedisRates, type Take } from '../src/traffic/counters.js';
import { compilePolicy, OPEN_POLICY, quotaWindow } from '../src/traffic/policy.js';
import { QuotaLedger } from '../src/traffic/quota-ledger.js';
import { NO_RULES, normaliseCidrs, type TrafficRules } from '../src/traffic/rules.js';
import {
  call,
  createUserWithLogin,
  loginWithKey,
  startTestApp,
  type TestApp,
  TestClock,
} from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { engineAvailable, scratchDatabase } from './helpers/engines.js';
import { runCli } from './helpers/process.js';
import { REDIS_AVAILABLE, REDIS_URL } from './helpers/redis.js';
import { type Credentials, signHeaders } from './helpers/sign.js';
import { send, startUpstream, type TestUpstream } from './helpers/upstream.js';

const HOST = 'latchkey.test';
const rules = (r: Partial<TrafficRules>): TrafficRules => ({ ...NO_RULES, ...r });

describe('GCRA rate counters', () => {
  const rule = compilePolicy({
    accessKeyId: 'K',
    owner: { type: 'user', id: 'U' },
    key: rules({ rateLimit: { limit: 5, periodSeconds: 10 } }),
    principal: NO_RULES,
    tenant: NO_RULES,
  }).rates;

  it('admits a burst of `limit`, then one request every period/limit', () => {
    const rates = new MemoryRates();
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) expect(rates.take(rule, [], t0).admitted).toBe(true);
    const refused = rates.take(rule, [], t0);
    expect(refused).toMatchObject({ admitted: false, retryAfterMs: 2000 });
    // Refused requests cost nothing: still 2 s to wait.
    expect(rates.take(rule, [], t0 + 1999).admitted).toBe(false);
    expect(rates.take(rule, [], t0 + 2000).admitted).toBe(true);
    expect(rates.take(rule, [], t0 + 2000).admitted).toBe(false);
    // A quiet key is full again after one period.
    for (let i = 0; i < 5; i++) expect(rates.take(rule, [], t0 + 20_000).admitted).toBe(true);
  });

  it('never admits more than limit + limit × elapsed/period under sustained overload', () => {
    const rates = new MemoryRates();
    let admitted = 0;
    // 5 per 10 s, offered 50 per second for 60 s.
    for (let ms = 0; ms < 60_000; ms += 20) if (rates.take(rule, [], 5_000_000 + ms).admitted) admitted++;
    // The bound is limit + limit × 60 s / 10 s; the burst is spread over the first requests' arrivals.
    expect(admitted).toBeLessThanOrEqual(5 + 30);
    expect(admitted).toBeGreaterThanOrEqual(5 + 29);
  });

  it('checks quotas with the rates, all or nothing', () => {
    const rates = new MemoryRates();
    const quota = { key: 'q', limit: 2, used: 2, windowEndMs: 10_000 };
    const refused = rates.take(rule, [quota], 4_000);
    expect(refused).toMatchObject({ admitted: false, retryAfterMs: 6_000 });
    // The rate counter was not consumed by the refused request: 5 still admitted.
    for (let i = 0; i < 5; i++) expect(rates.take(rule, [], 4_000).admitted).toBe(true);
  });
});

describe('traffic rules', () => {
  it('normalises CIDRs and addresses', () => {
    expect(
      normaliseCidrs(['203.0.113.0/24', '2001:DB8::/32', '198.51.100.7', '::1', '203.0.113.0/24']),
    ).toEqual(['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32', '::1/128']);
  });

  it.each([
    ['10.0.0.5/8', /did you mean 10.0.0.0\/8/],
    ['10.0.0.0/33', /not a CIDR/],
    ['2001:db8::/129', /not a CIDR/],
    ['10/8', /not a CIDR|dotted-quad/],
    ['010.0.0.0/8', /not a CIDR|dotted-quad/],
    ['example.com', /not a CIDR/],
    ['', /not a CIDR/],
    ['1.2.3.4/24 ', /not a CIDR|beyond/],
  ])('refuses %j', (cidr, message) => {
    expect(() => normaliseCidrs([cidr])).toThrow(message);
  });

  it('refuses an empty list (null means any address)', () => {
    expect(() => normaliseCidrs([])).toThrow(/null for any address/);
  });

  it('enforces every level: addresses from every list, the key and tenant quotas merged per period', () => {
    const policy = compilePolicy({
      accessKeyId: 'K',
      owner: { type: 'user', id: 'U' },
      key: rules({ allowedCidrs: ['10.0.0.0/8'], quota: { limit: 100, period: 'day' } }),
      principal: rules({ allowedCidrs: ['10.1.0.0/16'], rateLimit: { limit: 10, periodSeconds: 1 } }),
      tenant: rules({ quota: { limit: 50, period: 'day' }, rateLimit: { limit: 100, periodSeconds: 60 } }),
    });
    expect(policy.allows?.('10.1.2.3')).toBe(true);
    expect(policy.allows?.('::ffff:10.1.2.3')).toBe(true);
    expect(policy.allows?.('10.2.0.1')).toBe(false);
    expect(policy.rates.map((r) => [r.name, r.limit])).toEqual([
      ['tenant', 100],
      ['principal', 10],
    ]);
    expect(policy.quotas).toEqual([{ id: 'q:k:K:day', name: 'key-day', limit: 50, period: 'day' }]);
    expect(
      compilePolicy({
        accessKeyId: 'K',
        owner: { type: 'user', id: 'U' },
        key: NO_RULES,
        principal: NO_RULES,
        tenant: NO_RULES,
      }),
    ).toBe(OPEN_POLICY);
  });

  it('windows are calendar days and months in UTC', () => {
    const at = Date.parse('2026-02-14T23:59:59.999Z');
    expect(quotaWindow('day', at)).toEqual({
      startMs: Date.parse('2026-02-14T00:00:00Z'),
      endMs: Date.parse('2026-02-15T00:00:00Z'),
    });
    expect(quotaWindow('month', at)).toEqual({
      startMs: Date.parse('2026-02-01T00:00:00Z'),
      endMs: Date.parse('2026-03-01T00:00:00Z'),
    });
    expect(quotaWindow('month', Date.parse('2026-12-31T12:00:00Z')).endMs).toBe(
      Date.parse('2027-01-01T00:00:00Z'),
    );
  });
});

async function newKey(t: TestApp, ownerPath: string, body: Record<string, unknown> = {}, token?: string) {
  const res = await call(t, 'POST', `${ownerPath}/keys`, {
    ...(token ? { token } : {}),
    body: { name: `k${Math.random()}`, ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Credentials & { accessKeyId: string };
}

async function signedGet(
  t: TestApp,
  c: Credentials,
  path: string,
  headers: Record<string, string> = {},
  remoteAddress?: string,
) {
  return t.app.inject({
    method: 'GET',
    url: path,
    headers: {
      ...(await signHeaders(c, { method: 'GET', path, host: HOST, date: t.clock.now() })),
      ...headers,
    },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

describeEachEngine('traffic control', (engine) => {
  const t = useTestApp(engine, { env: { LATCHKEY_TRUST_PROXY: '10.1.2.3' } });

  describe('rate limits and quotas on a key', () => {
    it('a key without rules answers without RateLimit fields', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`);
      const res = await signedGet(t, key, '/agent');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.ratelimit).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
    });

    it('admits the burst, then answers 429 RateLimitExceeded with Retry-After and the RateLimit fields', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { rateLimit: { limit: 3, periodSeconds: 60 } });
      const states: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await signedGet(t, key, '/agent');
        expect(res.statusCode, res.body).toBe(200);
        expect(res.headers['ratelimit-policy']).toBe('"key";q=3;w=60');
        states.push(String(res.headers.ratelimit));
      }
      expect(states).toEqual(['"key";r=2;t=20', '"key";r=1;t=40', '"key";r=0;t=60']);
      const refused = await signedGet(t, key, '/agent');
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('RateLimitExceeded');
      expect(refused.headers['retry-after']).toBe('20');
      expect(refused.headers.ratelimit).toBe('"key";r=0;t=60');
      t.clock.advance(20_000);
      expect((await signedGet(t, key, '/agent')).statusCode).toBe(200);
      expect((await signedGet(t, key, '/agent')).statusCode).toBe(429);
    });

    it('a quota counts to its limit in the calendar day; GET /iam/keys/{id} shows what remains', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`);
      const patch = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { quota: { limit: 2, period: 'day' } },
      });
      expect(patch.statusCode, patch.body).toBe(200);
      expect(patch.json()).toMatchObject({
        quota: { limit: 2, period: 'day' },
        rateLimit: null,
        allowedCidrs: null,
      });
      expect((await signedGet(t, key, '/agent')).statusCode).toBe(200);
      const view = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json();
      const endOfDay = quotaWindow('day', t.clock.now().getTime()).endMs;
      expect(view.quotas).toEqual([
        {
          name: 'key-day',
          limit: 2,
          period: 'day',
          used: 1,
          remaining: 1,
          resetsAt: new Date(endOfDay).toISOString(),
        },
      ]);
      expect((await signedGet(t, key, '/agent')).statusCode).toBe(200);
      const refused = await signedGet(t, key, '/agent');
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBe(
        Math.ceil((endOfDay - t.clock.now().getTime()) / 1000),
      );
      // null clears it.
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { quota: null } });
      expect((await signedGet(t, key, '/agent')).statusCode).toBe(200);
    });

    it('a user’s rate limit is shared by all its keys', async () => {
      const user = await createUserWithLogin(t, `shared${Math.random()}@example.com`);
      const a = await newKey(t, `/iam/users/${user.id}`);
      const b = await newKey(t, `/iam/users/${user.id}`);
      const set = await call(t, 'PATCH', `/iam/users/${user.id}`, {
        body: { rateLimit: { limit: 2, periodSeconds: 60 } },
      });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.json().rateLimit).toEqual({ limit: 2, periodSeconds: 60 });
      expect((await signedGet(t, a, '/profile')).statusCode).toBe(200);
      expect((await signedGet(t, b, '/profile')).statusCode).toBe(200);
      const third = await signedGet(t, a, '/profile');
      expect(third.statusCode).toBe(429);
      expect(third.headers['ratelimit-policy']).toBe('"principal";q=2;w=60');
    });

    it('a tenant default applies to each key on its own, and a looser key rule does not lift it', async () => {
      const set = await call(t, 'PATCH', '/iam/settings', {
        body: { rateLimit: { limit: 1, periodSeconds: 60 } },
      });
      expect(set.statusCode, set.body).toBe(200);
      try {
        const a = await newKey(t, `/iam/users/${t.adminId}`, {
          rateLimit: { limit: 100, periodSeconds: 60 },
        });
        const b = await newKey(t, `/iam/users/${t.adminId}`);
        expect((await signedGet(t, a, '/profile')).statusCode).toBe(200);
        expect((await signedGet(t, b, '/profile')).statusCode).toBe(200);
        const again = await signedGet(t, a, '/profile');
        expect(again.statusCode).toBe(429);
        expect(again.headers['ratelimit-policy']).toBe('"key";q=100;w=60, "tenant";q=1;w=60');
      } finally {
        await call(t, 'PATCH', '/iam/settings', { body: { rateLimit: null } });
      }
    });

    it('a key token over its limit gets 429 RATE_LIMITED with the same fields', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { rateLimit: { limit: 2, periodSeconds: 60 } });
      const login = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      expect(login.statusCode, login.body).toBe(200);
      const token = login.json().token as string;
      const ok = await call(t, 'GET', '/iam/me', { token });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.headers.ratelimit).toBe('"key";r=0;t=60');
      const refused = await call(t, 'GET', '/iam/me', { token });
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('RATE_LIMITED');
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.headers['ratelimit-policy']).toBe('"key";q=2;w=60');
      // The exchange itself is a use of the key.
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().error.code).toBe(
        'RATE_LIMITED',
      );
    });

    it('bad rules are 400 and change nothing', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { rateLimit: { limit: 5, periodSeconds: 1 } });
      for (const body of [
        { rateLimit: { limit: 0, periodSeconds: 1 } },
        { rateLimit: { limit: 5 } },
        { rateLimit: { limit: 5, periodSeconds: 1, burst: 3 } },
        { quota: { limit: 5, period: 'week' } },
        { allowedCidrs: ['10.0.0.5/8'] },
        { allowedCidrs: [] },
        { allowedCidrs: 'any' },
      ]) {
        const res = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body });
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(['VALIDATION_FAILED', 'INVALID_CIDR']).toContain(res.json().error.code);
      }
      const bad = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { allowedCidrs: ['10.0.0.5/8'] },
      });
      expect(bad.json().error).toMatchObject({ code: 'INVALID_CIDR' });
      expect(bad.json().error.message).toMatch(/did you mean 10\.0\.0\.0\/8/);
      const view = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json();
      expect(view).toMatchObject({
        rateLimit: { limit: 5, periodSeconds: 1 },
        quota: null,
        allowedCidrs: null,
      });
    });

    it('an owner may set rules on a new key but only a key manager may change them', async () => {
      const user = await createUserWithLogin(t, `owner${Math.random()}@example.com`);
      const key = await newKey(
        t,
        `/iam/users/${user.id}`,
        { rateLimit: { limit: 1, periodSeconds: 1 } },
        user.token,
      );
      const lift = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        token: user.token,
        body: { rateLimit: null },
      });
      expect(lift.statusCode).toBe(403);
      expect(lift.json().error).toMatchObject({ code: 'AccessDenied', missingPermission: 'iam:keys:manage' });
      const rename = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        token: user.token,
        body: { name: 'mine' },
      });
      expect(rename.statusCode, rename.body).toBe(200);
      expect(rename.json().rateLimit).toEqual({ limit: 1, periodSeconds: 1 });
    });
  });

  describe('allowed networks', () => {
    it('refuses other addresses with 403 SourceIpNotAllowed, only after the signature verifies', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, {
        allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
      });
      expect((await signedGet(t, key, '/profile', {}, '203.0.113.9')).statusCode).toBe(200);
      expect((await signedGet(t, key, '/profile', {}, '2001:db8:1::5')).statusCode).toBe(200);
      expect((await signedGet(t, key, '/profile', {}, '::ffff:203.0.113.10')).statusCode).toBe(200);
      const outside = await signedGet(t, key, '/profile', {}, '198.51.100.1');
      expect(outside.statusCode).toBe(403);
      expect(outside.json().error.code).toBe('SourceIpNotAllowed');
      expect((await signedGet(t, key, '/profile', {}, '2001:db9::1')).json().error.code).toBe(
        'SourceIpNotAllowed',
      );
      // A stranger with a wrong secret learns nothing about the rule.
      const forged = await signedGet(
        t,
        { ...key, secretAccessKey: `${key.secretAccessKey}x` },
        '/profile',
        {},
        '198.51.100.1',
      );
      expect(forged.json().error.code).toBe('SignatureDoesNotMatch');
    });

    it('believes X-Forwarded-For only from the trusted proxy', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { allowedCidrs: ['203.0.113.0/24'] });
      const viaProxy = await signedGet(t, key, '/profile', { 'x-forwarded-for': '203.0.113.50' }, '10.1.2.3');
      expect(viaProxy.statusCode, viaProxy.body).toBe(200);
      const spoofed = await signedGet(
        t,
        key,
        '/profile',
        { 'x-forwarded-for': '203.0.113.50' },
        '198.51.100.1',
      );
      expect(spoofed.json().error.code).toBe('SourceIpNotAllowed');
      const proxiedOutsider = await signedGet(
        t,
        key,
        '/profile',
        { 'x-forwarded-for': '198.51.100.1' },
        '10.1.2.3',
      );
      expect(proxiedOutsider.json().error.code).toBe('SourceIpNotAllowed');
    });

    it('applies to token exchange and key tokens, and to a service account’s keys through its own rule', async () => {
      const sa = await call(t, 'POST', '/iam/service-accounts', { body: { name: `sa${Math.random()}` } });
      expect(sa.statusCode, sa.body).toBe(201);
      const key = await newKey(t, `/iam/service-accounts/${sa.json().id}`);
      const login = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      const token = login.json().token as string;
      const set = await call(t, 'PATCH', `/iam/service-accounts/${sa.json().id}`, {
        body: { allowedCidrs: ['192.0.2.0/24'] },
      });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.json().allowedCidrs).toEqual(['192.0.2.0/24']);
      const fromHere = await call(t, 'GET', '/profile', { token });
      expect(fromHere.statusCode).toBe(403);
      expect(fromHere.json().error.code).toBe('SourceIpNotAllowed');
      const exchange = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      expect(exchange.json().error.code).toBe('SourceIpNotAllowed');
      const inside = await t.app.inject({
        method: 'GET',
        url: '/profile',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: '192.0.2.7',
      });
      expect(inside.statusCode, inside.body).toBe(200);
    });

    it('a user manager cannot set rules on someone holding more (PRIVILEGE_ESCALATION)', async () => {
      const manager = await createUserWithLogin(t, `um${Math.random()}@example.com`);
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: `UserManager${Math.random()}`, permissions: ['iam:users:manage', 'iam:users:read'] },
      });
      await call(t, 'PUT', `/iam/users/${manager.id}/assignments`, { body: { roleIds: [role.json().id] } });
      const res = await call(t, 'PATCH', `/iam/users/${t.adminId}`, {
        token: manager.token,
        body: { allowedCidrs: ['192.0.2.0/24'] },
      });
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error.code).toBe('PRIVILEGE_ESCALATION');
      expect((await call(t, 'GET', `/iam/users/${t.adminId}`)).json().allowedCidrs).toBeNull();
    });
  });

  describe('the gateway and the verify API', () => {
    let upstream: TestUpstream;
    let port: number;
    beforeAll(async () => {
      upstream = await startUpstream();
      const res = await call(t, 'POST', '/iam/apis', {
        body: {
          name: 'limited',
          basePath: '/api/limited',
          upstream: upstream.url,
          routes: [{ method: '*', path: '/*', permission: 'limited:use' }],
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as AddressInfo).port;
      return () => upstream.close();
    });

    it('refuses an over-limit request before the upstream, and answers allowed ones with the fields', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { rateLimit: { limit: 1, periodSeconds: 60 } });
      upstream.received.length = 0;
      const host = `127.0.0.1:${port}`;
      const path = '/api/limited/things';
      const sign = async () => ({
        host,
        ...(await signHeaders(key, { method: 'GET', path, host, date: t.clock.now() })),
      });
      const first = await send(port, 'GET', path, await sign());
      expect(first.status, first.body).toBe(200);
      expect(first.headers['ratelimit-policy']).toBe('"key";q=1;w=60');
      expect(first.headers.ratelimit).toBe('"key";r=0;t=60');
      const second = await send(port, 'GET', path, await sign());
      expect(second.status).toBe(429);
      expect(JSON.parse(second.body).error.code).toBe('RateLimitExceeded');
      expect(second.headers['retry-after']).toBe('60');
      expect(upstream.received).toHaveLength(1);
    });

    it('POST /v1/verify answers the fields and RateLimitExceeded', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`, { rateLimit: { limit: 1, periodSeconds: 60 } });
      const url = 'https://orders.example/v1/orders';
      const headers = await signHeaders(key, {
        method: 'GET',
        path: '/v1/orders',
        host: 'orders.example',
        date: t.clock.now(),
      });
      const verify = () => call(t, 'POST', '/v1/verify', { body: { method: 'GET', url, headers } });
      const ok = (await verify()).json();
      expect(ok).toMatchObject({
        valid: true,
        rateLimit: { policy: '"key";q=1;w=60', state: '"key";r=0;t=60' },
      });
      const over = (await verify()).json();
      expect(over).toMatchObject({ valid: false, code: 'RateLimitExceeded', retryAfterSeconds: 60 });
      expect(over.rateLimit.policy).toBe('"key";q=1;w=60');
    });
  });

  describe('usage counting', () => {
    it('counts every outcome of a key’s requests; the series matches what was sent', async () => {
      const user = await createUserWithLogin(t, `usage${Math.random()}@example.com`);
      const key = await newKey(t, `/iam/users/${user.id}`, { rateLimit: { limit: 3, periodSeconds: 3600 } });
      const sent = { ok: 0, denied: 0, throttled: 0, invalid_signature: 0, expired: 0, inactive: 0 };
      const expect200 = async (path: string) => {
        expect((await signedGet(t, key, path)).statusCode).toBe(200);
        sent.ok++;
      };
      await expect200('/profile');
      await expect200('/iam/me');
      // A user without data roles: the data API refuses (denied), and that uses up the third request.
      expect((await signedGet(t, key, '/agent')).json().error.code).toBe('AccessDenied');
      sent.denied++;
      expect((await signedGet(t, key, '/profile')).json().error.code).toBe('RateLimitExceeded');
      sent.throttled++;
      const forged = { ...key, secretAccessKey: `${key.secretAccessKey}x` };
      expect((await signedGet(t, forged, '/profile')).json().error.code).toBe('SignatureDoesNotMatch');
      sent.invalid_signature++;
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false, rateLimit: null } });
      expect((await signedGet(t, key, '/profile')).json().error.code).toBe('AccessKeyInactive');
      sent.inactive++;
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: true, validityDays: 1 } });
      t.clock.advance(2 * 86_400_000);
      expect((await signedGet(t, key, '/profile')).json().error.code).toBe('ExpiredToken');
      sent.expired++;
      t.clock.advance(-2 * 86_400_000);
      await t.runtime.usage.flush();
      const to = new Date(t.clock.now().getTime() + 3 * 86_400_000).toISOString();
      const usage = await call(t, 'GET', `/iam/keys/${key.accessKeyId}/usage?granularity=day&to=${to}`);
      expect(usage.statusCode, usage.body).toBe(200);
      const totals = { ok: 0, denied: 0, throttled: 0, invalid_signature: 0, expired: 0, inactive: 0 };
      for (const point of usage.json().series as Array<Record<string, number>>)
        for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += point[k] ?? 0;
      expect(totals).toEqual(sent);
    });
  });

  describe('the operator CLI', () => {
    it('`keys limit` sets and clears a key’s rules; the running instance enforces them within a second', async () => {
      const key = await newKey(t, `/iam/users/${t.adminId}`);
      const set = await runCli(
        [
          'keys',
          'limit',
          key.accessKeyId,
          '--rate-limit',
          '1/60',
          '--quota',
          '500/month',
          '--allowed-cidrs',
          '127.0.0.0/8, ::1',
        ],
        t.env,
      );
      expect(set.code, set.stderr).toBe(0);
      const view = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json();
      expect(view).toMatchObject({
        rateLimit: { limit: 1, periodSeconds: 60 },
        quota: { limit: 500, period: 'month' },
        allowedCidrs: ['127.0.0.0/8', '::1/128'],
      });
      // Another process changed the key: the change feed drops this instance's cached entry.
      let status = 0;
      for (let i = 0; i < 40 && status !== 429; i++) {
        await signedGet(t, key, '/profile');
        status = (await signedGet(t, key, '/profile')).statusCode;
        if (status !== 429) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(429);
      const bad = await runCli(['keys', 'limit', key.accessKeyId, '--quota', '5/week'], t.env);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/--quota must be <limit>\/day or <limit>\/month/);
      const badCidr = await runCli(
        ['keys', 'limit', key.accessKeyId, '--allowed-cidrs', '10.0.0.5/8'],
        t.env,
      );
      expect(badCidr.stderr).toMatch(/did you mean 10\.0\.0\.0\/8/);
      const clear = await runCli(
        [
          'keys',
          'limit',
          key.accessKeyId,
          '--rate-limit',
          'none',
          '--quota',
          'none',
          '--allowed-cidrs',
          'none',
        ],
        t.env,
      );
      expect(clear.code, clear.stderr).toBe(0);
      expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json()).toMatchObject({
        rateLimit: null,
        quota: null,
        allowedCidrs: null,
      });
    }, 60_000);
  });

  describe('restarts', () => {
    it('quota counts survive a restart', async () => {
      const clock = new TestClock(t.clock.now());
      const first = await startTestApp(engine, { db: t.db, clock });
      const key = await newKey(first, `/iam/users/${first.adminId}`, {
        quota: { limit: 3, period: 'month' },
      });
      for (let i = 0; i < 2; i++) expect((await signedGet(first, key, '/profile')).statusCode).toBe(200);
      await first.close();
      const second = await startTestApp(engine, { db: t.db, clock });
      try {
        expect((await signedGet(second, key, '/profile')).statusCode).toBe(200);
        const over = await signedGet(second, key, '/profile');
        expect(over.statusCode).toBe(429);
        expect(over.headers.ratelimit).toMatch(/^"key-month";r=0;t=\d+$/);
      } finally {
        await second.close();
      }
    });
  });
});

const redisSuite = REDIS_AVAILABLE && engineAvailable('postgres') ? describe : describe.skip;

redisSuite('traffic control with Redis (two instances, one PostgreSQL)', () => {
  // Counters are named after key and principal IDs, which are new in every run: no prefix needed.
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const db = await scratchDatabase('postgres');
    const env = { REDIS_URL };
    a = await startTestApp('postgres', { db, env });
    b = await startTestApp('postgres', { db, env });
    return async () => {
      await a.close();
      await b.close();
      await db.drop();
    };
  });

  it('two instances enforce one limit together', async () => {
    const key = await newKey(a, `/iam/users/${a.adminId}`, { rateLimit: { limit: 4, periodSeconds: 60 } });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push((await signedGet(a, key, '/profile')).statusCode);
      codes.push((await signedGet(b, key, '/profile')).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('two instances count one quota together', async () => {
    const key = await newKey(a, `/iam/users/${a.adminId}`, { quota: { limit: 3, period: 'day' } });
    const codes: number[] = [];
    for (let i = 0; i < 2; i++) {
      codes.push((await signedGet(a, key, '/profile')).statusCode);
      codes.push((await signedGet(b, key, '/profile')).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429]);
  });
});

const redisOnly = REDIS_AVAILABLE ? describe : describe.skip;

redisOnly('Redis counters', () => {
  it('admits a batch of requests in order, one script call for the whole turn of the event loop', async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    try {
      const rates = new RedisRates(redis, `latchkey:test:${process.pid}:${Date.now()}:`);
      const rule = compilePolicy({
        accessKeyId: 'K',
        owner: { type: 'user', id: 'U' },
        key: rules({ rateLimit: { limit: 3, periodSeconds: 60 } }),
        principal: NO_RULES,
        tenant: NO_RULES,
      }).rates;
      const quota = { key: 'q', limit: 4, used: 0, windowEndMs: 2_000_000_000_000 };
      const calls: string[] = [];
      const monitor = await redis.duplicate().monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (/^evalsha$|^eval$/i.test(String(args[0]))) calls.push(String(args[0]));
      });
      const now = 1_000_000;
      const takes = await Promise.all(Array.from({ length: 5 }, () => rates.take(rule, [quota], now)));
      expect(takes.map((t) => t.admitted)).toEqual([true, true, true, false, false]);
      expect(takes.map((t) => t.used[0])).toEqual([1, 2, 3, 3, 3]);
      expect(takes[3]?.retryAfterMs).toBe(20_000);
      // The quota refuses the fifth admitted request, even though the rate would admit it later.
      const later = await Promise.all([
        rates.take(rule, [quota], now + 60_000),
        rates.take(rule, [quota], now + 60_000),
      ]);
      expect(later.map((t) => t.admitted)).toEqual([true, false]);
      expect(later[1]?.retryAfterMs).toBe(2_000_000_000_000 - now - 60_000);
      await new Promise((r) => setTimeout(r, 100));
      expect(calls).toHaveLength(2);
      monitor.disconnect();
    } finally {
      redis.disconnect();
    }
  });

  it('pipelines up to maxInFlight batches; what arrives past that waits and goes in one batch', async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    const admin = new Redis(REDIS_URL, { lazyConnect: true });
    await Promise.all([redis.connect(), admin.connect()]);
    try {
      const prefix = `latchkey:test:${process.pid}:${Date.now()}:`;
      const rates = new RedisRates(redis, prefix, 2);
      const rule = compilePolicy({
        accessKeyId: 'K',
        owner: { type: 'user', id: 'U' },
        key: rules({ rateLimit: { limit: 10, periodSeconds: 60 } }),
        principal: NO_RULES,
        tenant: NO_RULES,
      }).rates;
      const calls: number[] = [];
      const monitor = await redis.duplicate().monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        // EVALSHA sha numkeys key…: one key per request of the batch here. MONITOR shows every
        // client of this Redis: only this test's keys count (other test files run alongside).
        if (/^evalsha$|^eval$/i.test(String(args[0])) && String(args[3]).startsWith(prefix))
          calls.push(Number(args[2]));
      });
      // Write commands wait while Redis is paused: the first batches stay out while more arrive.
      await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
      const now = 1_000_000;
      const takes: Array<Promise<Take>> = [];
      for (let turn = 0; turn < 4; turn++) {
        takes.push(rates.take(rule, [], now));
        await new Promise((r) => setImmediate(r));
      }
      const done = await Promise.all(takes);
      expect(done.map((t) => t.admitted)).toEqual([true, true, true, true]);
      // In the order sent: each request moves the TAT on by 6 s.
      expect(done.map((t) => t.tats[0])).toEqual([1_006_000, 1_012_000, 1_018_000, 1_024_000]);
      await new Promise((r) => setTimeout(r, 100));
      // Two batches out at once, the two requests that came meanwhile in a third.
      expect(calls).toEqual([1, 1, 2]);
      monitor.disconnect();
    } finally {
      redis.disconnect();
      admin.disconnect();
    }
  });
});

redisOnly('when Redis is unreachable', () => {
  let svc: ReturnType<typeof createServices>;
  const logs: string[] = [];
  afterAll(async () => svc?.close());

  it('rate limits fail open and quotas keep counting on the instance, logged', async () => {
    const config = loadConfig({ LATCHKEY_DATA_DIR: (await scratchDatabase('sqlite')).dataDir });
    const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(line) });
    svc = createServices(config, { logger });
    await migrateToLatest(svc.db);
    // Nothing listens on port 1: every command fails at once (no offline queue).
    const gone = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    gone.on('error', () => {});
    const control = new TrafficControl(svc, new QuotaLedger(svc), new RedisRates(gone));
    const policy = compilePolicy({
      accessKeyId: 'AKIDEXAMPLE',
      owner: { type: 'user', id: 'u' },
      key: rules({ rateLimit: { limit: 1, periodSeconds: 60 }, quota: { limit: 3, period: 'day' } }),
      principal: NO_RULES,
      tenant: NO_RULES,
    });
    const now = Date.parse('2026-12-04T10:00:00Z');
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await control.admit(policy, '127.0.0.1', now));
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, false, false]);
    expect(control.redisFailures).toBe(5);
    const failures = await svc.metrics.trafficRedisFailures.get();
    expect(failures.values[0]?.value).toBe(5);
    expect(logs.join('')).toMatch(/Redis unreachable; rate limits are not enforced/);
    gone.disconnect();
  });
});
