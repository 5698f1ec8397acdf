import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticateSigned } from '../src/auth/signed-request.js';
import { generateAccessKeyId } from '../src/crypto/access-key-id.js';
import { CompiledOnce } from '../src/storage/compiled-once.js';
import { call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign, signHeaders, wrongSecret } from './helpers/sign.js';

const HOST = 'latchkey.test';

describeEachEngine('SigV4-signed requests', (engine) => {
  describe('signed requests', () => {
    const t = useTestApp(engine);
    let creds: Credentials;
    let saId: string;
    // Each request from its own address, so failures asserted here do not trip the throttle.
    let address = 0;
    const nextIp = () => `10.0.${Math.floor(++address / 250)}.${address % 250}`;
    const signedGet = async (
      c: Credentials,
      path = '/profile',
      extra: Partial<Parameters<typeof signHeaders>[1]> = {},
    ) => {
      const headers = await signHeaders(c, {
        method: 'GET',
        path,
        host: HOST,
        date: t.clock.now(),
        ...extra,
      });
      return t.app.inject({ method: 'GET', url: path, headers, remoteAddress: nextIp() });
    };
    beforeAll(async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'signer' } })).json();
      saId = sa.id;
      const roles = (await call(t, 'GET', '/iam/roles')).json().items;
      await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, {
        body: { roleIds: [roles.find((r: { name: string }) => r.name === 'DataReadOnly').id] },
      });
      const key = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { name: 'sdk' } })
      ).json();
      creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    });

    it('GET /profile signed by the AWS SDK signer returns the caller', async () => {
      const res = await signedGet(creds);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        tenantId: t.tenantId,
        principal: { type: 'service_account', id: saId },
        accessKeyId: creds.accessKeyId,
        credential: 'sigv4',
      });
      expect(res.json().permissions).toContain('agent:read');
      expect(res.json().permissions).not.toContain('agent:write');
    });

    it('answers a request whose key is cached at once (no promise), and looks a cold or unknown key up', async () => {
      const input = async (c: Credentials) => {
        const headers = await signHeaders(c, {
          method: 'GET',
          path: '/profile',
          host: HOST,
          date: t.clock.now(),
        });
        const rawHeaders = Object.entries(headers).flat();
        return { method: 'GET', url: '/profile', rawHeaders, body: undefined, ip: nextIp(), requestId: 'r' };
      };
      t.runtime.keys.invalidate(creds.accessKeyId);
      const cold = authenticateSigned(t.runtime, await input(creds));
      expect(cold).toBeInstanceOf(Promise);
      expect(await cold).toMatchObject({ ok: true, actor: { accessKeyId: creds.accessKeyId } });
      const warm = authenticateSigned(t.runtime, await input(creds));
      expect(warm).not.toBeInstanceOf(Promise);
      expect(warm).toMatchObject({ ok: true, actor: { accessKeyId: creds.accessKeyId } });
      // A well-formed ID of no key: looked up once, then known missing (still refused, still counted).
      const unknown = { accessKeyId: generateAccessKeyId(), secretAccessKey: creds.secretAccessKey };
      for (let i = 0; i < 2; i++) {
        const refused = await authenticateSigned(t.runtime, await input(unknown));
        expect(refused).toMatchObject({ ok: false, code: 'InvalidAccessKeyId' });
      }
    });

    it('keys with the same roles, owner and type share one permission set in the key cache', async () => {
      const another = (
        await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: { name: 'second' } })
      ).json();
      const apiKey = (
        await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: { name: 'api', type: 'api' } })
      ).json();
      const first = await t.runtime.keys.getFresh(creds.accessKeyId);
      const second = await t.runtime.keys.getFresh(another.accessKeyId);
      const api = await t.runtime.keys.getFresh(apiKey.accessKeyId);
      expect(second?.permissions).toBe(first?.permissions);
      expect(api?.permissions).not.toBe(first?.permissions);
      expect(first?.permissions.allows('agent:read')).toBe(true);
      expect(first?.permissions.allows('agent:write')).toBe(false);
      // What the IAM API reports for a key is the same set, expanded (the set keeps its patterns).
      const reported = (await call(t, 'GET', `/iam/keys/${another.accessKeyId}/permissions`)).json();
      expect(reported.permissions).toEqual(second?.permissions.expand());
      expect(second?.permissions.patterns).toEqual(['*:read']);
    });

    it('presigned URLs work, and expire', async () => {
      const url = await presign(creds, {
        method: 'GET',
        path: '/profile',
        host: HOST,
        date: t.clock.now(),
        expiresIn: 60,
      });
      const ok = await t.app.inject({ method: 'GET', url, headers: { host: HOST } });
      expect(ok.statusCode).toBe(200);
      t.clock.advance(61_000);
      try {
        const late = await t.app.inject({ method: 'GET', url, headers: { host: HOST } });
        expect(late.statusCode).toBe(403);
        expect(late.json().error.code).toBe('AccessDenied');
      } finally {
        t.clock.advance(-61_000);
      }
    });

    it('a wrong secret answers SignatureDoesNotMatch with the canonical request and string to sign, never the secret', async () => {
      const res = await signedGet({ ...creds, secretAccessKey: wrongSecret(creds.secretAccessKey) });
      expect(res.statusCode).toBe(403);
      expect(res.headers.date).toBeTruthy();
      const { error } = res.json();
      expect(error.code).toBe('SignatureDoesNotMatch');
      expect(error.canonicalRequest).toContain('GET\n/profile\n');
      expect(error.stringToSign).toMatch(/^AWS4-HMAC-SHA256\n/);
      expect(res.body).not.toContain(creds.secretAccessKey);
    });

    it('answers the AWS codes clients understand', async () => {
      const unknown = await signedGet({ ...creds, accessKeyId: 'LKIA00000000000000000000AA' });
      expect(unknown.statusCode).toBe(403);
      expect(unknown.json().error.code).toBe('InvalidAccessKeyId');
      const skewed = await signedGet(creds, '/profile', {
        date: new Date(t.clock.now().getTime() - 16 * 60_000),
      });
      expect(skewed.json().error.code).toBe('RequestTimeTooSkewed');
      const malformed = await t.app.inject({
        method: 'GET',
        url: '/profile',
        headers: {
          host: HOST,
          authorization: 'AWS4-HMAC-SHA256 Credential=nonsense',
          'x-amz-date': '20260101T000000Z',
        },
      });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('AuthorizationHeaderMalformed');
      const wrongScope = await signedGet(creds, '/profile', { region: 'us-east-1', service: 's3' });
      expect(wrongScope.json().error.code).toBe('AuthorizationHeaderMalformed');
      expect(wrongScope.json().error.message).toContain('ap-southeast-5/sqlaccount');
    });

    it('accepts the scopes the tenant lists (the older ap-southeast-1 / execute-api samples)', async () => {
      expect(
        (await signedGet(creds, '/profile', { region: 'ap-southeast-1', service: 'execute-api' })).statusCode,
      ).toBe(200);
      await call(t, 'PATCH', '/iam/settings', { body: { acceptedScopes: [] } });
      try {
        const res = await signedGet(creds, '/profile', { region: 'ap-southeast-1', service: 'execute-api' });
        expect(res.json().error.code).toBe('AuthorizationHeaderMalformed');
      } finally {
        await call(t, 'PATCH', '/iam/settings', {
          body: { acceptedScopes: [{ region: 'ap-southeast-1', service: 'execute-api' }] },
        });
      }
    });

    it('key states apply at once: inactive, expired, rotated out, deleted', async () => {
      const key = (
        await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: { validityDays: 1 } })
      ).json();
      const c = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      expect((await signedGet(c)).statusCode).toBe(200);
      await call(t, 'PATCH', `/iam/keys/${c.accessKeyId}`, { body: { active: false } });
      expect((await signedGet(c)).json().error.code).toBe('AccessKeyInactive');
      await call(t, 'PATCH', `/iam/keys/${c.accessKeyId}`, { body: { active: true } });
      expect((await signedGet(c)).statusCode).toBe(200);
      t.clock.advance(86_400_000 + 1000);
      try {
        expect((await signedGet(c)).json().error.code).toBe('ExpiredToken');
      } finally {
        t.clock.advance(-(86_400_000 + 1000));
      }
      const rotated = (await call(t, 'POST', `/iam/keys/${c.accessKeyId}/secret`, { body: {} })).json();
      expect((await signedGet(c)).json().error.code).toBe('SignatureDoesNotMatch');
      const c2 = { ...c, secretAccessKey: rotated.secretAccessKey };
      expect((await signedGet(c2)).statusCode).toBe(200);
      await call(t, 'DELETE', `/iam/keys/${c.accessKeyId}`);
      expect((await signedGet(c2)).json().error.code).toBe('InvalidAccessKeyId');
    });

    it('permissions are checked on every signed request; api-type keys cannot call /iam', async () => {
      const denied = await signedGet(creds, '/iam/users');
      expect(denied.statusCode).toBe(403);
      expect(denied.json().error).toMatchObject({
        code: 'AccessDenied',
        missingPermission: 'iam:users:read',
      });
      const api = (
        await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: { type: 'api' } })
      ).json();
      const apiCreds = { accessKeyId: api.accessKeyId, secretAccessKey: api.secretAccessKey };
      expect((await signedGet(apiCreds)).statusCode).toBe(200);
      const iam = await signedGet(apiCreds, '/iam/me');
      expect(iam.statusCode).toBe(403);
      expect(iam.json().error.code).toBe('AccessDenied');
    });

    it('a POST body is covered by the signature', async () => {
      const body = JSON.stringify({ name: 'renamed-by-signed-request' });
      const admin = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'admin-signer' } })
      ).json();
      const ac = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
      const path = `/iam/keys/${admin.accessKeyId}`;
      const headers = await signHeaders(ac, {
        method: 'PATCH',
        path,
        host: HOST,
        date: t.clock.now(),
        headers: { 'content-type': 'application/json' },
        body,
      });
      const ok = await t.app.inject({
        method: 'PATCH',
        url: path,
        headers,
        payload: body,
        remoteAddress: nextIp(),
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().name).toBe('renamed-by-signed-request');
      const tampered = await t.app.inject({
        method: 'PATCH',
        url: path,
        headers,
        payload: body.replace('renamed', 'hacked'),
        remoteAddress: nextIp(),
      });
      // The AWS signer declares the body hash in x-amz-content-sha256, so the mismatch is caught there.
      expect([400, 403]).toContain(tampered.statusCode);
      expect(['XAmzContentSHA256Mismatch', 'SignatureDoesNotMatch']).toContain(tampered.json().error.code);
      expect((await call(t, 'GET', path)).json().name).toBe('renamed-by-signed-request');
      const declared = await t.app.inject({
        method: 'PATCH',
        url: path,
        headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        payload: body,
        remoteAddress: nextIp(),
      });
      expect(declared.statusCode).toBeGreaterThanOrEqual(400);
      expect(declared.statusCode).toBeLessThan(500);
    });

    it('throttles repeated failures per address with 429 and Retry-After; valid requests from elsewhere are not slowed', async () => {
      const own = (
        await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: { name: 'throttled' } })
      ).json();
      const good = { accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey };
      const bad = { ...good, secretAccessKey: 'lksk_wrongwrongwrongwrongwrongwrongwrongwron' };
      const from = async (ip: string, c: Credentials) => {
        const headers = await signHeaders(c, {
          method: 'GET',
          path: '/profile',
          host: HOST,
          date: t.clock.now(),
        });
        return t.app.inject({ method: 'GET', url: '/profile', headers, remoteAddress: ip });
      };
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) codes.push((await from('10.7.7.7', bad)).statusCode);
      expect(codes.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
      expect(codes.at(-1)).toBe(429);
      const throttled = await from('10.7.7.7', bad);
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The key's holder, from another address, is not slowed by someone else's failures…
      expect((await from('10.8.8.8', good)).statusCode).toBe(200);
      // …nor is any valid request from the throttled address.
      expect((await from('10.7.7.7', creds)).statusCode).toBe(200);
      // The key itself is throttled for failures from any address.
      expect((await from('10.9.9.1', bad)).statusCode).toBe(429);
    });

    it('records last use in batches, not per request', async () => {
      const key = (await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: {} })).json();
      const c = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      for (let i = 0; i < 5; i++) expect((await signedGet(c)).statusCode).toBe(200);
      expect((await call(t, 'GET', `/iam/keys/${c.accessKeyId}`)).json().lastUsedAt).toBeNull();
      expect(t.runtime.lastUsed.pendingCount).toBeGreaterThan(0);
      await t.runtime.lastUsed.flush();
      const shown = (await call(t, 'GET', `/iam/keys/${c.accessKeyId}`)).json();
      expect(shown.lastUsedAt).toBe(t.clock.now().toISOString());
      expect(shown.lastUsedIp).toBe(`10.0.0.${address % 250}`);
    });

    it('runs a compiled-once query with fresh values each time, and refuses a misplaced placeholder', async () => {
      const { db, database } = t.runtime.svc;
      const byName = new CompiledOnce('test_by_name', (arg: (name: 'name' | 'type') => string) =>
        db
          .selectFrom('service_accounts')
          .select(['id', 'name'])
          .where('name', '=', arg('name'))
          .where('status', '=', 'active')
          .where((eb) => eb.or([eb('name', '=', arg('name')), eb('id', '=', arg('type'))])),
      );
      const sa = (await call(t, 'GET', `/iam/service-accounts/${saId}`)).json();
      expect((await byName.execute(database, { name: sa.name, type: 'x' })).rows).toEqual([
        { id: saId, name: sa.name },
      ]);
      expect((await byName.execute(database, { name: 'no such account', type: 'x' })).rows).toEqual([]);
      const misplaced = new CompiledOnce('test_misplaced', (arg: (name: 'column') => string) =>
        db.selectFrom('service_accounts').select(sql.ref(arg('column')).as('c')),
      );
      await expect(misplaced.execute(database, { column: 'name' })).rejects.toThrow(/placeholder/);
    });

    it('keeps verifying after a newer version adds a column to access_keys (rolling upgrade)', async () => {
      const key = (await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: {} })).json();
      const c = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      // Every pooled connection has now prepared the cold-key statement at least once.
      for (let i = 0; i < 12; i++) {
        t.runtime.keys.invalidate(c.accessKeyId);
        expect((await signedGet(c)).statusCode).toBe(200);
      }
      const { db } = t.runtime.svc;
      await sql`alter table access_keys add column added_by_a_newer_version text`.execute(db);
      try {
        for (let i = 0; i < 12; i++) {
          t.runtime.keys.invalidate(c.accessKeyId);
          expect((await signedGet(c)).statusCode).toBe(200);
        }
      } finally {
        await sql`alter table access_keys drop column added_by_a_newer_version`.execute(db);
      }
    });

    it('writes many uses in chunks, and never moves a last-used time backwards', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 3; i++) {
        keys.push(
          (await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body: {} })).json().accessKeyId,
        );
      }
      const recorder = t.runtime.lastUsed;
      const at = t.clock.now().getTime();
      // More uses than one statement writes (unknown IDs match no row, as for a key deleted meanwhile).
      for (let i = 0; i < 130; i++) recorder.record(`LKIA-gone-${i}`, '10.1.1.1', at);
      recorder.record(keys[0] as string, '10.1.1.1', at);
      recorder.record(keys[1] as string, '10.1.1.2', at);
      await recorder.flush();
      expect(recorder.pendingCount).toBe(0);
      // An older use (another instance's late flush) does not replace a newer one; a newer one does.
      recorder.record(keys[0] as string, '10.2.2.2', at - 60_000);
      recorder.record(keys[1] as string, '10.3.3.3', at + 60_000);
      await recorder.flush();
      const shown = async (id: string) => (await call(t, 'GET', `/iam/keys/${id}`)).json();
      expect(await shown(keys[0] as string)).toMatchObject({
        lastUsedAt: new Date(at).toISOString(),
        lastUsedIp: '10.1.1.1',
      });
      expect(await shown(keys[1] as string)).toMatchObject({
        lastUsedAt: new Date(at + 60_000).toISOString(),
        lastUsedIp: '10.3.3.3',
      });
      expect((await shown(keys[2] as string)).lastUsedAt).toBeNull();
    });
  });
});
