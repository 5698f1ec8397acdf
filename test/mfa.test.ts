/**
 * Two-factor sign-in (src/auth/mfa): TOTP set-up and sign-in, recovery codes, challenges (expiry,
 * single use, binding to the user and the session epoch), throttling, the tenant's mfaRequired
 * setting (enrolment during sign-in), the administrator's reset (escalation rules, tenant
 * isolation) and the operator CLI's. Codes are made with `otpauth` from the secret the API returns,
 * as an authenticator app would.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTenantAsOperator } from '../src/identity/tenants.js';
import { exportTenant, importTenant } from '../src/storage/tenant-transfer.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  call,
  createUserWithLogin,
  login,
  refreshAdminToken,
  startTestApp,
  type TestApp,
} from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';
import { SoftAuthenticator } from './helpers/soft-authenticator.js';

const PASSWORD = 'mfa-user-password-01';

/** The code an authenticator app shows for `secret` at the test clock's time (plus `offsetMs`). */
function codeAt(t: TestApp, secret: string, offsetMs = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  return totp.generate({ timestamp: t.clock.now().getTime() + offsetMs });
}

/** Move the clock to the next 30 s step, so the authenticator shows a new code. */
const nextStep = (t: TestApp) => t.clock.advance(30_000);

/**
 * The address sign-ins come from: each test its own (wrong codes count against the address too, and
 * tests here make many on purpose).
 */
let testAddress = '10.0.0.1';
let addresses = 0;
beforeEach(() => {
  addresses += 1;
  testAddress = `10.0.${Math.floor(addresses / 250)}.${(addresses % 250) + 1}`;
});

/** POST /iam/login from a chosen address (the throttle counts per address). */
function signIn(
  t: TestApp,
  body: Record<string, unknown>,
  address = testAddress,
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/iam/login', payload: body, remoteAddress: address });
}

const passwordStep = (t: TestApp, email: string, password = PASSWORD, address?: string) =>
  signIn(t, { auth_mode: 'password', email, password }, address);

/** Set up and confirm an authenticator app for the holder of `token`: its secret and recovery codes. */
async function enrolTotp(t: TestApp, token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await call(t, 'POST', '/iam/me/mfa/totp', { token });
  expect(setup.statusCode, setup.body).toBe(200);
  const { secret } = setup.json();
  const verify = await call(t, 'POST', '/iam/me/mfa/totp/verify', {
    token,
    body: { code: codeAt(t, secret) },
  });
  expect(verify.statusCode, verify.body).toBe(200);
  return { secret, recoveryCodes: verify.json().recoveryCodes };
}

async function challengeOf(
  t: TestApp,
  email: string,
  password = PASSWORD,
  address?: string,
): Promise<string> {
  const res = await passwordStep(t, email, password, address);
  expect(res.statusCode, res.body).toBe(401);
  expect(res.json().error.code).toBe('MFA_REQUIRED');
  return res.json().error.challenge;
}

