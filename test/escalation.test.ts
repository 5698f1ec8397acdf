/**
 * No path from a delegated permission to more than the caller holds (issue 12, findings 1 and 2).
 *
 * The table tries every grant path (assign, member, role edit, group edit, key create and rotate,
 * password and email) for a caller holding each single `iam:*` permission, as a user signed in
 * with a password, as a key token and as a signed request with a key limited to that permission,
 * and asserts that no caller ends with more permissions than it started with: not itself, not a
 * key it was handed, not a user whose password it set. Every attempt that would give more must
 * be refused with 403.
 */
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { IAM_PERMISSIONS } from '../src/identity/permissions.js';
import { call, createUserWithLogin, login, loginWithKey } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Caller {
  label: string;
  /** Sends one request as this caller. */
  send(method: Method, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** The caller's effective permissions now, as the administrator sees them. */
  permissions(): Promise<string[]>;
  /** Ids the attempts address: the caller's own user or key, group and role. */
  self: { kind: 'user' | 'key'; id: string; groupId: string; roleId: string };
}

interface World {
  adminRole: string;
  dataRw: string;
  adminsGroup: string;
  broadGroup: string;
  plainUser: string;
  secondAdmin: string;
  sa: string;
  saAdmin: string;
  adminKey: string;
  /** A registered API whose routes need `vault:read` (only `*` holds it). */
  api: string;
  /** A webhook endpoint subscribed to key events. */
  webhook: string;
  /** A key of the second administrator, quarantined by a leak report. */
  quarantinedKey: string;
}

interface Attempt {
  name: string;
  method: Method;
  url: string;
  body?: unknown;
  /** Not a gain in itself (it may pass), but must not open a path for the attempts after it. */
  mayPass?: true;
}

function attempts(w: World, c: Caller['self']): Attempt[] {
  const selfAssignments =
    c.kind === 'user' ? `/iam/users/${c.id}/assignments` : `/iam/keys/${c.id}/assignments`;
  const selfMember = { type: c.kind, id: c.id };
  // A user caller's own keys; a key caller's owner is the second administrator.
  const ownKeys = c.kind === 'user' ? `/iam/users/${c.id}/keys` : `/iam/users/${w.secondAdmin}/keys`;
  const list: Attempt[] = [
    {
      name: 'assign self Administrator',
      method: 'PUT',
      url: selfAssignments,
      body: { roleIds: [w.adminRole] },
    },
    {
      name: 'self into Administrators',
      method: 'PUT',
      url: selfAssignments,
      body: { groupIds: [w.adminsGroup] },
    },
    { name: 'assign self DataReadWrite', method: 'PUT', url: selfAssignments, body: { roleIds: [w.dataRw] } },
    {
      name: 'assign other user Administrator',
      method: 'PUT',
      url: `/iam/users/${w.plainUser}/assignments`,
      body: { roleIds: [w.adminRole] },
    },
    {
      name: 'assign service account DataReadWrite',
      method: 'PUT',
      url: `/iam/service-accounts/${w.sa}/assignments`,
      body: { roleIds: [w.dataRw] },
    },
    {
      name: 'member of Administrators',
      method: 'POST',
      url: `/iam/groups/${w.adminsGroup}/members`,
      body: selfMember,
    },
    {
      name: 'member of a broad group',
      method: 'POST',
      url: `/iam/groups/${w.broadGroup}/members`,
      body: selfMember,
    },
    {
      name: 'own group gets Administrator',
      method: 'PATCH',
      url: `/iam/groups/${c.groupId}`,
      body: { roleIds: [w.adminRole] },
    },
    {
      name: 'new group with Administrator',
      method: 'POST',
      url: '/iam/groups',
      body: { name: `G ${c.id}`, roleIds: [w.adminRole] },
    },
    {
      name: 'own role becomes *',
      method: 'PATCH',
      url: `/iam/roles/${c.roleId}`,
      body: { permissions: ['*'] },
    },
    {
      name: 'own role gains a write',
      method: 'PATCH',
      url: `/iam/roles/${c.roleId}`,
      body: { permissions: ['iam:users:manage', 'iam:keys:manage', 'agent:write'] },
    },
    {
      name: 'new role with *',
      method: 'POST',
      url: '/iam/roles',
      body: { name: `R ${c.id}`, permissions: ['*'] },
    },
    // A key of its own (a user's self-service, or a key's owner) may not carry the Administrator role or group.
    {
      name: 'own key with the Administrator role',
      method: 'POST',
      url: ownKeys,
      body: { roleIds: [w.adminRole] },
    },
    { name: 'own key in Administrators', method: 'POST', url: ownKeys, body: { groupIds: [w.adminsGroup] } },
    { name: 'key for an administrator', method: 'POST', url: `/iam/users/${w.secondAdmin}/keys`, body: {} },
    {
      name: 'key for an administrator service account',
      method: 'POST',
      url: `/iam/service-accounts/${w.saAdmin}/keys`,
      body: {},
    },
    {
      name: "rotate an administrator's key",
      method: 'POST',
      url: `/iam/keys/${w.adminKey}/secret`,
      body: {},
    },
    {
      name: "set an administrator's password",
      method: 'PATCH',
      url: `/iam/users/${w.secondAdmin}`,
      body: { password: 'attacker-chosen-password' },
    },
    {
      name: "set an administrator's email",
      method: 'PATCH',
      url: `/iam/users/${w.secondAdmin}`,
      body: { email: 'attacker@evil.example' },
    },
    {
      name: "move an administrator service account's email",
      method: 'PATCH',
      url: `/iam/service-accounts/${w.saAdmin}`,
      body: { email: 'attacker@evil.example' },
    },
    // Registered APIs: whoever declares a route decides who reaches the upstream behind it.
    {
      name: 'register an API gated by a permission the caller lacks',
      method: 'POST',
      url: '/iam/apis',
      body: {
        name: `probe ${c.id}`,
        basePath: `/probe/${c.id.toLowerCase()}`,
        upstream: 'http://127.0.0.1:9',
        routes: [{ method: '*', path: '/*', permission: 'vault:write' }],
      },
    },
    {
      name: "move an API's route to a permission the caller holds",
      method: 'PATCH',
      url: `/iam/apis/${w.api}`,
      body: { routes: [{ method: 'GET', path: '/*', permission: 'vault:list' }] },
    },
    {
      name: 'repoint an API to another upstream',
      method: 'PATCH',
      url: `/iam/apis/${w.api}`,
      body: { upstream: 'http://127.0.0.1:10' },
    },
    { name: 'delete an API', method: 'DELETE', url: `/iam/apis/${w.api}` },
    // Webhooks: subscribing to events is reading what they carry, by other means.
    {
      name: 'subscribe to audit events without reading the audit log',
      method: 'POST',
      url: '/iam/webhooks',
      body: { url: 'http://127.0.0.1:9/probe', events: ['audit.*'] },
    },
    {
      name: 'widen a webhook endpoint to audit events',
      method: 'PATCH',
      url: `/iam/webhooks/${w.webhook}`,
      body: { events: ['access_key.created', 'audit.*'] },
    },
    // Issue 17: second factors, single sign-on, quarantine, temporary credentials.
    {
      name: "reset an administrator's two-factor sign-in",
      method: 'DELETE',
      url: `/iam/users/${w.secondAdmin}/mfa`,
    },
    {
      name: 'point single sign-on at an identity provider the caller runs',
      method: 'PUT',
      url: '/iam/sso',
      body: { issuer: 'https://idp.attacker.example', clientId: 'latchkey', clientSecret: 'attacker' },
    },
    {
      name: "release an administrator's quarantined key",
      method: 'POST',
      url: `/iam/keys/${w.quarantinedKey}/quarantine/release`,
    },
    {
      // Passes (any caller may ask); what it hands out is checked below: never more than the caller.
      name: 'temporary credentials asking for everything',
      method: 'POST',
      url: '/iam/session-credentials',
      body: { permissions: ['*'] },
      mayPass: true,
    },
  ];
  if (c.kind === 'key') {
    // A key without assignments of its own has its owner's (an administrator's) permissions.
    list.push(
      {
        name: 'key drops its own roles',
        method: 'PUT',
        url: selfAssignments,
        body: { roleIds: [], groupIds: [] },
      },
      { name: 'key for its own owner', method: 'POST', url: `/iam/users/${w.secondAdmin}/keys`, body: {} },
      // Still limited by its role after leaving the group: then its role is its last assignment.
      {
        name: 'key leaves its group',
        method: 'DELETE',
        url: `/iam/groups/${c.groupId}/members/key/${c.id}`,
        mayPass: true,
      },
      // Refused when the role is the key's last assignment; when the key is still in its (empty)
      // group, removing the role narrows it: the growth checks below decide either way.
      { name: "key's role is deleted", method: 'DELETE', url: `/iam/roles/${c.roleId}`, mayPass: true },
      {
        name: "key's role is removed",
        method: 'PUT',
        url: selfAssignments,
        body: { roleIds: [] },
        mayPass: true,
      },
    );
  } else {
    list.push({
      name: 'own role is deleted',
      method: 'DELETE',
      url: `/iam/roles/${c.roleId}`,
      mayPass: true,
    });
  }
  return list;
}

/** Is every permission of `after` in `before`? */
const within = (after: string[], before: string[]) => after.filter((p) => !before.includes(p));

describeEachEngine('privilege escalation', (engine) => {
  describe('no delegated permission leads further than itself', () => {
    // Webhook endpoints on 127.0.0.1 are allowed: the attempts need no public receiver.
    const t = useTestApp(engine, { env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } });
    let w: World;
    let adminCreds: Credentials;
    let address = 0;
    let serial = 0;

    const roleIdOf = async (name: string) =>
      ((await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>).find(
        (r) => r.name === name,
      )?.id as string;

    beforeAll(async () => {
      const groups = (await call(t, 'GET', '/iam/groups')).json().items as Array<{
        id: string;
        name: string;
      }>;
      const second = await createUserWithLogin(t, 'second-admin@example.com', 'second-admin-password');
      const plain = await createUserWithLogin(t, 'plain@example.com');
      const adminsGroup = groups.find((g) => g.name === 'Administrators')?.id as string;
      await call(t, 'POST', `/iam/groups/${adminsGroup}/members`, { body: { type: 'user', id: second.id } });
      const adminRole = await roleIdOf('Administrator');
      const dataRw = await roleIdOf('DataReadWrite');
      const broad = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'Broad', permissions: ['*:write', 'iam:users:read'] },
        })
      ).json().id;
      const broadGroup = (
        await call(t, 'POST', '/iam/groups', { body: { name: 'Broad group', roleIds: [broad] } })
      ).json().id;
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'plain-sa' } })).json().id;
      const saAdmin = (
        await call(t, 'POST', '/iam/service-accounts', {
          body: { name: 'admin-sa', email: 'sa@example.com' },
        })
      ).json().id;
      await call(t, 'PUT', `/iam/service-accounts/${saAdmin}/assignments`, {
        body: { roleIds: [adminRole] },
      });
      const adminKey = (await call(t, 'POST', `/iam/users/${second.id}/keys`, { body: {} })).json();
      adminCreds = { accessKeyId: adminKey.accessKeyId, secretAccessKey: adminKey.secretAccessKey };
      w = {
        adminRole,
        dataRw,
        adminsGroup,
        broadGroup,
        plainUser: plain.id,
        secondAdmin: second.id,
        sa,
        saAdmin,
        adminKey: adminKey.accessKeyId,
        api: (
          await call(t, 'POST', '/iam/apis', {
            body: {
              name: 'Vault',
              basePath: '/vault',
              upstream: 'http://127.0.0.1:9',
              routes: [{ method: 'GET', path: '/*', permission: 'vault:read' }],
            },
          })
        ).json().id,
        webhook: (
          await call(t, 'POST', '/iam/webhooks', {
            body: { url: 'http://127.0.0.1:9/hook', events: ['access_key.created'] },
          })
        ).json().id,
        quarantinedKey: (await call(t, 'POST', `/iam/users/${second.id}/keys`, { body: {} })).json()
          .accessKeyId,
      };
      const reported = await call(t, 'POST', '/v1/leaked-keys', {
        body: [{ token: w.quarantinedKey, type: 'latchkey_access_key_id' }],
      });
      expect(reported.json()[0].label).toBe('true_positive');
    });

    /** A role holding only `permission`, and a group holding nothing (so group edits are a path too). */
    const roleAndGroup = async (label: string, permission: string) => {
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: `Only ${permission} ${label} ${++serial}`, permissions: [permission] },
      });
      expect(role.statusCode, role.body).toBe(201);
      const group = await call(t, 'POST', '/iam/groups', {
        body: { name: `Group ${permission} ${label} ${serial}` },
      });
      expect(group.statusCode, group.body).toBe(201);
      return { roleId: role.json().id as string, groupId: group.json().id as string };
    };

    const inject = (method: Method, url: string, body: unknown, headers: Record<string, string>) =>
      t.app.inject({
        method,
        url,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        payload: body === undefined ? undefined : JSON.stringify(body),
        // Each caller from its own address, so sign-in throttling never gets in the way.
        remoteAddress: `10.9.${Math.floor(++address / 250)}.${address % 250}`,
      });

    const userCaller = async (permission: string): Promise<Caller> => {
      const { roleId, groupId } = await roleAndGroup('user', permission);
      const email = `caller-${permission.replaceAll(':', '-')}-${++serial}@example.com`;
      const user = await createUserWithLogin(t, email, 'caller-password-123');
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, {
        body: { roleIds: [roleId], groupIds: [groupId] },
      });
      const token = await login(t, email, 'caller-password-123');
      return {
        label: `user holding ${permission}`,
        self: { kind: 'user', id: user.id, groupId, roleId },
        send: (method, url, body) => inject(method, url, body, { authorization: `Bearer ${token}` }),
        permissions: async () => {
          const fresh = await login(t, email, 'caller-password-123');
          return (await call(t, 'GET', '/iam/me', { token: fresh })).json().permissions;
        },
      };
    };

    /** A key of the second administrator, limited to one permission: signed, or exchanged for a token. */
    const keyCaller = async (permission: string, via: 'token' | 'signed'): Promise<Caller> => {
      const { roleId, groupId } = await roleAndGroup(`key ${via}`, permission);
      const created = await call(t, 'POST', `/iam/users/${w.secondAdmin}/keys`, {
        body: { name: `limited ${permission} ${via}`, roleIds: [roleId], groupIds: [groupId] },
      });
      expect(created.statusCode, created.body).toBe(201);
      const key = created.json();
      const creds: Credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      let send: Caller['send'];
      if (via === 'token') {
        const res = await loginWithKey(t, creds.accessKeyId, creds.secretAccessKey);
        expect(res.statusCode, res.body).toBe(200);
        const token = res.json().token as string;
        send = (method, url, body) => inject(method, url, body, { authorization: `Bearer ${token}` });
      } else {
        send = async (method, url, body) => {
          const payload = body === undefined ? undefined : JSON.stringify(body);
          const headers = await signHeaders(creds, {
            method,
            path: url,
            host: 'lk.test',
            headers: payload ? { 'content-type': 'application/json' } : {},
            body: payload,
            date: t.clock.now(),
          });
          return inject(method, url, body, headers);
        };
      }
      return {
        label: `key (${via}) holding ${permission}`,
        self: { kind: 'key', id: creds.accessKeyId, groupId, roleId },
        send,
        permissions: async () =>
          (await call(t, 'GET', `/iam/keys/${creds.accessKeyId}/permissions`)).json().permissions,
      };
    };

    it.each(IAM_PERMISSIONS.map((p) => [p]))(
      '%s: every grant path is refused and nothing grows',
      async (permission) => {
        const callers = [
          await userCaller(permission),
          await keyCaller(permission, 'token'),
          await keyCaller(permission, 'signed'),
        ];
        const problems: string[] = [];
        for (const caller of callers) {
          const start = await caller.permissions();
          expect(start, caller.label).toEqual([permission]);
          const handedKeys: string[] = [];
          const handedTemporary: Credentials[] = [];
          const passwords: Array<{ email: string; password: string }> = [];
          for (const a of attempts(w, caller.self)) {
            const res = await caller.send(a.method, a.url, a.body);
            const label = `${caller.label}: ${a.name} (${a.method} ${a.url}) → ${res.statusCode} ${res.body.slice(0, 200)}`;
            if (res.statusCode >= 500) problems.push(`5xx: ${label}`);
            if (res.statusCode < 300 && !a.mayPass) problems.push(`allowed: ${label}`);
            if (res.statusCode === 403) {
              const code = res.json().error.code;
              if (code !== 'PRIVILEGE_ESCALATION' && code !== 'AccessDenied')
                problems.push(`unexpected code: ${label}`);
            }
            if (res.statusCode < 300 && res.body) {
              const body = res.json();
              if (typeof body.sessionToken === 'string') handedTemporary.push(body);
              else if (typeof body.secretAccessKey === 'string') handedKeys.push(body.accessKeyId);
              if (a.body && typeof (a.body as { password?: unknown }).password === 'string')
                passwords.push({ email: 'second-admin@example.com', password: 'attacker-chosen-password' });
            }
          }
          // What the caller can do now, and what it was handed, never exceeds where it started.
          const grown = within(await caller.permissions().catch(() => []), start);
          if (grown.length > 0) problems.push(`${caller.label} grew by ${grown.join(', ')}`);
          for (const id of handedKeys) {
            const perms = (await call(t, 'GET', `/iam/keys/${id}/permissions`)).json()
              .permissions as string[];
            const extra = within(perms, start);
            if (extra.length > 0)
              problems.push(`${caller.label} was handed key ${id} with ${extra.join(', ')}`);
          }
          // Temporary credentials: what they may do, as their own signed request sees it.
          for (const temp of handedTemporary) {
            const profile = await inject('GET', '/profile', undefined, {
              ...(await signHeaders(temp, {
                method: 'GET',
                path: '/profile',
                host: 'lk.test',
                date: t.clock.now(),
              })),
            });
            const extra = within(profile.json().permissions as string[], start);
            if (profile.statusCode !== 200 || extra.length > 0)
              problems.push(`${caller.label} was handed temporary credentials with ${extra.join(', ')}`);
          }
          for (const p of passwords) {
            const res = await call(t, 'POST', '/iam/login', {
              token: '',
              body: { auth_mode: 'password', ...p },
            });
            if (res.statusCode === 200) problems.push(`${caller.label} can sign in as ${p.email}`);
          }
        }
        expect(problems).toEqual([]);
        // The administrators' own access is untouched.
        const second = await login(t, 'second-admin@example.com', 'second-admin-password');
        expect((await call(t, 'GET', '/iam/me', { token: second })).json().permissions).toContain(
          'iam:users:manage',
        );
        const me = await call(t, 'GET', '/iam/users', {
          headers: await signHeaders(adminCreds, {
            method: 'GET',
            path: '/iam/users',
            host: 'lk.test',
            date: t.clock.now(),
          }),
          token: '',
        });
        expect(me.statusCode).toBe(200);
      },
    );

    it('says in advance what the caller may grant: grantable roles and groups, withinYourPermissions', async () => {
      const reader = (
        await call(t, 'POST', '/iam/roles', {
          body: {
            name: `Reader ${++serial}`,
            permissions: ['iam:roles:read', 'iam:groups:read', 'iam:users:read', 'agent:read'],
          },
        })
      ).json().id as string;
      const agents = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: `Agents ${serial}`, permissions: ['agent:read'] },
        })
      ).json().id as string;
      const agentGroup = (
        await call(t, 'POST', '/iam/groups', { body: { name: `Agents ${serial}`, roleIds: [agents] } })
      ).json().id as string;
      const email = `reader-${serial}@example.com`;
      const user = await createUserWithLogin(t, email, 'reader-password-123');
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [reader] } });
      const token = await login(t, email, 'reader-password-123');
      const roles = (await call(t, 'GET', '/iam/roles', { token })).json().items as Array<{
        id: string;
        grantable: boolean;
      }>;
      const grantableRole = (id: string) => roles.find((r) => r.id === id)?.grantable;
      expect([
        grantableRole(agents),
        grantableRole(reader),
        grantableRole(w.adminRole),
        grantableRole(w.dataRw),
      ]).toEqual([true, true, false, false]);
      const groups = (await call(t, 'GET', '/iam/groups', { token })).json().items as Array<{
        id: string;
        grantable: boolean;
      }>;
      const grantableGroup = (id: string) => groups.find((g) => g.id === id)?.grantable;
      expect([
        grantableGroup(agentGroup),
        grantableGroup(w.adminsGroup),
        grantableGroup(w.broadGroup),
      ]).toEqual([true, false, false]);
      expect((await call(t, 'GET', `/iam/groups/${agentGroup}`, { token })).json().grantable).toBe(true);
      const users = (await call(t, 'GET', '/iam/users?limit=200', { token })).json().items as Array<{
        id: string;
        withinYourPermissions: boolean;
      }>;
      const within = (id: string) => users.find((u) => u.id === id)?.withinYourPermissions;
      expect([within(user.id), within(w.plainUser), within(w.secondAdmin)]).toEqual([true, true, false]);
    });

    it('a refusal names what the caller lacks and changes nothing', async () => {
      const caller = await userCaller('iam:roles:manage');
      const before = (await call(t, 'GET', `/iam/roles/${caller.self.roleId}`)).json();
      const res = await caller.send('PATCH', `/iam/roles/${caller.self.roleId}`, {
        permissions: ['*'],
        description: 'x',
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'PRIVILEGE_ESCALATION', missingPermissions: ['*'] });
      expect((await call(t, 'GET', `/iam/roles/${caller.self.roleId}`)).json()).toEqual(before);
      const audit = (
        await call(t, 'GET', `/iam/audit?targetId=${caller.self.roleId}&action=role.update`)
      ).json();
      expect(audit.items).toEqual([]);
    });

    it('a delegate grants what it holds: no more, no less', async () => {
      // A user manager who also reads and writes agents may give exactly that to others.
      const { roleId: own } = await roleAndGroup('delegate', 'iam:users:manage');
      await call(t, 'PATCH', `/iam/roles/${own}`, {
        body: { permissions: ['iam:users:manage', 'agent:read', 'agent:write'] },
      });
      const delegate = await createUserWithLogin(t, 'delegate@example.com', 'delegate-password-1');
      await call(t, 'PUT', `/iam/users/${delegate.id}/assignments`, { body: { roleIds: [own] } });
      const token = await login(t, 'delegate@example.com', 'delegate-password-1');
      const agents = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'Agents RW', permissions: ['agent:read', 'agent:write'] },
        })
      ).json().id;
      const readAll = await roleIdOf('DataReadOnly');
      const ok = await call(t, 'PUT', `/iam/users/${w.plainUser}/assignments`, {
        token,
        body: { roleIds: [agents] },
      });
      expect(ok.statusCode, ok.body).toBe(200);
      const wider = await call(t, 'PUT', `/iam/users/${w.plainUser}/assignments`, {
        token,
        body: { roleIds: [readAll] },
      });
      expect(wider.statusCode).toBe(403);
      expect(wider.json().error.missingPermissions).toEqual(['*:read']);
      // Removing what it could not grant is not a gain, so a delegate may take it away.
      await call(t, 'PUT', `/iam/users/${w.plainUser}/assignments`, { body: { roleIds: [readAll] } });
      const removed = await call(t, 'PUT', `/iam/users/${w.plainUser}/assignments`, {
        token,
        body: { roleIds: [] },
      });
      expect(removed.statusCode, removed.body).toBe(200);
    });

    it('deleting the group or role that limits a key, or taking the key out of it, never widens the key', async () => {
      // Each key's only assignment is one group or one role; its owner is an administrator, so
      // without that assignment it would hold `*`.
      const limitedKey = async (by: 'group' | 'role') => {
        const role = (
          await call(t, 'POST', '/iam/roles', {
            body: { name: `Limit ${++serial}`, permissions: ['agent:read'] },
          })
        ).json().id as string;
        if (by === 'role') {
          const key = (
            await call(t, 'POST', `/iam/users/${w.secondAdmin}/keys`, { body: { roleIds: [role] } })
          ).json();
          return { key: key.accessKeyId as string, role, group: '' };
        }
        const group = (
          await call(t, 'POST', '/iam/groups', { body: { name: `Limit ${serial}`, roleIds: [role] } })
        ).json().id as string;
        const key = (
          await call(t, 'POST', `/iam/users/${w.secondAdmin}/keys`, { body: { groupIds: [group] } })
        ).json();
        return { key: key.accessKeyId as string, role, group };
      };
      const groups = await userCaller('iam:groups:manage');
      const roles = await userCaller('iam:roles:manage');
      const keys = await userCaller('iam:keys:manage');
      const g1 = await limitedKey('group');
      const g2 = await limitedKey('group');
      const r1 = await limitedKey('role');
      const r2 = await limitedKey('role');
      const tries: Array<[Caller, Method, string, unknown, string]> = [
        [groups, 'DELETE', `/iam/groups/${g1.group}`, undefined, g1.key],
        [groups, 'DELETE', `/iam/groups/${g2.group}/members/key/${g2.key}`, undefined, g2.key],
        [roles, 'DELETE', `/iam/roles/${r1.role}`, undefined, r1.key],
        [keys, 'PUT', `/iam/keys/${r2.key}/assignments`, { roleIds: [] }, r2.key],
      ];
      for (const [caller, method, url, body, key] of tries) {
        const res = await caller.send(method, url, body);
        expect(res.statusCode, `${caller.label} ${method} ${url}: ${res.body}`).toBe(403);
        expect(res.json().error).toMatchObject({ code: 'PRIVILEGE_ESCALATION', missingPermissions: ['*'] });
        expect((await call(t, 'GET', `/iam/keys/${key}/permissions`)).json().permissions).toEqual([
          'agent:read',
        ]);
      }
      // Deleting a group's role leaves its keys in the group: narrower, so allowed.
      const res = await roles.send('DELETE', `/iam/roles/${g1.role}`);
      expect(res.statusCode, res.body).toBe(204);
      expect((await call(t, 'GET', `/iam/keys/${g1.key}/permissions`)).json().permissions).toEqual([]);
      // The administrator (holding `*`) may still do what a delegate may not.
      const admin = await call(t, 'PUT', `/iam/keys/${r2.key}/assignments`, { body: { roleIds: [] } });
      expect(admin.statusCode, admin.body).toBe(200);
    });

    it('a key limited to a role may narrow its own owner’s keys but not widen one', async () => {
      const readAll = await roleIdOf('DataReadOnly');
      const caller = await keyCaller('iam:keys:manage', 'token');
      // Narrowing a key of its own owner to something inside what it holds is fine.
      const target = (
        await call(t, 'POST', `/iam/users/${w.secondAdmin}/keys`, { body: { roleIds: [readAll] } })
      ).json().accessKeyId;
      const narrow = await caller.send('PUT', `/iam/keys/${target}/assignments`, {
        roleIds: [caller.self.roleId],
      });
      expect(narrow.statusCode, narrow.body).toBe(200);
      const widen = await caller.send('PUT', `/iam/keys/${target}/assignments`, { roleIds: [readAll] });
      expect(widen.statusCode).toBe(403);
      expect(widen.json().error.code).toBe('PRIVILEGE_ESCALATION');
    });

    it('only a holder of * changes the Administrators group or deletes an administrator', async () => {
      const caller = await userCaller('iam:groups:manage');
      for (const [method, url, body] of [
        ['PATCH', `/iam/groups/${w.adminsGroup}`, { description: 'mine now' }],
        ['DELETE', `/iam/groups/${w.adminsGroup}/members/user/${w.secondAdmin}`, undefined],
      ] as const) {
        const res = await caller.send(method, url, body);
        expect(res.statusCode, `${method} ${url}`).toBe(403);
        expect(res.json().error).toMatchObject({ code: 'PRIVILEGE_ESCALATION', missingPermissions: ['*'] });
      }
      const users = await userCaller('iam:users:manage');
      const del = await users.send('DELETE', `/iam/users/${w.secondAdmin}`);
      expect(del.statusCode).toBe(403);
      expect((await call(t, 'GET', `/iam/users/${w.secondAdmin}`)).json().isAdministrator).toBe(true);
    });
  });
});
