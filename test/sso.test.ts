/**
 * OIDC single sign-on (issue 17) against a real OpenID Connect provider (`oidc-provider`) on
 * 127.0.0.1: the configuration and its security rules, the full authorization code flow with PKCE
 * driven by plain HTTP (redirects, the IdP's login and consent forms), the one-time code exchanged
 * for a session token, identity mapping (verified email, links, just-in-time users), refusals, and
 * disabling a user by IdP subject (their keys stop).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openClientSecret } from '../src/auth/sso/config.js';
import { SSO_FLOW_SECONDS } from '../src/auth/sso/flow.js';
import { addKeyToFileKeyring, masterKeyPath, pruneFileKeyring } from '../src/crypto/master-key.js';
import { reencryptAll } from '../src/keys/master-key-rotation.js';
import { SSO_PENDING_SIGN_INS_MAX } from '../src/limits.js';
import { exportTenant, importTenant } from '../src/storage/tenant-transfer.js';
import { call, login, startTestApp, type TestApp } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { passThroughIdp, startTestIdp, type TestIdp } from './helpers/oidc-idp.js';
import { msUntil } from './helpers/poll.js';
import { runCli } from './helpers/process.js';
import { signHeaders } from './helpers/sign.js';

const PUBLIC_URL = 'http://latchkey.test';
const CALLBACK = `${PUBLIC_URL}/iam/sso/callback`;

interface Outcome {
  code?: string;
  error?: string;
  message?: string;
}

/** What the console finds in the fragment of the callback's redirect. */
function outcomeOf(location: string | undefined): Outcome {
  expect(location).toMatch(/^\/console\/#/);
  const params = new URLSearchParams((location as string).split('#')[1]);
  return {
    ...(params.get('sso_code') ? { code: params.get('sso_code') as string } : {}),
    ...(params.get('sso_error') ? { error: params.get('sso_error') as string } : {}),
    ...(params.get('sso_message') ? { message: params.get('sso_message') as string } : {}),
  };
}

async function start(t: TestApp, query: string): Promise<{ location: string; cookie: string }> {
  const res = await t.app.inject({ method: 'GET', url: `/iam/sso/start?${query}` });
  expect(res.statusCode).toBe(302);
  const setCookie = String(res.headers['set-cookie'] ?? '');
  return { location: res.headers.location as string, cookie: setCookie.split(';')[0] as string };
}

async function callback(t: TestApp, back: URL, cookie: string) {
  return t.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { cookie } });
}

/** The whole browser journey: start, the IdP's forms as `subject`, the callback. */
async function signIn(t: TestApp, subject: string, query = `tenantId=${t.tenantId}`): Promise<Outcome> {
  const started = await start(t, query);
  expect(started.location.startsWith('http://127.0.0.1:')).toBe(true);
  const back = await passThroughIdp(started.location, subject, CALLBACK);
  const res = await callback(t, back, started.cookie);
  expect(res.statusCode).toBe(302);
  return outcomeOf(res.headers.location as string);
}

async function exchange(t: TestApp, code: string) {
  return call(t, 'POST', '/iam/login', { token: '', body: { auth_mode: 'sso', code } });
}

