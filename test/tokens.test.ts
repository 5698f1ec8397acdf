import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { SigningKeys } from '../src/auth/tokens/signing-keys.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, loginWithKey } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describeEachEngine('POST /iam/login and tokens', (engine) => {
  describe('tokens', () => {
    const t = useTestApp(engine);
    let key: { accessKeyId: string; secretAccessKey: string };
    beforeAll(async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'tok' } })).json();
      key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
    });

    it('password mode answers {token, token_type, expires_in} with the tenant token lifetime', async () => {
      const res = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({ token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    });

    it('apikey mode works as JSON and as form fields (ForePaaS samples send both)', async () => {
      const json = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      expect(json.statusCode).toBe(200);
      const form = await t.app.inject({
        method: 'POST',
        url: '/iam/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          auth_mode: 'apikey',
          apikey: key.accessKeyId,
          secretkey: key.secretAccessKey,
        }).toString(),
      });
      expect(form.statusCode).toBe(200);
      expect(form.json().token_type).toBe('Bearer');
      const missing = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'apikey', apikey: key.accessKeyId },
      });
      expect(missing.statusCode).toBe(400);
      expect(missing.json().error.message).toContain('secretkey');
    });

    it('the token lifetime follows the IAM setting, and a key token never outlives its key', async () => {
      await call(t, 'PATCH', '/iam/settings', { body: { tokenLifetimeSeconds: 600 } });
      try {
        expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().expires_in).toBe(600);
        const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'short' } })).json();
        const short = (
          await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, {
            body: { expiresAt: new Date(t.clock.now().getTime() + 120_000).toISOString() },
          })
        ).json();
        const res = (await loginWithKey(t, short.accessKeyId, short.secretAccessKey)).json();
        expect(res.expires_in).toBeLessThanOrEqual(120);
        expect(res.expires_in).toBeGreaterThan(100);
      } finally {
        await call(t, 'PATCH', '/iam/settings', { body: { tokenLifetimeSeconds: 3600 } });
      }
    });

    it('tokens verify against /.well-known/jwks.json and carry tenant, principal and key', async () => {
      const jwks = (await call(t, 'GET', '/.well-known/jwks.json', { token: '' })).json();
      expect(jwks.keys.length).toBeGreaterThan(0);
      for (const k of jwks.keys) expect(k.d).toBeUndefined();
      const { token } = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json();
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { currentDate: t.clock.now() });
      expect(payload).toMatchObject({
        tid: t.tenantId,
        pt: 'service_account',
        via: 'key',
        akid: key.accessKeyId,
        iss: 'latchkey',
      });
    });

    it('an expired token is refused with EXPIRED_TOKEN, also after it was verified and remembered', async () => {
      const { token } = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json();
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      t.clock.advance(3601_000);
      try {
        const res = await call(t, 'GET', '/profile', { token });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('EXPIRED_TOKEN');
      } finally {
        t.clock.advance(-3601_000);
      }
    });

    it('a key token dies early when its key is deactivated or deleted', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'dies' } })).json();
      const k = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const { token } = (await loginWithKey(t, k.accessKeyId, k.secretAccessKey)).json();
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      await call(t, 'PATCH', `/iam/keys/${k.accessKeyId}`, { body: { active: false } });
      expect((await call(t, 'GET', '/profile', { token })).json().error.code).toBe('INVALID_TOKEN');
      await call(t, 'PATCH', `/iam/keys/${k.accessKeyId}`, { body: { active: true } });
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      await call(t, 'DELETE', `/iam/keys/${k.accessKeyId}`);
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(401);
    });

    it('signing keys rotate: new tokens use the new key, old tokens keep working, JWKS publishes both', async () => {
      const before = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      // Rotate through a second SigningKeys (as another instance or the CLI would).
      const kid = await new SigningKeys(t.runtime.svc).rotate();
      const after = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      // This instance learns of the rotation when it next reloads; the old key still verifies meanwhile.
      expect((await call(t, 'GET', '/profile', { token: before })).statusCode).toBe(200);
      await t.runtime.signingKeys.rotate();
      const newest = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      expect(decodeProtectedHeader(newest).kid).not.toBe(decodeProtectedHeader(before).kid);
      for (const tok of [before, after, newest])
        expect((await call(t, 'GET', '/profile', { token: tok })).statusCode).toBe(200);
      const kids = (await call(t, 'GET', '/.well-known/jwks.json', { token: '' }))
        .json()
        .keys.map((k: { kid: string }) => k.kid);
      expect(kids).toContain(kid);
      expect(kids).toContain(decodeProtectedHeader(before).kid);
    });

    it('verifies a token once, then remembers it while its signing key is published', async () => {
      const { token } = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json();
      const remembered = t.runtime.verifiedTokens.size;
      for (let i = 0; i < 3; i++) expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      expect(t.runtime.verifiedTokens.size).toBe(remembered + 1);
      // Once its signing key is no longer published, the remembered token is verified again, and fails.
      const keys = t.runtime.signingKeys;
      const published = vi.spyOn(keys, 'isPublished').mockReturnValue(false);
      const publicKey = vi.spyOn(keys, 'publicKey').mockResolvedValue(undefined);
      try {
        const res = await call(t, 'GET', '/profile', { token });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('INVALID_TOKEN');
      } finally {
        published.mockRestore();
        publicKey.mockRestore();
      }
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
    });

    it('refuses tampered tokens, also while the genuine one is remembered', async () => {
      const { token } = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json();
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, perms: ['*'] })).toString('base64url')}.${s}`;
      for (const bad of [forged, `${token}x`, 'not-a-jwt', `${h}.${p}.`]) {
        const res = await call(t, 'GET', '/profile', { token: bad });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('INVALID_TOKEN');
      }
      const noBearer = await call(t, 'GET', '/iam/me', {
        token: '',
        headers: { authorization: 'Basic Zm9vOmJhcg==' },
      });
      expect(noBearer.json().error.code).toBe('UNAUTHENTICATED');
    });

    it('throttles repeated failed sign-ins with exponential back-off and Retry-After, per address', async () => {
      const attempt = (ip: string, password: string) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: ip,
          payload: { auth_mode: 'password', email: ADMIN_EMAIL, password },
        });
      for (let i = 0; i < 5; i++)
        expect((await attempt('10.9.9.9', 'wrong-password-guess')).statusCode).toBe(401);
      const blocked = await attempt('10.9.9.9', 'wrong-password-guess');
      expect(blocked.statusCode).toBe(401);
      const next = await attempt('10.9.9.9', ADMIN_PASSWORD);
      expect(next.statusCode).toBe(429);
      expect(next.json().error.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(next.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Someone else's failures do not slow a different address down.
      expect((await attempt('10.1.1.1', ADMIN_PASSWORD)).statusCode).toBe(200);
      t.clock.advance(2_000);
      try {
        expect((await attempt('10.9.9.9', ADMIN_PASSWORD)).statusCode).toBe(200);
      } finally {
        t.clock.advance(-2_000);
      }
    });
  });
});
