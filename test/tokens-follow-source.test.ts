/**
 * Tokens follow their source on every request (issue 12, finding 3): a key token stops when its
 * key's secret is regenerated (after the grace period) and never does more than its key may do
 * now; a password session ends when the password changes, the user is disabled or becomes an API
 * user, whoever made the change (the user, an administrator, the operator CLI).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { actorFromToken } from '../src/auth/login.js';
import { call, createUserWithLogin, login, loginWithKey, startTestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';

describeEachEngine('tokens follow their source', (engine) => {
  describe('key tokens and password sessions', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });
    let roles: Record<string, string>;
    let serial = 0;

    beforeAll(async () => {
      roles = Object.fromEntries(
        ((await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>).map(
          (r) => [r.name, r.id],
        ),
      );
    });

    /** A user holding `roleNames`, a key of theirs and a token exchanged for it. */
    const keyToken = async (roleNames: string[], keyRoles?: string[]) => {
      const user = await createUserWithLogin(t, `token-${++serial}@example.com`);
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, {
        body: { roleIds: roleNames.map((r) => roles[r]) },
      });
      const key = (
        await call(t, 'POST', `/iam/users/${user.id}/keys`, {
          body: keyRoles ? { roleIds: keyRoles.map((r) => roles[r]) } : {},
        })
      ).json();
      const res = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      expect(res.statusCode, res.body).toBe(200);
      return { user, key, token: res.json().token as string };
    };
    const agents = (token: string) => call(t, 'GET', '/agent/', { token });
    const newAgent = (token: string) =>
      call(t, 'POST', '/agent', { token, body: { code: `T${++serial}`, description: 'Token test' } });

    it('a key token verified before, whose key is cached, is answered at once (no promise), and still follows its key', async () => {
      const { key, token } = await keyToken(['DataReadOnly']);
      const request = { sourceIp: '127.0.0.1', requestId: 'r', method: 'GET' };
      // The token is new (issuing one does not verify it) and its key is dropped from the cache.
      t.runtime.keys.invalidate(key.accessKeyId);
      const cold = actorFromToken(t.runtime, token, request);
      expect(cold).toBeInstanceOf(Promise);
      expect(await cold).toMatchObject({ actor: { accessKeyId: key.accessKeyId, via: 'key' } });
      const warm = actorFromToken(t.runtime, token, request);
      expect(warm).not.toBeInstanceOf(Promise);
      expect(warm).toMatchObject({ actor: { accessKeyId: key.accessKeyId, via: 'key' } });
      // Deactivating the key drops it from the cache: looked up again, and refused.
      const off = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
      expect(off.statusCode).toBe(200);
      await expect(actorFromToken(t.runtime, token, request)).rejects.toMatchObject({
        code: 'INVALID_TOKEN',
      });
      // Now cached as inactive: refused at once, by a throw rather than a promise.
      expect(() => actorFromToken(t.runtime, token, request)).toThrow(/its access key is inactive/);
    });

    it('a key token stops at once when its secret is regenerated without a grace period', async () => {
      const { key, token } = await keyToken(['DataReadOnly']);
      expect((await agents(token)).statusCode).toBe(200);
      const rotated = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
      expect(rotated.statusCode).toBe(200);
      const res = await agents(token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toMatchObject({ code: 'INVALID_TOKEN' });
      expect(res.json().error.message).toMatch(/new secret key/);
      // A token exchanged for the new secret works.
      const fresh = await loginWithKey(t, key.accessKeyId, rotated.json().secretAccessKey);
      expect((await agents(fresh.json().token)).statusCode).toBe(200);
    });

    it('with a grace period, the old key token works until the old secret stops', async () => {
      const { key, token } = await keyToken(['DataReadOnly']);
      await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: { graceSeconds: 120 } });
      expect((await agents(token)).statusCode).toBe(200);
      t.clock.advance(121_000);
      try {
        expect((await agents(token)).statusCode).toBe(401);
      } finally {
        t.clock.advance(-121_000);
      }
    });

    it("cutting the key's roles cuts its tokens at once, and widening never widens them", async () => {
      const { key, token } = await keyToken(['DataReadWrite'], ['DataReadWrite']);
      expect((await newAgent(token)).statusCode).toBe(201);
      await call(t, 'PUT', `/iam/keys/${key.accessKeyId}/assignments`, {
        body: { roleIds: [roles.DataReadOnly] },
      });
      const write = await newAgent(token);
      expect(write.statusCode).toBe(403);
      expect(write.json().error.code).toBe('AccessDenied');
      expect((await agents(token)).statusCode).toBe(200);
      // Back to read-write: a token issued while the key could only read stays read-only.
      const narrow = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      await call(t, 'PUT', `/iam/keys/${key.accessKeyId}/assignments`, {
        body: { roleIds: [roles.DataReadWrite] },
      });
      expect((await newAgent(narrow.json().token)).statusCode).toBe(403);
      const profile = await call(t, 'GET', '/profile', { token: narrow.json().token });
      expect(profile.json().permissions).not.toContain('agent:write');
    });

    it("cutting the owner's roles cuts the owner's key tokens at once", async () => {
      const { user, token } = await keyToken(['DataReadWrite']);
      expect((await newAgent(token)).statusCode).toBe(201);
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [roles.DataReadOnly] } });
      expect((await newAgent(token)).statusCode).toBe(403);
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [] } });
      expect((await agents(token)).statusCode).toBe(403);
    });

    it('a new password ends earlier sessions (by the user, an administrator or the CLI); the user gets a new one', async () => {
      const user = await createUserWithLogin(t, `pw-${++serial}@example.com`, 'first-password-123');
      const email = `pw-${serial}@example.com`;
      const other = await login(t, email, 'first-password-123');
      const changed = await call(t, 'PATCH', '/iam/me', {
        token: user.token,
        body: { password: 'second-password-123', currentPassword: 'first-password-123' },
      });
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.headers['cache-control']).toBe('no-store');
      for (const old of [user.token, other]) {
        const res = await call(t, 'GET', '/iam/me', { token: old });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.message).toMatch(/password was changed/);
      }
      const session = changed.json().session;
      expect(session).toMatchObject({ token_type: 'Bearer' });
      expect((await call(t, 'GET', '/iam/me', { token: session.token })).statusCode).toBe(200);

      // An administrator sets it.
      await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { password: 'third-password-1234' } });
      expect((await call(t, 'GET', '/iam/me', { token: session.token })).statusCode).toBe(401);

      // The operator resets it from the host (another process).
      const third = await login(t, email, 'third-password-1234');
      const cli = await runCli(
        ['admin', 'reset-password', '--email', email, '--password', 'fourth-password-123'],
        {
          ...t.env,
          LOG_LEVEL: 'warn',
        },
      );
      expect(cli.code, cli.stderr).toBe(0);
      await expect
        .poll(async () => (await call(t, 'GET', '/iam/me', { token: third })).statusCode, {
          timeout: 1000,
          interval: 50,
        })
        .toBe(401);
      expect(
        (await call(t, 'GET', '/iam/me', { token: await login(t, email, 'fourth-password-123') })).statusCode,
      ).toBe(200);
    });

    it('disabling a user, or making it an API user, ends its sessions for good (re-enabling does not revive them)', async () => {
      for (const [off, on] of [
        [{ status: 'disabled' }, { status: 'active' }],
        [{ apiUser: true }, { apiUser: false }],
      ] as const) {
        const user = await createUserWithLogin(t, `off-${++serial}@example.com`);
        expect((await call(t, 'PATCH', `/iam/users/${user.id}`, { body: off })).statusCode).toBe(200);
        expect((await call(t, 'GET', '/iam/me', { token: user.token })).statusCode).toBe(401);
        expect((await call(t, 'PATCH', `/iam/users/${user.id}`, { body: on })).statusCode).toBe(200);
        expect((await call(t, 'GET', '/iam/me', { token: user.token })).statusCode).toBe(401);
      }
    });

    it('on every instance within 1 s: a secret regenerated or a password changed on one ends tokens on the other', async () => {
      const other = await startTestApp(engine, {
        db: t.db,
        clock: t.clock,
        env: { LATCHKEY_DEMO_DATA: '1' },
      });
      try {
        const { key, token } = await keyToken(['DataReadOnly']);
        const user = await createUserWithLogin(t, `multi-${++serial}@example.com`, 'multi-password-123');
        // Both instances have the key and the user cached.
        for (const app of [t, other]) {
          expect((await call(app, 'GET', '/agent/', { token })).statusCode).toBe(200);
          expect((await call(app, 'GET', '/iam/me', { token: user.token })).statusCode).toBe(200);
        }
        await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
        await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { password: 'multi-password-456' } });
        const started = Date.now();
        await expect
          .poll(async () => (await call(other, 'GET', '/agent/', { token })).statusCode, {
            timeout: 1000,
            interval: 25,
          })
          .toBe(401);
        await expect
          .poll(async () => (await call(other, 'GET', '/iam/me', { token: user.token })).statusCode, {
            timeout: 1000,
            interval: 25,
          })
          .toBe(401);
        expect(Date.now() - started).toBeLessThan(1000);
      } finally {
        await other.close();
      }
    });

    it('a name change does not end sessions', async () => {
      const user = await createUserWithLogin(t, `name-${++serial}@example.com`);
      await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { name: 'Renamed' } });
      await call(t, 'PATCH', '/iam/me', { token: user.token, body: { name: 'Renamed again' } });
      expect((await call(t, 'GET', '/iam/me', { token: user.token })).statusCode).toBe(200);
    });
  });
});