describeEachEngine('two-factor sign-in', (engine) => {
  describe('TOTP and recovery codes', () => {
    const t = useTestApp(engine);
    let user: { id: string; token: string };
    let secret = '';
    let recoveryCodes: string[] = [];
    const email = 'tess@example.com';

    beforeAll(async () => {
      user = await createUserWithLogin(t, email, PASSWORD);
    });

    it('sets up an authenticator app: a base32 secret and an otpauth URL (SHA-1, 6 digits, 30 s); a wrong first code is refused', async () => {
      const before = await call(t, 'GET', '/iam/me/mfa', { token: user.token });
      expect(before.json()).toMatchObject({
        totp: false,
        totpPending: false,
        recoveryCodesLeft: 0,
        passkeys: [],
      });
      const setup = await call(t, 'POST', '/iam/me/mfa/totp', { token: user.token });
      expect(setup.statusCode).toBe(200);
      expect(setup.headers['cache-control']).toBe('no-store');
      secret = setup.json().secret;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const url = new URL(setup.json().otpauthUrl);
      expect(url.protocol).toBe('otpauth:');
      expect(url.searchParams.get('secret')).toBe(secret);
      expect(url.searchParams.get('algorithm')).toBe('SHA1');
      expect(url.searchParams.get('digits')).toBe('6');
      expect(url.searchParams.get('period')).toBe('30');
      expect(decodeURIComponent(url.pathname)).toContain(email);
      expect((await call(t, 'GET', '/iam/me/mfa', { token: user.token })).json().totpPending).toBe(true);
      // Pending: the password alone still signs in.
      expect((await passwordStep(t, email)).statusCode).toBe(200);
      const wrong = await call(t, 'POST', '/iam/me/mfa/totp/verify', {
        token: user.token,
        body: { code: codeAt(t, secret, 600_000) },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('MFA_CODE_INVALID');
    });

    it('a right code activates it and returns ten recovery codes once; a second set-up is refused (409)', async () => {
      const verify = await call(t, 'POST', '/iam/me/mfa/totp/verify', {
        token: user.token,
        body: { code: codeAt(t, secret) },
      });
      expect(verify.statusCode, verify.body).toBe(200);
      recoveryCodes = verify.json().recoveryCodes;
      expect(recoveryCodes).toHaveLength(10);
      expect(new Set(recoveryCodes).size).toBe(10);
      expect(await call(t, 'GET', '/iam/me/mfa', { token: user.token }).then((r) => r.json())).toMatchObject({
        totp: true,
        totpPending: false,
        recoveryCodesLeft: 10,
      });
      const again = await call(t, 'POST', '/iam/me/mfa/totp', { token: user.token });
      expect(again.statusCode).toBe(409);
      expect(again.json().error.code).toBe('MFA_ALREADY_ACTIVE');
      // The secret is stored sealed, never as it is.
      const row = await t.runtime.svc.db
        .selectFrom('mfa_factors')
        .selectAll()
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(secret);
      const codes = await t.runtime.svc.db.selectFrom('mfa_recovery_codes').select('code_hash').execute();
      expect(JSON.stringify(codes)).not.toContain(recoveryCodes[0]?.replace('-', '') as string);
      const audit = await call(t, 'GET', `/iam/audit?action=user.mfa_enable`);
      expect(audit.json().items[0]).toMatchObject({ action: 'user.mfa_enable', target: { id: user.id } });
    });

    it('the password then answers 401 MFA_REQUIRED with a challenge; a TOTP code finishes the sign-in', async () => {
      nextStep(t);
      const res = await passwordStep(t, email);
      expect(res.statusCode).toBe(401);
      const error = res.json().error;
      expect(error).toMatchObject({ code: 'MFA_REQUIRED', methods: ['totp', 'recovery'] });
      expect(error.challenge).toMatch(/^mfa_[0-9A-Za-z]{32}$/);
      expect(res.body).not.toContain('"token"');
      const done = await signIn(t, { auth_mode: 'mfa', challenge: error.challenge, code: codeAt(t, secret) });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json()).toMatchObject({ token_type: 'Bearer' });
      const me = await call(t, 'GET', '/iam/me', { token: done.json().token });
      expect(me.json()).toMatchObject({ id: user.id, authenticatedWith: 'password' });
    });

    it('the same code is refused the second time, and a used challenge is gone', async () => {
      const code = codeAt(t, secret);
      const challenge = await challengeOf(t, email);
      const replay = await signIn(t, { auth_mode: 'mfa', challenge, code });
      expect(replay.statusCode).toBe(401);
      expect(replay.json().error.code).toBe('MFA_CODE_INVALID');
      nextStep(t);
      const ok = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) });
      expect(ok.statusCode, ok.body).toBe(200);
      nextStep(t);
      const reused = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) });
      expect(reused.statusCode).toBe(401);
      expect(reused.json().error.code).toBe('MFA_CHALLENGE_INVALID');
    });

    it('a recovery code works once (typed in lower case, without its dash), then never again', async () => {
      const code = recoveryCodes[0] as string;
      const first = await signIn(t, {
        auth_mode: 'mfa',
        challenge: await challengeOf(t, email),
        code: code.replace('-', '').toLowerCase(),
      });
      expect(first.statusCode, first.body).toBe(200);
      const again = await signIn(t, { auth_mode: 'mfa', challenge: await challengeOf(t, email), code });
      expect(again.statusCode).toBe(401);
      expect(again.json().error.code).toBe('MFA_CODE_INVALID');
      expect((await call(t, 'GET', '/iam/me/mfa', { token: user.token })).json().recoveryCodesLeft).toBe(9);
    });

    it('form fields work for the second step too', async () => {
      nextStep(t);
      const challenge = await challengeOf(t, email);
      const res = await t.app.inject({
        method: 'POST',
        url: '/iam/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ auth_mode: 'mfa', challenge, code: codeAt(t, secret) }).toString(),
      });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('a challenge expires after 5 minutes', async () => {
      nextStep(t);
      const challenge = await challengeOf(t, email);
      t.clock.advance(301_000);
      const res = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('MFA_CHALLENGE_INVALID');
      await refreshAdminToken(t);
    });

    it("one user's challenge cannot be finished with another user's code", async () => {
      const other = await createUserWithLogin(t, 'otto@example.com', PASSWORD);
      const { secret: otherSecret } = await enrolTotp(t, other.token);
      nextStep(t);
      const challenge = await challengeOf(t, email);
      const res = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, otherSecret) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('MFA_CODE_INVALID');
      // Nor with its recovery code; a made-up challenge is unknown.
      const unknown = await signIn(t, {
        auth_mode: 'mfa',
        challenge: 'mfa_madeup',
        code: codeAt(t, otherSecret),
      });
      expect(unknown.json().error.code).toBe('MFA_CHALLENGE_INVALID');
    });

    it('wrong codes are 401 and counted: the challenge dies after five, and the user is throttled (429)', async () => {
      nextStep(t);
      // A success first: it clears the user's count of earlier wrong codes.
      const clean = await signIn(t, {
        auth_mode: 'mfa',
        challenge: await challengeOf(t, email),
        code: codeAt(t, secret),
      });
      expect(clean.statusCode, clean.body).toBe(200);
      nextStep(t);
      const address = '10.9.8.7';
      const challenge = await challengeOf(t, email, PASSWORD, address);
      const wrong = String((Number(codeAt(t, secret)) + 1) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < 5; i++) {
        const res = await signIn(t, { auth_mode: 'mfa', challenge, code: wrong }, address);
        expect(res.statusCode, `attempt ${i + 1}`).toBe(401);
        expect(res.json().error.code).toBe('MFA_CODE_INVALID');
      }
      // One more wrong code (from another address) and the user's counter blocks, from any address,
      // even the right code.
      const fresh = await challengeOf(t, email, PASSWORD, '10.9.8.8');
      const sixth = await signIn(t, { auth_mode: 'mfa', challenge: fresh, code: wrong }, '10.9.8.8');
      expect(sixth.json().error.code).toBe('MFA_CODE_INVALID');
      const blocked = await signIn(
        t,
        { auth_mode: 'mfa', challenge: fresh, code: codeAt(t, secret) },
        '10.9.8.8',
      );
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json().error.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      t.clock.advance(2_000);
      // The first challenge died with its fifth wrong code.
      const dead = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) }, '10.9.8.9');
      expect(dead.statusCode).toBe(401);
      expect(dead.json().error.code).toBe('MFA_CHALLENGE_INVALID');
      const ok = await signIn(t, { auth_mode: 'mfa', challenge: fresh, code: codeAt(t, secret) }, '10.9.8.8');
      expect(ok.statusCode, ok.body).toBe(200);
    });

    it('a new password ends challenges made before it, and changing the password still works', async () => {
      nextStep(t);
      const challenge = await challengeOf(t, email);
      const fresh = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) });
      const token = fresh.json().token;
      const stale = await challengeOf(t, email);
      const changed = await call(t, 'PATCH', '/iam/me', {
        token,
        body: { password: 'a-new-password-0002', currentPassword: PASSWORD },
      });
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.json().session.token).toBeTruthy();
      nextStep(t);
      const res = await signIn(t, { auth_mode: 'mfa', challenge: stale, code: codeAt(t, secret) });
      expect(res.json().error.code).toBe('MFA_CHALLENGE_INVALID');
      // The new password leads to the second step, as before.
      await challengeOf(t, email, 'a-new-password-0002');
      user.token = changed.json().session.token;
    });

    it('new recovery codes need a current code; the old ones stop working', async () => {
      const refused = await call(t, 'POST', '/iam/me/mfa/recovery-codes', {
        token: user.token,
        body: { code: '000000' === codeAt(t, secret) ? '111111' : '000000' },
      });
      expect(refused.statusCode).toBe(401);
      nextStep(t);
      const res = await call(t, 'POST', '/iam/me/mfa/recovery-codes', {
        token: user.token,
        body: { code: codeAt(t, secret) },
      });
      expect(res.statusCode, res.body).toBe(200);
      const fresh: string[] = res.json().recoveryCodes;
      expect(fresh).toHaveLength(10);
      const old = await signIn(t, {
        auth_mode: 'mfa',
        challenge: await challengeOf(t, email, 'a-new-password-0002'),
        code: recoveryCodes[1],
      });
      expect(old.json().error.code).toBe('MFA_CODE_INVALID');
      recoveryCodes = fresh;
    });

    it('key tokens cannot manage second factors; API users cannot password sign in at all', async () => {
      const key = await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: 'k' } });
      const exchanged = await signIn(t, {
        auth_mode: 'apikey',
        apikey: key.json().accessKeyId,
        secretkey: key.json().secretAccessKey,
      });
      const res = await call(t, 'GET', '/iam/me/mfa', { token: exchanged.json().token });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('AccessDenied');
      expect((await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { apiUser: true } })).statusCode).toBe(
        200,
      );
      const pw = await passwordStep(t, email, 'a-new-password-0002');
      expect(pw.json().error.code).toBe('API_USER_PASSWORD_LOGIN');
      expect((await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { apiUser: false } })).statusCode).toBe(
        200,
      );
    });

    it('removing the authenticator app needs a current code; the password alone signs in again', async () => {
      const session = await signIn(t, {
        auth_mode: 'mfa',
        challenge: await challengeOf(t, email, 'a-new-password-0002'),
        code: recoveryCodes[0],
      });
      const token = session.json().token;
      const noCode = await call(t, 'DELETE', '/iam/me/mfa/totp', { token, body: { code: '12345' } });
      expect(noCode.statusCode).toBe(401);
      nextStep(t);
      const res = await call(t, 'DELETE', '/iam/me/mfa/totp', { token, body: { code: codeAt(t, secret) } });
      expect(res.statusCode, res.body).toBe(204);
      expect((await call(t, 'GET', '/iam/me/mfa', { token })).json()).toMatchObject({
        totp: false,
        recoveryCodesLeft: 0,
      });
      expect((await passwordStep(t, email, 'a-new-password-0002')).statusCode).toBe(200);
    });
  });

  describe('passkeys (refusals; the ceremonies run in Chromium: test/e2e/console-mfa.e2e.test.ts)', () => {
    const t = useTestApp(engine);

    it('registration options name the relying party; a forged or replayed answer is refused; passkey options need a passkey', async () => {
      const user = await createUserWithLogin(t, 'penny@example.com', PASSWORD);
      const options = await t.app.inject({
        method: 'POST',
        url: '/iam/me/mfa/webauthn/registration-options',
        headers: { authorization: `Bearer ${user.token}`, host: 'keys.example.com' },
      });
      expect(options.statusCode, options.body).toBe(200);
      expect(options.json()).toMatchObject({
        rp: { id: 'keys.example.com' },
        user: { name: 'penny@example.com' },
      });
      const clientDataJSON = Buffer.from(
        JSON.stringify({
          type: 'webauthn.create',
          challenge: options.json().challenge,
          origin: 'https://evil.example',
        }),
      ).toString('base64url');
      const forged = await call(t, 'POST', '/iam/me/mfa/webauthn/registration', {
        token: user.token,
        body: {
          response: {
            id: 'x',
            rawId: 'x',
            type: 'public-key',
            response: { clientDataJSON, attestationObject: 'AA' },
          },
        },
      });
      expect(forged.statusCode).toBe(400);
      expect(forged.json().error.code).toBe('WEBAUTHN_FAILED');
      // Its challenge was used up by that attempt.
      const replay = await call(t, 'POST', '/iam/me/mfa/webauthn/registration', {
        token: user.token,
        body: {
          response: {
            id: 'x',
            rawId: 'x',
            type: 'public-key',
            response: { clientDataJSON, attestationObject: 'AA' },
          },
        },
      });
      expect(replay.json().error.message).toContain('challenge');
      expect((await call(t, 'GET', '/iam/me/mfa', { token: user.token })).json().passkeys).toEqual([]);

      const { secret } = await enrolTotp(t, user.token);
      const challenge = await challengeOf(t, 'penny@example.com');
      const noPasskey = await t.app.inject({
        method: 'POST',
        url: '/iam/login/webauthn-options',
        payload: { challenge },
      });
      expect(noPasskey.statusCode).toBe(409);
      expect(noPasskey.json().error.code).toBe('MFA_NOT_ENABLED');
      const junk = await signIn(t, { auth_mode: 'mfa', challenge, webauthn: { id: 'nope', response: {} } });
      expect(junk.statusCode).toBe(401);
      expect(junk.json().error.code).toBe('MFA_CODE_INVALID');
      const both = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret), webauthn: {} });
      expect(both.statusCode).toBe(400);
      // (enrolTotp spent this step's code: the next step's.)
      nextStep(t);
      const ok = await signIn(t, { auth_mode: 'mfa', challenge, code: codeAt(t, secret) });
      expect(ok.statusCode, ok.body).toBe(200);
    });
  });

  describe('passkeys bound to a parent domain (LATCHKEY_WEBAUTHN_RP_ID)', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_WEBAUTHN_RP_ID: 'example.com' } });
    const post = (url: string, host: string, payload: object, token?: string) =>
      t.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });

    it('a passkey registered at keys.example.com signs in at iam.example.com; one bound to the host alone is refused', async () => {
      const user = await createUserWithLogin(t, 'rhea@example.com', PASSWORD);
      const options = await post(
        '/iam/me/mfa/webauthn/registration-options',
        'keys.example.com',
        {},
        user.token,
      );
      expect(options.statusCode, options.body).toBe(200);
      expect(options.json().rp.id).toBe('example.com');

      // An authenticator that bound the credential to the page's host (no RP ID given) is refused.
      const hostOnly = new SoftAuthenticator('keys.example.com');
      const refused = await post(
        '/iam/me/mfa/webauthn/registration',
        'keys.example.com',
        { name: 'wrong', response: hostOnly.register(options.json(), 'http://keys.example.com') },
        user.token,
      );
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.code).toBe('WEBAUTHN_FAILED');

      const passkey = new SoftAuthenticator('example.com');
      const again = await post(
        '/iam/me/mfa/webauthn/registration-options',
        'keys.example.com',
        {},
        user.token,
      );
      const registered = await post(
        '/iam/me/mfa/webauthn/registration',
        'keys.example.com',
        { name: 'laptop', response: passkey.register(again.json(), 'http://keys.example.com') },
        user.token,
      );
      expect(registered.statusCode, registered.body).toBe(201);

      // The console moved to another host under the same domain: the passkey still signs in.
      const challenge = await challengeOf(t, 'rhea@example.com');
      const signInOptions = await post('/iam/login/webauthn-options', 'iam.example.com', { challenge });
      expect(signInOptions.statusCode, signInOptions.body).toBe(200);
      expect(signInOptions.json().rpId).toBe('example.com');
      const assertion = passkey.authenticate(signInOptions.json(), 'http://iam.example.com');
      const signedIn = await post('/iam/login', 'iam.example.com', {
        auth_mode: 'mfa',
        challenge,
        webauthn: assertion,
      });
      expect(signedIn.statusCode, signedIn.body).toBe(200);
      expect(signedIn.json().token).toEqual(expect.any(String));
    });
  });

  describe('administrator reset, CLI reset and the tenant setting', () => {
    const t = useTestApp(engine);

    it('an administrator resets a user’s MFA; a user manager holding less cannot reset an administrator’s; other tenants are out of reach', async () => {
      const user = await createUserWithLogin(t, 'ursula@example.com', PASSWORD);
      await enrolTotp(t, user.token);
      // A user manager with only iam:users:manage and iam:users:read.
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: 'User managers', permissions: ['iam:users:manage', 'iam:users:read'] },
      });
      const manager = await createUserWithLogin(t, 'manny@example.com', PASSWORD);
      await call(t, 'PUT', `/iam/users/${manager.id}/assignments`, { body: { roleIds: [role.json().id] } });
      const managerToken = await login(t, 'manny@example.com', PASSWORD);
      const { secret: adminSecret } = await enrolTotp(t, t.adminToken);
      const escalation = await call(t, 'DELETE', `/iam/users/${t.adminId}/mfa`, { token: managerToken });
      expect(escalation.statusCode).toBe(403);
      expect(escalation.json().error.code).toBe('PRIVILEGE_ESCALATION');
      expect((await passwordStep(t, ADMIN_EMAIL, ADMIN_PASSWORD)).json().error.code).toBe('MFA_REQUIRED');
      // The manager holds all the user holds (nothing): allowed.
      const reset = await call(t, 'DELETE', `/iam/users/${user.id}/mfa`, { token: managerToken });
      expect(reset.statusCode, reset.body).toBe(204);
      expect((await passwordStep(t, 'ursula@example.com')).statusCode).toBe(200);
      const audit = await call(t, 'GET', '/iam/audit?action=user.mfa_reset');
      expect(
        audit.json().items.find((i: { target: { id: string } }) => i.target.id === user.id),
      ).toMatchObject({
        actor: { id: manager.id },
        target: { id: user.id },
        before: { totp: true },
        after: { totp: false, recoveryCodesLeft: 0 },
      });
      // Another tenant's user is not found.
      const beta = await createTenantAsOperator(t.runtime.svc, {
        name: 'Beta Co',
        adminEmail: 'beta-admin@example.com',
        password: 'beta-admin-password',
      });
      const foreign = await call(t, 'DELETE', `/iam/users/${beta.adminId}/mfa`);
      expect(foreign.statusCode).toBe(404);
      // Without iam:users:manage: 403.
      const plain = await createUserWithLogin(t, 'pat@example.com', PASSWORD);
      expect((await call(t, 'DELETE', `/iam/users/${user.id}/mfa`, { token: plain.token })).statusCode).toBe(
        403,
      );
      // The administrator keeps theirs; the CLI resets it (the last administrator's way back).
      nextStep(t);
      expect(adminSecret).toBeTruthy();
      const cli = await runCli(['mfa', 'reset', '--email', ADMIN_EMAIL, '--tenant', t.tenantId], {
        ...t.env,
        LOG_LEVEL: 'warn',
      });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain('reset');
      expect((await passwordStep(t, ADMIN_EMAIL, ADMIN_PASSWORD)).statusCode).toBe(200);
      const cliAudit = await call(t, 'GET', '/iam/audit?action=user.mfa_reset');
      const byCli = cliAudit.json().items.find((i: { target: { id: string } }) => i.target.id === t.adminId);
      expect(byCli).toMatchObject({ actor: { type: 'system' }, target: { id: t.adminId } });
    }, 60_000);

    it('master-key rotate --prune re-seals authenticator secrets: codes still work', async () => {
      const user = await createUserWithLogin(t, 'rory@example.com', PASSWORD);
      const { secret } = await enrolTotp(t, user.token);
      const cliEnv = { ...t.env, LOG_LEVEL: 'warn' };
      const rotated = await runCli(['master-key', 'rotate', '--json'], cliEnv);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(JSON.parse(rotated.stdout)).toMatchObject({ currentVersion: 2, reencryptedTotpSecrets: 1 });
      const pruned = await runCli(['master-key', 'rotate', '--prune', '--json'], cliEnv);
      expect(pruned.code, pruned.stderr).toBe(0);
      const row = await t.runtime.svc.db
        .selectFrom('mfa_factors')
        .select('master_key_version')
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row.master_key_version).toBe(2);
      nextStep(t);
      const ok = await signIn(t, {
        auth_mode: 'mfa',
        challenge: await challengeOf(t, 'rory@example.com'),
        code: codeAt(t, secret),
      });
      expect(ok.statusCode, ok.body).toBe(200);
    }, 60_000);

    it('mfaRequired "administrators": an administrator without a factor enrols during sign-in; others are not asked', async () => {
      const settings = await call(t, 'PATCH', '/iam/settings', { body: { mfaRequired: 'administrators' } });
      expect(settings.statusCode, settings.body).toBe(200);
      expect(settings.json().mfaRequired).toBe('administrators');
      expect((await call(t, 'PATCH', '/iam/settings', { body: { mfaRequired: 'some' } })).statusCode).toBe(
        400,
      );
      expect((await passwordStep(t, 'pat@example.com')).statusCode).toBe(200);
      const res = await passwordStep(t, ADMIN_EMAIL, ADMIN_PASSWORD);
      expect(res.statusCode).toBe(401);
      const error = res.json().error;
      expect(error).toMatchObject({ code: 'MFA_ENROLMENT_REQUIRED', methods: ['totp'] });
      // The enrolment challenge is not a sign-in challenge: a code alone does not finish it.
      const early = await signIn(t, { auth_mode: 'mfa', challenge: error.challenge, code: '123456' });
      expect(early.statusCode).toBe(401);
      expect(early.json().error.code).toBe('MFA_CODE_INVALID');
      const setup = await t.app.inject({
        method: 'POST',
        url: '/iam/login/mfa-enrolment',
        payload: { challenge: error.challenge },
      });
      expect(setup.statusCode, setup.body).toBe(200);
      const { secret } = setup.json();
      const done = await signIn(t, { auth_mode: 'mfa', challenge: error.challenge, code: codeAt(t, secret) });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json().recoveryCodes).toHaveLength(10);
      expect(done.json().token).toBeTruthy();
      // From now on the administrator has a factor: MFA_REQUIRED.
      expect((await passwordStep(t, ADMIN_EMAIL, ADMIN_PASSWORD)).json().error.code).toBe('MFA_REQUIRED');
      // The enrolment challenge is used up.
      const bogus = await t.app.inject({
        method: 'POST',
        url: '/iam/login/mfa-enrolment',
        payload: { challenge: error.challenge },
      });
      expect(bogus.json().error.code).toBe('MFA_CHALLENGE_INVALID');
    });

    it('mfaRequired "everyone" covers every user; "off" lets the password alone in again', async () => {
      expect(
        (await call(t, 'PATCH', '/iam/settings', { body: { mfaRequired: 'everyone' } })).statusCode,
      ).toBe(200);
      expect((await passwordStep(t, 'pat@example.com')).json().error.code).toBe('MFA_ENROLMENT_REQUIRED');
      expect((await call(t, 'PATCH', '/iam/settings', { body: { mfaRequired: 'off' } })).statusCode).toBe(
        200,
      );
      expect((await passwordStep(t, 'pat@example.com')).statusCode).toBe(200);
    });
  });

  describe('several instances', () => {
    const t = useTestApp(engine);

    it('a sign-in begun on one instance is finished on another (challenges live in the database)', async () => {
      const other = await startTestApp(engine, { db: t.db, clock: t.clock });
      try {
        const user = await createUserWithLogin(t, 'ines@example.com', PASSWORD);
        const { secret } = await enrolTotp(t, user.token);
        nextStep(t);
        const challenge = await challengeOf(t, 'ines@example.com');
        const code = codeAt(t, secret);
        const done = await other.app.inject({
          method: 'POST',
          url: '/iam/login',
          payload: { auth_mode: 'mfa', challenge, code },
        });
        expect(done.statusCode, done.body).toBe(200);
        // Used up there, so here too; and the code is spent on both.
        const again = await signIn(t, { auth_mode: 'mfa', challenge, code });
        expect(again.json().error.code).toBe('MFA_CHALLENGE_INVALID');
        const replay = await signIn(t, {
          auth_mode: 'mfa',
          challenge: await challengeOf(t, 'ines@example.com'),
          code,
        });
        expect(replay.json().error.code).toBe('MFA_CODE_INVALID');
      } finally {
        await other.close();
      }
    }, 60_000);
  });

  describe('moving a tenant', () => {
    const t = useTestApp(engine);

    it('carries the factors: the authenticator secret is sealed again under the target’s master key; passkeys travel without one', async () => {
      const acme = await createTenantAsOperator(t.runtime.svc, {
        name: 'Acme MFA',
        adminEmail: 'owner@acme-mfa.example',
        password: PASSWORD,
      });
      const token = await login(t, 'owner@acme-mfa.example', PASSWORD);
      const { secret, recoveryCodes } = await enrolTotp(t, token);
      // A passkey row as registration writes it (the ceremony itself runs in the browser test).
      await t.runtime.svc.db
        .insertInto('mfa_factors')
        .values({
          id: 'mfa_movedpasskey0001',
          tenant_id: acme.tenant.id,
          user_id: acme.adminId,
          type: 'webauthn',
          status: 'active',
          name: 'Laptop',
          secret_ciphertext: null,
          master_key_version: null,
          last_used_step: null,
          credential_id: 'cred-moved-0001',
          public_key: 'pQECAyYgASFYIA',
          sign_count: 0,
          transports: '["internal"]',
          created_at: new Date().toISOString(),
          last_used_at: null,
        })
        .execute();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-mfa-move-'));
      const file = path.join(dir, 'acme.lkx');
      const passphrase = 'moving the second factors 2026';
      await exportTenant(t.runtime.svc, { tenantId: acme.tenant.id, file, passphrase });
      const target = await startTestApp('sqlite', { clock: t.clock });
      try {
        await importTenant(target.runtime.svc, { file, passphrase });
        const rows = await target.runtime.svc.db
          .selectFrom('mfa_factors')
          .selectAll()
          .where('tenant_id', '=', acme.tenant.id)
          .orderBy('type')
          .execute();
        expect(rows.map((r) => [r.type, r.secret_ciphertext === null])).toEqual([
          ['totp', false],
          ['webauthn', true],
        ]);
        nextStep(t);
        const first = await target.app.inject({
          method: 'POST',
          url: '/iam/login',
          payload: { auth_mode: 'password', email: 'owner@acme-mfa.example', password: PASSWORD },
        });
        expect(first.json().error).toMatchObject({
          code: 'MFA_REQUIRED',
          methods: ['totp', 'recovery', 'webauthn'],
        });
        const done = await target.app.inject({
          method: 'POST',
          url: '/iam/login',
          payload: { auth_mode: 'mfa', challenge: first.json().error.challenge, code: codeAt(t, secret) },
        });
        expect(done.statusCode, done.body).toBe(200);
        const again = await target.app.inject({
          method: 'POST',
          url: '/iam/login',
          payload: { auth_mode: 'password', email: 'owner@acme-mfa.example', password: PASSWORD },
        });
        const recovered = await target.app.inject({
          method: 'POST',
          url: '/iam/login',
          payload: { auth_mode: 'mfa', challenge: again.json().error.challenge, code: recoveryCodes[0] },
        });
        expect(recovered.statusCode, recovered.body).toBe(200);
      } finally {
        await target.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
