import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { DAY_MS } from '../src/time.js';
import { ADMIN_EMAIL, call, createUserWithLogin, login, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const HOUR = 3_600_000;

describeEachEngine('expiry reminders', (engine) => {
  const smtp = useTestSmtp();

  describe('one instance', () => {
    const t = useTestApp(engine, () => ({
      env: {
        SMTP_URL: smtp.url,
        LATCHKEY_PUBLIC_URL: 'https://keys.example.test',
        LATCHKEY_TENANT_NAME: 'Acme <Ops>',
      },
    }));
    let notifier: Notifier;
    const secrets: string[] = [];
    let alice: { id: string; token: string };
    let bob: { id: string };

    beforeAll(async () => {
      notifier = new Notifier(t.runtime.svc);
      alice = await createUserWithLogin(t, 'alice@example.com');
      bob = (await call(t, 'POST', '/iam/users', { body: { email: 'bob@example.com', name: 'Bob' } })).json();
      // Bob is a second administrator: he gets every reminder too.
      const groups = (await call(t, 'GET', '/iam/groups')).json().items as Array<{
        id: string;
        name: string;
      }>;
      const admins = groups.find((g) => g.name === 'Administrators')?.id;
      await call(t, 'POST', `/iam/groups/${admins}/members`, { body: { type: 'user', id: bob.id } });
    });
    afterAll(async () => notifier?.stop());

    async function createKey(ownerId: string, body: object, token = t.adminToken) {
      const res = await call(t, 'POST', `/iam/users/${ownerId}/keys`, { token, body });
      expect(res.statusCode, res.body).toBe(201);
      const key = res.json();
      secrets.push(key.secretAccessKey);
      return key as { accessKeyId: string; expiresAt: string; secretAccessKey: string; name: string };
    }

    /** Move time on; the administrator's session expires meanwhile, so sign in again. */
    async function advance(ms: number) {
      t.clock.advance(ms);
      await refreshAdminToken(t);
    }

    const remindersFor = (accessKeyId: string) =>
      smtp.messages.filter((m) => m.decoded.includes(accessKeyId) && /expires on/.test(m.subject));

    it('reminds the administrators and the creator and modifier once, naming the key and how to extend it', async () => {
      // Alice creates her own key (she is its creator); the administrator renames it (modifier).
      const key = await createKey(alice.id, { name: 'nightly-etl', validityDays: 10 }, alice.token);
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { name: 'nightly-etl' } });
      for (let i = 0; i < 3; i++) await notifier.runOnce();
      expect(remindersFor(key.accessKeyId)).toHaveLength(0);

      // 8 days later the key is 2 days (the default lead) from its expiry.
      await advance(8 * DAY_MS + HOUR);
      for (let i = 0; i < 4; i++) await notifier.runOnce();
      const sent = remindersFor(key.accessKeyId);
      expect(sent.map((m) => m.to[0]).sort()).toEqual([ADMIN_EMAIL, 'alice@example.com', 'bob@example.com']);
      for (const m of sent) {
        expect(m.subject).toContain('nightly-etl');
        expect(m.subject).toContain('[Acme <Ops>]');
        expect(m.decoded).toContain(key.accessKeyId);
        expect(m.decoded).toContain('alice@example.com'); // the owner
        expect(m.decoded).toContain(key.expiresAt);
        expect(m.decoded).toContain(`PATCH /iam/keys/${key.accessKeyId}`);
        expect(m.decoded).toContain('https://keys.example.test/console/');
        // Plain text and HTML, the tenant name escaped in the HTML.
        expect(m.raw).toMatch(/Content-Type: text\/plain/i);
        expect(m.raw).toMatch(/Content-Type: text\/html/i);
        expect(m.decoded).toContain('Acme &lt;Ops&gt;');
        expect(m.decoded).not.toContain('<strong>Acme <Ops></strong>');
        expect(m.messageId).toMatch(/^<mail_[a-z0-9]+@localhost>$/);
      }
      // The owner also gets a bell notification.
      alice.token = await login(t, 'alice@example.com', 'a-long-enough-password');
      const bell = (await call(t, 'GET', '/iam/notifications', { token: alice.token })).json();
      expect(bell.items.some((n: { kind: string }) => n.kind === 'key_expiring')).toBe(true);

      // Running the job again and again sends nothing more.
      for (let i = 0; i < 4; i++) await notifier.runOnce();
      expect(remindersFor(key.accessKeyId)).toHaveLength(3);
    });

    it('extending the key re-arms its reminder', async () => {
      const key = await createKey(t.adminId, { name: 'rearm', validityDays: 5 });
      await advance(3 * DAY_MS + HOUR);
      await notifier.runOnce();
      expect(remindersFor(key.accessKeyId)).toHaveLength(2); // admin (creator) and bob
      const extended = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { validityDays: 7 } });
      expect(extended.statusCode).toBe(200);
      await notifier.runOnce();
      expect(remindersFor(key.accessKeyId)).toHaveLength(2);
      await advance(5 * DAY_MS + HOUR);
      for (let i = 0; i < 3; i++) await notifier.runOnce();
      const all = remindersFor(key.accessKeyId);
      expect(all).toHaveLength(4);
      expect(all[2]?.decoded).toContain(extended.json().expiresAt);
    });

    it('a key created inside the lead window is reminded at once, without waiting for the job', async () => {
      const key = await createKey(alice.id, { name: 'short-lived', validityDays: 1 });
      // Only the outbox runs: the reminder was queued by the creation itself.
      await notifier.runOutbox();
      expect(
        remindersFor(key.accessKeyId)
          .map((m) => m.to[0])
          .sort(),
      ).toEqual([ADMIN_EMAIL, 'bob@example.com']);
      await notifier.runOnce();
      expect(remindersFor(key.accessKeyId)).toHaveLength(2);
    });

    it('catches up after downtime, and tells the owner once when a key has expired', async () => {
      const dave = await createUserWithLogin(t, 'dave@example.com');
      const missed = await createKey(dave.id, { name: 'missed', validityDays: 4 });
      const gone = await createKey(dave.id, { name: 'gone', validityDays: 3 }, dave.token);
      // No job ran for 2.5 days ("downtime"): both keys entered their lead window meanwhile.
      await advance(2.5 * DAY_MS);
      await notifier.runOnce();
      expect(
        remindersFor(missed.accessKeyId)
          .map((m) => m.to[0])
          .sort(),
      ).toEqual([ADMIN_EMAIL, 'bob@example.com']);
      expect(
        remindersFor(gone.accessKeyId)
          .map((m) => m.to[0])
          .sort(),
      ).toEqual([ADMIN_EMAIL, 'bob@example.com', 'dave@example.com']);
      // After expiry the owner gets one "expired" bell notification, however often the job runs.
      await advance(2 * DAY_MS);
      for (let i = 0; i < 5; i++) await notifier.runOnce();
      const daveToken = await login(t, 'dave@example.com', 'a-long-enough-password');
      const bell = (await call(t, 'GET', '/iam/notifications?limit=200', { token: daveToken })).json();
      const expired = bell.items.filter((n: { kind: string }) => n.kind === 'key_expired');
      expect(expired.map((n: { data: { accessKeyId: string } }) => n.data.accessKeyId).sort()).toEqual(
        [missed.accessKeyId, gone.accessKeyId].sort(),
      );
      const shown = (await call(t, 'GET', `/iam/keys/${gone.accessKeyId}`)).json();
      expect(shown.state).toBe('expired');
    });

    it('no reminder email ever contains a secret key', () => {
      expect(smtp.messages.length).toBeGreaterThan(0);
      for (const m of smtp.messages) {
        expect(m.decoded).not.toMatch(/lksk_[0-9A-Za-z]{40}/);
        for (const s of secrets) expect(m.raw.includes(s) || m.decoded.includes(s)).toBe(false);
      }
    });
  });
});
