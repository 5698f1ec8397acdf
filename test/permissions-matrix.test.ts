/**
 * Who may call each route: every route against anonymous, a wrong-tenant administrator, a
 * read-only key, a read-write key, an api-type key, a plain user's token, and an administrator.
 * Allowed callers must get past authentication and authorization (any status but 401/403);
 * denied callers must get 401 (no credentials) or 403 naming the missing permission; a caller
 * from another tenant must never see this tenant's objects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/accounting/registry.js';
import { call, login } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

type Who = 'anonymous' | 'wrongTenant' | 'readOnlyKey' | 'readWriteKey' | 'apiKey' | 'userToken' | 'admin';
const EVERYONE: Who[] = [
  'anonymous',
  'wrongTenant',
  'readOnlyKey',
  'readWriteKey',
  'apiKey',
  'userToken',
  'admin',
];

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  /** Who gets past authentication and authorization. */
  allowed: Who[];
  /** The route addresses an object of the first tenant by id: another tenant must get 404 (or 400 for a malformed id). */
  tenantObject?: boolean;
}

describeEachEngine('permission matrix', (engine) => {
  describe('every route × every kind of caller', () => {
    // Webhook endpoints on 127.0.0.1 are allowed, so the matrix needs no public receiver.
    const t = useTestApp(engine, { env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } });
    const creds: Partial<Record<Who, Credentials>> = {};
    const tokens: Partial<Record<Who, string>> = {};
    const ids: Record<string, string> = {};
    let address = 0;

    beforeAll(async () => {
      const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
      const role = (name: string) => roles.find((r) => r.name === name)?.id as string;
      for (const [who, roleName] of [
        ['readOnlyKey', 'DataReadOnly'],
        ['readWriteKey', 'DataReadWrite'],
      ] as const) {
        const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: who } })).json();
        await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, {
          body: { roleIds: [role(roleName)] },
        });
        const k = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
        creds[who] = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
      }
      const api = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { type: 'api' } })).json();
      creds.apiKey = { accessKeyId: api.accessKeyId, secretAccessKey: api.secretAccessKey };
      const user = (
        await call(t, 'POST', '/iam/users', {
          body: { email: 'plain@example.com', name: 'Plain', password: 'plain-user-password' },
        })
      ).json();
      ids.user = user.id;
      tokens.userToken = await login(t, 'plain@example.com', 'plain-user-password');
      tokens.admin = t.adminToken;
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'target' } })).json();
      ids.sa = sa.id;
      ids.key = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })
      ).json().accessKeyId;
      ids.group = (await call(t, 'POST', '/iam/groups', { body: { name: 'Target group' } })).json().id;
      ids.role = (
        await call(t, 'POST', '/iam/roles', { body: { name: 'Target role', permissions: ['agent:read'] } })
      ).json().id;

      ids.api = (
        await call(t, 'POST', '/iam/apis', {
          body: {
            name: 'Target API',
            basePath: '/api/target',
            upstream: 'http://127.0.0.1:9',
            routes: [{ method: 'GET', path: '/*', permission: 'target:read' }],
          },
        })
      ).json().id;

      ids.webhook = (
        await call(t, 'POST', '/iam/webhooks', {
          body: { url: 'http://127.0.0.1:9/hook', events: ['access_key.created'] },
        })
      ).json().id;

      ids.session = (await call(t, 'POST', '/iam/session-credentials', { body: {} })).json().accessKeyId;

      // A second tenant with its own administrator.
      tokens.wrongTenant = (await secondTenantAdmin(t, 'admin@other.example')).token;
    });

    const send = async (who: Who, route: Route) => {
      const payload = route.body === undefined ? undefined : JSON.stringify(route.body);
      const headers: Record<string, string> = payload ? { 'content-type': 'application/json' } : {};
      const c = creds[who];
      if (c) {
        Object.assign(
          headers,
          await signHeaders(c, {
            method: route.method,
            path: route.url,
            host: 'lk.test',
            headers,
            body: payload,
            date: t.clock.now(),
          }),
        );
      } else if (tokens[who]) {
        headers.authorization = `Bearer ${tokens[who]}`;
      }
      return t.app.inject({
        method: route.method,
        url: route.url,
        headers,
        payload,
        remoteAddress: `10.1.${Math.floor(++address / 250)}.${address % 250}`,
      });
    };

    const ADMIN_ONLY: Who[] = ['admin', 'wrongTenant'];
    const routes = (): Route[] => [
      {
        method: 'GET',
        url: '/profile',
        allowed: ['readOnlyKey', 'readWriteKey', 'apiKey', 'userToken', 'admin', 'wrongTenant'],
      },
      {
        method: 'GET',
        url: '/iam/me',
        allowed: ['readOnlyKey', 'readWriteKey', 'userToken', 'admin', 'wrongTenant'],
      },
      // Two-factor sign-in: a user's own factors (password sessions only; a key or its token is refused).
      ...(
        [
          ['GET', '/iam/me/mfa', undefined],
          ['POST', '/iam/me/mfa/totp', {}],
          ['POST', '/iam/me/mfa/totp/verify', {}],
          ['DELETE', '/iam/me/mfa/totp', {}],
          ['POST', '/iam/me/mfa/recovery-codes', {}],
          ['POST', '/iam/me/mfa/webauthn/registration-options', {}],
          ['POST', '/iam/me/mfa/webauthn/registration', {}],
          ['DELETE', '/iam/me/mfa/webauthn/mfa_nosuchpasskey00', {}],
        ] as const
      ).map(
        ([method, url, body]): Route => ({
          method,
          url,
          ...(body === undefined ? {} : { body }),
          allowed: ['userToken', 'admin', 'wrongTenant'],
        }),
      ),
      { method: 'DELETE', url: `/iam/users/${ids.user}/mfa`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'GET',
        url: '/iam/permissions',
        allowed: ['readOnlyKey', 'readWriteKey', 'userToken', 'admin', 'wrongTenant'],
      },
      {
        method: 'POST',
        url: '/iam/session-credentials',
        body: {},
        allowed: ['readOnlyKey', 'readWriteKey', 'userToken', 'admin', 'wrongTenant'],
      },
      {
        method: 'DELETE',
        url: `/iam/session-credentials/${ids.session}`,
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: '/iam/users', allowed: ADMIN_ONLY },
      { method: 'POST', url: '/iam/users', body: {}, allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/users/${ids.user}`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'PATCH',
        url: `/iam/users/${ids.user}`,
        body: { name: 'Plain' },
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: `/iam/users/${ids.user}/permissions`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'GET',
        url: `/iam/users/${ids.user}/keys`,
        allowed: [...ADMIN_ONLY, 'userToken'],
        tenantObject: true,
      },
      { method: 'GET', url: '/iam/service-accounts', allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/service-accounts/${ids.sa}`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'GET',
        url: `/iam/service-accounts/${ids.sa}/permissions`,
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: `/iam/service-accounts/${ids.sa}/keys`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'POST',
        url: `/iam/service-accounts/${ids.sa}/keys`,
        body: { validityDays: 0 },
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: '/iam/keys', allowed: [...ADMIN_ONLY, 'userToken'] },
      { method: 'GET', url: `/iam/keys/${ids.key}`, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'PATCH', url: `/iam/keys/${ids.key}`, body: {}, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'GET', url: `/iam/keys/${ids.key}/permissions`, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'GET', url: `/iam/keys/${ids.key}/usage`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'GET',
        url: `/iam/keys/${ids.key}/usage?granularity=day&from=2026-01-01`,
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      {
        method: 'PUT',
        url: `/iam/keys/${ids.key}/assignments`,
        body: {},
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: '/iam/groups', allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/groups/${ids.group}`, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'GET', url: '/iam/roles', allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/roles/${ids.role}`, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'GET', url: '/iam/settings', allowed: ADMIN_ONLY },
      { method: 'PATCH', url: '/iam/settings', body: { userKeyLimit: -1 }, allowed: ADMIN_ONLY },
      { method: 'GET', url: '/iam/audit', allowed: ADMIN_ONLY },
      { method: 'GET', url: '/iam/usage', allowed: ADMIN_ONLY },
      { method: 'GET', url: '/iam/usage?groupBy=principal', allowed: ADMIN_ONLY },
      { method: 'GET', url: '/iam/apis', allowed: ADMIN_ONLY },
      { method: 'POST', url: '/iam/apis', body: {}, allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/apis/${ids.api}`, allowed: ADMIN_ONLY, tenantObject: true },
      { method: 'PATCH', url: `/iam/apis/${ids.api}`, body: {}, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'GET',
        url: `/iam/apis/${ids.api}/postman-collection`,
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      { method: 'GET', url: '/iam/webhooks', allowed: ADMIN_ONLY },
      { method: 'POST', url: '/iam/webhooks', body: {}, allowed: ADMIN_ONLY },
      { method: 'GET', url: `/iam/webhooks/${ids.webhook}`, allowed: ADMIN_ONLY, tenantObject: true },
      {
        method: 'PATCH',
        url: `/iam/webhooks/${ids.webhook}`,
        body: {},
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      {
        method: 'GET',
        url: `/iam/webhooks/${ids.webhook}/deliveries`,
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      {
        method: 'POST',
        url: `/iam/webhooks/${ids.webhook}/test`,
        body: {},
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      {
        method: 'POST',
        url: `/iam/webhooks/${ids.webhook}/secret`,
        body: { secret: 'whsec_bad' },
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      // Single sign-on: one configuration per tenant (no id in the path: another tenant sees its own).
      { method: 'GET', url: '/iam/sso', allowed: ADMIN_ONLY },
      { method: 'PUT', url: '/iam/sso', body: {}, allowed: ADMIN_ONLY },
      { method: 'DELETE', url: '/iam/sso', allowed: ADMIN_ONLY },
      { method: 'POST', url: '/iam/sso/disable-subject', body: {}, allowed: ADMIN_ONLY },
      { method: 'POST', url: '/iam/sso/unlink-subject', body: {}, allowed: ADMIN_ONLY },
      // iam:verify: held through `*` by administrators (api-type keys hold no iam: permission).
      { method: 'POST', url: '/v1/verify', body: {}, allowed: ADMIN_ONLY },
      // iam:leaks:report (administrators through `*`); a GitHub-signed report is tested in leaks.test.ts.
      { method: 'POST', url: '/v1/leaked-keys', body: [], allowed: ADMIN_ONLY },
      {
        method: 'POST',
        url: `/iam/keys/${ids.key}/quarantine/release`,
        body: {},
        allowed: ADMIN_ONLY,
        tenantObject: true,
      },
      ...RESOURCES.flatMap((r): Route[] => [
        {
          method: 'GET',
          url: `/${r.name}/`,
          allowed: ['readOnlyKey', 'readWriteKey', 'apiKey', 'admin', 'wrongTenant'],
        },
        {
          method: 'POST',
          url: `/${r.name}/`,
          body: {},
          allowed: ['readWriteKey', 'apiKey', 'admin', 'wrongTenant'],
        },
      ]),
    ];

    it('allows exactly the callers each route allows', async () => {
      const failures: string[] = [];
      for (const route of routes()) {
        for (const who of EVERYONE) {
          const res = await send(who, route);
          const label = `${route.method} ${route.url} as ${who}: ${res.statusCode} ${res.body.slice(0, 160)}`;
          if (res.statusCode >= 500) failures.push(`5xx! ${label}`);
          const allowed = route.allowed.includes(who);
          if (who === 'anonymous') {
            if (res.statusCode !== 401) failures.push(`expected 401: ${label}`);
          } else if (allowed) {
            if (res.statusCode === 401 || res.statusCode === 403) failures.push(`expected access: ${label}`);
            if (who === 'wrongTenant' && route.tenantObject && res.statusCode < 400)
              failures.push(`cross-tenant leak: ${label}`);
          } else if (res.statusCode !== 403) {
            failures.push(`expected 403: ${label}`);
          }
        }
      }
      expect(failures).toEqual([]);
    });

    it("another tenant gets 404 for this tenant's objects, and its lists hold none of them", async () => {
      for (const route of routes().filter((r) => r.tenantObject && r.method === 'GET')) {
        const res = await send('wrongTenant', route);
        expect(res.statusCode, route.url).toBe(404);
      }
      const keys = (await send('wrongTenant', { method: 'GET', url: '/iam/keys', allowed: [] })).json();
      expect(keys.items.map((k: { accessKeyId: string }) => k.accessKeyId)).not.toContain(ids.key);
      const users = (await send('wrongTenant', { method: 'GET', url: '/iam/users', allowed: [] })).json();
      expect(users.items.map((u: { email: string }) => u.email)).toEqual(['admin@other.example']);
    });

    it('the one-time link route (open, addressed by its token alone) answers every caller of any tenant alike', async () => {
      // A well-formed token no link has: the answer may depend on the token only, never on who asks.
      const url = `/iam/key-reveal/${'A'.repeat(43)}`;
      const answers = new Set<string>();
      for (const who of ['anonymous', 'wrongTenant', 'admin', 'userToken'] as const) {
        for (const method of ['GET', 'POST'] as const) {
          const res = await send(who, { method, url, body: method === 'POST' ? {} : undefined, allowed: [] });
          const { requestId: _, ...error } = res.json().error;
          answers.add(`${method} ${res.statusCode} ${JSON.stringify(error)}`);
        }
      }
      expect([...answers].sort()).toEqual([
        expect.stringMatching(/^GET 404 .*NOT_FOUND/),
        expect.stringMatching(/^POST 404 .*NOT_FOUND/),
      ]);
    });
  });
});
