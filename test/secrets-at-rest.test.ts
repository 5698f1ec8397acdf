/**
 * Secrets (secret access keys and passwords) never appear in logs, audit rows, error responses
 * or the stored database, in any form we can search for (UTF-8, UTF-16, base64).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  call,
  createUserWithLogin,
  login,
  loginWithKey,
  refreshAdminToken,
} from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

/** Every encoding of `secret` we look for in stored bytes. */
function encodings(secret: string): Buffer[] {
  const utf8 = Buffer.from(secret, 'utf8');
  return [
    utf8,
    Buffer.from(secret, 'utf16le'),
    Buffer.from(utf8.toString('base64'), 'utf8'),
    Buffer.from(utf8.toString('base64url'), 'utf8'),
    Buffer.from(utf8.toString('hex'), 'utf8'),
  ];
}

/** The secrets among `secrets` found in `haystack` (in any encoding). */
function leaked(haystack: Buffer | string, secrets: string[]): string[] {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  return secrets.filter((s) => encodings(s).some((e) => bytes.includes(e)));
}

async function dumpPostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
    );
    const out: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(
        `select t::text as row from "${table_name.replaceAll('"', '""')}" t`,
      );
      out.push(`-- ${table_name}`, ...rows.rows.map((r) => r.row));
    }
    return out.join('\n');
  } finally {
    await client.end();
  }
}

function expectNoSecretIn(res: LightMyRequestResponse, secrets: string[]): void {
  expect(leaked(res.body, secrets), `${res.statusCode} ${res.body}`).toEqual([]);
  expect(leaked(JSON.stringify(res.headers), secrets)).toEqual([]);
}

