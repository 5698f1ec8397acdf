/**
 * Debian's real nginx in front of an upstream, asking latchkey's `GET /v1/authz` through
 * `auth_request` before it proxies anything: on each engine, requests signed with the AWS SDK's
 * signer (or carrying a key token) against nginx's host and port reach the upstream with the
 * identity headers and a verifiable assertion, and everything refused reaches nothing.
 *
 * latchkey does not proxy here (nginx does): the registered API only gives the routes and their
 * permissions. The location blocks below are the ones the README shows.
 *
 * Without nginx at /usr/sbin/nginx the suite is skipped (reported as skipped, with a warning);
 * with LATCHKEY_REQUIRE_NGINX=1 (set by .ci/run) a missing nginx fails the run.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signedRequestKeys } from '../../src/auth/throttle-keys.js';
import { call, createUserWithLogin, loginWithKey, type TestApp } from '../helpers/app.js';
import { describeEachEngine, useTestApp } from '../helpers/each-engine.js';
import { NGINX_BIN, type NginxInstance, nginxAvailable, startNginx } from '../helpers/nginx.js';
import { type Credentials, presign, signHeaders } from '../helpers/sign.js';
import { send, startUpstream, type TestUpstream, verifiedAssertion } from '../helpers/upstream.js';

const NGINX = nginxAvailable();
if (!NGINX && process.env.LATCHKEY_REQUIRE_NGINX === '1') {
  throw new Error(`nginx is required (LATCHKEY_REQUIRE_NGINX=1) but ${NGINX_BIN} is missing`);
}
if (!NGINX) {
  console.warn(
    `nginx is not installed at ${NGINX_BIN}: the nginx auth_request tests are SKIPPED (apt-get install nginx)`,
  );
}

/** The location blocks the README shows: everything under /api/orders/ is authorized by latchkey. */
const NGINX_LOCATIONS = `
# Every request under /api/orders/ is authorized by latchkey before nginx proxies it.
location /api/orders/ {
    auth_request /_latchkey_authz;

    # Who latchkey says the caller is, from the headers of its 200 answer.
    auth_request_set $lk_tenant         $upstream_http_x_latchkey_tenant;
    auth_request_set $lk_principal_type $upstream_http_x_latchkey_principal_type;
    auth_request_set $lk_principal_id   $upstream_http_x_latchkey_principal_id;
    auth_request_set $lk_access_key     $upstream_http_x_latchkey_access_key;
    auth_request_set $lk_permission     $upstream_http_x_latchkey_permission;
    auth_request_set $lk_request_id     $upstream_http_x_latchkey_request_id;
    auth_request_set $lk_assertion      $upstream_http_x_latchkey_assertion;

    # Passed to the upstream. Setting a header here also drops any header of that name the client
    # sent, so a client cannot forge these.
    proxy_set_header X-Latchkey-Tenant         $lk_tenant;
    proxy_set_header X-Latchkey-Principal-Type $lk_principal_type;
    proxy_set_header X-Latchkey-Principal-Id   $lk_principal_id;
    proxy_set_header X-Latchkey-Access-Key     $lk_access_key;
    proxy_set_header X-Latchkey-Permission     $lk_permission;
    proxy_set_header X-Latchkey-Request-Id     $lk_request_id;
    proxy_set_header X-Latchkey-Assertion      $lk_assertion;

    # The caller's credentials (a signature or a key token) stay here: the upstream trusts the
    # headers above, and can verify the assertion against latchkey's /.well-known/jwks.json.
    proxy_set_header Authorization "";

    # A key with rate limits or quotas: latchkey's RateLimit fields go to the client (an empty
    # value adds no header). A refusal with Retry-After (over a limit, or too many failures) is
    # answered 429, as latchkey itself answers it: nginx only takes 401 and 403 from auth_request.
    auth_request_set $lk_ratelimit        $upstream_http_ratelimit;
    auth_request_set $lk_ratelimit_policy $upstream_http_ratelimit_policy;
    auth_request_set $lk_retry_after      $upstream_http_retry_after;
    add_header RateLimit        $lk_ratelimit always;
    add_header RateLimit-Policy $lk_ratelimit_policy always;
    error_page 403 = @latchkey_refused;

    # No URI part: the upstream gets the request URI exactly as the client sent it, which is the
    # URI /v1/authz checked (X-Original-URI below).
    proxy_pass http://orders;
}

# The subrequest auth_request makes: latchkey checks the original request's signature or token,
# route and permission, and answers 200 (with the identity headers), 401 or 403.
location = /_latchkey_authz {
    internal;
    proxy_pass http://latchkey/v1/authz;
    proxy_pass_request_body off;                    # auth_request never passes the body...
    proxy_set_header Content-Length "";             # ...so no length either (the next request would be read as its body)
    proxy_set_header X-Original-Content-Length $http_content_length;  # the length AWS SDKs sign, checked in its place
    proxy_set_header Host $http_host;               # the signature covers the Host the client used
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Original-URI $request_uri;   # as sent: what latchkey checks is what the upstream gets
    proxy_set_header X-Forwarded-For $remote_addr;  # the client (LATCHKEY_TRUST_PROXY=<nginx's address>)
}

# latchkey's 403s: 429 with Retry-After when latchkey said when to come back, 403 otherwise.
location @latchkey_refused {
    add_header RateLimit        $lk_ratelimit always;
    add_header RateLimit-Policy $lk_ratelimit_policy always;
    if ($lk_retry_after) {
        add_header Retry-After      $lk_retry_after always;
        add_header RateLimit        $lk_ratelimit always;
        add_header RateLimit-Policy $lk_ratelimit_policy always;
        return 429;
    }
    return 403;
}
`;