describeEachEngine('single sign-on (OIDC)', (engine) => {
  describe('against a real OpenID Connect provider', () => {
    let idp: TestIdp;
    beforeAll(async () => {
      idp = await startTestIdp([CALLBACK]);
    });
    afterAll(async () => idp?.close());
    const t = useTestApp(engine, () => ({
      env: { LATCHKEY_SSO_ALLOW_PRIVATE: '1', LATCHKEY_PUBLIC_URL: PUBLIC_URL },
    }));
    const setUp = (extra: Record<string, unknown> = {}, token?: string) =>
      call(t, 'PUT', '/iam/sso', {
        ...(token ? { token } : {}),
        body: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, ...extra },
      });

    it('starts unconfigured, and shows the redirect URI to register', async () => {
      const res = await call(t, 'GET', '/iam/sso');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ configured: false, enabled: false, redirectUri: CALLBACK });
      const started = await t.app.inject({ method: 'GET', url: `/iam/sso/start?tenantId=${t.tenantId}` });
      expect(outcomeOf(started.headers.location as string).error).toBe('SSO_NOT_CONFIGURED');
    });

    it('refuses bad settings with a stable code and stores nothing', async () => {
      const noSecret = await call(t, 'PUT', '/iam/sso', { body: { issuer: idp.issuer, clientId: 'x' } });
      expect(noSecret.statusCode).toBe(400);
      expect(noSecret.json().error.code).toBe('INVALID_SSO_CONFIG');
      const notUrl = await setUp({ issuer: 'not a url at all' });
      expect(notUrl.json().error.code).toBe('INVALID_SSO_CONFIG');
      // Nothing listens on port 9 (discard): discovery fails.
      const dead = await setUp({ issuer: 'http://127.0.0.1:9' });
      expect(dead.statusCode).toBe(400);
      expect(dead.json().error.code).toBe('SSO_DISCOVERY_FAILED');
      const domain = await setUp({ allowedDomains: ['not_a domain'] });
      expect(domain.json().error.code).toBe('INVALID_SSO_CONFIG');
      expect((await call(t, 'GET', '/iam/sso')).json().configured).toBe(false);
    });

    it('saves a provider found by discovery; the client secret is sealed and never returned', async () => {
      const res = await setUp({ allowedDomains: ['Corp.Example'] });
      expect(res.statusCode).toBe(200);
      const view = res.json();
      expect(view).toMatchObject({
        configured: true,
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecretSet: true,
        enabled: true,
        jitEnabled: false,
        allowedDomains: ['corp.example'],
      });
      expect(JSON.stringify(view)).not.toContain(idp.clientSecret);
      expect((await call(t, 'GET', '/iam/sso')).body).not.toContain(idp.clientSecret);
      const row = await t.runtime.svc.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
      expect(row.secret_ciphertext).not.toContain(idp.clientSecret);
      const audit = await call(t, 'GET', '/iam/audit?action=sso.configure');
      expect(audit.json().items).toHaveLength(1);
      expect(audit.body).not.toContain(idp.clientSecret);
      // Later changes may leave the secret out: the stored one stays.
      const again = await call(t, 'PUT', '/iam/sso', {
        body: { issuer: idp.issuer, clientId: idp.clientId, allowedDomains: ['corp.example'] },
      });
      expect(again.statusCode).toBe(200);
    });

    it('follows the security model: choosing the IdP needs *, the JIT group no more than the caller holds', async () => {
      const role = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'SSO settings', permissions: ['iam:settings:read', 'iam:settings:manage'] },
        })
      ).json();
      const manager = (
        await call(t, 'POST', '/iam/users', {
          body: { email: 'settings@corp.example', name: 'Settings', password: 'settings-manager-pw' },
        })
      ).json();
      await call(t, 'PUT', `/iam/users/${manager.id}/assignments`, { body: { roleIds: [role.id] } });
      const token = await login(t, 'settings@corp.example', 'settings-manager-pw');
      const groups = (await call(t, 'GET', '/iam/groups')).json().items as Array<{
        id: string;
        name: string;
      }>;
      const admins = groups.find((g) => g.name === 'Administrators')?.id as string;
      const readers = (await call(t, 'POST', '/iam/groups', { body: { name: 'SSO readers' } })).json().id;
      const readRole = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'Settings reader', permissions: ['iam:settings:read'] },
        })
      ).json().id;
      await call(t, 'PATCH', `/iam/groups/${readers}`, { body: { roleIds: [readRole] } });

      // A new client secret: the IdP can then sign in as anyone (administrators too).
      const secret = await setUp({ allowedDomains: ['corp.example'] }, token);
      expect(secret.statusCode).toBe(403);
      expect(secret.json().error.code).toBe('PRIVILEGE_ESCALATION');
      const widen = await call(t, 'PUT', '/iam/sso', {
        token,
        body: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          allowedDomains: ['corp.example', 'other.example'],
        },
      });
      expect(widen.json().error.code).toBe('PRIVILEGE_ESCALATION');
      // New users into the Administrators group: more than the caller holds.
      const toAdmins = await call(t, 'PUT', '/iam/sso', {
        token,
        body: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          allowedDomains: ['corp.example'],
          jitEnabled: true,
          jitGroupId: admins,
        },
      });
      expect(toAdmins.statusCode).toBe(403);
      expect(toAdmins.json().error.code).toBe('PRIVILEGE_ESCALATION');
      expect((await call(t, 'GET', '/iam/sso')).json().jitGroupId).toBeNull();
      // A group within the caller's holdings: allowed, as is turning sign-in off.
      const toReaders = await call(t, 'PUT', '/iam/sso', {
        token,
        body: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          allowedDomains: ['corp.example'],
          jitEnabled: true,
          jitGroupId: readers,
        },
      });
      expect(toReaders.statusCode).toBe(200);
      expect(toReaders.json()).toMatchObject({ jitEnabled: true, jitGroupId: readers });
      // But turning it back on once off needs `*`.
      const off = await call(t, 'PUT', '/iam/sso', {
        token,
        body: { issuer: idp.issuer, clientId: idp.clientId, enabled: false, jitEnabled: false },
      });
      expect(off.statusCode).toBe(200);
      const on = await call(t, 'PUT', '/iam/sso', {
        token,
        body: { issuer: idp.issuer, clientId: idp.clientId, enabled: true },
      });
      expect(on.json().error.code).toBe('PRIVILEGE_ESCALATION');
      const adminOn = await call(t, 'PUT', '/iam/sso', {
        body: { issuer: idp.issuer, clientId: idp.clientId, enabled: true, allowedDomains: ['corp.example'] },
      });
      expect(adminOn.statusCode).toBe(200);
    });

    it('signs an existing user in: code flow with PKCE, one-time code, token, /iam/me', async () => {
      const alice = (
        await call(t, 'POST', '/iam/users', { body: { email: 'Alice@corp.example', name: 'Alice' } })
      ).json();
      idp.accounts.set('alice-sub', { email: 'alice@corp.example', emailVerified: true });
      const outcome = await signIn(t, 'alice-sub');
      expect(outcome.error).toBeUndefined();
      expect(outcome.code).toMatch(/^[\w-]{43}$/);
      const res = await exchange(t, outcome.code as string);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ token_type: 'Bearer' });
      const me = (await call(t, 'GET', '/iam/me', { token: res.json().token })).json();
      expect(me).toMatchObject({ id: alice.id, email: 'Alice@corp.example', authenticatedWith: 'sso' });
      // The code works once.
      const again = await exchange(t, outcome.code as string);
      expect(again.statusCode).toBe(401);
      expect(again.json().error.code).toBe('INVALID_CREDENTIALS');
      // The link and the sign-in are in the audit log.
      const audit = (await call(t, 'GET', `/iam/audit?targetId=${alice.id}`)).json().items as Array<{
        action: string;
      }>;
      expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['sso.link', 'sso.sign_in']));
      // The second time, the link maps the subject (even though the IdP's email changed).
      idp.accounts.set('alice-sub', { email: 'alice.new@corp.example', emailVerified: false });
      const second = await signIn(t, 'alice-sub');
      expect(second.error).toBeUndefined();
      const me2 = (
        await call(t, 'GET', '/iam/me', { token: (await exchange(t, second.code as string)).json().token })
      ).json();
      expect(me2.id).toBe(alice.id);
    });

    it('a second IdP identity with the same email does not take a linked user over, until unlinked', async () => {
      const alice = (await call(t, 'GET', '/iam/users?search=alice')).json().items[0];
      idp.accounts.set('alice-2', { email: 'alice@corp.example', emailVerified: true });
      expect((await signIn(t, 'alice-2')).error).toBe('SSO_LINK_CONFLICT');
      // Unlinking hands the account to the next holder of the email: not beyond what the caller holds.
      const reader = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'Audit reader', permissions: ['iam:audit:read'] },
        })
      ).json();
      await call(t, 'PUT', `/iam/users/${alice.id}/assignments`, { body: { roleIds: [reader.id] } });
      const usersRole = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'User manager', permissions: ['iam:users:read', 'iam:users:manage'] },
        })
      ).json();
      const manager = (
        await call(t, 'POST', '/iam/users', {
          body: { email: 'users@corp.example', name: 'Users', password: 'user-manager-password' },
        })
      ).json();
      await call(t, 'PUT', `/iam/users/${manager.id}/assignments`, { body: { roleIds: [usersRole.id] } });
      const managerToken = await login(t, 'users@corp.example', 'user-manager-password');
      const refused = await call(t, 'POST', '/iam/sso/unlink-subject', {
        token: managerToken,
        body: { subject: 'alice-sub' },
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('PRIVILEGE_ESCALATION');
      const unlinked = await call(t, 'POST', '/iam/sso/unlink-subject', { body: { subject: 'alice-sub' } });
      expect(unlinked.statusCode).toBe(204);
      const outcome = await signIn(t, 'alice-2');
      const me = (
        await call(t, 'GET', '/iam/me', { token: (await exchange(t, outcome.code as string)).json().token })
      ).json();
      expect(me.id).toBe(alice.id);
      expect(
        (await call(t, 'POST', '/iam/sso/unlink-subject', { body: { subject: 'alice-2' } })).statusCode,
      ).toBe(204);
      const again = await call(t, 'POST', '/iam/sso/unlink-subject', { body: { subject: 'alice-2' } });
      expect(again.statusCode).toBe(404);
      const audit = (await call(t, 'GET', '/iam/audit?action=sso.unlink')).json().items;
      expect(audit).toHaveLength(2);
    });

    it('finds the tenant by email domain', async () => {
      idp.accounts.set('dora-sub', { email: 'dora@corp.example', emailVerified: true });
      await call(t, 'POST', '/iam/users', { body: { email: 'dora@corp.example', name: 'Dora' } });
      const outcome = await signIn(t, 'dora-sub', 'email=dora%40corp.example');
      expect(outcome.code).toBeDefined();
      const unknown = await t.app.inject({ method: 'GET', url: '/iam/sso/start?email=x%40nowhere.example' });
      expect(outcomeOf(unknown.headers.location as string).error).toBe('SSO_NOT_CONFIGURED');
    });

    it('a one-time code expires after a minute', async () => {
      idp.accounts.set('alice-sub', { email: 'alice@corp.example', emailVerified: true });
      const outcome = await signIn(t, 'alice-sub');
      t.clock.advance(61_000);
      const res = await exchange(t, outcome.code as string);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('INVALID_CREDENTIALS');
    });

    it('caps the sign-ins under way per tenant: a flood of anonymous starts stores no more', async () => {
      const { db } = t.runtime.svc;
      const pending = async () =>
        Number(
          (
            await db
              .selectFrom('sso_flows')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('tenant_id', '=', t.tenantId)
              .executeTakeFirstOrThrow()
          ).n,
        );
      await db.deleteFrom('sso_flows').execute();
      const expires = new Date(t.clock.now().getTime() + SSO_FLOW_SECONDS * 1000).toISOString();
      for (let batch = 0; batch < SSO_PENDING_SIGN_INS_MAX / 1000; batch++) {
        await db
          .insertInto('sso_flows')
          .values(
            Array.from({ length: 1000 }, (_, i) => ({
              state_hash: `flood-${batch}-${i}`,
              tenant_id: t.tenantId,
              issuer: idp.issuer,
              verifier_ciphertext: 'x',
              master_key_version: 1,
              nonce: 'n',
              expires_at: expires,
            })),
          )
          .execute();
      }
      const refused = await t.app.inject({ method: 'GET', url: `/iam/sso/start?tenantId=${t.tenantId}` });
      expect(refused.statusCode).toBe(302);
      expect(outcomeOf(refused.headers.location as string).error).toBe('SSO_BUSY');
      expect(refused.headers['set-cookie']).toBeUndefined();
      expect(await pending()).toBe(SSO_PENDING_SIGN_INS_MAX);
      // Once they have expired they are pruned, and sign-in starts again.
      t.clock.advance(SSO_FLOW_SECONDS * 1000 + 1000);
      const started = await start(t, `tenantId=${t.tenantId}`);
      expect(started.location.startsWith('http://127.0.0.1:')).toBe(true);
      expect(await pending()).toBe(1);
    });

    it('refuses a callback from another browser (state cookie), and a replayed one', async () => {
      idp.accounts.set('alice-sub', { email: 'alice@corp.example', emailVerified: true });
      const started = await start(t, `tenantId=${t.tenantId}`);
      const back = await passThroughIdp(started.location, 'alice-sub', CALLBACK);
      const other = await start(t, `tenantId=${t.tenantId}`);
      const wrong = await callback(t, back, other.cookie);
      expect(outcomeOf(wrong.headers.location as string).error).toBe('SSO_STATE_INVALID');
      const none = await t.app.inject({ method: 'GET', url: `${back.pathname}${back.search}` });
      expect(outcomeOf(none.headers.location as string).error).toBe('SSO_STATE_INVALID');
      const tampered = new URL(back);
      tampered.searchParams.set('state', 'x'.repeat(43));
      const bad = await callback(t, tampered, `latchkey_sso_state=${'x'.repeat(43)}`);
      expect(outcomeOf(bad.headers.location as string).error).toBe('SSO_STATE_INVALID');
      const right = await callback(t, back, started.cookie);
      expect(outcomeOf(right.headers.location as string).code).toBeDefined();
      const replay = await callback(t, back, started.cookie);
      expect(outcomeOf(replay.headers.location as string).error).toBe('SSO_STATE_INVALID');
    });

    it('refuses an email the IdP has not verified, and unknown emails without JIT', async () => {
      await call(t, 'POST', '/iam/users', { body: { email: 'eve@corp.example', name: 'Eve' } });
      idp.accounts.set('eve-sub', { email: 'eve@corp.example', emailVerified: false });
      const outcome = await signIn(t, 'eve-sub');
      expect(outcome.error).toBe('SSO_EMAIL_NOT_VERIFIED');
      expect(outcome.code).toBeUndefined();
      idp.accounts.set('nobody-sub', { email: 'nobody@corp.example', emailVerified: true });
      expect((await signIn(t, 'nobody-sub')).error).toBe('SSO_NO_ACCOUNT');
      // Outside the accepted domains, even with a user of that email.
      await call(t, 'POST', '/iam/users', { body: { email: 'out@elsewhere.example', name: 'Out' } });
      idp.accounts.set('out-sub', { email: 'out@elsewhere.example', emailVerified: true });
      expect((await signIn(t, 'out-sub')).error).toBe('SSO_NO_ACCOUNT');
    });

    it('refuses disabled users and API users', async () => {
      const bob = (
        await call(t, 'POST', '/iam/users', { body: { email: 'bob@corp.example', name: 'Bob' } })
      ).json();
      await call(t, 'PATCH', `/iam/users/${bob.id}`, { body: { status: 'disabled' } });
      idp.accounts.set('bob-sub', { email: 'bob@corp.example', emailVerified: true });
      expect((await signIn(t, 'bob-sub')).error).toBe('USER_DISABLED');
      const api = (
        await call(t, 'POST', '/iam/users', { body: { email: 'api@corp.example', name: 'Api' } })
      ).json();
      await call(t, 'PATCH', `/iam/users/${api.id}`, { body: { apiUser: true } });
      idp.accounts.set('api-sub', { email: 'api@corp.example', emailVerified: true });
      expect((await signIn(t, 'api-sub')).error).toBe('API_USER_PASSWORD_LOGIN');
    });

    it('an account the IdP no longer knows cannot finish its sign-in', async () => {
      idp.accounts.set('gone-sub', { email: 'alice@corp.example', emailVerified: true });
      const started = await start(t, `tenantId=${t.tenantId}`);
      const back = await passThroughIdp(started.location, 'gone-sub', CALLBACK);
      idp.accounts.delete('gone-sub');
      const res = await callback(t, back, started.cookie);
      const outcome = outcomeOf(res.headers.location as string);
      expect(outcome.code).toBeUndefined();
      expect(outcome.error).toBe('SSO_FAILED');
    });

    it('creates unknown users just in time, into the chosen group', async () => {
      const group = (await call(t, 'POST', '/iam/groups', { body: { name: 'SSO newcomers' } })).json();
      const put = await call(t, 'PUT', '/iam/sso', {
        body: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          allowedDomains: ['corp.example'],
          jitEnabled: true,
          jitGroupId: group.id,
        },
      });
      expect(put.statusCode).toBe(200);
      idp.accounts.set('new-sub', { email: 'newcomer@corp.example', emailVerified: true, name: 'New Comer' });
      const outcome = await signIn(t, 'new-sub');
      expect(outcome.error).toBeUndefined();
      const token = (await exchange(t, outcome.code as string)).json().token;
      const me = (await call(t, 'GET', '/iam/me', { token })).json();
      expect(me).toMatchObject({ email: 'newcomer@corp.example', name: 'New Comer', hasPassword: false });
      expect(me.groups.map((g: { id: string }) => g.id)).toEqual([group.id]);
      // An unverified email is never created.
      idp.accounts.set('unverified-sub', { email: 'ghost@corp.example', emailVerified: false });
      expect((await signIn(t, 'unverified-sub')).error).toBe('SSO_EMAIL_NOT_VERIFIED');
      const users = (await call(t, 'GET', '/iam/users?search=ghost')).json();
      expect(users.total).toBe(0);
    });

    it('disable by IdP subject: the linked user stops, keys and sessions alike', async () => {
      const carol = (
        await call(t, 'POST', '/iam/users', { body: { email: 'carol@corp.example', name: 'Carol' } })
      ).json();
      idp.accounts.set('carol-sub', { email: 'carol@corp.example', emailVerified: true });
      const token = (await exchange(t, (await signIn(t, 'carol-sub')).code as string)).json().token;
      // Carol makes her own key from her single sign-on session (self-service, as with a password).
      const created = await call(t, 'POST', `/iam/users/${carol.id}/keys`, { token, body: {} });
      expect(created.statusCode, created.body).toBe(201);
      const key = created.json();
      const creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      const signed = async (on: TestApp = t) =>
        on.app.inject({
          method: 'GET',
          url: '/profile',
          headers: await signHeaders(creds, {
            method: 'GET',
            path: '/profile',
            host: 'lk.test',
            date: t.clock.now(),
          }),
        });
      // A second instance of the same deployment, its key cache warm.
      const second = await startTestApp(engine, { db: t.db, clock: t.clock, env: t.env });
      onTestFinished(() => second.close());
      expect((await signed(second)).statusCode).toBe(200);
      expect((await signed()).statusCode).toBe(200);
      expect((await call(t, 'GET', '/iam/me', { token })).statusCode).toBe(200);

      // Another tenant's administrator cannot reach this tenant's subjects.
      const other = await secondTenantAdmin(t, 'admin@sso-other.example');
      const cross = await call(t, 'POST', '/iam/sso/disable-subject', {
        token: other.token,
        body: { subject: 'carol-sub' },
      });
      expect(cross.statusCode).toBe(404);
      expect((await call(t, 'GET', '/iam/sso', { token: other.token })).json().configured).toBe(false);
      expect((await signed()).statusCode).toBe(200);

      const unknown = await call(t, 'POST', '/iam/sso/disable-subject', { body: { subject: 'nobody' } });
      expect(unknown.statusCode).toBe(404);
      const res = await call(t, 'POST', '/iam/sso/disable-subject', { body: { subject: 'carol-sub' } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ id: carol.id, email: 'carol@corp.example', status: 'disabled' });
      const after = await signed();
      expect(after.statusCode).toBe(403);
      expect(after.json().error.code).toBe('AccessKeyInactive');
      // The other instance follows within a second.
      const ms = await msUntil(async () => {
        const res = await signed(second);
        return res.statusCode !== 200 && res.json().error.code === 'AccessKeyInactive';
      });
      expect(ms).toBeLessThan(1000);
      expect((await call(t, 'GET', '/iam/me', { token })).statusCode).toBe(401);
      expect((await signIn(t, 'carol-sub')).error).toBe('USER_DISABLED');
      const audit = (await call(t, 'GET', '/iam/audit?action=sso.disable_subject')).json().items;
      expect(audit).toHaveLength(1);
    });

    // One engine: each CLI run starts a process.
    it.skipIf(engine !== 'sqlite')(
      'the operator CLI shows the configuration and disables by subject',
      async () => {
        await call(t, 'POST', '/iam/users', { body: { email: 'fred@corp.example', name: 'Fred' } });
        idp.accounts.set('fred-sub', { email: 'fred@corp.example', emailVerified: true });
        const token = (await exchange(t, (await signIn(t, 'fred-sub')).code as string)).json().token;
        const shown = await runCli(['sso', 'show', '--json'], t.env);
        expect(shown.code, shown.stderr).toBe(0);
        expect(JSON.parse(shown.stdout)).toMatchObject({ configured: true, issuer: idp.issuer });
        expect(shown.stdout).not.toContain(idp.clientSecret);
        const off = await runCli(['sso', 'disable-subject', 'fred-sub', '--json'], t.env);
        expect(off.code, off.stderr).toBe(0);
        expect(JSON.parse(off.stdout)).toMatchObject({ email: 'fred@corp.example', status: 'disabled' });
        // The running server follows the CLI's change.
        await expect
          .poll(async () => (await call(t, 'GET', '/iam/me', { token })).statusCode, { timeout: 3000 })
          .toBe(401);
      },
    );

    it('master key rotation re-seals the client secret; sign-in works after the old key is pruned', async () => {
      const file = masterKeyPath(t.db.dataDir);
      const version = addKeyToFileKeyring(file);
      const counts = await reencryptAll(t.runtime.svc);
      expect(counts.ssoSecrets).toBe(1);
      const row = await t.runtime.svc.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
      expect(row.master_key_version).toBe(version);
      pruneFileKeyring(file);
      idp.accounts.set('alice-sub', { email: 'alice@corp.example', emailVerified: true });
      const outcome = await signIn(t, 'alice-sub');
      expect(outcome.error).toBeUndefined();
      expect((await exchange(t, outcome.code as string)).statusCode).toBe(200);
    });

    it('moves with the tenant: the client secret sealed again under the target’s master key, the links kept', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-sso-move-'));
      const file = path.join(dir, 'tenant.lkexport');
      const passphrase = 'moving-day passphrase 2026';
      const target = await startTestApp(engine);
      onTestFinished(async () => {
        await target.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      await exportTenant(t.runtime.svc, { tenantId: t.tenantId, file, passphrase });
      expect(fs.readFileSync(file).toString('latin1')).not.toContain(idp.clientSecret);
      await importTenant(target.runtime.svc, { file, passphrase, tenantName: 'Moved' });
      const row = await target.runtime.svc.db
        .selectFrom('sso_configs')
        .selectAll()
        .where('tenant_id', '=', t.tenantId)
        .executeTakeFirstOrThrow();
      expect(openClientSecret(target.runtime.svc, row)).toBe(idp.clientSecret);
      const links = async (on: TestApp) =>
        (
          await on.runtime.svc.db
            .selectFrom('sso_identities')
            .select(['subject', 'user_id'])
            .where('tenant_id', '=', t.tenantId)
            .orderBy('subject')
            .execute()
        ).map((l) => `${l.subject}:${l.user_id}`);
      expect((await links(t)).length).toBeGreaterThan(3);
      expect(await links(target)).toEqual(await links(t));
    });

    it('removing the configuration stops sign-in', async () => {
      const res = await call(t, 'DELETE', '/iam/sso');
      expect(res.statusCode).toBe(204);
      expect((await call(t, 'GET', '/iam/sso')).json().configured).toBe(false);
      const started = await t.app.inject({ method: 'GET', url: `/iam/sso/start?tenantId=${t.tenantId}` });
      expect(outcomeOf(started.headers.location as string).error).toBe('SSO_NOT_CONFIGURED');
      expect((await call(t, 'DELETE', '/iam/sso')).statusCode).toBe(404);
    });
  });

  describe('without LATCHKEY_SSO_ALLOW_PRIVATE', () => {
    const t = useTestApp(engine);
    it('refuses an identity provider on a loopback or http:// address', async () => {
      const body = { issuer: 'https://127.0.0.1:8443', clientId: 'c', clientSecret: 's' };
      const res = await call(t, 'PUT', '/iam/sso', { body });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('SSO_ADDRESS_REFUSED');
      const http = await call(t, 'PUT', '/iam/sso', { body: { ...body, issuer: 'http://idp.example.com' } });
      expect(http.json().error.code).toBe('SSO_ADDRESS_REFUSED');
      expect((await call(t, 'GET', '/iam/sso')).json().configured).toBe(false);
    });
  });
});
