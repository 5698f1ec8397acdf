/**
 * Temporary SigV4 credentials (issue 17): POST /iam/session-credentials from a password session, a
 * key token or a signed request; used with X-Amz-Security-Token (header or presigned query) as the
 * AWS SDK signer sends it; narrowed by `permissions`; ended by expiry, revocation, or their source
 * ending; kept out of key lists; audited.
 */
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { isWellFormedSessionKeyId } from '../src/crypto/access-key-id.js';
import { call, createUserWithLogin, loginWithKey, type TestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign, signHeaders, wrongSecret } from './helpers/sign.js';

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
  tenantId: string;
  source: string;
  permissions: string[];
}

const creds = (c: Issued): Credentials => ({
  accessKeyId: c.accessKeyId,
  secretAccessKey: c.secretAccessKey,
  sessionToken: c.sessionToken,
});

/**
 * Each test signs from its own address: several tests make refused requests on purpose, and the
 * failure throttle (per address) must not turn a later test's answers into SlowDown.
 */
let ip = 0;
const address = () => `10.9.${Math.floor(ip / 250)}.${(ip % 250) + 1}`;

async function signed(
  t: TestApp,
  c: Credentials,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = await signHeaders(c, {
    method,
    path,
    host: 'lk',
    headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...extra },
    ...(payload !== undefined ? { body: payload } : {}),
    date: t.clock.now(),
  });
  return t.app.inject({
    method,
    url: path,
    headers,
    remoteAddress: address(),
    ...(payload !== undefined ? { payload } : {}),
  });
}

