/**
 * `POST /v1/verify` end to end, on each engine: a service describes a request it received (signed
 * with the AWS SDK's signer, presigned, or carrying a key token) and latchkey answers whether its
 * credentials hold and whether they carry a permission. Only the caller's own tenant's keys verify;
 * the caller needs `iam:verify`.
 */
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { Static } from '@sinclair/typebox';
import { SignatureV4 } from '@smithy/signature-v4';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VerifyResult as ContractVerifyResult } from '../src/contract/views.js';
import type { VerifyResult } from '../src/verify/index.js';
import { call, createUserWithLogin, loginWithKey, type TestApp } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign, signHeaders, wrongSecret } from './helpers/sign.js';

const HOST = 'orders.example.com';

// The helper's answer type is the contract's, both ways: a field added to one fails the typecheck.
type Contract = Static<typeof ContractVerifyResult>;
const sameAnswer = (a: Contract): VerifyResult => a;
const sameAnswerBack = (a: VerifyResult): Contract => a;
void sameAnswer;
void sameAnswerBack;

async function keyOf(t: TestApp, path: string, token?: string): Promise<Credentials> {
  const res = await call(t, 'POST', path, {
    ...(token ? { token } : {}),
    body: { name: `k${Math.random()}` },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** A service account holding a new role with exactly `permissions`, and a key of it. */
async function serviceAccountWith(t: TestApp, name: string, permissions: string[]) {
  const role = await call(t, 'POST', '/iam/roles', { body: { name: `${name}-role`, permissions } });
  expect(role.statusCode, role.body).toBe(201);
  const sa = await call(t, 'POST', '/iam/service-accounts', { body: { name } });
  expect(sa.statusCode, sa.body).toBe(201);
  const assigned = await call(t, 'PUT', `/iam/service-accounts/${sa.json().id}/assignments`, {
    body: { roleIds: [role.json().id] },
  });
  expect(assigned.statusCode, assigned.body).toBe(200);
  return { id: sa.json().id as string, key: await keyOf(t, `/iam/service-accounts/${sa.json().id}/keys`) };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const base64 = (s: string) => Buffer.from(s).toString('base64');

describeEachEngine('POST /v1/verify', (engine) => {
  const t = useTestApp(engine);
  let admin: Credentials;
  let adminName: string;

  beforeAll(async () => {
    admin = await keyOf(t, `/iam/users/${t.adminId}/keys`);
    adminName = (await call(t, 'GET', '/iam/me')).json().name;
  });

  /** Ask latchkey (as the administrator, or with `token`) about a described request. */
  const verify = (body: Record<string, unknown>, token?: string) =>
    call(t, 'POST', '/v1/verify', { body, ...(token === undefined ? {} : { token }) });

  /** A request signed with @smithy/signature-v4 as the service received it. */
  async function signed(
    c: Credentials,
    method: string,
    path: string,
    options: { body?: string; applyChecksum?: boolean } = {},
  ) {
    const headers =
      options.applyChecksum === false
        ? await signWithoutChecksum(c, method, path, options.body)
        : await signHeaders(c, {
            method,
            path,
            host: HOST,
            date: t.clock.now(),
            ...(options.body !== undefined
              ? { body: options.body, headers: { 'content-type': 'application/json' } }
              : {}),
          });
    return { method, url: `https://${HOST}${path}`, headers };
  }

  /** Signed without x-amz-content-sha256: the body's hash is only inside the signature. */
  async function signWithoutChecksum(c: Credentials, method: string, path: string, body?: string) {
    const signer = new SignatureV4({
      credentials: c,
      region: 'ap-southeast-5',
      service: 'sqlaccount',
      sha256: Sha256,
      uriEscapePath: true,
      applyChecksum: false,
    });
    const out = await signer.sign(
      {
        method,
        protocol: 'https:',
        hostname: HOST,
        path,
        headers: { host: HOST },
        ...(body ? { body } : {}),
      },
      { signingDate: t.clock.now() },
    );
    return out.headers as Record<string, string>;
  }

  describe('signed requests', () => {
    it('verifies a signed GET and tells who signed it', async () => {
      const res = await verify(await signed(admin, 'GET', '/v1/orders/42'));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({
        valid: true,
        tenantId: t.tenantId,
        principal: { type: 'user', id: t.adminId, name: adminName },
        accessKeyId: admin.accessKeyId,
        keyType: 'access',
        permissions: expect.arrayContaining(['iam:verify', 'agent:read']),
        allowed: true,
      });
    });

    it('verifies a presigned URL', async () => {
      const path = await presign(admin, {
        method: 'GET',
        path: '/v1/orders/7?colour=red',
        host: HOST,
        date: t.clock.now(),
      });
      const res = await verify({ method: 'GET', url: `https://${HOST}${path}`, headers: { host: HOST } });
      expect(res.json()).toMatchObject({ valid: true, accessKeyId: admin.accessKeyId, allowed: true });
      // The host comes from the URL when the headers do not name it.
      const noHost = await verify({ method: 'GET', url: `https://${HOST}${path}`, headers: {} });
      expect(noHost.json()).toMatchObject({ valid: true, accessKeyId: admin.accessKeyId });
    });

    it('verifies a signed body sent whole (base64) or as its SHA-256', async () => {
      const body = JSON.stringify({ item: 'A', qty: 2 });
      const described = await signed(admin, 'POST', '/v1/orders', { body });
      expect((await verify({ ...described, body: base64(body) })).json()).toMatchObject({ valid: true });
      expect((await verify({ ...described, bodySha256: sha256(body) })).json()).toMatchObject({
        valid: true,
      });
      // Signed without the x-amz-content-sha256 header: the hash is checked through the signature.
      const bare = await signed(admin, 'POST', '/v1/orders', { body, applyChecksum: false });
      expect((await verify({ ...bare, bodySha256: sha256(body) })).json()).toMatchObject({ valid: true });
    });

    it('refuses a wrong secret (SignatureDoesNotMatch) and a body that is not the one signed', async () => {
      const wrong = await verify(
        await signed({ ...admin, secretAccessKey: wrongSecret(admin.secretAccessKey) }, 'GET', '/v1/x'),
      );
      expect(wrong.statusCode).toBe(200);
      expect(wrong.json()).toEqual({
        valid: false,
        code: 'SignatureDoesNotMatch',
        message: expect.any(String),
      });

      const body = JSON.stringify({ item: 'A', qty: 2 });
      const claimed = await signed(admin, 'POST', '/v1/orders', { body });
      const tampered = await verify({
        ...claimed,
        bodySha256: sha256(JSON.stringify({ item: 'A', qty: 2000 })),
      });
      expect(tampered.json()).toMatchObject({ valid: false, code: 'XAmzContentSHA256Mismatch' });
      const bare = await signed(admin, 'POST', '/v1/orders', { body, applyChecksum: false });
      const tamperedBare = await verify({ ...bare, body: base64('{"item":"A","qty":2000}') });
      expect(tamperedBare.json()).toMatchObject({ valid: false, code: 'SignatureDoesNotMatch' });
    });

    it('refuses a deactivated key (AccessKeyInactive)', async () => {
      const key = await keyOf(t, `/iam/users/${t.adminId}/keys`);
      expect((await verify(await signed(key, 'GET', '/v1/x'))).json()).toMatchObject({ valid: true });
      const off = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
      expect(off.statusCode, off.body).toBe(200);
      expect((await verify(await signed(key, 'GET', '/v1/x'))).json()).toMatchObject({
        valid: false,
        code: 'AccessKeyInactive',
      });
    });
    it("counts failures against the client's address (sourceIp), never the verifying service's", async () => {
      const a = await keyOf(t, `/iam/users/${t.adminId}/keys`);
      const b = await keyOf(t, `/iam/users/${t.adminId}/keys`);
      const bad = (c: Credentials) =>
        signed({ ...c, secretAccessKey: `${c.secretAccessKey}x` }, 'GET', '/v1/x');
      const codes: string[] = [];
      for (let i = 0; i < 7; i++)
        codes.push((await verify({ ...(await bad(a)), sourceIp: '203.0.113.5' })).json().code);
      expect(codes.at(-1)).toBe('SlowDown');
      const slowed = (await verify({ ...(await bad(a)), sourceIp: '203.0.113.5' })).json();
      expect(slowed.retryAfterSeconds).toBeGreaterThan(0);
      // Another client, another key: its own failure, unaffected by the first client's.
      expect((await verify({ ...(await bad(b)), sourceIp: '203.0.113.6' })).json().code).toBe(
        'SignatureDoesNotMatch',
      );
      // The verifying service's own address was never charged: described without sourceIp, b still fails plainly.
      expect((await verify(await bad(b))).json().code).toBe('SignatureDoesNotMatch');
      // The client's address is the key's last-used address.
      expect(
        (await verify({ ...(await signed(b, 'GET', '/v1/x')), sourceIp: '203.0.113.7' })).json().valid,
      ).toBe(true);
      await t.runtime.lastUsed.flush();
      expect((await call(t, 'GET', `/iam/keys/${b.accessKeyId}`)).json().lastUsedIp).toBe('203.0.113.7');
      expect(
        (await verify({ ...(await signed(b, 'GET', '/v1/x')), sourceIp: 'not-an-ip' })).json().error.code,
      ).toBe('VALIDATION_FAILED');
    });
  });

  describe('tokens', () => {
    it('verifies a key token (Authorization: Bearer), naming its key', async () => {
      const login = await loginWithKey(t, admin.accessKeyId, admin.secretAccessKey);
      expect(login.statusCode, login.body).toBe(200);
      const res = await verify({
        method: 'GET',
        url: `https://${HOST}/v1/orders`,
        headers: { authorization: `Bearer ${login.json().token}` },
      });
      expect(res.json()).toMatchObject({
        valid: true,
        principal: { type: 'user', id: t.adminId },
        accessKeyId: admin.accessKeyId,
        allowed: true,
      });
    });

    it('refuses a console session token and no credentials at all', async () => {
      const session = await verify({
        method: 'GET',
        url: `https://${HOST}/v1/orders`,
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(session.json()).toMatchObject({ valid: false, code: 'INVALID_TOKEN' });
      const none = await verify({ method: 'GET', url: `https://${HOST}/v1/orders`, headers: {} });
      expect(none.json()).toMatchObject({ valid: false, code: 'UNAUTHENTICATED' });
      const garbage = await verify({
        method: 'GET',
        url: `https://${HOST}/v1/orders`,
        headers: { authorization: 'Bearer not-a-token' },
      });
      expect(garbage.json()).toMatchObject({ valid: false, code: 'INVALID_TOKEN' });
    });
  });

  describe('tenants and permissions', () => {
    it("answers another tenant's key as if it did not exist", async () => {
      const other = await secondTenantAdmin(t, 'other-verify@example.com');
      const otherId = (await call(t, 'GET', '/iam/me', { token: other.token })).json().id;
      const otherKey = await keyOf(t, `/iam/users/${otherId}/keys`, other.token);
      const described = await signed(otherKey, 'GET', '/v1/orders');
      expect((await verify(described)).json()).toEqual({
        valid: false,
        code: 'InvalidAccessKeyId',
        message: 'The access key ID you provided does not exist in our records.',
      });
      // Its own tenant verifies it.
      expect((await verify(described, other.token)).json()).toMatchObject({
        valid: true,
        tenantId: other.tenantId,
        accessKeyId: otherKey.accessKeyId,
      });
    });

    it('says whether the credentials hold a permission', async () => {
      const reader = await serviceAccountWith(t, 'reader', ['agent:read']);
      const described = await signed(reader.key, 'GET', '/v1/agents');
      const held = (await verify({ ...described, permission: 'agent:read' })).json();
      expect(held).toMatchObject({
        valid: true,
        principal: { type: 'service_account', id: reader.id, name: 'reader' },
        accessKeyId: reader.key.accessKeyId,
        permissions: ['agent:read'],
        allowed: true,
      });
      expect((await verify({ ...described, permission: 'agent:write' })).json()).toMatchObject({
        valid: true,
        allowed: false,
      });
      // Without `permission`, valid credentials are allowed.
      expect((await verify(described)).json()).toMatchObject({ valid: true, allowed: true });
    });
  });

  describe('the caller', () => {
    it('needs iam:verify (403 AccessDenied) and credentials (401)', async () => {
      const user = await createUserWithLogin(t, 'no-verify@example.com');
      const described = await signed(admin, 'GET', '/v1/orders');
      const denied = await verify(described, user.token);
      expect(denied.statusCode).toBe(403);
      expect(denied.json().error).toMatchObject({ code: 'AccessDenied', missingPermission: 'iam:verify' });
      const anonymous = await verify(described, '');
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error.code).toBe('UNAUTHENTICATED');
    });

    it('a service account holding only iam:verify may call it, signing its call', async () => {
      const verifier = await serviceAccountWith(t, 'verifier', ['iam:verify']);
      const payload = JSON.stringify(await signed(admin, 'GET', '/v1/orders'));
      const callHeaders = await signHeaders(verifier.key, {
        method: 'POST',
        path: '/v1/verify',
        host: 'latchkey.internal',
        date: t.clock.now(),
        body: payload,
        headers: { 'content-type': 'application/json' },
      });
      const res = await t.app.inject({ method: 'POST', url: '/v1/verify', headers: callHeaders, payload });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ valid: true, accessKeyId: admin.accessKeyId });
    });
  });

  describe('malformed input', () => {
    it.each([
      ['an unknown field', { colour: 'red' }],
      ['a bodySha256 that is no lowercase hex SHA-256', { bodySha256: 'ABC' }],
      ['an uppercase bodySha256', { bodySha256: sha256('x').toUpperCase() }],
      ['a method that is not a word', { method: 'GET /' }],
      ['headers that are not strings', { headers: { host: 42 } }],
    ])('refuses %s with 400 VALIDATION_FAILED', async (_name, change) => {
      const res = await verify({ method: 'GET', url: `https://${HOST}/v1/orders`, headers: {}, ...change });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    });

    it.each([
      ['a relative url', '/v1/orders/1'],
      ['a url of another scheme', 'ftp://orders.example.com/x'],
      ['no url at all', 'not a url at all'],
    ])('answers %s valid:false InvalidURI', async (_name, url) => {
      const res = await verify({ method: 'GET', url, headers: {} });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ valid: false, code: 'InvalidURI' });
    });
  });
});
