import { beforeAll, describe, expect, it } from 'vitest';
import { call, createUserWithLogin, loginWithKey } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

interface Note {
  id: string;
  kind: string;
  title: string;
  body: string;
  read: boolean;
  createdAt: string;
  data: Record<string, unknown>;
  actor: { type: string; id: string } | null;
}

describeEachEngine('bell notifications', (engine) => {
  describe('assignment changes', () => {
    const t = useTestApp(engine);
    let gina: { id: string; token: string };
    let hank: { id: string; token: string };
    let roles: Record<string, string>;
    let groupId: string;
    let ginaKey: { accessKeyId: string; secretAccessKey: string };

    beforeAll(async () => {
      gina = await createUserWithLogin(t, 'gina@example.com');
      hank = await createUserWithLogin(t, 'hank@example.com');
      roles = Object.fromEntries(
        (await call(t, 'GET', '/iam/roles'))
          .json()
          .items.map((r: { name: string; id: string }) => [r.name, r.id]),
      );
      groupId = (await call(t, 'POST', '/iam/groups', { body: { name: 'Reporting' } })).json().id;
    });

    const bell = async (token: string, query = '') => {
      const res = await call(t, 'GET', `/iam/notifications${query}`, { token });
      expect(res.statusCode).toBe(200);
      return res.json() as {
        items: Note[];
        total: number;
        unreadCount: number;
        limit: number;
        offset: number;
      };
    };
    const latest = async (token: string) => (await bell(token)).items[0] as Note;

    it("a user's own roles or groups change: that user is told what changed and by whom", async () => {
      const res = await call(t, 'PUT', `/iam/users/${gina.id}/assignments`, {
        body: { roleIds: [roles.DataReadOnly] },
      });
      expect(res.statusCode).toBe(200);
      const note = await latest(gina.token);
      expect(note).toMatchObject({
        kind: 'assignments_changed',
        read: false,
        actor: { type: 'user', id: t.adminId },
      });
      expect(note.body).toBe('admin@example.com changed your access: added the role DataReadOnly.');
      expect((await bell(hank.token)).total).toBe(0);
      // Setting the same again changes nothing and notifies nobody.
      await call(t, 'PUT', `/iam/users/${gina.id}/assignments`, { body: { roleIds: [roles.DataReadOnly] } });
      expect((await bell(gina.token)).total).toBe(1);
    });

    it('a key created with roles, and a key whose groups change: its owner is told', async () => {
      const created = await call(t, 'POST', `/iam/users/${gina.id}/keys`, {
        body: { name: 'gina-reports', roleIds: [roles.DataReadOnly] },
      });
      expect(created.statusCode).toBe(201);
      ginaKey = created.json();
      let note = await latest(gina.token);
      expect(note.kind).toBe('assignments_changed');
      expect(note.body).toContain(`your access key "gina-reports" (${ginaKey.accessKeyId})`);
      expect(note.body).toContain('added the role DataReadOnly');

      await call(t, 'PUT', `/iam/keys/${ginaKey.accessKeyId}/assignments`, { body: { groupIds: [groupId] } });
      note = await latest(gina.token);
      expect(note.body).toContain('added the group Reporting');
      expect(note.data).toMatchObject({ subjectType: 'key', accessKeyId: ginaKey.accessKeyId });
    });

    it("a group's roles change: its user members and the owners of its key members are told", async () => {
      await call(t, 'POST', `/iam/groups/${groupId}/members`, { body: { type: 'user', id: hank.id } });
      const joined = await latest(hank.token);
      expect(joined).toMatchObject({
        kind: 'group_membership_changed',
        title: 'You joined the group Reporting',
      });
      const ginaBefore = (await bell(gina.token)).total;

      const res = await call(t, 'PATCH', `/iam/groups/${groupId}`, {
        body: { roleIds: [roles.DataReadWrite] },
      });
      expect(res.statusCode).toBe(200);
      for (const user of [hank, gina]) {
        const note = await latest(user.token);
        expect(note.kind).toBe('group_roles_changed');
        expect(note.body).toContain('changed the roles of the group Reporting');
        expect(note.body).toContain('added the role DataReadWrite');
      }
      expect((await bell(gina.token)).total).toBe(ginaBefore + 1);
    });

    it('members added to or removed from a group are told (users, and the owners of keys)', async () => {
      await call(t, 'DELETE', `/iam/groups/${groupId}/members/user/${hank.id}`);
      expect(await latest(hank.token)).toMatchObject({
        kind: 'group_membership_changed',
        title: 'You left the group Reporting',
        body: 'admin@example.com removed you from the group Reporting.',
      });
      await call(t, 'DELETE', `/iam/groups/${groupId}/members/key/${ginaKey.accessKeyId}`);
      expect((await latest(gina.token)).body).toBe(
        `admin@example.com removed your access key "gina-reports" (${ginaKey.accessKeyId}) from the group Reporting.`,
      );
    });

    it('lists unread first, then newest; paginates; counts unread', async () => {
      const all = await bell(gina.token);
      expect(all.total).toBeGreaterThanOrEqual(5);
      expect(all.unreadCount).toBe(all.total);
      const times = all.items.map((n) => n.id);
      expect(times).toEqual([...times].sort().reverse()); // newest first (ids are time-ordered)

      // Read the newest one: it moves behind every unread one.
      const newest = all.items[0] as Note;
      const marked = await call(t, 'POST', `/iam/notifications/${newest.id}/read`, { token: gina.token });
      expect(marked.statusCode).toBe(200);
      expect(marked.json()).toMatchObject({ id: newest.id, read: true });
      const after = await bell(gina.token);
      expect(after.unreadCount).toBe(all.total - 1);
      expect(after.items.at(-1)?.id).toBe(newest.id);
      expect(after.items.slice(0, -1).every((n) => !n.read)).toBe(true);

      const page = await bell(gina.token, '?limit=2&offset=1');
      expect(page).toMatchObject({ limit: 2, offset: 1, total: all.total });
      expect(page.items.map((n) => n.id)).toEqual(after.items.slice(1, 3).map((n) => n.id));
      expect((await bell(gina.token, '?unread=true')).total).toBe(all.total - 1);

      const readAll = await call(t, 'POST', '/iam/notifications/read-all', { token: gina.token });
      expect(readAll.json()).toEqual({ marked: all.total - 1 });
      expect((await bell(gina.token)).unreadCount).toBe(0);
    });

    it("nobody reads or marks another user's notifications; any of the user's credentials sees them", async () => {
      const ginas = (await bell(gina.token)).items;
      const hanks = (await bell(hank.token)).items;
      expect(hanks.some((n) => ginas.some((g) => g.id === n.id))).toBe(false);
      const target = ginas[0] as Note;
      const steal = await call(t, 'POST', `/iam/notifications/${target.id}/read`, { token: hank.token });
      expect(steal.statusCode).toBe(404);
      expect(steal.json().error.code).toBe('NOT_FOUND');
      expect(
        (await call(t, 'POST', '/iam/notifications/ntf_missing/read', { token: hank.token })).statusCode,
      ).toBe(404);
      expect((await call(t, 'GET', '/iam/notifications', { token: '' })).statusCode).toBe(401);

      // A token from Gina's access key sees Gina's notifications.
      const keyLogin = await loginWithKey(t, ginaKey.accessKeyId, ginaKey.secretAccessKey);
      expect(keyLogin.statusCode).toBe(200);
      const viaKey = await bell(keyLogin.json().token);
      expect(viaKey.items.map((n) => n.id)).toEqual(ginas.map((n) => n.id));
    });

    it('an administrator is not notified of their own changes', async () => {
      await call(t, 'PUT', `/iam/users/${t.adminId}/assignments`, {
        body: { roleIds: [roles.DataReadOnly] },
      });
      expect((await bell(t.adminToken)).total).toBe(0);
    });
  });
});
