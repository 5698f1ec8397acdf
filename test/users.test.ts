import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  call,
  createUserWithLogin,
  login,
  loginWithKey,
} from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describeEachEngine('users, service accounts and API users', (engine) => {
  describe('identity', () => {
    const t = useTestApp(engine);
    let adminGroupId: string;
    beforeAll(async () => {
      adminGroupId = (await call(t, 'GET', '/iam/groups'))
        .json()
        .items.find((g: { name: string }) => g.name === 'Administrators').id;
    });

    it('creates, finds, searches, updates and deletes users; emails are unique per tenant', async () => {
      const created = await call(t, 'POST', '/iam/users', {
        body: { email: 'Carol@Example.com', name: 'Carol' },
      });
      expect(created.statusCode).toBe(201);
      const carol = created.json();
      expect(carol).toMatchObject({
        email: 'Carol@Example.com',
        status: 'active',
        apiUser: false,
        hasPassword: false,
        tenantId: t.tenantId,
      });
      expect(carol.password_hash).toBeUndefined();
      const dup = await call(t, 'POST', '/iam/users', {
        body: { email: 'carol@example.COM', name: 'Other' },
      });
      expect(dup.statusCode).toBe(409);
      expect(dup.json().error.code).toBe('ALREADY_EXISTS');
      const found = await call(t, 'GET', '/iam/users?search=caro');
      expect(found.json().items.map((u: { id: string }) => u.id)).toEqual([carol.id]);
      const renamed = await call(t, 'PATCH', `/iam/users/${carol.id}`, { body: { name: 'Carol K.' } });
      expect(renamed.json().name).toBe('Carol K.');
      expect((await call(t, 'DELETE', `/iam/users/${carol.id}`)).statusCode).toBe(204);
      expect((await call(t, 'GET', `/iam/users/${carol.id}`)).statusCode).toBe(404);
    });

    it('a user without a password cannot sign in; a disabled user cannot; wrong passwords are 401', async () => {
      const res = await call(t, 'POST', '/iam/users', {
        body: { email: 'nopw@example.com', name: 'No Password' },
      });
      const id = res.json().id;
      const attempt = (password: string) =>
        call(t, 'POST', '/iam/login', {
          token: '',
          body: { auth_mode: 'password', email: 'nopw@example.com', password },
        });
      expect((await attempt('whatever-password')).json().error.code).toBe('INVALID_CREDENTIALS');
      await call(t, 'PATCH', `/iam/users/${id}`, { body: { password: 'now-it-has-one-1' } });
      expect((await attempt('now-it-has-one-1')).statusCode).toBe(200);
      expect((await attempt('not-the-password')).statusCode).toBe(401);
      await call(t, 'PATCH', `/iam/users/${id}`, { body: { status: 'disabled' } });
      const disabled = await attempt('now-it-has-one-1');
      expect(disabled.statusCode).toBe(403);
      expect(disabled.json().error.code).toBe('USER_DISABLED');
    });

    it('a session ends when its user is disabled', async () => {
      const u = await createUserWithLogin(t, 'ends@example.com');
      expect((await call(t, 'GET', '/iam/me', { token: u.token })).statusCode).toBe(200);
      await call(t, 'PATCH', `/iam/users/${u.id}`, { body: { status: 'disabled' } });
      const me = await call(t, 'GET', '/iam/me', { token: u.token });
      expect(me.statusCode).toBe(401);
      expect(me.json().error.code).toBe('INVALID_TOKEN');
    });

    it('API Secret Key flow: the user becomes an API user, keys work, password sign-in gets 403 until turned back', async () => {
      const u = await createUserWithLogin(t, 'api@example.com', 'api-user-password-1');
      const created = await call(t, 'POST', `/iam/users/${u.id}/keys`, {
        body: { name: 'API Secret Key', apiUser: true },
      });
      expect(created.statusCode).toBe(201);
      const { accessKeyId, secretAccessKey } = created.json();
      expect((await call(t, 'GET', `/iam/users/${u.id}`)).json().apiUser).toBe(true);
      const pw = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'password', email: 'api@example.com', password: 'api-user-password-1' },
      });
      expect(pw.statusCode).toBe(403);
      expect(pw.json().error.code).toBe('API_USER_PASSWORD_LOGIN');
      // The session opened before the change has ended too.
      expect((await call(t, 'GET', '/iam/me', { token: u.token })).json().error.code).toBe('INVALID_TOKEN');
      expect((await loginWithKey(t, accessKeyId, secretAccessKey)).statusCode).toBe(200);
      // A wrong password still says 401, not 403: the API-user status is not revealed to guessers.
      const wrong = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'password', email: 'api@example.com', password: 'wrong-password-123' },
      });
      expect(wrong.statusCode).toBe(401);
      await call(t, 'PATCH', `/iam/users/${u.id}`, { body: { apiUser: false } });
      expect((await login(t, 'api@example.com', 'api-user-password-1')).length).toBeGreaterThan(20);
    });

    it('users who create their own keys stay interactive', async () => {
      const u = await createUserWithLogin(t, 'self@example.com', 'self-service-pass');
      expect(
        (await call(t, 'POST', `/iam/users/${u.id}/keys`, { token: u.token, body: {} })).statusCode,
      ).toBe(201);
      const denied = await call(t, 'POST', `/iam/users/${u.id}/keys`, {
        token: u.token,
        body: { apiUser: true },
      });
      expect(denied.statusCode).toBe(403);
      expect((await call(t, 'GET', `/iam/users/${u.id}`)).json().apiUser).toBe(false);
      expect((await login(t, 'self@example.com', 'self-service-pass')).length).toBeGreaterThan(20);
    });

    it('the last administrator can never be made an API user, disabled, deleted or removed from Administrators', async () => {
      const admin = t.adminId;
      for (const [method, url, body] of [
        ['POST', `/iam/users/${admin}/keys`, { apiUser: true }],
        ['PATCH', `/iam/users/${admin}`, { apiUser: true }],
        ['PATCH', `/iam/users/${admin}`, { status: 'disabled' }],
        ['DELETE', `/iam/users/${admin}`, undefined],
        ['PUT', `/iam/users/${admin}/assignments`, { groupIds: [] }],
        ['DELETE', `/iam/groups/${adminGroupId}/members/user/${admin}`, undefined],
      ] as const) {
        const res = await call(t, method, url, { body });
        expect(res.statusCode, `${method} ${url}`).toBe(409);
        expect(res.json().error.code).toBe('LAST_ADMINISTRATOR');
      }
      const me = (await call(t, 'GET', `/iam/users/${admin}`)).json();
      expect(me).toMatchObject({ apiUser: false, status: 'active', isAdministrator: true });
      expect((await call(t, 'GET', `/iam/users/${admin}/keys`)).json().total).toBe(0);

      // With a second administrator, the first may become an API user.
      const second = await createUserWithLogin(t, 'admin2@example.com');
      await call(t, 'POST', `/iam/groups/${adminGroupId}/members`, { body: { type: 'user', id: second.id } });
      const flow = await call(t, 'POST', `/iam/users/${admin}/keys`, {
        token: second.token,
        body: { apiUser: true },
      });
      expect(flow.statusCode).toBe(201);
      const last = await call(t, 'PATCH', `/iam/users/${second.id}`, {
        token: second.token,
        body: { apiUser: true },
      });
      expect(last.json().error.code).toBe('LAST_ADMINISTRATOR');
      await call(t, 'PATCH', `/iam/users/${admin}`, { token: second.token, body: { apiUser: false } });
      await call(t, 'DELETE', `/iam/keys/${flow.json().accessKeyId}`, { token: second.token });
      t.adminToken = await login(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    });

    it('non-administrators cannot manage users', async () => {
      const u = await createUserWithLogin(t, 'plain@example.com');
      const res = await call(t, 'POST', '/iam/users', {
        token: u.token,
        body: { email: 'x@example.com', name: 'X' },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toMatchObject({
        code: 'AccessDenied',
        missingPermission: 'iam:users:manage',
      });
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(403);
      // …but can see and edit themselves.
      expect((await call(t, 'GET', '/iam/me', { token: u.token })).json().email).toBe('plain@example.com');
      const renamed = await call(t, 'PATCH', '/iam/me', { token: u.token, body: { name: 'Plain Jane' } });
      expect(renamed.json().name).toBe('Plain Jane');
      const noCurrent = await call(t, 'PATCH', '/iam/me', {
        token: u.token,
        body: { password: 'a-brand-new-password' },
      });
      expect(noCurrent.statusCode).toBe(401);
      const changed = await call(t, 'PATCH', '/iam/me', {
        token: u.token,
        body: { password: 'a-brand-new-password', currentPassword: 'a-long-enough-password' },
      });
      expect(changed.statusCode).toBe(200);
      expect((await login(t, 'plain@example.com', 'a-brand-new-password')).length).toBeGreaterThan(20);
    });

    it('service accounts: CRUD, unique names, never sign in with a password, keys and deletion take keys along', async () => {
      const res = await call(t, 'POST', '/iam/service-accounts', {
        body: { name: 'billing-sync', email: 'ops@example.com' },
      });
      expect(res.statusCode).toBe(201);
      const sa = res.json();
      expect(sa).toMatchObject({ name: 'billing-sync', email: 'ops@example.com', status: 'active' });
      expect(
        (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'billing-sync' } })).statusCode,
      ).toBe(409);
      const login = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'password', email: 'ops@example.com', password: 'anything-at-all' },
      });
      expect(login.statusCode).toBe(401);
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const token = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      const profile = await call(t, 'GET', '/profile', { token });
      expect(profile.json()).toMatchObject({
        tenantId: t.tenantId,
        principal: { type: 'service_account', id: sa.id },
        accessKeyId: key.accessKeyId,
      });
      const patched = await call(t, 'PATCH', `/iam/service-accounts/${sa.id}`, {
        body: { email: null, status: 'disabled' },
      });
      expect(patched.json()).toMatchObject({ email: null, status: 'disabled' });
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().error.code).toBe(
        'KEY_INACTIVE',
      );
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(401);
      expect((await call(t, 'DELETE', `/iam/service-accounts/${sa.id}`)).statusCode).toBe(204);
      expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(404);
    });
  });
});
