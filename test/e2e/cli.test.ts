/**
 * The operator CLI (src/cli/index.ts) as a real child process, on the same database as an app
 * instance that checks the effects (keys authenticate or not, passwords work or not).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  call,
  loginWithKey,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { describeEachEngine } from '../helpers/each-engine.js';
import { type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import { type ProcessResult, ROOT, runCli } from '../helpers/process.js';

const USER_EMAIL = 'cli-user@example.com';
const USER_PASSWORD = 'cli-user-password-0001';

/** Access key ID and secret from the human "shown once" notice. */
function parseNotice(stdout: string): { accessKeyId: string; secret: string } {
  const id = /^Access key ID:\s+(LKIA[0-9A-Z]{22})$/m.exec(stdout)?.[1];
  const secret = /^Secret access key:\s+(lksk_[0-9A-Za-z]{40})$/m.exec(stdout)?.[1];
  if (!id || !secret) throw new Error(`no key notice in:\n${stdout}`);
  return { accessKeyId: id, secret };
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

function expectOk(res: ProcessResult): void {
  expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
}

// The engines run side by side (each CLI run mostly waits on module loading); commands within one run in order.
describeEachEngine('operator CLI', { concurrent: true }, (engine) => {
  // Every CLI run costs about a second: PostgreSQL runs the commands that touch engine-specific code.
  const full = engine === 'sqlite';
  const sqliteOnly = full ? it : it.skip;

  describe('commands', { timeout: 90_000, sequential: true }, () => {
    let db: ScratchDatabase;
    let env: Record<string, string | undefined>;
    let t: TestApp | undefined;
    const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
      runCli(args, { ...env, ...extra });
    const app = (): TestApp => {
      if (!t) throw new Error('no app');
      return t;
    };
    let userKey = { accessKeyId: '', secret: '' };
    let jsonKey = { accessKeyId: '', secret: '' };

    beforeAll(async () => {
      db = await scratchDatabase(engine);
      env = {
        LATCHKEY_DATA_DIR: db.dataDir,
        DATABASE_URL: db.databaseUrl,
        LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
        LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      };
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('init creates the database and the first tenant (once); then users create and users list --json', async () => {
      const init = await cli(['init', '--json']);
      expectOk(init);
      const first = JSON.parse(init.stdout) as {
        created: boolean;
        tenantId: string;
        adminEmail: string;
        password: null;
      };
      // LATCHKEY_ADMIN_PASSWORD is set: nothing generated, nothing printed.
      expect(first).toMatchObject({ created: true, adminEmail: ADMIN_EMAIL, password: null });
      expect(init.stdout + init.stderr).not.toContain(ADMIN_PASSWORD);
      const again = await cli(['init', '--json']);
      expectOk(again);
      expect(JSON.parse(again.stdout)).toMatchObject({ created: false, tenantId: first.tenantId });

      const created = await cli([
        'users',
        'create',
        '--email',
        USER_EMAIL,
        '--name',
        'Cli User',
        '--password',
        USER_PASSWORD,
      ]);
      expectOk(created);
      expect(created.stdout).toContain(USER_EMAIL);
      expect(created.stdout).not.toContain(USER_PASSWORD);
      const tenantId = /^tenantId\s+(\d{12})$/m.exec(created.stdout)?.[1];
      expect(tenantId).toBe(first.tenantId);

      const list = await cli(['users', 'list', '--json']);
      expectOk(list);
      const users = JSON.parse(list.stdout) as Array<{ email: string; admin: boolean; status: string }>;
      expect(users.map((u) => u.email).sort()).toEqual([ADMIN_EMAIL, USER_EMAIL].sort());
      expect(users.find((u) => u.email === ADMIN_EMAIL)?.admin).toBe(true);
      expect(users.find((u) => u.email === USER_EMAIL)).toMatchObject({ admin: false, status: 'active' });

      // An app on the same database finds the tenant the CLI created (no second one).
      t = await startTestApp(engine, { db });
      expect(t.tenantId).toBe(tenantId);
      expect((await t.runtime.svc.db.selectFrom('tenants').select('id').execute()).length).toBe(1);
      const viaApi = await call(t, 'GET', '/iam/users');
      expect(viaApi.json().total).toBe(2);
      // The user's password works.
      const login = await call(t, 'POST', '/iam/login', {
        token: '',
        body: { auth_mode: 'password', email: USER_EMAIL, password: USER_PASSWORD },
      });
      expect(login.statusCode).toBe(200);
    });

    it('keys create prints the access key ID and the secret once; --json gives secretAccessKey', async () => {
      const human = await cli(['keys', 'create', '--user', USER_EMAIL, '--name', 'x']);
      expectOk(human);
      userKey = parseNotice(human.stdout);
      expect(occurrences(human.stdout + human.stderr, userKey.secret)).toBe(1);
      expect(human.stdout).toContain(app().tenantId);
      expect((await loginWithKey(app(), userKey.accessKeyId, userKey.secret)).statusCode).toBe(200);

      const json = await cli(['keys', 'create', '--user', USER_EMAIL, '--name', 'y', '--json']);
      expectOk(json);
      const body = JSON.parse(json.stdout) as { accessKeyId: string; secretAccessKey: string; name: string };
      expect(body.secretAccessKey).toMatch(/^lksk_[0-9A-Za-z]{40}$/);
      expect(body.name).toBe('y');
      expect(occurrences(json.stdout + json.stderr, body.secretAccessKey)).toBe(1);
      jsonKey = { accessKeyId: body.accessKeyId, secret: body.secretAccessKey };
      expect((await loginWithKey(app(), jsonKey.accessKeyId, jsonKey.secret)).statusCode).toBe(200);
      const viaApi = await call(app(), 'GET', `/iam/keys/${jsonKey.accessKeyId}`);
      expect(viaApi.json()).toMatchObject({ name: 'y', owner: { type: 'user' } });
    });

    sqliteOnly('keys list shows the keys but never a secret', async () => {
      const runs = await Promise.all([
        cli(['keys', 'list']),
        cli(['keys', 'list', '--user', USER_EMAIL, '--json']),
      ]);
      for (const res of runs) {
        expectOk(res);
        expect(res.stdout).toContain(userKey.accessKeyId);
        expect(res.stdout).toContain(jsonKey.accessKeyId);
        expect(res.stdout).not.toContain('lksk_');
      }
    });

    it('keys rotate prints a new secret; the old one stops working', async () => {
      const res = await cli(['keys', 'rotate', userKey.accessKeyId]);
      expectOk(res);
      const rotated = parseNotice(res.stdout);
      expect(rotated.accessKeyId).toBe(userKey.accessKeyId);
      expect(rotated.secret).not.toBe(userKey.secret);
      const old = await loginWithKey(app(), userKey.accessKeyId, userKey.secret);
      expect(old.statusCode).toBe(401);
      expect((await loginWithKey(app(), userKey.accessKeyId, rotated.secret)).statusCode).toBe(200);
      userKey = rotated;
    });

    sqliteOnly('keys disable, enable and delete', async () => {
      expectOk(await cli(['keys', 'disable', userKey.accessKeyId]));
      const disabled = await loginWithKey(app(), userKey.accessKeyId, userKey.secret);
      expect(disabled.statusCode).toBe(403);
      expect(disabled.json().error.code).toBe('KEY_INACTIVE');

      expectOk(await cli(['keys', 'enable', userKey.accessKeyId]));
      expect((await loginWithKey(app(), userKey.accessKeyId, userKey.secret)).statusCode).toBe(200);

      const deleted = await cli(['keys', 'delete', jsonKey.accessKeyId]);
      expectOk(deleted);
      expect(deleted.stdout).toContain(jsonKey.accessKeyId);
      expect((await loginWithKey(app(), jsonKey.accessKeyId, jsonKey.secret)).statusCode).toBe(401);
      expect((await call(app(), 'GET', `/iam/keys/${jsonKey.accessKeyId}`)).statusCode).toBe(404);
    });

    it('settings get --json; settings set userKeyLimit=3; an unknown setting is refused', async () => {
      if (full) {
        const got = await cli(['settings', 'get', '--json']);
        expectOk(got);
        expect(JSON.parse(got.stdout)).toMatchObject({ userKeyLimit: 2, tokenLifetimeSeconds: 3600 });
      }
      expectOk(await cli(['settings', 'set', 'userKeyLimit=3']));
      expect((await call(app(), 'GET', '/iam/settings')).json().userKeyLimit).toBe(3);

      const before = (await call(app(), 'GET', '/iam/settings')).body;
      const unknown = await cli(['settings', 'set', 'userKeyLimitt=4']);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain('userKeyLimitt');
      expect((await call(app(), 'GET', '/iam/settings')).body).toBe(before);
    });

    sqliteOnly('settings set refuses values the API would refuse, and changes nothing', async () => {
      const before = (await call(app(), 'GET', '/iam/settings')).body;
      // Each is a 400 through PATCH /iam/settings (integer ranges, types).
      const assignments = ['userKeyLimit=-1', 'tokenLifetimeSeconds="soon"'];
      try {
        const results = await Promise.all(assignments.map((a) => cli(['settings', 'set', a])));
        for (const [i, res] of results.entries()) {
          const assignment = assignments[i] as string;
          expect(res.code, `${assignment} was accepted:\n${res.stdout}`).not.toBe(0);
          expect(res.stderr).toContain(assignment.split('=')[0] as string);
        }
        expect((await call(app(), 'GET', '/iam/settings')).body).toBe(before);
        // Whatever was attempted, signing in still works.
        const signIn = await call(app(), 'POST', '/iam/login', {
          token: '',
          body: { auth_mode: 'password', email: USER_EMAIL, password: USER_PASSWORD },
        });
        expect(signIn.statusCode, signIn.body).toBe(200);
      } finally {
        // Undo through the API so later tests are not affected.
        await call(app(), 'PATCH', '/iam/settings', {
          body: { userKeyLimit: 3, tokenLifetimeSeconds: 3600 },
        });
      }
    });

    it('master-key rotate re-encrypts every secret under a new version; --prune drops the old key', async () => {
      const keyFile = path.join(db.dataDir, 'master.key');
      const versions = () =>
        fs
          .readFileSync(keyFile, 'utf8')
          .trim()
          .split(',')
          .map((entry) => Number(entry.split(':')[0]));
      expect(versions()).toEqual([1]);
      // A service-account key too (made through the API), so several rows need re-encrypting.
      const sa = (await call(app(), 'POST', '/iam/service-accounts', { body: { name: 'cli-sa' } })).json();
      const saKey = (
        await call(app(), 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })
      ).json() as {
        accessKeyId: string;
        secretAccessKey: string;
      };
      const live: Array<[string, string]> = [
        [userKey.accessKeyId, userKey.secret],
        [saKey.accessKeyId, saKey.secretAccessKey],
      ];

      const rotated = await cli(['master-key', 'rotate', '--json']);
      expectOk(rotated);
      expect(versions()).toEqual([2, 1]);
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      const rows = await app()
        .runtime.svc.db.selectFrom('key_secrets')
        .select('master_key_version')
        .execute();
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(
        rows.map((r) => r.master_key_version),
        `after rotate: ${rotated.stdout}`,
      ).toEqual(rows.map(() => 2));
      const signing = await app()
        .runtime.svc.db.selectFrom('signing_keys')
        .select('master_key_version')
        .execute();
      expect(signing.map((r) => r.master_key_version)).toEqual(signing.map(() => 2));
      for (const [id, secret] of live) expect((await loginWithKey(app(), id, secret)).statusCode).toBe(200);

      const pruned = await cli(['master-key', 'rotate', '--prune']);
      expectOk(pruned);
      expect(versions()).toEqual([2]);
      const after = await app()
        .runtime.svc.db.selectFrom('key_secrets')
        .select('master_key_version')
        .execute();
      expect(after.map((r) => r.master_key_version)).toEqual(after.map(() => 2));
      // A fresh instance that only knows version 2 still authenticates every key.
      await t?.close();
      t = await startTestApp(engine, { db });
      for (const [id, secret] of live) expect((await loginWithKey(app(), id, secret)).statusCode).toBe(200);
    });

    it('admin reset-password prints a new password once; it works and the old one does not', async () => {
      const res = await cli(['admin', 'reset-password', '--email', ADMIN_EMAIL]);
      expectOk(res);
      const password = /\(shown once\): (\S+)$/m.exec(res.stdout)?.[1];
      expect(password).toBeDefined();
      expect(occurrences(res.stdout + res.stderr, password as string)).toBe(1);
      const signIn = (pw: string) =>
        call(app(), 'POST', '/iam/login', {
          token: '',
          body: { auth_mode: 'password', email: ADMIN_EMAIL, password: pw },
        });
      expect((await signIn(password as string)).statusCode).toBe(200);
      expect((await signIn(ADMIN_PASSWORD)).statusCode).toBe(401);
    });

    sqliteOnly('signing-key rotate prints the new kid, the only one not retired', async () => {
      const res = await cli(['signing-key', 'rotate']);
      expectOk(res);
      const kid = /\b(sk_[0-9a-z]{16})\b/.exec(res.stdout)?.[1];
      expect(kid, res.stdout).toBeDefined();
      const rows = await app().runtime.svc.db.selectFrom('signing_keys').selectAll().execute();
      expect(rows.filter((r) => r.retired_at === null).map((r) => r.kid)).toEqual([kid]);
      expect(rows.length).toBeGreaterThanOrEqual(2);
    });

    sqliteOnly(
      'list commands print aligned columns (no box, no index); --json has null, never "-"',
      async () => {
        // One command at a time: seven CLI processes at once beside the suite's other workers once
        // kept one waiting on SQLite's write lock past its 5 s busy timeout (the output is the point here).
        // A key that never expires and was never used: both values are missing.
        const made = await cli([
          'keys',
          'create',
          '--user',
          USER_EMAIL,
          '--name',
          'open-ended',
          '--never-expires',
          '--json',
        ]);
        // A service account with a line break in its description: it must not break the layout.
        const sa = await cli([
          'service-accounts',
          'create',
          '--name',
          'list-sa',
          '--description',
          'two\nlines',
        ]);
        expectOk(made);
        expectOk(sa);
        const neverId = (JSON.parse(made.stdout) as { accessKeyId: string }).accessKeyId;
        const users = await cli(['users', 'list']);
        const keysHuman = await cli(['keys', 'list']);
        const keysJson = await cli(['keys', 'list', '--json']);
        const sas = await cli(['service-accounts', 'list']);
        const tenantsHuman = await cli(['tenants', 'list']);
        for (const res of [users, keysHuman, keysJson, sas, tenantsHuman]) expectOk(res);
        for (const res of [users, keysHuman, sas, tenantsHuman]) {
          expect(res.stdout).not.toMatch(/[\u2500-\u257f]|\(index\)|'/);
          const lines = res.stdout.trimEnd().split('\n');
          expect(lines.length).toBeGreaterThanOrEqual(2);
          for (const line of lines) expect(line).toBe(line.trimEnd());
        }
        // Every value starts where its header does.
        const columnsOf = (stdout: string) => {
          const [header, ...rows] = stdout.trimEnd().split('\n') as [string, ...string[]];
          const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
          return rows.map((row) =>
            Object.fromEntries(
              starts.map(({ name, at }, i) => {
                const end = starts[i + 1]?.at ?? row.length;
                expect(row[at - 1] ?? ' ', `${name} in\n${stdout}`).toBe(' ');
                return [name, row.slice(at, end).trim()];
              }),
            ),
          );
        };
        const userRows = columnsOf(users.stdout);
        expect(userRows.map((r) => r.email).sort()).toEqual([ADMIN_EMAIL, USER_EMAIL].sort());
        expect(userRows.find((r) => r.email === ADMIN_EMAIL)).toMatchObject({
          status: 'active',
          admin: 'true',
        });
        expect(columnsOf(sas.stdout).find((r) => r.name === 'list-sa')).toMatchObject({
          description: 'two\\u000alines',
        });
        const keyRow = columnsOf(keysHuman.stdout).find((r) => r.accessKeyId === neverId);
        expect(keyRow).toMatchObject({
          name: 'open-ended',
          expiresAt: 'never',
          lastUsedAt: 'never',
          owner: USER_EMAIL,
        });

        const listed = JSON.parse(keysJson.stdout) as Array<Record<string, unknown>>;
        expect(listed.find((k) => k.accessKeyId === neverId)).toMatchObject({
          expiresAt: null,
          lastUsedAt: null,
        });
        expect(keysJson.stdout).not.toMatch(/"-"|"never"/);
        for (const key of listed) expect(Object.keys(key)).toEqual(Object.keys(listed[0] as object));
      },
    );

    it('refuses to start a new deployment in a directory without a database, naming the absolute path', async () => {
      // Relative, as from a shell in the wrong directory (the CLI runs in the project root here).
      const relative = `no-such-data-${path.basename(db.dataDir)}`;
      const absolute = path.join(ROOT, relative);
      const res = await cli(['users', 'list'], { LATCHKEY_DATA_DIR: relative, DATABASE_URL: undefined });
      expect(res.code, res.stdout + res.stderr).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`no latchkey database in the data directory ${absolute}`);
      expect(res.stderr).toContain('LATCHKEY_DATA_DIR=');
      expect(res.stderr).toContain('DATABASE_URL=');
      expect(res.stderr).toContain('npx latchkey init');
      // Nothing was created there: no directory, no database, no master key.
      expect(fs.existsSync(absolute)).toBe(false);
      // The same with a DATABASE_URL naming a SQLite file that is not there.
      const file = path.join(db.dataDir, 'elsewhere', 'latchkey.sqlite');
      const viaUrl = await cli(['throttle', 'clear'], { DATABASE_URL: `sqlite:${file}` });
      expect(viaUrl.code).toBe(2);
      expect(viaUrl.stderr).toContain(`no latchkey database at ${file}`);
      expect(fs.existsSync(path.dirname(file))).toBe(false);
    });

    it('a bad configuration value exits non-zero, naming the variable', async () => {
      const cases: Array<[Record<string, string>, string]> = [
        [{ PORT: 'abc' }, 'PORT'],
        [{ LATCHKEY_SIGV4_REGION: 'Bad Region' }, 'LATCHKEY_SIGV4_REGION'],
      ];
      const results = await Promise.all(cases.map(([extra]) => cli(['users', 'list'], extra)));
      for (const [i, res] of results.entries()) {
        const variable = (cases[i] as [Record<string, string>, string])[1];
        expect(res.code, res.stderr).not.toBe(0);
        expect(res.stderr).toContain(variable);
        expect(res.stdout).toBe('');
      }
    });
  });
});