describeEachEngine('secrets at rest', (engine) => {
  describe('never stored, logged or echoed', () => {
    const t = useTestApp(engine);
    /** Every secret access key and password the test handled. */
    const secrets: string[] = [ADMIN_PASSWORD];
    const accessKeyIds: string[] = [];
    const errorResponses: LightMyRequestResponse[] = [];

    beforeAll(async () => {
      // Users with passwords; one changes their own password, one gets a new password from an admin.
      const p1 = 'first-user-password-0001';
      const p1b = 'first-user-password-0002';
      const p2 = 'second-user-password-0001';
      const p2b = 'second-user-password-0002';
      secrets.push(p1, p1b, p2, p2b);
      const u1 = await createUserWithLogin(t, 'secret-u1@example.com', p1);
      const u2 = await createUserWithLogin(t, 'secret-u2@example.com', p2);
      const changed = await call(t, 'PATCH', '/iam/me', {
        token: u1.token,
        body: { password: p1b, currentPassword: p1 },
      });
      expect(changed.statusCode).toBe(200);
      // A new password ends earlier sessions: the answer carries the user's new one.
      u1.token = changed.json().session.token;
      expect((await call(t, 'PATCH', `/iam/users/${u2.id}`, { body: { password: p2b } })).statusCode).toBe(
        200,
      );

      const created = async (url: string, body: object) => {
        const res = await call(t, 'POST', url, { body });
        expect(res.statusCode, res.body).toBe(201);
        const { accessKeyId, secretAccessKey } = res.json() as {
          accessKeyId: string;
          secretAccessKey: string;
        };
        secrets.push(secretAccessKey);
        accessKeyIds.push(accessKeyId);
        return { accessKeyId, secretAccessKey };
      };
      // Keys for users (one makes its owner an API user) and for a service account.
      const k1 = await created(`/iam/users/${u1.id}/keys`, { name: 'u1 laptop' });
      await created(`/iam/users/${u2.id}/keys`, { name: 'u2 api', apiUser: true });
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'secret-etl' } })).json();
      const k3 = await created(`/iam/service-accounts/${sa.id}/keys`, { name: 'etl' });
      await created(`/iam/service-accounts/${sa.id}/keys`, { name: 'etl api', type: 'api' });
      // Rotate with a grace period: both the old and the new secret are live at once.
      const rotated = await call(t, 'POST', `/iam/keys/${k3.accessKeyId}/secret`, {
        body: { graceSeconds: 3600 },
      });
      expect(rotated.statusCode).toBe(200);
      const k3b = rotated.json().secretAccessKey as string;
      secrets.push(k3b);

      // Sign in with a password and with keys (old and new secret during the grace period).
      await login(t, 'secret-u1@example.com', p1b);
      for (const [id, secret] of [
        [k1.accessKeyId, k1.secretAccessKey],
        [k3.accessKeyId, k3.secretAccessKey],
        [k3.accessKeyId, k3b],
      ] as const) {
        const res = await loginWithKey(t, id, secret);
        expect(res.statusCode, res.body).toBe(200);
      }

      // Failing requests that carry secrets in their bodies (at most 4 failed sign-ins: the
      // per-address throttle would block the next sign-in of the administrator).
      const failures: Array<[LightMyRequestResponse, number]> = [
        // a secret access key sent as a password, a password sent as a secret key
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: { auth_mode: 'password', email: 'secret-u1@example.com', password: k1.secretAccessKey },
          }),
          401,
        ],
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: { auth_mode: 'apikey', apikey: k3.accessKeyId, secretkey: p1b },
          }),
          401,
        ],
        // the right password for the wrong tenant
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: {
              auth_mode: 'password',
              email: 'secret-u1@example.com',
              password: p1b,
              tenantId: '999999999999',
            },
          }),
          401,
        ],
        // API user trying a password
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: { auth_mode: 'password', email: 'secret-u2@example.com', password: p2b },
          }),
          403,
        ],
        // invalid bodies holding secrets
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: { auth_mode: 'apikey', apikey: k1.accessKeyId, secretkey: k1.secretAccessKey, extra: 1 },
          }),
          400,
        ],
        [
          await call(t, 'POST', '/iam/login', {
            token: '',
            body: { auth_mode: 'magic', apikey: k1.accessKeyId, secretkey: k1.secretAccessKey },
          }),
          400,
        ],
        [
          await call(t, 'POST', '/iam/users', {
            body: { email: 'not-an-email', name: 'x', password: k1.secretAccessKey },
          }),
          400,
        ],
        [
          await call(t, 'POST', '/iam/users', {
            body: { email: 'secret-u1@example.com', name: 'dup', password: p1b },
          }),
          409,
        ],
        [
          await call(t, 'PATCH', '/iam/me', {
            token: u1.token,
            body: { password: 'another-long-password', currentPassword: k3b },
          }),
          401,
        ],
        [
          await call(t, 'PATCH', '/iam/me', {
            token: u1.token,
            body: { password: 'short', currentPassword: p1b },
          }),
          400,
        ],
        [
          await call(t, 'POST', `/iam/users/${u1.id}/keys`, {
            body: { name: k3b, validityDays: '30' },
          }),
          400,
        ],
        [await call(t, 'POST', `/iam/keys/${k3.accessKeyId}/secret`, { body: { graceSeconds: k3b } }), 400],
        [
          await call(t, 'PATCH', `/iam/keys/${k1.accessKeyId}`, {
            body: { name: k1.secretAccessKey, active: 'no' },
          }),
          400,
        ],
        // malformed JSON holding a secret
        [
          await t.app.inject({
            method: 'POST',
            url: '/iam/login',
            headers: { 'content-type': 'application/json' },
            payload: `{"auth_mode":"apikey","apikey":"${k1.accessKeyId}","secretkey":"${k1.secretAccessKey}"`,
          }),
          400,
        ],
        [
          await t.app.inject({
            method: 'POST',
            url: '/iam/login',
            headers: { 'content-type': 'application/json' },
            payload: `{"auth_mode":"password","password":"${p1b}" "email":"secret-u1@example.com"}`,
          }),
          400,
        ],
      ];
      for (const [res, status] of failures) {
        expect(res.statusCode, res.body).toBe(status);
        errorResponses.push(res);
      }
    });

    it('error responses never echo a secret', () => {
      expect(errorResponses.length).toBeGreaterThan(10);
      for (const res of errorResponses) {
        expect(res.json().error.code).toMatch(/^[A-Z_]+$/);
        expectNoSecretIn(res, secrets);
      }
    });

    it('the database holds no secret or password in any encoding', async () => {
      let stored: Buffer;
      if (engine === 'sqlite') {
        const file = t.db.sqliteFile as string;
        const parts = [file, `${file}-wal`, `${file}-shm`].filter((f) => fs.existsSync(f));
        expect(parts).toContain(file);
        stored = Buffer.concat(parts.map((f) => fs.readFileSync(f)));
      } else {
        stored = Buffer.from(await dumpPostgres(t.db.postgresUrl as string), 'utf8');
      }
      // The search can find what is stored: every access key ID is there.
      for (const id of accessKeyIds) expect(stored.includes(Buffer.from(id)), id).toBe(true);
      expect(stored.includes(Buffer.from('secret-u1@example.com'))).toBe(true);
      expect(secrets.length).toBeGreaterThanOrEqual(10);
      expect(leaked(stored, secrets)).toEqual([]);
    });

    it('the logs hold no secret or password', () => {
      const logs = t.logs.join('');
      expect(logs).toContain('/iam/login');
      expect(leaked(logs, secrets)).toEqual([]);
    });

    it('the audit log holds no secret or password, but records key creation and rotation', async () => {
      const res = await call(t, 'GET', '/iam/audit?limit=200');
      expect(res.statusCode).toBe(200);
      expect(leaked(res.body, secrets)).toEqual([]);
      const actions = (res.json().items as Array<{ action: string }>).map((e) => e.action);
      expect(actions.filter((a) => a === 'access_key.create')).toHaveLength(4);
      expect(actions).toContain('access_key.rotate_secret');
      expect(actions).toContain('user.api_user');
      expect(actions.filter((a) => a === 'user.create')).toHaveLength(2);
      // Both password changes are audited (without the password).
      expect(
        actions.filter((a) => a === 'user.password' || a === 'user.update').length,
      ).toBeGreaterThanOrEqual(2);
      // The raw rows too (before/after JSON), not only the API view.
      const rows = await t.runtime.svc.db.selectFrom('audit_log').selectAll().execute();
      expect(rows.length).toBeGreaterThan(0);
      expect(leaked(JSON.stringify(rows), secrets)).toEqual([]);
    });

    it('the generated master key file is private (0600)', () => {
      const file = path.join(t.db.dataDir, 'master.key');
      expect(t.env.LATCHKEY_MASTER_KEY).toBeUndefined();
      expect(fs.existsSync(file)).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    });

    it('passwords are stored as scrypt hashes', async () => {
      const rows = await t.runtime.svc.db
        .selectFrom('users')
        .select(['email', 'password_hash'])
        .where('password_hash', 'is not', null)
        .execute();
      expect(rows.map((r) => r.email).sort()).toEqual(
        ['admin@example.com', 'secret-u1@example.com', 'secret-u2@example.com'].sort(),
      );
      for (const row of rows) {
        expect(row.password_hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      }
      // Each hash has its own salt.
      expect(new Set(rows.map((r) => r.password_hash?.split('$')[4])).size).toBe(rows.length);
    });

    it("a stored secret decrypts only in its own row: another key's ciphertext does not authenticate", async () => {
      // Forget the failed sign-ins above (throttle window) before signing in again.
      t.clock.advance(16 * 60_000);
      await refreshAdminToken(t);
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'tamper' } })).json();
      const mk = async () =>
        (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const a = await mk();
      const b = await mk();
      secrets.push(a.secretAccessKey, b.secretAccessKey);
      expect((await loginWithKey(t, b.accessKeyId, b.secretAccessKey)).statusCode).toBe(200);

      const db = t.runtime.svc.db;
      const rowA = await db
        .selectFrom('key_secrets')
        .selectAll()
        .where('access_key_id', '=', a.accessKeyId)
        .executeTakeFirstOrThrow();
      await db
        .updateTable('key_secrets')
        .set({ ciphertext: rowA.ciphertext, master_key_version: rowA.master_key_version })
        .where('access_key_id', '=', b.accessKeyId)
        .execute();

      // Neither B's own secret nor A's (whose ciphertext B now holds) signs in as B.
      for (const secret of [b.secretAccessKey, a.secretAccessKey]) {
        const res = await loginWithKey(t, b.accessKeyId, secret);
        expect(res.statusCode, res.body).not.toBe(200);
        expect(res.json().token).toBeUndefined();
        expectNoSecretIn(res, secrets);
      }
      // A is untouched.
      expect((await loginWithKey(t, a.accessKeyId, a.secretAccessKey)).statusCode).toBe(200);
      expect(leaked(t.logs.join(''), secrets)).toEqual([]);
    });
  });
});
