import { describe, expect, it } from 'vitest';
import { call, createUserWithLogin } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describeEachEngine('groups, roles, settings and audit', (engine) => {
  describe('authorization model', () => {
    const t = useTestApp(engine);

    it('ships built-in roles and the Administrators group, which cannot be changed or deleted', async () => {
      const roles = (await call(t, 'GET', '/iam/roles')).json().items;
      expect(roles.map((r: { name: string }) => r.name).sort()).toEqual([
        'Administrator',
        'DataReadOnly',
        'DataReadWrite',
      ]);
      const admin = roles.find((r: { name: string }) => r.name === 'Administrator');
      expect(admin).toMatchObject({ builtin: true, permissions: ['*'] });
      const edit = await call(t, 'PATCH', `/iam/roles/${admin.id}`, {
        body: { permissions: ['agent:read'] },
      });
      expect(edit.json().error.code).toBe('BUILTIN_PROTECTED');
      expect((await call(t, 'DELETE', `/iam/roles/${admin.id}`)).json().error.code).toBe('BUILTIN_PROTECTED');
      const groups = (await call(t, 'GET', '/iam/groups')).json().items;
      const admins = groups.find((g: { name: string }) => g.name === 'Administrators');
      expect(admins).toMatchObject({
        builtin: true,
        memberCount: 1,
        roles: [{ id: admin.id, name: 'Administrator' }],
      });
      expect((await call(t, 'DELETE', `/iam/groups/${admins.id}`)).json().error.code).toBe(
        'BUILTIN_PROTECTED',
      );
      expect(
        (await call(t, 'PATCH', `/iam/groups/${admins.id}`, { body: { name: 'Admins' } })).json().error.code,
      ).toBe('BUILTIN_PROTECTED');
    });

    it('roles: permissions are validated against the catalogue, wildcards allowed', async () => {
      const bad = await call(t, 'POST', '/iam/roles', {
        body: { name: 'Typo', permissions: ['agnet:read', 'agent:read'] },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error).toMatchObject({ code: 'UNKNOWN_PERMISSION', unknown: ['agnet:read'] });
      const ok = await call(t, 'POST', '/iam/roles', {
        body: { name: 'Sales', permissions: ['sales*:read', 'salesinvoice:write', 'iam:keys:*'] },
      });
      expect(ok.statusCode).toBe(400);
      const role = await call(t, 'POST', '/iam/roles', {
        body: {
          name: 'Sales',
          description: 'Sales team',
          permissions: ['salesinvoice:*', 'iam:keys:read', 'customer:read'],
        },
      });
      expect(role.statusCode).toBe(201);
      expect(role.json().permissions).toEqual(['customer:read', 'iam:keys:read', 'salesinvoice:*']);
      expect(
        (await call(t, 'POST', '/iam/roles', { body: { name: 'Sales', permissions: [] } })).statusCode,
      ).toBe(409);
      const catalogue = (await call(t, 'GET', '/iam/permissions')).json().items;
      expect(catalogue).toContain('agent:read');
      expect(catalogue).toContain('iam:keys:manage');
    });

    it('a user gains a role through a group and loses it when removed; permissions apply on the next request', async () => {
      const u = await createUserWithLogin(t, 'grouped@example.com');
      const role = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'UserReaders', permissions: ['iam:users:read'] },
        })
      ).json();
      const group = (
        await call(t, 'POST', '/iam/groups', { body: { name: 'Helpdesk', roleIds: [role.id] } })
      ).json();
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(403);
      const added = await call(t, 'POST', `/iam/groups/${group.id}/members`, {
        body: { type: 'user', id: u.id },
      });
      expect(added.json().items).toEqual([{ type: 'user', id: u.id, label: 'grouped@example.com' }]);
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(200);
      const detail = (await call(t, 'GET', `/iam/groups/${group.id}`)).json();
      expect(detail).toMatchObject({
        name: 'Helpdesk',
        memberCount: 1,
        roles: [{ id: role.id, name: 'UserReaders' }],
      });
      expect((await call(t, 'DELETE', `/iam/groups/${group.id}/members/user/${u.id}`)).statusCode).toBe(204);
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(403);
      expect((await call(t, 'DELETE', `/iam/groups/${group.id}/members/user/${u.id}`)).statusCode).toBe(404);
      const missing = await call(t, 'POST', `/iam/groups/${group.id}/members`, {
        body: { type: 'user', id: 'usr_nobody' },
      });
      expect(missing.statusCode).toBe(404);
      // Direct role assignment; deleting the role removes what it granted.
      await call(t, 'PUT', `/iam/users/${u.id}/assignments`, { body: { roleIds: [role.id] } });
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(200);
      expect((await call(t, 'DELETE', `/iam/roles/${role.id}`)).statusCode).toBe(204);
      expect((await call(t, 'GET', '/iam/users', { token: u.token })).statusCode).toBe(403);
      expect((await call(t, 'GET', `/iam/users/${u.id}/assignments`)).json()).toEqual({
        groups: [],
        roles: [],
      });
      const unknown = await call(t, 'PUT', `/iam/users/${u.id}/assignments`, {
        body: { roleIds: ['rol_missing'] },
      });
      expect(unknown.statusCode).toBe(404);
    });

    it('settings: read, update, reject inconsistent values', async () => {
      const s = (await call(t, 'GET', '/iam/settings')).json();
      expect(s).toEqual({
        defaultKeyLifetimeDays: 90,
        maxKeyLifetimeDays: null,
        tokenLifetimeSeconds: 3600,
        userKeyLimit: 2,
        reminderLeadDays: 2,
        acceptedScopes: [{ region: 'ap-southeast-1', service: 'execute-api' }],
        allowUnsignedPayload: false,
        emailSecretInline: false,
        rateLimit: null,
        quota: null,
        allowedCidrs: null,
        usageRetentionDays: 90,
        maxSessionDurationSeconds: 43200,
        leakedKeyAction: 'disable',
        mfaRequired: 'off',
      });
      const bad = await call(t, 'PATCH', '/iam/settings', {
        body: { maxKeyLifetimeDays: 10, defaultKeyLifetimeDays: 20 },
      });
      expect(bad.statusCode).toBe(400);
      const neverWithMax = await call(t, 'PATCH', '/iam/settings', {
        body: { maxKeyLifetimeDays: 10, defaultKeyLifetimeDays: null },
      });
      expect(neverWithMax.statusCode).toBe(400);
      expect((await call(t, 'GET', '/iam/settings')).json()).toEqual(s);
      const ok = await call(t, 'PATCH', '/iam/settings', { body: { userKeyLimit: 3, acceptedScopes: [] } });
      expect(ok.json()).toMatchObject({ userKeyLimit: 3, acceptedScopes: [] });
      await call(t, 'PATCH', '/iam/settings', {
        body: { userKeyLimit: 2, acceptedScopes: s.acceptedScopes },
      });
    });

    it('audit: every change is recorded with who, what, when, address, request id and before/after', async () => {
      const res = await call(t, 'POST', '/iam/service-accounts', {
        body: { name: 'audited' },
        headers: { 'x-request-id': 'req-audit-1' },
      });
      const sa = res.json();
      expect(res.headers['x-request-id']).toBe('req-audit-1');
      const key = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { name: 'a1' } })
      ).json();
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { name: 'a2' } });
      await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
      await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`);
      const page = (await call(t, 'GET', `/iam/audit?targetId=${key.accessKeyId}`)).json();
      expect(page.items.map((e: { action: string }) => e.action)).toEqual([
        'access_key.delete',
        'access_key.rotate_secret',
        'access_key.update',
        'access_key.create',
      ]);
      const update = page.items[2];
      expect(update).toMatchObject({
        actor: { type: 'user', id: t.adminId },
        target: { type: 'access_key', id: key.accessKeyId },
      });
      expect(update.before.name).toBe('a1');
      expect(update.after.name).toBe('a2');
      expect(update.sourceIp).toBe('127.0.0.1');
      const created = (
        await call(t, 'GET', `/iam/audit?action=service_account.create&targetId=${sa.id}`)
      ).json().items[0];
      expect(created.requestId).toBe('req-audit-1');
      expect(JSON.stringify(page)).not.toContain(key.secretAccessKey);
      const byPrefix = (await call(t, 'GET', '/iam/audit?action=access_key.&limit=2')).json();
      expect(byPrefix.items).toHaveLength(2);
      expect(byPrefix.total).toBeGreaterThanOrEqual(4);
      const u = await createUserWithLogin(t, 'auditor@example.com');
      expect((await call(t, 'GET', '/iam/audit', { token: u.token })).statusCode).toBe(403);
    });
  });
});
