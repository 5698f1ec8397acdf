/**
 * The audit log names its actors and targets: each entry's actor and target carry the current name
 * of the principal or object (null once it is gone, or when it has none), resolved within the
 * tenant with one query per type for the whole page.
 */
import type { KyselyPlugin } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { listAudit, writeAudit } from '../src/audit/audit.js';
import { operatorActor } from '../src/context.js';
import { createTenantAsOperator } from '../src/identity/tenants.js';
import { createUser } from '../src/identity/users.js';
import { call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

interface Party {
  type: string;
  id: string;
  name: string | null;
}
interface Entry {
  action: string;
  actor: Party;
  target: Party;
}

describeEachEngine('audit log names', (engine) => {
  describe('actor and target names', () => {
    const t = useTestApp(engine);
    let adminName: string;
    const audit = async (q: string): Promise<Entry[]> => {
      const res = await call(t, 'GET', `/iam/audit?${q}`);
      expect(res.statusCode).toBe(200);
      return res.json().items;
    };

    beforeAll(async () => {
      adminName = (await call(t, 'GET', '/iam/me')).json().name;
    });

    it('names the actor and the target of every kind of change', async () => {
      const user = (
        await call(t, 'POST', '/iam/users', { body: { email: 'rita@example.com', name: 'Rita Tan' } })
      ).json();
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'etl-bot' } })).json();
      const key = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { name: 'nightly' } })
      ).json();
      const role = (
        await call(t, 'POST', '/iam/roles', { body: { name: 'Readers', permissions: ['agent:read'] } })
      ).json();
      const group = (
        await call(t, 'POST', '/iam/groups', { body: { name: 'Ops', roleIds: [role.id] } })
      ).json();
      expect((await call(t, 'PATCH', '/iam/settings', { body: { reminderLeadDays: 3 } })).statusCode).toBe(
        200,
      );

      const admin = { type: 'user', id: t.adminId, name: adminName };
      expect(adminName).toBeTruthy();
      const one = async (action: string, targetId: string) => {
        const items = await audit(`action=${action}&targetId=${targetId}`);
        expect(items).toHaveLength(1);
        return items[0] as Entry;
      };
      expect(await one('user.create', user.id)).toMatchObject({
        actor: admin,
        target: { type: 'user', id: user.id, name: 'Rita Tan' },
      });
      expect((await one('service_account.create', sa.id)).target).toEqual({
        type: 'service_account',
        id: sa.id,
        name: 'etl-bot',
      });
      expect((await one('access_key.create', key.accessKeyId)).target).toEqual({
        type: 'access_key',
        id: key.accessKeyId,
        name: 'nightly',
      });
      expect((await one('role.create', role.id)).target).toEqual({
        type: 'role',
        id: role.id,
        name: 'Readers',
      });
      expect((await one('group.create', group.id)).target).toEqual({
        type: 'group',
        id: group.id,
        name: 'Ops',
      });
      expect((await one('settings.update', t.tenantId)).target).toEqual({
        type: 'tenant',
        id: t.tenantId,
        name: 'Default',
      });

      // The account may not manage users: grant it the Administrator role first.
      const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
      const adminRole = roles.find((r) => r.name === 'Administrator')?.id;
      await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, { body: { roleIds: [adminRole] } });
      // A key signs in as its service account: the account is the actor, by name.
      const token = (
        await call(t, 'POST', '/iam/login', {
          token: '',
          body: { auth_mode: 'apikey', apikey: key.accessKeyId, secretkey: key.secretAccessKey },
        })
      ).json().token;
      const made = await call(t, 'POST', '/iam/users', {
        token,
        body: { email: 'bot-made@example.com', name: 'Made By Bot' },
      });
      expect(made.statusCode, made.body).toBe(201);
      expect((await one('user.create', made.json().id)).actor).toEqual({
        type: 'service_account',
        id: sa.id,
        name: 'etl-bot',
      });
    });

    it('shows current names, and null once the principal or object is gone or has no name', async () => {
      const user = (
        await call(t, 'POST', '/iam/users', { body: { email: 'gone@example.com', name: 'Gina Gone' } })
      ).json();
      await call(t, 'PATCH', `/iam/users/${user.id}`, { body: { name: 'Gina Renamed' } });
      let items = await audit(`targetId=${user.id}`);
      expect(items.map((e) => e.action)).toEqual(['user.update', 'user.create']);
      for (const e of items) expect(e.target.name).toBe('Gina Renamed');

      expect((await call(t, 'DELETE', `/iam/users/${user.id}`)).statusCode).toBe(204);
      items = await audit(`targetId=${user.id}`);
      expect(items.map((e) => e.action)).toEqual(['user.delete', 'user.update', 'user.create']);
      for (const e of items) expect(e.target).toEqual({ type: 'user', id: user.id, name: null });

      // The operator (CLI) is an actor without a name.
      const byOperator = await createUser(t.runtime.svc, operatorActor(t.tenantId), {
        email: 'cli-made@example.com',
        name: 'Cli Made',
      });
      expect((await audit(`targetId=${byOperator.id}`))[0]?.actor).toEqual({
        type: 'system',
        id: 'cli',
        name: null,
      });
    });

    it('never lends a name from another tenant', async () => {
      const beta = await createTenantAsOperator(t.runtime.svc, {
        name: 'Beta Co',
        adminEmail: 'beta-admin@example.com',
        password: 'beta-admin-password',
      });
      // Entries of this tenant that carry ids of the other tenant's user and of the tenant itself.
      const actor = { ...operatorActor(t.tenantId), type: 'user' as const, id: beta.adminId };
      await writeAudit(
        t.runtime.svc.db,
        t.runtime.svc.clock,
        actor,
        'probe.user',
        { type: 'user', id: beta.adminId },
        null,
        null,
      );
      await writeAudit(
        t.runtime.svc.db,
        t.runtime.svc.clock,
        actor,
        'probe.tenant',
        { type: 'tenant', id: beta.tenant.id },
        null,
        null,
      );
      const [tenantProbe, userProbe] = await audit('action=probe.&limit=2');
      expect(userProbe).toMatchObject({
        action: 'probe.user',
        actor: { type: 'user', id: beta.adminId, name: null },
        target: { type: 'user', id: beta.adminId, name: null },
      });
      expect(tenantProbe).toMatchObject({
        action: 'probe.tenant',
        target: { type: 'tenant', id: beta.tenant.id, name: null },
      });
      // In its own tenant the same user has its name.
      const own = await listAudit(t.runtime.svc.db, beta.tenant.id, { limit: 50, offset: 0 });
      expect(own.items.find((e) => e.target.id === beta.tenant.id)?.target.name).toBe('Beta Co');
    });

    it('resolves the names of a page with one query per type, not one per entry', async () => {
      for (let i = 0; i < 30; i++) {
        const r = await call(t, 'POST', '/iam/users', {
          body: { email: `bulk${i}@example.com`, name: `Bulk ${i}` },
        });
        expect(r.statusCode, r.body).toBe(201);
      }
      const queriesFor = async (limit: number) => {
        let n = 0;
        const counter: KyselyPlugin = {
          transformQuery: (args) => {
            n += 1;
            return args.node;
          },
          transformResult: async (args) => args.result,
        };
        const page = await listAudit(t.runtime.svc.db.withPlugin(counter), t.tenantId, { limit, offset: 0 });
        expect(page.items).toHaveLength(limit);
        return { n, types: new Set(page.items.flatMap((e) => [e.actor.type, e.target.type])).size };
      };
      const small = await queriesFor(2);
      const large = await queriesFor(40);
      // The page and its count, then one name query per type on the page.
      expect(small.n).toBeLessThanOrEqual(2 + small.types);
      expect(large.n).toBeLessThanOrEqual(2 + large.types);
      expect(large.n).toBeLessThan(10);
      const named = (await listAudit(t.runtime.svc.db, t.tenantId, { limit: 40, offset: 0 })).items;
      expect(named.filter((e) => e.target.name?.startsWith('Bulk ')).length).toBeGreaterThanOrEqual(30);
    });
  });
});