function nginxConfig(port: number, latchkeyPort: number, upstreamPort: number): string {
  return `
  upstream latchkey { server 127.0.0.1:${latchkeyPort}; }
  upstream orders { server 127.0.0.1:${upstreamPort}; }
  server {
    listen 127.0.0.1:${port};
${NGINX_LOCATIONS.replace(/^/gm, '    ')}
  }`;
}

/** The routes and permissions nginx's /api/orders/ location is authorized against. */
const ROUTES = [
  { method: 'GET', path: '/*', permission: 'orders:read' },
  { method: 'POST', path: '/items', permission: 'orders:write' },
];

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const BODY_NOT_PASSED = /nginx does not pass the body to auth_request/;

async function keyOf(t: TestApp, userId: string): Promise<Credentials> {
  const res = await call(t, 'POST', `/iam/users/${userId}/keys`, { body: { name: `k${Math.random()}` } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

(NGINX ? describe : describe.skip)('nginx auth_request with /v1/authz', () => {
  describeEachEngine('nginx in front of an upstream', (engine) => {
    // nginx is the proxy in front of latchkey: its X-Forwarded-For names the client, so failures
    // are throttled per client, not for everyone behind nginx at once.
    const t = useTestApp(engine, { env: { LATCHKEY_TRUST_PROXY: '127.0.0.1' } });
    let upstream: TestUpstream;
    let nginx: NginxInstance;
    let latchkeyPort: number;
    let api: { id: string };
    let admin: Credentials;
    let reader: Credentials;
    let readerId: string;
    /** The Host clients use, and sign: nginx's. */
    let host: string;

    beforeAll(async () => {
      upstream = await startUpstream();
      const res = await call(t, 'POST', '/iam/apis', {
        body: { name: 'orders', basePath: '/api/orders', upstream: upstream.url, routes: ROUTES },
      });
      expect(res.statusCode, res.body).toBe(201);
      api = res.json();
      admin = await keyOf(t, t.adminId);
      // A user whose only role holds orders:read.
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: 'OrdersReader', permissions: ['orders:read'] },
      });
      expect(role.statusCode, role.body).toBe(201);
      const user = await createUserWithLogin(t, `reader-${engine}@example.com`);
      const assigned = await call(t, 'PUT', `/iam/users/${user.id}/assignments`, {
        body: { roleIds: [role.json().id] },
      });
      expect(assigned.statusCode, assigned.body).toBe(200);
      readerId = user.id;
      reader = await keyOf(t, user.id);

      await t.app.listen({ port: 0, host: '127.0.0.1' });
      latchkeyPort = (t.app.server.address() as AddressInfo).port;
      try {
        nginx = await startNginx((port) => nginxConfig(port, latchkeyPort, upstream.port));
      } catch (error) {
        await upstream.close();
        throw error;
      }
      host = `127.0.0.1:${nginx.port}`;
      return async () => {
        await nginx.stop();
        await upstream.close();
      };
    });
    beforeEach(async () => {
      upstream.received.length = 0;
      // Every test's refusals are its own: none starts behind another's failed-signature block.
      await t.runtime.throttle.clear();
    });
    afterEach((context) => {
      if (context.task.result?.state === 'fail') console.error(`nginx error log:\n${nginx?.errorLog()}`);
    });

    /** Headers signed with @smithy/signature-v4 for a request to nginx. */
    const sign = (
      c: Credentials,
      method: string,
      path: string,
      options: { body?: string; headers?: Record<string, string> } = {},
    ) =>
      signHeaders(c, {
        method,
        path,
        host,
        date: t.clock.now(),
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      });

    const viaNginx = (method: string, path: string, headers?: Record<string, string>, body?: string) =>
      send(nginx.port, method, path, headers, body);

    /** What /v1/authz answers nginx for this request (nginx shows the client only the status). */
    const authz = async (method: string, path: string, headers: Record<string, string> = {}) => {
      const res = await send(latchkeyPort, 'GET', '/v1/authz', {
        host,
        ...headers,
        'x-original-method': method,
        'x-original-uri': path,
      });
      return { status: res.status, error: res.status === 200 ? undefined : JSON.parse(res.body).error };
    };

    it('forwards a signed GET with the identity headers and a verifiable assertion', async () => {
      const path = '/api/orders/items/42?expand=lines&x=%20y';
      const res = await viaNginx('GET', path, await sign(admin, 'GET', path));
      expect(res.status, res.body).toBe(200);
      expect(res.headers['x-upstream']).toBe('yes');
      expect(JSON.parse(res.body)).toEqual({ ok: true, path });
      expect(upstream.received).toHaveLength(1);
      const h = upstream.received[0]?.headers ?? {};
      expect(h).toMatchObject({
        'x-latchkey-tenant': t.tenantId,
        'x-latchkey-principal-type': 'user',
        'x-latchkey-principal-id': t.adminId,
        'x-latchkey-access-key': admin.accessKeyId,
        'x-latchkey-permission': 'orders:read',
      });
      // The id latchkey logged its decision under.
      const requestId = h['x-latchkey-request-id'] as string;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(t.logs.some((line) => line.includes(requestId))).toBe(true);
      // The signature stays with nginx.
      expect(h.authorization).toBeUndefined();

      const { payload, protectedHeader } = await verifiedAssertion(t, h, api.id);
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({
        sub: t.adminId,
        tid: t.tenantId,
        pt: 'user',
        akid: admin.accessKeyId,
        perm: 'orders:read',
      });
    });

    it('never passes client-sent identity headers (even signed ones) to the upstream: the request is refused', async () => {
      const forged = {
        'x-latchkey-tenant': 'forged-tenant',
        'x-latchkey-principal-type': 'service_account',
        'x-latchkey-principal-id': 'forged-principal',
        'x-latchkey-access-key': 'AKFORGED',
        'x-latchkey-permission': 'orders:admin',
        'x-latchkey-request-id': 'forged-request',
        'x-latchkey-assertion': 'forged.assertion.jwt',
      };
      const path = '/api/orders/items/1';
      const headers = await sign(reader, 'GET', path, { headers: forged });
      expect((await viaNginx('GET', path, headers)).status).toBe(403);
      expect((await authz('GET', path, headers)).error.code).toBe('InvalidRequest');
      expect(upstream.received).toHaveLength(0);
      // Without them the same key goes through, and the upstream gets latchkey's values.
      const res = await viaNginx('GET', path, await sign(reader, 'GET', path));
      expect(res.status, res.body).toBe(200);
      expect(upstream.received[0]?.headers).toMatchObject({
        'x-latchkey-tenant': t.tenantId,
        'x-latchkey-principal-type': 'user',
        'x-latchkey-access-key': reader.accessKeyId,
        'x-latchkey-permission': 'orders:read',
        'x-latchkey-principal-id': readerId,
      });
    });

    it('answers 401 without credentials or with a console session, and the upstream sees nothing', async () => {
      const path = '/api/orders/items/1';
      expect((await viaNginx('GET', path)).status).toBe(401);
      expect((await authz('GET', path)).error.code).toBe('UNAUTHENTICATED');
      const session = { authorization: `Bearer ${t.adminToken}` };
      expect((await viaNginx('GET', path, session)).status).toBe(401);
      expect((await authz('GET', path, session)).error.code).toBe('INVALID_TOKEN');
      expect(upstream.received).toHaveLength(0);
    });

    it('answers 403 for a bad signature', async () => {
      const path = '/api/orders/items/1';
      const headers = await sign({ ...admin, secretAccessKey: `${admin.secretAccessKey}x` }, 'GET', path);
      expect((await viaNginx('GET', path, headers)).status).toBe(403);
      expect((await authz('GET', path, headers)).error.code).toBe('SignatureDoesNotMatch');
      // Signed for another Host than the one it is sent to: nginx passes the client's Host on.
      const elsewhere = await signHeaders(admin, {
        method: 'GET',
        path,
        host: 'elsewhere.example',
        date: t.clock.now(),
      });
      expect((await viaNginx('GET', path, { ...elsewhere, host })).status).toBe(403);
      expect(upstream.received).toHaveLength(0);
    });

    it('passes a limited key’s RateLimit fields on, and answers 429 with Retry-After over the limit', async () => {
      const key = await keyOf(t, t.adminId);
      const limited = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { rateLimit: { limit: 1, periodSeconds: 60 } },
      });
      expect(limited.statusCode, limited.body).toBe(200);
      const path = '/api/orders/items/1';
      const first = await viaNginx('GET', path, await sign(key, 'GET', path));
      expect(first.status, first.body).toBe(200);
      expect(first.headers['ratelimit-policy']).toBe('"key";q=1;w=60');
      expect(first.headers.ratelimit).toBe('"key";r=0;t=60');
      const second = await viaNginx('GET', path, await sign(key, 'GET', path));
      expect(second.status).toBe(429);
      expect(second.headers['retry-after']).toBe('60');
      expect(second.headers.ratelimit).toBe('"key";r=0;t=60');
      // A key without limits gets no such fields; other refusals stay 403 without Retry-After.
      const plain = await viaNginx('GET', path, await sign(admin, 'GET', path));
      expect(plain.headers.ratelimit).toBeUndefined();
      const denied = await viaNginx(
        'POST',
        '/api/orders/nothing',
        await sign(admin, 'POST', '/api/orders/nothing'),
      );
      expect(denied.status).toBe(403);
      expect(denied.headers['retry-after']).toBeUndefined();
      expect(upstream.received).toHaveLength(2);
    });

    it('answers 403 without the permission, and client-sent X-Original-* headers change nothing', async () => {
      const path = '/api/orders/items';
      const read = await viaNginx('GET', path, await sign(reader, 'GET', path));
      expect(read.status, read.body).toBe(200);
      const headers = await sign(reader, 'POST', path);
      expect((await viaNginx('POST', path, headers)).status).toBe(403);
      const denied = (await authz('POST', path, headers)).error;
      expect(denied.code).toBe('AccessDenied');
      expect(denied.message).toMatch(/orders:write/);
      // nginx sets X-Original-Method and X-Original-URI itself: a client's own are dropped.
      const steer = { ...headers, 'x-original-method': 'GET', 'x-original-uri': '/api/orders/items' };
      expect((await viaNginx('POST', path, steer)).status).toBe(403);
      expect(upstream.received).toHaveLength(1);
    });

    it('answers 403 for a path under the location that no route matches, or that is not clean', async () => {
      const path = '/api/orders/other';
      const headers = await sign(admin, 'POST', path);
      expect((await viaNginx('POST', path, headers)).status).toBe(403);
      expect((await authz('POST', path, headers)).error.code).toBe('NO_MATCHING_ROUTE');
      // nginx resolves the dot segments to pick the location, but /v1/authz sees the URI as sent.
      for (const dotted of ['/api/orders/x/../items/1', '/api/orders/x/%2e%2e/items/1']) {
        const signed = await sign(admin, 'GET', dotted);
        expect((await viaNginx('GET', dotted, signed)).status, dotted).toBe(403);
        expect((await authz('GET', dotted, signed)).error.code, dotted).toBe('INVALID_PATH');
      }
      expect(upstream.received).toHaveLength(0);
    });

    it('accepts a presigned GET URL', async () => {
      const path = await presign(admin, {
        method: 'GET',
        path: '/api/orders/items/7?colour=red',
        host,
        date: t.clock.now(),
      });
      const res = await viaNginx('GET', path, { host });
      expect(res.status, res.body).toBe(200);
      const [got] = upstream.received;
      // The URI goes upstream as sent: the presigned URL's parameters included.
      expect(got?.url).toBe(path);
      expect(got?.url).toMatch(/^\/api\/orders\/items\/7\?.*colour=red/);
      expect(got?.headers['x-latchkey-access-key']).toBe(admin.accessKeyId);
    });

    it('refuses a POST with a signed body with 403: /v1/authz says nginx does not pass the body', async () => {
      const path = '/api/orders/items';
      const body = JSON.stringify({ item: 'A', qty: 2 });
      const headers = await sign(admin, 'POST', path, {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(headers['x-amz-content-sha256']).not.toBe(EMPTY_SHA256);
      expect((await viaNginx('POST', path, headers, body)).status).toBe(403);
      const answer = await authz('POST', path, headers);
      expect(answer.status).toBe(403);
      expect(answer.error.code).toBe('InvalidRequest');
      expect(answer.error.message).toMatch(BODY_NOT_PASSED);
      expect(upstream.received).toHaveLength(0);
    });

    it('passes an UNSIGNED-PAYLOAD body only on an API registered with allowUnsignedPayload', async () => {
      const path = '/api/orders/items';
      const body = 'x'.repeat(5000);
      const headers = await sign(admin, 'POST', path, {
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'text/plain' },
      });
      expect((await viaNginx('POST', path, headers, body)).status).toBe(403);
      const refused = await authz('POST', path, headers);
      expect(refused.status).toBe(403);
      expect(refused.error.message).toMatch(/UNSIGNED-PAYLOAD/);
      expect(upstream.received).toHaveLength(0);

      const patch = (allowUnsignedPayload: boolean) =>
        call(t, 'PATCH', `/iam/apis/${api.id}`, { body: { allowUnsignedPayload } });
      expect((await patch(true)).statusCode).toBe(200);
      try {
        const ok = await viaNginx('POST', path, headers, body);
        expect(ok.status, ok.body).toBe(200);
        expect(upstream.received[0]).toMatchObject({ method: 'POST', url: path, body });
        expect(upstream.received[0]?.headers['x-latchkey-permission']).toBe('orders:write');
        // A chunked body too: no Transfer-Encoding reaches /v1/authz for a body it never gets.
        const chunked = await send(nginx.port, 'POST', path, headers, body, { chunked: true });
        expect(chunked.status, chunked.body).toBe(200);
        expect(upstream.received[1]?.body).toBe(body);
      } finally {
        await patch(false);
      }
    });

    it('accepts an UNSIGNED-PAYLOAD POST whose signature covers Content-Length (as AWS SDK v3 signs)', async () => {
      // nginx sends /v1/authz no body and so no length; the original length arrives as
      // X-Original-Content-Length and is checked in the place of the Content-Length it signed.
      await call(t, 'PATCH', `/iam/apis/${api.id}`, { body: { allowUnsignedPayload: true } });
      try {
        const path = '/api/orders/items';
        const body = 'y'.repeat(100);
        const headers = await sign(admin, 'POST', path, {
          headers: {
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
            'content-type': 'text/plain',
            'content-length': String(body.length),
          },
        });
        expect(headers.authorization).toMatch(/SignedHeaders=content-length;/);
        const res = await viaNginx('POST', path, headers, body);
        expect(res.status, res.body).toBe(200);
        expect(upstream.received.at(-1)?.body).toBe(body);
        // Without it (an older configuration) the signed header is missing, and latchkey says so.
        const { 'content-length': _sent, ...asNginxPassesThem } = headers;
        expect((await authz('POST', path, asNginxPassesThem)).error).toMatchObject({
          code: 'AuthorizationHeaderMalformed',
          message: "Signed header 'content-length' is not present in the request.",
        });
      } finally {
        await call(t, 'PATCH', `/iam/apis/${api.id}`, { body: { allowUnsignedPayload: false } });
      }
    });

    it('refuses a client-sent x-latchkey-* header nginx would pass on (it overrides only the ones it names)', async () => {
      const path = '/api/orders/items/1';
      const headers = { ...(await sign(admin, 'GET', path)), 'x-latchkey-role': 'admin' };
      expect((await viaNginx('GET', path, headers)).status).toBe(403);
      expect((await authz('GET', path, headers)).error.code).toBe('InvalidRequest');
    });

    it("records and throttles the client's address (from X-Forwarded-For), not nginx's", async () => {
      const key = await keyOf(t, t.adminId);
      const path = '/api/orders/items/1';
      // A client's own X-Forwarded-For is replaced by nginx's $remote_addr.
      const headers = { ...(await sign(key, 'GET', path)), 'x-forwarded-for': '203.0.113.9' };
      const ok = await send(nginx.port, 'GET', path, headers, undefined, { from: '127.0.0.2' });
      expect(ok.status, ok.body).toBe(200);
      await t.runtime.lastUsed.flush();
      expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json()).toMatchObject({
        lastUsedIp: '127.0.0.2',
        lastUsedApiId: api.id,
        lastUsedDecision: 'allowed',
      });
      // Six bad signatures from one client block that client's address, not every client's.
      const bad = await sign({ ...key, secretAccessKey: `${key.secretAccessKey}x` }, 'GET', path);
      // The sixth starts the block: 429 with Retry-After, as latchkey itself answers SlowDown.
      for (let i = 0; i < 6; i++)
        expect((await send(nginx.port, 'GET', path, bad, undefined, { from: '127.0.0.2' })).status).toBe(
          i < 5 ? 403 : 429,
        );
      const blocked = (ip: string) =>
        t.runtime.throttle.blocked(signedRequestKeys(ip, undefined), t.clock.now().getTime());
      expect(await blocked('127.0.0.2')).toMatchObject({ failures: 6 });
      expect(await blocked('127.0.0.1')).toBeUndefined();
      expect(await blocked('127.0.0.3')).toBeUndefined();
      expect(upstream.received).toHaveLength(1);
    });

    it('accepts a key token (Bearer) and keeps it from the upstream', async () => {
      const token = (await loginWithKey(t, admin.accessKeyId, admin.secretAccessKey)).json().token as string;
      const res = await viaNginx('GET', '/api/orders/items/1', { authorization: `Bearer ${token}` });
      expect(res.status, res.body).toBe(200);
      const h = upstream.received[0]?.headers ?? {};
      expect(h['x-latchkey-access-key']).toBe(admin.accessKeyId);
      expect(h['x-latchkey-principal-id']).toBe(t.adminId);
      expect(h.authorization).toBeUndefined();
    });

    it('got nothing but 200, 401 and 403 from /v1/authz (nginx would have answered 500)', () => {
      expect(nginx.errorLog()).not.toMatch(/auth request unexpected status/);
      expect(nginx.errorLog()).not.toMatch(/\[(crit|alert|emerg)\]/);
    });
  });
});

// The configuration tested above is the one the README shows, character for character.
describe('the README', () => {
  it('shows the nginx configuration this suite runs', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(NGINX_LOCATIONS.trim());
  });
});