describeEachEngine('temporary credentials', (engine) => {
  const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });
  let roles: Record<string, string>;
  let serial = 0;

  beforeEach(() => {
    ip++;
  });

  beforeAll(async () => {
    roles = Object.fromEntries(
      ((await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>).map((r) => [
        r.name,
        r.id,
      ]),
    );
  });

  const issue = async (token: string | undefined, body?: unknown) => {
    const res = await call(t, 'POST', '/iam/session-credentials', {
      ...(token !== undefined ? { token } : {}),
      ...(body !== undefined ? { body } : {}),
    });
    return res;
  };

  /** A user with `roleNames`, a key of theirs, and a password session. */
  const userWithKey = async (roleNames: string[]) => {
    const user = await createUserWithLogin(t, `temp-${++serial}@example.com`);
    await call(t, 'PUT', `/iam/users/${user.id}/assignments`, {
      body: { roleIds: roleNames.map((r) => roles[r]) },
    });
    const key = (await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: {} })).json();
    return { user, key, keyCreds: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } };
  };

  it('from a password session: LKSA credentials that sign like STS ones, shown once, audited', async () => {
    const res = await issue(undefined);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const c = res.json() as Issued;
    expect(isWellFormedSessionKeyId(c.accessKeyId)).toBe(true);
    expect(c.secretAccessKey).toMatch(/^lksk_/);
    expect(c.sessionToken).toMatch(/^lkst_[A-Za-z0-9]{64}$/);
    expect(c.source).toBe('password');
    expect(c.tenantId).toBe(t.tenantId);
    const life = Date.parse(c.expiration) - t.clock.now().getTime();
    expect(life).toBeGreaterThan(3590_000);
    expect(life).toBeLessThanOrEqual(3600_000);

    const profile = await signed(t, creds(c), 'GET', '/profile');
    expect(profile.statusCode, profile.body).toBe(200);
    expect(profile.json()).toMatchObject({
      accessKeyId: c.accessKeyId,
      credential: 'sigv4',
      principal: { type: 'user', id: t.adminId },
    });
    // The data API too.
    const agents = await signed(t, creds(c), 'GET', '/agent/');
    expect(agents.statusCode, agents.body).toBe(200);

    // Audited without the secret or the token.
    const audit = (await call(t, 'GET', '/iam/audit?action=session-credentials.create')).json();
    const entry = audit.items.find((e: { target: { id: string } }) => e.target.id === c.accessKeyId);
    expect(entry).toBeDefined();
    expect(JSON.stringify(entry)).not.toContain(c.secretAccessKey);
    expect(JSON.stringify(entry)).not.toContain(c.sessionToken);
  });

  it('the token is required, must be theirs, and never goes with a long-term key', async () => {
    const c = (await issue(undefined)).json() as Issued;
    const noToken = await signed(
      t,
      { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
      'GET',
      '/profile',
    );
    expect(noToken.statusCode).toBe(400);
    expect(noToken.json().error.code).toBe('InvalidToken');
    expect(noToken.json().error.message).toContain('X-Amz-Security-Token');

    const other = (await issue(undefined)).json() as Issued;
    const crossed = await signed(t, { ...creds(c), sessionToken: other.sessionToken }, 'GET', '/profile');
    expect(crossed.json().error.code).toBe('InvalidToken');

    const wrongSig = await signed(
      t,
      { ...creds(c), secretAccessKey: wrongSecret(c.secretAccessKey) },
      'GET',
      '/profile',
    );
    expect(wrongSig.json().error.code).toBe('SignatureDoesNotMatch');

    const { keyCreds } = await userWithKey(['DataReadOnly']);
    const longTerm = await signed(t, { ...keyCreds, sessionToken: c.sessionToken }, 'GET', '/profile');
    expect(longTerm.statusCode).toBe(400);
    expect(longTerm.json().error.code).toBe('InvalidToken');
    // Unknown (well-formed) temporary IDs: as unknown keys.
    const unknownId = `LKSA${'0'.repeat(22)}`;
    const unknown = await signed(t, { ...creds(c), accessKeyId: unknownId }, 'GET', '/profile');
    expect(unknown.json().error.code).toBe('InvalidAccessKeyId');
  });

  it('a presigned URL carries the token in its query', async () => {
    const c = (await issue(undefined)).json() as Issued;
    const url = await presign(creds(c), { method: 'GET', path: '/profile', host: 'lk', date: t.clock.now() });
    expect(url).toContain('X-Amz-Security-Token=');
    const res = await t.app.inject({ method: 'GET', url, headers: { host: 'lk' }, remoteAddress: address() });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().accessKeyId).toBe(c.accessKeyId);
    // On the data API the token is no filter (like the other X-Amz-* parameters).
    const data = await presign(creds(c), { method: 'GET', path: '/agent/', host: 'lk', date: t.clock.now() });
    const agents = await t.app.inject({
      method: 'GET',
      url: data,
      headers: { host: 'lk' },
      remoteAddress: address(),
    });
    expect(agents.statusCode, agents.body).toBe(200);
    expect(agents.json().data.length).toBeGreaterThan(0);
    // The token is part of what was signed: another one breaks the signature.
    const other = (await issue(undefined)).json() as Issued;
    const swapped = url.replace(encodeURIComponent(c.sessionToken), encodeURIComponent(other.sessionToken));
    expect(swapped).not.toBe(url);
    const bad = await t.app.inject({
      method: 'GET',
      url: swapped,
      headers: { host: 'lk' },
      remoteAddress: address(),
    });
    expect(bad.json().error.code).toBe('SignatureDoesNotMatch');
  });

  it('permissions narrow what the caller may do (requested ∩ held), and never widen it', async () => {
    const narrowed = await issue(undefined, { permissions: ['agent:read'] });
    expect(narrowed.statusCode, narrowed.body).toBe(201);
    const c = narrowed.json() as Issued;
    expect(c.permissions).toEqual(['agent:read']);
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);
    const write = await signed(t, creds(c), 'POST', '/agent', { code: 'TMP1', description: 'x' });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe('AccessDenied');
    expect((await signed(t, creds(c), 'GET', '/iam/users')).json().error.code).toBe('AccessDenied');

    // A read-only user asking for write gets only what they hold.
    const { user } = await userWithKey(['DataReadOnly']);
    const asked = (await issue(user.token, { permissions: ['agent:read', 'agent:write'] })).json() as Issued;
    expect(asked.permissions).toEqual(['agent:read']);
    const denied = await signed(t, creds(asked), 'POST', '/agent', { code: 'TMP2', description: 'x' });
    expect(denied.json().error.code).toBe('AccessDenied');

    const unknown = await issue(undefined, { permissions: ['agnet:read'] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('UNKNOWN_PERMISSION');
  });

  it('duration: 900 to 43200 s, capped by the tenant setting; bad bodies change nothing', async () => {
    expect((await issue(undefined, { durationSeconds: 899 })).json().error.code).toBe('VALIDATION_FAILED');
    expect((await issue(undefined, { durationSeconds: 43201 })).json().error.code).toBe('VALIDATION_FAILED');
    expect((await issue(undefined, { durationSeconds: '900' })).statusCode).toBe(400);
    expect((await issue(undefined, { extra: 1 })).statusCode).toBe(400);
    const long = (await issue(undefined, { durationSeconds: 43200 })).json() as Issued;
    expect(Date.parse(long.expiration) - t.clock.now().getTime()).toBeGreaterThan(43190_000);

    expect(
      (await call(t, 'PATCH', '/iam/settings', { body: { maxSessionDurationSeconds: 1800 } })).statusCode,
    ).toBe(200);
    try {
      const capped = await issue(undefined, { durationSeconds: 3600 });
      expect(capped.statusCode).toBe(400);
      expect(capped.json().error.message).toContain('1800');
      // The default is the cap when the cap is shorter.
      const dflt = (await issue(undefined)).json() as Issued;
      expect(Date.parse(dflt.expiration) - t.clock.now().getTime()).toBeLessThanOrEqual(1800_000);
    } finally {
      await call(t, 'PATCH', '/iam/settings', { body: { maxSessionDurationSeconds: 43200 } });
    }
  });

  it('they expire', async () => {
    const c = (await issue(undefined, { durationSeconds: 900 })).json() as Issued;
    expect((await signed(t, creds(c), 'GET', '/profile')).statusCode).toBe(200);
    t.clock.advance(901_000);
    try {
      const res = await signed(t, creds(c), 'GET', '/profile');
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('ExpiredToken');
    } finally {
      t.clock.advance(-901_000);
    }
  });

  it('from a signed request: they follow the key (inactive, new secret, deleted) and its limits', async () => {
    const { key, keyCreds } = await userWithKey(['DataReadWrite']);
    const res = await signed(t, keyCreds, 'POST', '/iam/session-credentials', { durationSeconds: 900 });
    expect(res.statusCode, res.body).toBe(201);
    const c = res.json() as Issued;
    expect(c.source).toBe('key');
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);

    // Chained issuing is refused.
    const chained = await signed(t, creds(c), 'POST', '/iam/session-credentials', {});
    expect(chained.statusCode).toBe(403);
    expect(chained.json().error.code).toBe('SESSION_CREDENTIALS_CHAINED');
    // Nor can they be exchanged for a token.
    expect((await loginWithKey(t, c.accessKeyId, c.secretAccessKey)).json().error.code).toBe(
      'INVALID_CREDENTIALS',
    );

    await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
    const inactive = await signed(t, creds(c), 'GET', '/agent/');
    expect(inactive.json().error.code).toBe('InvalidToken');
    expect(inactive.json().error.message).toContain('access key is inactive');
    await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: true } });
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);

    // A new secret (no grace period) ends credentials issued under the old one.
    const rotated = (await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`)).json();
    const afterRotation = await signed(t, creds(c), 'GET', '/agent/');
    expect(afterRotation.json().error.message).toContain('new secret key');
    const fresh = (
      await signed(
        t,
        { accessKeyId: key.accessKeyId, secretAccessKey: rotated.secretAccessKey },
        'POST',
        '/iam/session-credentials',
        {},
      )
    ).json() as Issued;
    expect((await signed(t, creds(fresh), 'GET', '/agent/')).statusCode).toBe(200);

    // Deleting the key ends them.
    expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);
    const deleted = await signed(t, creds(fresh), 'GET', '/agent/');
    expect(deleted.statusCode).toBeGreaterThanOrEqual(400);
    expect(['InvalidToken', 'InvalidAccessKeyId']).toContain(deleted.json().error.code);
  });

  it('follow their key into quarantine: disable ends them, read-only lets only reads through', async () => {
    const admin = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: {} })).json();
    const reporter = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
    const quarantined = async (mode: 'disable' | 'read-only') => {
      await call(t, 'PATCH', '/iam/settings', { body: { leakedKeyAction: mode } });
      const { keyCreds } = await userWithKey(['DataReadWrite']);
      const c = (await signed(t, keyCreds, 'POST', '/iam/session-credentials', {})).json() as Issued;
      expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);
      const report = await signed(t, reporter, 'POST', '/v1/leaked-keys', [
        { token: keyCreds.accessKeyId, type: 'latchkey_access_key_id', source: 'test' },
      ]);
      expect(report.statusCode, report.body).toBe(200);
      expect(report.json()[0].label).toBe('true_positive');
      return c;
    };
    try {
      const off = await quarantined('disable');
      const refused = await signed(t, creds(off), 'GET', '/agent/');
      expect(refused.json().error.code).toBe('InvalidToken');
      expect(refused.json().error.message).toContain('quarantined');

      const ro = await quarantined('read-only');
      expect((await signed(t, creds(ro), 'GET', '/agent/')).statusCode).toBe(200);
      const write = await signed(t, creds(ro), 'POST', '/agent', { code: 'TMPQ', description: 'x' });
      expect(write.statusCode).toBe(403);
      expect(write.json().error.code).toBe('AccessKeyQuarantined');
    } finally {
      await call(t, 'PATCH', '/iam/settings', { body: { leakedKeyAction: 'disable' } });
    }
  });

  it('a leak report naming them (ID or session token) ends them at once; their key stays', async () => {
    const admin = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: {} })).json();
    const reporter = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
    const { key, keyCreds } = await userWithKey(['DataReadOnly']);
    for (const by of ['id', 'token'] as const) {
      const c = (await signed(t, keyCreds, 'POST', '/iam/session-credentials', {})).json() as Issued;
      expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);
      const token = by === 'id' ? c.accessKeyId : c.sessionToken;
      const report = await signed(t, reporter, 'POST', '/v1/leaked-keys', [
        { token, type: 'latchkey_temporary', url: 'https://example.com/leak' },
      ]);
      expect(report.statusCode, report.body).toBe(200);
      expect(report.json()).toEqual([
        { token_raw: token, token_type: 'latchkey_temporary', label: 'true_positive' },
      ]);
      const refused = await signed(t, creds(c), 'GET', '/agent/');
      expect(refused.json().error.message).toContain('revoked');
      const audit = (await call(t, 'GET', '/iam/audit?action=session-credentials.revoke')).json();
      const entry = audit.items.find((e: { target: { id: string } }) => e.target.id === c.accessKeyId);
      expect(JSON.stringify(entry)).toContain('reported leaked at https://example.com/leak');
    }
    // The source key was not what leaked: it still works, unquarantined.
    expect((await signed(t, keyCreds, 'GET', '/agent/')).statusCode).toBe(200);
    expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json().quarantine).toBeNull();
    // Unknown temporary IDs and tokens: false_positive.
    const unknown = await signed(t, reporter, 'POST', '/v1/leaked-keys', [
      { token: `LKSA${'0'.repeat(22)}`, type: 'x' },
      { token: `lkst_${'a'.repeat(64)}`, type: 'x' },
    ]);
    expect(unknown.json().map((f: { label: string }) => f.label)).toEqual([
      'false_positive',
      'false_positive',
    ]);
  });

  it('never outlive their key', async () => {
    const user = await createUserWithLogin(t, `temp-exp-${++serial}@example.com`);
    const key = (
      await call(t, 'POST', `/iam/users/${user.id}/keys`, {
        body: { expiresAt: new Date(t.clock.now().getTime() + 1200_000).toISOString() },
      })
    ).json();
    const res = await signed(
      t,
      { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      'POST',
      '/iam/session-credentials',
      { durationSeconds: 3600 },
    );
    const c = res.json() as Issued;
    expect(Date.parse(c.expiration)).toBeLessThanOrEqual(Date.parse(key.expiresAt));
  });

  it('from a key token: the token narrowing stays, and the key is followed', async () => {
    const { user, keyCreds } = await userWithKey(['DataReadWrite']);
    const token = (await loginWithKey(t, keyCreds.accessKeyId, keyCreds.secretAccessKey)).json().token;
    const res = await issue(token, { permissions: ['agent:*'] });
    expect(res.statusCode, res.body).toBe(201);
    const c = res.json() as Issued;
    expect(c.source).toBe('key');
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);
    expect((await signed(t, creds(c), 'GET', '/customer/')).json().error.code).toBe('AccessDenied');
    // The key's owner loses the role: the credentials lose it too, at once.
    await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [] } });
    expect((await signed(t, creds(c), 'GET', '/agent/')).json().error.code).toBe('AccessDenied');
  });

  it('from a password session: a new password ends them; revocation ends them; others cannot revoke', async () => {
    const email = `temp-pw-${++serial}@example.com`;
    const user = await createUserWithLogin(t, email);
    await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [roles.DataReadOnly] } });
    const c = (await issue(user.token)).json() as Issued;
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);

    // Another user without iam:keys:manage cannot end them; unknown IDs are 404.
    const other = await createUserWithLogin(t, `temp-other-${++serial}@example.com`);
    const refused = await call(t, 'DELETE', `/iam/session-credentials/${c.accessKeyId}`, {
      token: other.token,
    });
    expect(refused.statusCode).toBe(403);
    expect((await signed(t, creds(c), 'GET', '/agent/')).statusCode).toBe(200);
    expect((await call(t, 'DELETE', '/iam/session-credentials/LKSA0000')).statusCode).toBe(404);

    // A new password ends credentials from the old session.
    const changed = await call(t, 'PATCH', '/iam/me', {
      token: user.token,
      body: { password: 'another-long-password', currentPassword: 'a-long-enough-password' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    const ended = await signed(t, creds(c), 'GET', '/agent/');
    expect(ended.json().error.code).toBe('InvalidToken');
    expect(ended.json().error.message).toContain('password was changed');

    // Explicit revocation by their own user.
    const session = changed.json().session.token as string;
    const d = (await issue(session)).json() as Issued;
    expect((await signed(t, creds(d), 'GET', '/agent/')).statusCode).toBe(200);
    expect(
      (await call(t, 'DELETE', `/iam/session-credentials/${d.accessKeyId}`, { token: session })).statusCode,
    ).toBe(204);
    const revoked = await signed(t, creds(d), 'GET', '/agent/');
    expect(revoked.json().error.message).toContain('revoked');
    const audit = (await call(t, 'GET', '/iam/audit?action=session-credentials.revoke')).json();
    expect(audit.items.some((e: { target: { id: string } }) => e.target.id === d.accessKeyId)).toBe(true);
  });

  it("an administrator ends anyone's; the tenant boundary holds", async () => {
    const user = await createUserWithLogin(t, `temp-adm-${++serial}@example.com`);
    const c = (await issue(user.token)).json() as Issued;
    expect((await call(t, 'DELETE', `/iam/session-credentials/${c.accessKeyId}`)).statusCode).toBe(204);
    expect((await signed(t, creds(c), 'GET', '/profile')).json().error.code).toBe('InvalidToken');
  });

  it('are kept out of key lists and key routes', async () => {
    const c = (await issue(undefined)).json() as Issued;
    const list = (await call(t, 'GET', '/iam/keys?limit=200')).json();
    expect(JSON.stringify(list)).not.toContain(c.accessKeyId);
    const one = await call(t, 'GET', `/iam/keys/${c.accessKeyId}`);
    expect(one.statusCode).toBeGreaterThanOrEqual(400);
    expect(one.statusCode).toBeLessThan(500);
  });
});
