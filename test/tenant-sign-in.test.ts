/**
 * Tenant-aware sign-in (issue 12, finding 4): the password is checked before anything
 * tenant-specific is said; one email with one password in several tenants answers the list of
 * those tenants; `tenantId` chooses. And the operator's `latchkey tenants create|list`.
 */
import { describe, expect, it } from 'vitest';
import { operatorActor } from '../src/context.js';
import { createTenantAsOperator } from '../src/identity/tenants.js';
import { updateUser } from '../src/identity/users.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';

describeEachEngine('tenant-aware sign-in', (engine) => {
  describe('one email in several tenants', () => {
    const t = useTestApp(engine);
    let address = 0;
    const signIn = (body: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/iam/login',
        payload: { auth_mode: 'password', ...body },
        // A fresh address per attempt: these tests are about answers, not throttling.
        remoteAddress: `10.7.${Math.floor(++address / 250)}.${address % 250}`,
      });
    const tenantOf = async (token: string) =>
      (await call(t, 'GET', '/iam/me', { token })).json().tenantId as string;

    it("another tenant's user with the same email does not lock the first tenant's administrator out", async () => {
      const other = await createTenantAsOperator(t.runtime.svc, {
        name: 'Other Co',
        adminEmail: ADMIN_EMAIL,
        password: 'a-different-password',
      });
      const mine = await signIn({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
      expect(mine.statusCode, mine.body).toBe(200);
      expect(await tenantOf(mine.json().token)).toBe(t.tenantId);
      const theirs = await signIn({ email: ADMIN_EMAIL.toUpperCase(), password: 'a-different-password' });
      expect(theirs.statusCode, theirs.body).toBe(200);
      expect(await tenantOf(theirs.json().token)).toBe(other.tenant.id);
    });

    it('a wrong password answers the same whether the email is in no, one or several tenants', async () => {
      const bodies: unknown[] = [];
      for (const email of ['nobody@example.com', 'only-one@example.com', ADMIN_EMAIL]) {
        if (email === 'only-one@example.com') {
          await call(t, 'POST', '/iam/users', {
            body: { email, name: 'One', password: 'only-one-password' },
          });
        }
        const res = await signIn({ email, password: 'wrong-password-here' });
        expect(res.statusCode).toBe(401);
        const { requestId: _, ...error } = res.json().error;
        bodies.push(error);
        expect(res.body).not.toMatch(/tenant/i);
      }
      expect(bodies[1]).toEqual(bodies[0]);
      expect(bodies[2]).toEqual(bodies[0]);
    });

    it('the same email and password in two tenants: the answer lists them, and tenantId chooses', async () => {
      const password = 'shared-password-123';
      const email = 'shared@example.com';
      await call(t, 'POST', '/iam/users', { body: { email, name: 'Shared', password } });
      const second = await createTenantAsOperator(t.runtime.svc, {
        name: 'Second Co',
        adminEmail: email,
        password,
      });
      const res = await signIn({ email, password });
      expect(res.statusCode, res.body).toBe(409);
      const error = res.json().error;
      expect(error.code).toBe('TENANT_REQUIRED');
      expect(error.tenants).toEqual(
        expect.arrayContaining([
          { id: t.tenantId, name: 'Default' },
          { id: second.tenant.id, name: 'Second Co' },
        ]),
      );
      expect(error.tenants).toHaveLength(2);
      for (const tenantId of [t.tenantId, second.tenant.id]) {
        const chosen = await signIn({ email, password, tenantId });
        expect(chosen.statusCode, chosen.body).toBe(200);
        expect(await tenantOf(chosen.json().token)).toBe(tenantId);
      }
      // A tenant where this email has another password (or no account): wrong credentials, nothing more.
      const other = await createTenantAsOperator(t.runtime.svc, {
        name: 'Third Co',
        adminEmail: 'x@example.com',
      });
      const wrong = await signIn({ email, password, tenantId: other.tenant.id });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');

      // Disabled in one tenant: the other is the only choice, so the sign-in goes there.
      const users = (await call(t, 'GET', `/iam/users?search=${email}`)).json().items;
      await updateUser(t.runtime.svc, operatorActor(t.tenantId), users[0].id, { status: 'disabled' });
      const only = await signIn({ email, password });
      expect(only.statusCode, only.body).toBe(200);
      expect(await tenantOf(only.json().token)).toBe(second.tenant.id);
    });

    // Seven runs of the real CLI (a second or more each to start): longer than the default timeout.
    it('latchkey tenants create prints the tenant ID and a one-time password; tenants list shows it', {
      timeout: 120_000,
    }, async () => {
      const env = { ...t.env, LATCHKEY_ADMIN_PASSWORD: '', LOG_LEVEL: 'warn' };
      const created = await runCli(
        ['tenants', 'create', '--name', 'Cli Co', '--admin-email', 'cli-admin@example.com'],
        env,
      );
      expect(created.code, created.stderr).toBe(0);
      const tenantId = /^Tenant ID:\s+(\d{12})$/m.exec(created.stdout)?.[1];
      const password = /^Password:\s+(\S{20})$/m.exec(created.stdout)?.[1];
      expect(tenantId, created.stdout).toBeDefined();
      expect(password, created.stdout).toBeDefined();
      const res = await signIn({ email: 'cli-admin@example.com', password });
      expect(res.statusCode, res.body).toBe(200);
      const me = (await call(t, 'GET', '/iam/me', { token: res.json().token })).json();
      expect(me).toMatchObject({ tenantId, email: 'cli-admin@example.com', isAdministrator: true });

      // With LATCHKEY_ADMIN_PASSWORD the password is that one and is not printed.
      const given = await runCli(
        ['tenants', 'create', '--name', 'Env Co', '--admin-email', 'env-admin@example.com'],
        {
          ...env,
          LATCHKEY_ADMIN_PASSWORD: 'env-given-password-1',
        },
      );
      expect(given.code, given.stderr).toBe(0);
      expect(given.stdout).not.toContain('env-given-password-1');
      expect(
        (await signIn({ email: 'env-admin@example.com', password: 'env-given-password-1' })).statusCode,
      ).toBe(200);

      const dup = await runCli(
        ['tenants', 'create', '--name', 'cli co', '--admin-email', 'a@example.com'],
        env,
      );
      expect(dup.code).toBe(1);
      expect(dup.stderr).toMatch(/ALREADY_EXISTS/);
      const bad = await runCli(['tenants', 'create', '--name', 'Bad', '--admin-email', 'not-an-email'], env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/VALIDATION_FAILED/);

      const list = await runCli(['tenants', 'list', '--json'], env);
      expect(list.code, list.stderr).toBe(0);
      const tenants = JSON.parse(list.stdout) as Array<{ id: string; name: string; users: number }>;
      expect(tenants.map((x) => x.name)).toEqual(
        expect.arrayContaining(['Default', 'Other Co', 'Cli Co', 'Env Co']),
      );
      expect(tenants.find((x) => x.id === tenantId)?.users).toBe(1);
      // The new tenant is usable from the CLI with --tenant, and an unknown one is refused.
      const users = await runCli(['--tenant', tenantId as string, 'users', 'list', '--json'], env);
      expect(JSON.parse(users.stdout).map((u: { email: string }) => u.email)).toEqual([
        'cli-admin@example.com',
      ]);
      const unknown = await runCli(['--tenant', '000000000000', 'users', 'list'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/no tenant 000000000000/);
    });
  });
});
