import { describe, expect, it } from 'vitest';
import { operatorActor } from '../src/context.js';
import { isWellFormedAccessKeyId } from '../src/crypto/access-key-id.js';
import { createKey } from '../src/keys/lifecycle.js';
import { DAY_MS } from '../src/time.js';
import { call, createUserWithLogin, loginWithKey, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describeEachEngine('access keys', (engine) => {
  describe('lifecycle', () => {
    const t = useTestApp(engine);

    it('creates a key for a user: 201 with the ID, the secret once and the tenant ID', async () => {
      const user = await createUserWithLogin(t, 'k1@example.com');
      const res = await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: 'laptop' } });
      expect(res.statusCode).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(isWellFormedAccessKeyId(body.accessKeyId)).toBe(true);
      expect(body.secretAccessKey).toMatch(/^lksk_[0-9A-Za-z]{40}$/);
      expect(body.tenantId).toBe(t.tenantId);
      expect(body).toMatchObject({
        name: 'laptop',
        type: 'access',
        status: 'active',
        state: 'active',
        daysLeft: 90,
      });
      expect(body.createdBy).toEqual({ type: 'user', id: t.adminId });

      const shown = await call(t, 'GET', `/iam/keys/${body.accessKeyId}`);
      expect(shown.statusCode).toBe(200);
      expect(shown.body).not.toContain(body.secretAccessKey);
      expect(shown.json().secretAccessKey).toBeUndefined();
      const list = await call(t, 'GET', `/iam/users/${user.id}/keys`);
      expect(list.json().items.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual([
        body.accessKeyId,
      ]);
      expect(list.body).not.toContain(body.secretAccessKey);
    });

    it('a key created without a name is named after the day (UTC) it was created, through the API and the domain function', async () => {
      const today = `Access key ${t.clock.now().toISOString().slice(0, 10)}`;
      expect(today).toMatch(/^Access key \d{4}-\d{2}-\d{2}$/);
      const user = await createUserWithLogin(t, 'k-default-name@example.com');
      const viaApi = await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: {} });
      expect(viaApi.statusCode).toBe(201);
      expect(viaApi.json().name).toBe(today);
      const owner = { type: 'user' as const, id: user.id };
      const direct = await createKey(t.runtime.svc, operatorActor(t.tenantId), owner, {});
      expect(direct.key.name).toBe(today);
    });

    it('the secret authenticates (token exchange); a wrong secret does not', async () => {
      const user = await createUserWithLogin(t, 'k2@example.com');
      const { accessKeyId, secretAccessKey } = (
        await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: {} })
      ).json();
      expect((await loginWithKey(t, accessKeyId, secretAccessKey)).statusCode).toBe(200);
      // A near miss: the last character changed (to one it is not: 1 secret in 62 ends in "x").
      const last = secretAccessKey.at(-1) === 'x' ? 'y' : 'x';
      const wrong = await loginWithKey(t, accessKeyId, `${secretAccessKey.slice(0, -1)}${last}`);
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
    });

    it('limits a user who is not an administrator to two keys, but not administrators or service accounts', async () => {
      const user = await createUserWithLogin(t, 'k3@example.com');
      for (let i = 0; i < 2; i++) {
        expect(
          (await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: `k${i}` } })).statusCode,
        ).toBe(201);
      }
      const third = await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: 'k3' } });
      expect(third.statusCode).toBe(409);
      expect(third.json().error.code).toBe('KEY_LIMIT_REACHED');
      // The user themself hits the same limit.
      const own = await call(t, 'POST', `/iam/users/${user.id}/keys`, { token: user.token, body: {} });
      expect(own.json().error.code).toBe('KEY_LIMIT_REACHED');
      expect((await call(t, 'GET', `/iam/users/${user.id}/keys`)).json().total).toBe(2);

      for (let i = 0; i < 4; i++) {
        expect(
          (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: `admin${i}` } })).statusCode,
        ).toBe(201);
      }
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'etl' } })).json();
      for (let i = 0; i < 4; i++) {
        expect((await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).statusCode).toBe(
          201,
        );
      }
    });

    it('enforces the limit under concurrent creation', async () => {
      const user = await createUserWithLogin(t, 'k4@example.com');
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: `c${i}` } }),
        ),
      );
      expect(results.filter((r) => r.statusCode === 201)).toHaveLength(2);
      expect(results.filter((r) => r.statusCode === 409)).toHaveLength(4);
      expect((await call(t, 'GET', `/iam/users/${user.id}/keys`)).json().total).toBe(2);
    });

    it('expiry: default, days, custom date, never; and the tenant maximum', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'expiry' } })).json();
      const make = (body: object) => call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body });
      const now = t.clock.now().getTime();
      const byDays = (await make({ validityDays: 7 })).json();
      expect(Date.parse(byDays.expiresAt) - now).toBe(7 * DAY_MS);
      const byDate = (await make({ expiresAt: '2099-01-31' })).json();
      expect(byDate.expiresAt).toBe('2099-01-31T23:59:59.999Z');
      const never = (await make({ neverExpires: true })).json();
      expect(never.expiresAt).toBeNull();
      expect(never.daysLeft).toBeNull();
      const past = await make({ expiresAt: '2001-01-01' });
      expect(past.statusCode).toBe(400);
      expect(past.json().error.code).toBe('INVALID_EXPIRY');
      const two = await make({ validityDays: 3, neverExpires: true });
      expect(two.json().error.code).toBe('INVALID_EXPIRY');

      expect(
        (
          await call(t, 'PATCH', '/iam/settings', {
            body: { maxKeyLifetimeDays: 30, defaultKeyLifetimeDays: 14 },
          })
        ).statusCode,
      ).toBe(200);
      try {
        const def = (await make({})).json();
        expect(Date.parse(def.expiresAt) - now).toBe(14 * DAY_MS);
        for (const body of [{ validityDays: 31 }, { neverExpires: true }, { expiresAt: '2099-01-01' }]) {
          const res = await make(body);
          expect(res.statusCode).toBe(400);
          expect(res.json().error.code).toBe('EXPIRY_BEYOND_MAXIMUM');
        }
        // Editing cannot escape the maximum either.
        const edit = await call(t, 'PATCH', `/iam/keys/${def.accessKeyId}`, { body: { neverExpires: true } });
        expect(edit.json().error.code).toBe('EXPIRY_BEYOND_MAXIMUM');
      } finally {
        await call(t, 'PATCH', '/iam/settings', {
          body: { maxKeyLifetimeDays: null, defaultKeyLifetimeDays: 90 },
        });
      }
    });

    it('states: expiring soon within the reminder lead time, expired after, and filters by state', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'states' } })).json();
      const soon = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { validityDays: 1 } })
      ).json();
      expect(soon.state).toBe('expiring_soon');
      const later = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { validityDays: 10 } })
      ).json();
      const off = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { validityDays: 10 } })
      ).json();
      await call(t, 'PATCH', `/iam/keys/${off.accessKeyId}`, { body: { active: false } });
      const ids = async (status: string) =>
        (await call(t, 'GET', `/iam/service-accounts/${sa.id}/keys?status=${status}`))
          .json()
          .items.map((k: { accessKeyId: string }) => k.accessKeyId);
      expect(await ids('expiring_soon')).toEqual([soon.accessKeyId]);
      expect(await ids('inactive')).toEqual([off.accessKeyId]);
      expect((await ids('active')).sort()).toEqual([soon.accessKeyId, later.accessKeyId].sort());

      t.clock.advance(DAY_MS + 1000);
      await refreshAdminToken(t);
      try {
        expect(await ids('expired')).toEqual([soon.accessKeyId]);
        expect((await call(t, 'GET', `/iam/keys/${soon.accessKeyId}`)).json()).toMatchObject({
          state: 'expired',
          daysLeft: 0,
        });
      } finally {
        t.clock.advance(-(DAY_MS + 1000));
        await refreshAdminToken(t);
      }
    });

    it('edits name, expiry and status; records who modified it; an inactive or expired key stops authenticating', async () => {
      const user = await createUserWithLogin(t, 'k5@example.com');
      const key = (
        await call(t, 'POST', `/iam/users/${user.id}/keys`, {
          token: user.token,
          body: { name: 'mine', validityDays: 5 },
        })
      ).json();
      expect(key.createdBy.id).toBe(user.id);
      const edited = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { name: 'renamed', validityDays: 60 },
      });
      expect(edited.statusCode).toBe(200);
      expect(edited.json()).toMatchObject({
        name: 'renamed',
        daysLeft: 60,
        updatedBy: { type: 'user', id: t.adminId },
      });
      expect(
        (await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } })).json().state,
      ).toBe('inactive');
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().error.code).toBe(
        'KEY_INACTIVE',
      );
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: true, validityDays: 1 } });
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).statusCode).toBe(200);
      t.clock.advance(DAY_MS + 1);
      try {
        expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().error.code).toBe(
          'KEY_EXPIRED',
        );
      } finally {
        t.clock.advance(-(DAY_MS + 1));
      }
      const empty = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: {} });
      expect(empty.statusCode).toBe(400);
    });

    it('generate new secret key: the old secret stops at once, or after the grace period', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'rotation' } })).json();
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const rotated = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
      expect(rotated.statusCode).toBe(200);
      const second = rotated.json().secretAccessKey as string;
      expect(second).not.toBe(key.secretAccessKey);
      expect(rotated.json().secretVersion).toBe(2);
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).statusCode).toBe(401);
      expect((await loginWithKey(t, key.accessKeyId, second)).statusCode).toBe(200);

      const third = (
        await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: { graceSeconds: 3600 } })
      ).json().secretAccessKey;
      expect((await loginWithKey(t, key.accessKeyId, second)).statusCode).toBe(200);
      expect((await loginWithKey(t, key.accessKeyId, third)).statusCode).toBe(200);
      t.clock.advance(3601_000);
      try {
        expect((await loginWithKey(t, key.accessKeyId, second)).statusCode).toBe(401);
        expect((await loginWithKey(t, key.accessKeyId, third)).statusCode).toBe(200);
      } finally {
        t.clock.advance(-3601_000);
      }
      const tooLong = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, {
        body: { graceSeconds: 90_000 },
      });
      expect(tooLong.statusCode).toBe(400);
    });

    it('generate new secret key with no body at all (curl -X POST)', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'bodiless' } })).json();
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const rotated = await t.app.inject({
        method: 'POST',
        url: `/iam/keys/${key.accessKeyId}/secret`,
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(rotated.statusCode, rotated.body).toBe(200);
      expect(rotated.json().secretVersion).toBe(2);
    });

    it('a key an administrator deactivated stays off: its owner cannot activate it again (its own deactivation it can undo)', async () => {
      const user = await createUserWithLogin(t, 'sticky@example.com');
      const key = (
        await call(t, 'POST', `/iam/users/${user.id}/keys`, { token: user.token, body: {} })
      ).json();
      const path = `/iam/keys/${key.accessKeyId}`;
      // The owner's own deactivation is theirs to undo.
      expect(
        (await call(t, 'PATCH', path, { token: user.token, body: { active: false } })).json(),
      ).toMatchObject({
        state: 'inactive',
        deactivatedByManager: false,
      });
      expect((await call(t, 'PATCH', path, { token: user.token, body: { active: true } })).statusCode).toBe(
        200,
      );
      // An administrator's is not.
      const off = (await call(t, 'PATCH', path, { body: { active: false } })).json();
      expect(off).toMatchObject({ state: 'inactive', deactivatedByManager: true });
      const again = await call(t, 'PATCH', path, { token: user.token, body: { active: true } });
      expect(again.statusCode).toBe(403);
      expect(again.json().error).toMatchObject({
        code: 'AccessDenied',
        missingPermission: 'iam:keys:manage',
      });
      expect((await call(t, 'GET', path)).json().status).toBe('inactive');
      // The owner may still rename it or delete it; an administrator may activate it.
      expect((await call(t, 'PATCH', path, { token: user.token, body: { name: 'parked' } })).statusCode).toBe(
        200,
      );
      const on = (await call(t, 'PATCH', path, { body: { active: true } })).json();
      expect(on).toMatchObject({ state: 'active', deactivatedByManager: false });
    });

    it('delete: the key stops authenticating at once and is gone from lists', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'deletion' } })).json();
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);
      expect((await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).statusCode).toBe(401);
      expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(404);
      expect((await call(t, 'GET', `/iam/service-accounts/${sa.id}/keys`)).json().total).toBe(0);
      expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(404);
    });

    it('rejects malformed and mistyped access key IDs before touching the database', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'typo' } })).json();
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      const id: string = key.accessKeyId;
      const typo = id.slice(0, 10) + (id[10] === 'A' ? 'B' : 'A') + id.slice(11);
      for (const bad of [typo, 'AKIAIOSFODNN7EXAMPLE', 'LKIA', `${id}X`, id.toLowerCase()]) {
        const res = await call(t, 'GET', `/iam/keys/${encodeURIComponent(bad)}`);
        expect(res.statusCode, bad).toBe(400);
        expect(res.json().error.code).toBe('INVALID_ACCESS_KEY_ID');
      }
    });

    it("users manage their own keys with a password session, not others' and not through a key token", async () => {
      const alice = await createUserWithLogin(t, 'alice@example.com');
      const bob = await createUserWithLogin(t, 'bob@example.com');
      const mine = await call(t, 'POST', `/iam/users/${alice.id}/keys`, {
        token: alice.token,
        body: { name: 'a' },
      });
      expect(mine.statusCode).toBe(201);
      const { accessKeyId, secretAccessKey } = mine.json();
      expect(
        (await call(t, 'POST', `/iam/keys/${accessKeyId}/secret`, { token: alice.token, body: {} }))
          .statusCode,
      ).toBe(200);
      expect(
        (await call(t, 'PATCH', `/iam/keys/${accessKeyId}`, { token: alice.token, body: { name: 'b' } }))
          .statusCode,
      ).toBe(200);
      const ownList = await call(t, 'GET', '/iam/keys', { token: alice.token });
      expect(ownList.json().items.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual([accessKeyId]);

      const others = await call(t, 'POST', `/iam/users/${bob.id}/keys`, { token: alice.token, body: {} });
      expect(others.statusCode).toBe(403);
      expect(others.json().error).toMatchObject({
        code: 'AccessDenied',
        missingPermission: 'iam:keys:manage',
      });
      const bobKey = (
        await call(t, 'POST', `/iam/users/${bob.id}/keys`, { token: bob.token, body: {} })
      ).json();
      expect(
        (await call(t, 'DELETE', `/iam/keys/${bobKey.accessKeyId}`, { token: alice.token })).statusCode,
      ).toBe(403);
      expect(
        (await call(t, 'GET', `/iam/keys/${bobKey.accessKeyId}`, { token: alice.token })).statusCode,
      ).toBe(403);
      expect((await call(t, 'GET', `/iam/users/${bob.id}/keys`, { token: alice.token })).statusCode).toBe(
        403,
      );

      const rotated = (
        await call(t, 'POST', `/iam/keys/${accessKeyId}/secret`, { token: alice.token, body: {} })
      ).json();
      expect(rotated.secretAccessKey).not.toBe(secretAccessKey);
      const keyToken = (await loginWithKey(t, accessKeyId, rotated.secretAccessKey)).json().token;
      const viaKey = await call(t, 'POST', `/iam/users/${alice.id}/keys`, { token: keyToken, body: {} });
      expect(viaKey.statusCode).toBe(403);
      expect((await call(t, 'DELETE', `/iam/keys/${accessKeyId}`, { token: alice.token })).statusCode).toBe(
        204,
      );
    });

    it("effective permissions: the key's own roles within its owner's, or the owner's when it has none", async () => {
      const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
      const readOnly = roles.find((r) => r.name === 'DataReadOnly')?.id;
      const readWrite = roles.find((r) => r.name === 'DataReadWrite')?.id;
      const agentsOnly = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: 'AgentsRW', permissions: ['agent:read', 'agent:write'] },
        })
      ).json().id;
      const user = await createUserWithLogin(t, 'perm@example.com');
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [readOnly] } });
      const key = (await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: {} })).json();
      const perms = async () => (await call(t, 'GET', `/iam/keys/${key.accessKeyId}/permissions`)).json();
      let p = await perms();
      expect(p.source).toBe('owner');
      expect(p.permissions).toContain('agent:read');
      expect(p.permissions).not.toContain('agent:write');
      // Owner has read-only: a read-write role on the key cannot exceed it.
      await call(t, 'PUT', `/iam/keys/${key.accessKeyId}/assignments`, { body: { roleIds: [agentsOnly] } });
      p = await perms();
      expect(p.source).toBe('key');
      expect(p.permissions).toEqual(['agent:read']);
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [readWrite] } });
      expect((await perms()).permissions).toEqual(['agent:read', 'agent:write']);
      // A group on the key counts as the key's own assignment.
      const group = (
        await call(t, 'POST', '/iam/groups', { body: { name: 'Readers', roleIds: [readOnly] } })
      ).json();
      const assigned = await call(t, 'PUT', `/iam/keys/${key.accessKeyId}/assignments`, {
        body: { groupIds: [group.id], roleIds: [] },
      });
      expect(assigned.json().groups).toEqual([{ id: group.id, name: 'Readers' }]);
      p = await perms();
      expect(p.permissions).toContain('customer:read');
      expect(p.permissions).not.toContain('customer:write');
      // A key token carries the key's permissions at issue time.
      const keyToken = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      const profile = await call(t, 'GET', '/profile', { token: keyToken });
      expect(profile.json().permissions).toEqual(p.permissions);
    });

    it('api-type keys sign data requests only: no token exchange, no IAM permissions', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'ingest' } })).json();
      const key = (
        await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { type: 'api' } })
      ).json();
      expect(key.type).toBe('api');
      const res = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('KEY_TYPE_NOT_ALLOWED');
      await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, {
        body: {
          groupIds: [],
          roleIds: (await call(t, 'GET', '/iam/roles'))
            .json()
            .items.filter((r: { name: string }) => r.name === 'Administrator')
            .map((r: { id: string }) => r.id),
        },
      });
      const perms = (await call(t, 'GET', `/iam/keys/${key.accessKeyId}/permissions`)).json()
        .permissions as string[];
      expect(perms).toContain('salesinvoice:write');
      expect(perms.some((p) => p.startsWith('iam:'))).toBe(false);
    });
  });
});
