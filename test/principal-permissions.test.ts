/**
 * What a user or service account may do, for the console's "this key would read nothing"
 * warning: the server resolves it (roles held directly and through groups) so the console
 * does not repeat the rule.
 */
import { describe, expect, it } from 'vitest';
import { call, createUserWithLogin } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describeEachEngine('principal permissions', (engine) => {
  describe('GET /iam/users/{id}/permissions and /iam/service-accounts/{id}/permissions', () => {
    const t = useTestApp(engine);

    it('lists the roles’ permissions, direct and through groups, and says whether they reach data', async () => {
      const user = await createUserWithLogin(t, 'perm-user@example.com');
      const none = await call(t, 'GET', `/iam/users/${user.id}/permissions`);
      expect(none.statusCode).toBe(200);
      expect(none.json()).toEqual({ permissions: [], readsData: false });

      const auditor = await call(t, 'POST', '/iam/roles', {
        body: { name: 'Auditor', permissions: ['iam:audit:read'] },
      });
      const readers = await call(t, 'POST', '/iam/roles', {
        body: { name: 'AgentReaders', permissions: ['agent:read'] },
      });
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [auditor.json().id] } });
      const iamOnly = (await call(t, 'GET', `/iam/users/${user.id}/permissions`)).json();
      expect(iamOnly).toEqual({ permissions: ['iam:audit:read'], readsData: false });

      const group = await call(t, 'POST', '/iam/groups', {
        body: { name: 'Readers', roleIds: [readers.json().id] },
      });
      await call(t, 'POST', `/iam/groups/${group.json().id}/members`, {
        body: { type: 'user', id: user.id },
      });
      const both = (await call(t, 'GET', `/iam/users/${user.id}/permissions`)).json();
      expect(both.permissions.sort()).toEqual(['agent:read', 'iam:audit:read']);
      expect(both.readsData).toBe(true);

      const sa = await call(t, 'POST', '/iam/service-accounts', { body: { name: 'perm-robot' } });
      const saPerms = await call(t, 'GET', `/iam/service-accounts/${sa.json().id}/permissions`);
      expect(saPerms.json()).toEqual({ permissions: [], readsData: false });
    });

    it('needs the read permission; an unknown id is 404', async () => {
      const user = await createUserWithLogin(t, 'perm-nobody@example.com');
      const refused = await call(t, 'GET', `/iam/users/${user.id}/permissions`, { token: user.token });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('AccessDenied');
      expect((await call(t, 'GET', '/iam/users/usr_unknown/permissions')).statusCode).toBe(404);
      expect((await call(t, 'GET', '/iam/service-accounts/sa_unknown/permissions')).statusCode).toBe(404);
    });
  });
});
