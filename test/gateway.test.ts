/**
 * The gateway end to end, on each engine: registered APIs (`/iam/apis`), requests signed with the
 * AWS SDK's signer (or a key token) forwarded to a real upstream with the identity headers and a
 * verifiable assertion, and everything that must never reach the upstream.
 */
import type { AddressInfo } from 'node:net';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, createUserWithLogin, loginWithKey, type TestApp } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign, signHeaders } from './helpers/sign.js';
import { send, startUpstream, type TestUpstream, verifiedAssertion } from './helpers/upstream.js';

const HOST = 'lk.example';

interface Api {
  id: string;
  basePath: string;
}

async function registerApi(
  t: TestApp,
  upstream: string,
  extra: Record<string, unknown> = {},
  token?: string,
) {
  return call(t, 'POST', '/iam/apis', {
    ...(token ? { token } : {}),
    body: {
      name: 'orders',
      basePath: '/api/orders',
      upstream,
      routes: [
        { method: 'GET', path: '/public/*', permission: 'orders:read' },
        { method: 'GET', path: '/items/*', permission: 'orders:read' },
        { method: 'POST', path: '/items', permission: 'orders:write' },
        { method: 'DELETE', path: '/items/*', permission: 'orders:admin' },
      ],
      ...extra,
    },
  });
}

async function keyOf(t: TestApp, userId: string, token?: string): Promise<Credentials> {
  const res = await call(t, 'POST', `/iam/users/${userId}/keys`, {
    ...(token ? { token } : {}),
    body: { name: `k${Math.random()}` },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** A request signed with @smithy/signature-v4 (the AWS SDK's signer), sent through app.inject. */
async function signed(
  t: TestApp,
  c: Credentials,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; sentBody?: string } = {},
) {
  const headers = await signHeaders(c, {
    method,
    path,
    host: HOST,
    date: t.clock.now(),
    ...(options.body !== undefined ? { body: options.body } : {}),
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
  });
  return t.app.inject({
    method: method as 'GET',
    url: path,
    headers,
    ...((options.sentBody ?? options.body) ? { payload: options.sentBody ?? options.body } : {}),
  });
}

describeEachEngine('the gateway', (engine) => {
  const t = useTestApp(engine);
  let upstream: TestUpstream;
  let api: Api;
  let admin: Credentials;

  beforeAll(async () => {
    upstream = await startUpstream();
    const res = await registerApi(t, upstream.url);
    expect(res.statusCode, res.body).toBe(201);
    api = res.json();
    admin = await keyOf(t, t.adminId);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    return () => upstream.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });

  describe('registered APIs', () => {
    it('shows the API with its permissions and the roles that grant them', async () => {
      const view = (await call(t, 'GET', `/iam/apis/${api.id}`)).json();
      expect(view).toMatchObject({ name: 'orders', basePath: '/api/orders', upstream: upstream.url });
      const read = view.permissions.find((p: { permission: string }) => p.permission === 'orders:read');
      expect(read.grantedBy.map((r: { name: string }) => r.name)).toEqual([
        'Administrator',
        'DataReadOnly',
        'DataReadWrite',
      ]);
      // A third segment keeps a permission out of the built-in data roles' `*:read` / `*:write`.
      const adminPerm = view.permissions.find((p: { permission: string }) => p.permission === 'orders:admin');
      expect(adminPerm.grantedBy.map((r: { name: string }) => r.name)).toEqual(['Administrator']);
      expect((await call(t, 'GET', '/iam/apis')).json().items.map((a: Api) => a.id)).toEqual([api.id]);
    });

    it('adds its permissions to the catalogue: GET /iam/permissions lists them, roles may hold them', async () => {
      const items = (await call(t, 'GET', '/iam/permissions')).json().items as string[];
      expect(items).toEqual(
        expect.arrayContaining(['orders:read', 'orders:write', 'orders:admin', 'iam:verify']),
      );
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: 'OrdersReader', permissions: ['orders:read'] },
      });
      expect(role.statusCode, role.body).toBe(201);
      const unknown = await call(t, 'POST', '/iam/roles', {
        body: { name: 'Typo', permissions: ['ordrs:read'] },
      });
      expect(unknown.json().error.code).toBe('UNKNOWN_PERMISSION');
    });

    it.each([
      [{ basePath: '/iam/x' }, 'INVALID_API', /served by latchkey/],
      [{ basePath: '/agent' }, 'INVALID_API', /served by latchkey/],
      [{ basePath: '/v1/things' }, 'INVALID_API', /served by latchkey/],
      [{ basePath: 'api/x' }, 'INVALID_API', /starts with \//],
      [{ basePath: '/api/../iam' }, 'INVALID_API', /segment/],
      [{ basePath: '/api/orders/v2' }, 'BASE_PATH_TAKEN', /overlaps/],
      [{ basePath: '/API' }, 'BASE_PATH_TAKEN', /overlaps/],
      [{ upstream: 'ftp://127.0.0.1/' }, 'INVALID_API', /http/],
      [{ upstream: 'http://user:pw@127.0.0.1/' }, 'INVALID_API', /user name/],
      [{ upstream: 'not a url' }, 'INVALID_API', /not a URL/],
      [
        { routes: [{ method: 'GET', path: '/*', permission: 'iam:keys:manage' }] },
        'INVALID_API',
        /latchkey's own/,
      ],
      [{ routes: [{ method: 'GET', path: '/*', permission: 'agent:read' }] }, 'INVALID_API', /data API/],
      [
        { routes: [{ method: 'GET', path: '/*', permission: 'Orders Read' }] },
        'INVALID_API',
        /not a permission/,
      ],
      [{ routes: [{ method: 'GET', path: '/a/../b', permission: 'x:read' }] }, 'INVALID_API', /literal/],
      [{ routes: [{ method: 'GET', path: 'a', permission: 'x:read' }] }, 'INVALID_API', /starts with/],
    ])('refuses %j with %s and changes nothing', async (change, code, message) => {
      const res = await call(t, 'POST', '/iam/apis', {
        body: {
          name: `bad ${Math.random()}`,
          basePath: '/api/other',
          upstream: upstream.url,
          routes: [{ method: 'GET', path: '/*', permission: 'other:read' }],
          ...change,
        },
      });
      expect(res.json().error.code).toBe(code);
      expect(res.json().error.message).toMatch(message);
      expect((await call(t, 'GET', '/iam/apis')).json().items).toHaveLength(1);
    });

    it('refuses unknown fields and wrong types (VALIDATION_FAILED), and a taken name (ALREADY_EXISTS)', async () => {
      const unknownField = await registerApi(t, upstream.url, { name: 'x', basePath: '/x', colour: 'red' });
      expect(unknownField.json().error.code).toBe('VALIDATION_FAILED');
      const badMethod = await registerApi(t, upstream.url, {
        name: 'y',
        basePath: '/y',
        routes: [{ method: 'FETCH', path: '/*', permission: 'y:read' }],
      });
      expect(badMethod.json().error.code).toBe('VALIDATION_FAILED');
      const taken = await registerApi(t, upstream.url, { basePath: '/elsewhere' });
      expect(taken.json().error.code).toBe('ALREADY_EXISTS');
    });
  });

  describe('forwarding', () => {
    it('forwards an authorized request with the identity headers and a verifiable assertion', async () => {
      const res = await signed(t, admin, 'GET', '/api/orders/items/42?expand=lines&x=%20y', {
        headers: { 'x-latchkey-tenant': 'forged', 'x-latchkey-principal-id': 'forged', 'x-custom': 'kept' },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ ok: true, path: '/items/42?expand=lines&x=%20y' });
      expect(res.headers['x-upstream']).toBe('yes');
      const [got] = upstream.received;
      expect(got?.url).toBe('/items/42?expand=lines&x=%20y');
      const h = got?.headers ?? {};
      expect(h).toMatchObject({
        host: `127.0.0.1:${upstream.port}`,
        'x-latchkey-tenant': t.tenantId,
        'x-latchkey-principal-type': 'user',
        'x-latchkey-principal-id': t.adminId,
        'x-latchkey-access-key': admin.accessKeyId,
        'x-latchkey-permission': 'orders:read',
        'x-latchkey-request-id': res.headers['x-request-id'],
        'x-custom': 'kept',
      });
      // The client's credentials never reach the upstream, and nor do forged identity headers.
      expect(Object.keys(h).filter((n) => n === 'authorization' || n.startsWith('x-amz-'))).toEqual([]);
      const { payload, protectedHeader } = await verifiedAssertion(t, h, api.id);
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({
        sub: t.adminId,
        tid: t.tenantId,
        akid: admin.accessKeyId,
        perm: 'orders:read',
      });
      expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(60);
      // It is no latchkey token: its audience is the API.
      expect(
        (await call(t, 'GET', '/iam/me', { token: h['x-latchkey-assertion'] as string })).statusCode,
      ).toBe(401);
    });

    it('forwards a signed body after checking its hash; a changed body never reaches the upstream', async () => {
      const body = JSON.stringify({ item: 'A', qty: 2 });
      const ok = await signed(t, admin, 'POST', '/api/orders/items', { body });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(upstream.received[0]).toMatchObject({ method: 'POST', url: '/items', body });
      expect(upstream.received[0]?.headers['x-latchkey-permission']).toBe('orders:write');
      const tampered = await signed(t, admin, 'POST', '/api/orders/items', {
        body,
        sentBody: JSON.stringify({ item: 'A', qty: 2000 }),
      });
      expect(tampered.json().error.code).toBe('XAmzContentSHA256Mismatch');
      expect(upstream.received).toHaveLength(1);
    });

    it('accepts a presigned URL and forwards the query without its authentication parameters', async () => {
      const path = await presign(admin, {
        method: 'GET',
        path: '/api/orders/items/7?colour=red',
        host: HOST,
        date: t.clock.now(),
      });
      const res = await t.app.inject({ method: 'GET', url: path, headers: { host: HOST } });
      expect(res.statusCode, res.body).toBe(200);
      expect(upstream.received[0]?.url).toBe('/items/7?colour=red');
    });

    it('accepts temporary credentials (header and presigned); their token never reaches the upstream', async () => {
      const issued = (
        await call(t, 'POST', '/iam/session-credentials', { body: { permissions: ['orders:read'] } })
      ).json();
      const temp: Credentials = {
        accessKeyId: issued.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
      };
      const res = await signed(t, temp, 'GET', '/api/orders/items/7');
      expect(res.statusCode, res.body).toBe(200);
      const h = upstream.received[0]?.headers ?? {};
      expect(h['x-latchkey-access-key']).toBe(issued.accessKeyId);
      expect(JSON.stringify(h)).not.toContain(issued.sessionToken);
      // Narrowed to orders:read: writing is refused before the upstream.
      const write = await signed(t, temp, 'POST', '/api/orders/items', { body: '{}' });
      expect(write.statusCode).toBe(403);
      const url = await presign(temp, {
        method: 'GET',
        path: '/api/orders/items/8?x=1',
        host: HOST,
        date: t.clock.now(),
      });
      const pre = await t.app.inject({ method: 'GET', url, headers: { host: HOST } });
      expect(pre.statusCode, pre.body).toBe(200);
      expect(upstream.received.at(-1)?.url).toBe('/items/8?x=1');
      expect(upstream.received).toHaveLength(2);
    });

    it('accepts a key token, but not a console session', async () => {
      const token = (await loginWithKey(t, admin.accessKeyId, admin.secretAccessKey)).json().token;
      const res = await t.app.inject({
        method: 'GET',
        url: '/api/orders/items/1',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(upstream.received[0]?.headers['x-latchkey-access-key']).toBe(admin.accessKeyId);
      const session = await t.app.inject({
        method: 'GET',
        url: '/api/orders/items/1',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(session.json().error.code).toBe('INVALID_TOKEN');
      expect(upstream.received).toHaveLength(1);
    });

    it('streams an UNSIGNED-PAYLOAD body only on an API that allows it', async () => {
      const body = 'x'.repeat(5000);
      const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'text/plain' };
      const refused = await signed(t, admin, 'POST', '/api/orders/items', {
        headers: unsigned,
        sentBody: body,
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.message).toMatch(/UNSIGNED-PAYLOAD/);
      expect(upstream.received).toHaveLength(0);
      expect(
        (await call(t, 'PATCH', `/iam/apis/${api.id}`, { body: { allowUnsignedPayload: true } })).statusCode,
      ).toBe(200);
      try {
        const ok = await signed(t, admin, 'POST', '/api/orders/items', { headers: unsigned, sentBody: body });
        expect(ok.statusCode, ok.body).toBe(200);
        expect(upstream.received[0]?.body).toBe(body);
      } finally {
        await call(t, 'PATCH', `/iam/apis/${api.id}`, { body: { allowUnsignedPayload: false } });
      }
    });

    it('refuses a signed body over the body limit with 413 before reading the rest', async () => {
      const body = JSON.stringify({ big: 'y'.repeat(t.runtime.svc.config.bodyLimitBytes) });
      const res = await signed(t, admin, 'POST', '/api/orders/items', { body });
      expect(res.statusCode).toBe(413);
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('refusals never reach the upstream', () => {
    it('answers 401 without credentials, 403 for a bad signature, 404 outside every base path', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/api/orders/items/1' })).json().error.code).toBe(
        'UNAUTHENTICATED',
      );
      const wrong = await signed(
        t,
        { ...admin, secretAccessKey: `${admin.secretAccessKey}x` },
        'GET',
        '/api/orders/items/1',
      );
      expect(wrong.json().error.code).toBe('SignatureDoesNotMatch');
      const elsewhere = await signed(t, admin, 'GET', '/api/ordersx/items');
      expect(elsewhere.statusCode).toBe(404);
      expect(upstream.received).toHaveLength(0);
    });

    it('answers 403 NO_MATCHING_ROUTE for a path no route matches, and AccessDenied without the permission', async () => {
      const noRoute = await signed(t, admin, 'PUT', '/api/orders/items/1', { body: '{}' });
      expect(noRoute.statusCode).toBe(403);
      expect(noRoute.json().error.code).toBe('NO_MATCHING_ROUTE');
      const reader = await createUserWithLogin(t, `reader-${engine}@example.com`);
      const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
      const readOnly = roles.find((r) => r.name === 'DataReadOnly')?.id;
      await call(t, 'PUT', `/iam/users/${reader.id}/assignments`, { body: { roleIds: [readOnly] } });
      const key = await keyOf(t, reader.id);
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).statusCode).toBe(200);
      const write = await signed(t, key, 'POST', '/api/orders/items', { body: '{}' });
      expect(write.statusCode).toBe(403);
      expect(write.json().error).toMatchObject({ code: 'AccessDenied', missingPermission: 'orders:write' });
      expect(upstream.received).toHaveLength(1);
    });

    it.each([
      '/api/orders/public/../items/1',
      '/api/orders/public/%2e%2e/items/1',
      '/api/orders/public//items',
      '/api/orders/public/a%2Fb',
      '/api/orders/public/a%5Cb',
    ])('refuses %s with 400 INVALID_PATH', async (path) => {
      // Sent as raw bytes over HTTP: app.inject (like fetch) would resolve the dot segments first.
      const res = await send((t.app.server.address() as AddressInfo).port, 'GET', path);
      expect(res.status, res.body).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('INVALID_PATH');
      expect(upstream.received).toHaveLength(0);
    });

    it('matches the path as the upstream reads it: percent-encoding and case do not slip past a route', async () => {
      const reader = await createUserWithLogin(t, `narrow-${engine}@example.com`);
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: `Items-${engine}`, permissions: ['orders:read'] },
      });
      await call(t, 'PUT', `/iam/users/${reader.id}/assignments`, { body: { roleIds: [role.json().id] } });
      const key = await keyOf(t, reader.id);
      // DELETE /items/* needs orders:admin: no spelling of that path gets there with orders:read.
      for (const path of ['/api/orders/items/1', '/api/orders/%69tems/1', '/api/orders/ITEMS/1']) {
        const res = await signed(t, key, 'DELETE', path);
        expect(res.json().error, path).toMatchObject({
          code: 'AccessDenied',
          missingPermission: 'orders:admin',
        });
      }
      expect(upstream.received).toHaveLength(0);
    });

    it("another tenant's key and administrator never reach this tenant's API", async () => {
      const other = await secondTenantAdmin(t, `other-${engine}@example.com`);
      const me = (await call(t, 'GET', '/iam/me', { token: other.token })).json();
      const key = await keyOf(t, me.id, other.token);
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).statusCode).toBe(404);
      for (const [method, url] of [
        ['GET', `/iam/apis/${api.id}`],
        ['PATCH', `/iam/apis/${api.id}`],
        ['DELETE', `/iam/apis/${api.id}`],
        ['GET', `/iam/apis/${api.id}/postman-collection`],
      ] as const) {
        const res = await call(t, method, url, {
          token: other.token,
          ...(method === 'PATCH' ? { body: { name: 'mine' } } : {}),
        });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
      }
      expect((await call(t, 'GET', '/iam/apis', { token: other.token })).json().items).toEqual([]);
      // The other tenant may register the same base path for itself.
      const own = await registerApi(t, upstream.url, {}, other.token);
      expect(own.statusCode, own.body).toBe(201);
      const res = await signed(t, key, 'GET', '/api/orders/items/1');
      expect(res.statusCode).toBe(200);
      expect(upstream.received.at(-1)?.headers['x-latchkey-tenant']).toBe(other.tenantId);
      expect((await call(t, 'DELETE', `/iam/apis/${own.json().id}`, { token: other.token })).statusCode).toBe(
        204,
      );
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).statusCode).toBe(404);
    });

    it('stops a deactivated key at once, and lets it through again when activated', async () => {
      const key = await keyOf(t, t.adminId);
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).statusCode).toBe(200);
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).json().error.code).toBe(
        'AccessKeyInactive',
      );
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: true } });
      expect((await signed(t, key, 'GET', '/api/orders/items/1')).statusCode).toBe(200);
      expect(upstream.received).toHaveLength(2);
    });
  });

  describe('upstream failures', () => {
    it('answers 502 UPSTREAM_UNAVAILABLE when the upstream is down and 504 UPSTREAM_TIMEOUT when it is slow', async () => {
      const down = await startUpstream();
      await down.close();
      const slow = await startUpstream();
      slow.respond = (_req, res) => setTimeout(() => res.end('{}'), 1500);
      try {
        const a = await call(t, 'POST', '/iam/apis', {
          body: {
            name: 'down',
            basePath: '/down',
            upstream: down.url,
            routes: [{ method: '*', path: '/*', permission: 'down:use' }],
          },
        });
        const b = await call(t, 'POST', '/iam/apis', {
          body: {
            name: 'slow',
            basePath: '/slow',
            upstream: slow.url,
            timeoutMs: 200,
            routes: [{ method: '*', path: '/*', permission: 'slow:use' }],
          },
        });
        const unavailable = await signed(t, admin, 'GET', '/down/x');
        expect(unavailable.statusCode).toBe(502);
        expect(unavailable.json().error.code).toBe('UPSTREAM_UNAVAILABLE');
        const timeout = await signed(t, admin, 'GET', '/slow/x');
        expect(timeout.statusCode).toBe(504);
        expect(timeout.json().error.code).toBe('UPSTREAM_TIMEOUT');
        await call(t, 'DELETE', `/iam/apis/${a.json().id}`);
        await call(t, 'DELETE', `/iam/apis/${b.json().id}`);
      } finally {
        await slow.close();
      }
    });
  });

  describe('records', () => {
    it("shows the gateway's last decision in the key's last-used data", async () => {
      const key = await keyOf(t, t.adminId);
      await signed(t, key, 'GET', '/api/orders/items/1');
      await t.runtime.lastUsed.flush();
      let view = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json();
      expect(view).toMatchObject({ lastUsedApiId: api.id, lastUsedDecision: 'allowed' });
      t.clock.advance(1000);
      await signed(t, key, 'PUT', '/api/orders/items/1', { body: '{}' });
      await t.runtime.lastUsed.flush();
      view = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json();
      expect(view).toMatchObject({ lastUsedApiId: api.id, lastUsedDecision: 'denied' });
      expect(view.lastUsedAt).not.toBeNull();
    });

    it('audits denials, at most one row a minute per key, API and code', async () => {
      const key = await keyOf(t, t.adminId);
      for (let i = 0; i < 20; i++) await signed(t, key, 'PUT', '/api/orders/items/1', { body: '{}' });
      const rows = async () =>
        (await call(t, 'GET', `/iam/audit?action=gateway.deny&limit=100`))
          .json()
          .items.filter((r: { after: { accessKeyId?: string } }) => r.after?.accessKeyId === key.accessKeyId);
      await new Promise((r) => setTimeout(r, 50));
      expect(await rows()).toHaveLength(1);
      t.clock.advance(61_000);
      await signed(t, key, 'PUT', '/api/orders/items/1', { body: '{}' });
      await new Promise((r) => setTimeout(r, 50));
      const after = await rows();
      expect(after).toHaveLength(2);
      expect(after[0].after).toMatchObject({
        code: 'NO_MATCHING_ROUTE',
        method: 'PUT',
        suppressedSinceLast: 19,
      });
    });

    it('gives a Postman collection with one request per route', async () => {
      const res = await call(t, 'GET', `/iam/apis/${api.id}/postman-collection`);
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      expect(doc.auth.type).toBe('awsv4');
      expect(
        doc.item.map(
          (i: { request: { method: string; url: string } }) => `${i.request.method} ${i.request.url}`,
        ),
      ).toEqual([
        'GET {{base_url}}/api/orders/public',
        'GET {{base_url}}/api/orders/items',
        'POST {{base_url}}/api/orders/items',
        'DELETE {{base_url}}/api/orders/items',
      ]);
    });

    it('writes the registration, its changes and its removal to the audit log', async () => {
      const actions = (await call(t, 'GET', '/iam/audit?action=api.&limit=100'))
        .json()
        .items.map((r: { action: string }) => r.action);
      expect(actions).toEqual(expect.arrayContaining(['api.create', 'api.update', 'api.delete']));
    });
  });
});
