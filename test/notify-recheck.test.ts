/**
 * Mail is checked when it is sent (issue 12, finding 9): key emails queued while delivery did not
 * work go out later only if they are still true. Each test queues mail while the SMTP server is
 * down (one delivery attempt fails), changes the key, brings the server back and delivers through
 * a real SMTP conversation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { DAY_MS, iso } from '../src/time.js';
import { ADMIN_EMAIL, call, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const HOUR = 3_600_000;
const LINK = /\/iam\/key-reveal\/([0-9A-Za-z]{43})/;

describeEachEngine('mail checked when it is sent,', (engine) => {
  const smtp = useTestSmtp();

  describe('queued while SMTP was down', () => {
    const t = useTestApp(engine, () => ({
      env: { SMTP_URL: smtp.url, LATCHKEY_PUBLIC_URL: 'https://keys.example.test' },
    }));
    let notifier: Notifier;
    /** A service account without an address: its keys' reminders go to the administrator only. */
    let saId: string;
    let n = 0;

    beforeAll(async () => {
      notifier = new Notifier(t.runtime.svc);
      saId = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'batch' } })).json().id;
    });
    afterAll(async () => notifier?.stop());

    const db = () => t.runtime.svc.db;
    const mailAbout = (accessKeyId: string) =>
      db()
        .selectFrom('mail_outbox')
        .selectAll()
        .where('access_key_id', '=', accessKeyId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
    const received = (accessKeyId: string) => smtp.messages.filter((m) => m.decoded.includes(accessKeyId));

    /** Create a key inside its reminder lead window: its reminder is queued at once. */
    async function dueKey(body: object = { validityDays: 1 }) {
      const res = await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, {
        body: { name: `due-${++n}`, ...body },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { accessKeyId: string; expiresAt: string; secretAccessKey: string };
    }

    /** Mail queued by `queue` stays undelivered: the SMTP server is down for the first attempt. */
    async function whileSmtpDown<T>(queue: () => Promise<T>): Promise<T> {
      await smtp.stop();
      try {
        const result = await queue();
        const attempt = await notifier.runOutbox();
        expect(attempt.retried).toBeGreaterThan(0);
        expect(attempt.sent).toBe(0);
        return result;
      } finally {
        await smtp.listen();
      }
    }

    /** Past every back-off, then one delivery run. */
    async function deliver() {
      t.clock.advance(2 * 60_000);
      return notifier.runOutbox();
    }

    it('a reminder for a key deleted meanwhile is dropped, with the reason, and listed as dropped', async () => {
      const key = await whileSmtpDown(() => dueKey());
      expect(await mailAbout(key.accessKeyId)).toMatchObject([
        { kind: 'expiry_reminder', status: 'pending' },
      ]);
      expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);

      expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
      expect(received(key.accessKeyId)).toHaveLength(0);
      const [row] = await mailAbout(key.accessKeyId);
      expect(row).toMatchObject({ status: 'dropped', last_error: 'the key was deleted', sent_at: null });
      // Never picked up again.
      t.clock.advance(HOUR);
      expect(await notifier.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
      await refreshAdminToken(t);

      const listed = await call(t, 'GET', '/iam/outbox?status=dropped');
      expect(listed.statusCode, listed.body).toBe(200);
      const item = listed.json().items.find((i: { id: string }) => i.id === row?.id);
      expect(item).toMatchObject({
        status: 'dropped',
        kind: 'expiry_reminder',
        to: ADMIN_EMAIL,
        accessKeyId: key.accessKeyId,
        lastError: 'the key was deleted',
        sentAt: null,
      });
      expect(item.text).toContain(key.accessKeyId);
      expect((await call(t, 'GET', '/iam/outbox?status=gone')).statusCode).toBe(400);
    });

    it('a reminder whose key was extended beyond the window is dropped; the new expiry is reminded when due', async () => {
      const key = await whileSmtpDown(() => dueKey());
      const extended = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { validityDays: 30 } });
      expect(extended.statusCode, extended.body).toBe(200);
      const newExpiry = extended.json().expiresAt as string;

      expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
      expect(received(key.accessKeyId)).toHaveLength(0);
      const [row] = await mailAbout(key.accessKeyId);
      expect(row?.status).toBe('dropped');
      expect(row?.last_error).toBe(
        `the key's expiry changed since this reminder was queued (now ${newExpiry})`,
      );

      // 28 days on, the new expiry is inside the lead window: its reminder goes out.
      t.clock.advance(28 * DAY_MS + HOUR);
      await refreshAdminToken(t);
      await notifier.runOnce();
      const mails = received(key.accessKeyId);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.decoded).toContain(newExpiry);
      expect(mails[0]?.decoded).not.toContain(key.expiresAt);
    });

    it('a key moved to a new expiry inside the window: the old reminder is dropped, the new one received', async () => {
      const key = await whileSmtpDown(() => dueKey());
      const res = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { expiresAt: iso(new Date(t.clock.now().getTime() + 1.5 * DAY_MS)) },
      });
      expect(res.statusCode, res.body).toBe(200);
      const moved = res.json().expiresAt as string;
      expect(moved).not.toBe(key.expiresAt);
      // Both reminders are queued: one for the old expiry, and one (queued by the change
      // itself) for the new expiry.
      expect((await mailAbout(key.accessKeyId)).map((r) => [r.key_expires_at, r.status]).sort()).toEqual(
        [
          [key.expiresAt, 'pending'],
          [moved, 'pending'],
        ].sort(),
      );

      expect(await deliver()).toMatchObject({ sent: 1, dropped: 1 });
      const mails = received(key.accessKeyId);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.to).toEqual([ADMIN_EMAIL]);
      expect(mails[0]?.decoded).toContain(moved);
      expect(mails[0]?.decoded).not.toContain(key.expiresAt);
      const rows = await mailAbout(key.accessKeyId);
      expect(rows.find((r) => r.key_expires_at === key.expiresAt)?.status).toBe('dropped');
      expect(rows.find((r) => r.key_expires_at === moved)?.status).toBe('sent');
      // The job does not send it again.
      await notifier.runOnce();
      expect(received(key.accessKeyId)).toHaveLength(1);
    });

    it('a key whose expiry was changed and changed back: the original reminder goes out, the other is dropped', async () => {
      const key = await whileSmtpDown(() => dueKey());
      const moved = iso(new Date(t.clock.now().getTime() + 1.5 * DAY_MS));
      await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { expiresAt: moved } });
      const back = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        body: { expiresAt: key.expiresAt },
      });
      expect(back.json().expiresAt).toBe(key.expiresAt);
      expect(await mailAbout(key.accessKeyId)).toHaveLength(2);
      expect(await deliver()).toMatchObject({ sent: 1, dropped: 1 });
      const mails = received(key.accessKeyId);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.decoded).toContain(key.expiresAt);
    });

    it('a reminder for a key deactivated meanwhile is dropped; reactivated, the key is reminded afresh', async () => {
      const key = await whileSmtpDown(() => dueKey());
      const off = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
      expect(off.statusCode, off.body).toBe(200);
      expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
      expect(received(key.accessKeyId)).toHaveLength(0);
      expect(await mailAbout(key.accessKeyId)).toMatchObject([
        { status: 'dropped', last_error: 'the key is inactive' },
      ]);
      await notifier.runOnce();
      expect(received(key.accessKeyId)).toHaveLength(0);

      // Nobody was told about this expiry, so it is reminded once the key works again.
      const on = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: true } });
      expect(on.statusCode).toBe(200);
      await notifier.runOnce();
      await notifier.runOnce();
      const mails = received(key.accessKeyId);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.decoded).toContain(key.expiresAt);
    });

    it('a reminder for a key that no longer expires, or expired before delivery, is dropped', async () => {
      const [forever, late] = await whileSmtpDown(async () => [await dueKey(), await dueKey()]);
      const res = await call(t, 'PATCH', `/iam/keys/${forever.accessKeyId}`, {
        body: { neverExpires: true },
      });
      expect(res.statusCode, res.body).toBe(200);
      // The SMTP server came back only after the second key had expired.
      t.clock.advance(DAY_MS + HOUR);
      await refreshAdminToken(t);
      expect(await deliver()).toMatchObject({ sent: 0, dropped: 2 });
      expect(received(forever.accessKeyId)).toHaveLength(0);
      expect(received(late.accessKeyId)).toHaveLength(0);
      expect(await mailAbout(forever.accessKeyId)).toMatchObject([
        { status: 'dropped', last_error: 'the key no longer expires' },
      ]);
      expect(await mailAbout(late.accessKeyId)).toMatchObject([
        { status: 'dropped', last_error: 'the key expired before this reminder could be delivered' },
      ]);
      // The owner is told of the expiry by the "expired" notice, not by a late "expires soon".
      await notifier.runOnce();
      expect(received(late.accessKeyId)).toHaveLength(0);
    });

    describe('credentials mail', () => {
      beforeAll(() => refreshAdminToken(t));

      /** A new user (users hold at most two keys) and a key emailed to them. */
      async function keyByEmail() {
        const email = `owner${++n}@example.com`;
        const owner = await call(t, 'POST', '/iam/users', { body: { email, name: `Owner ${n}` } });
        expect(owner.statusCode, owner.body).toBe(201);
        const res = await call(t, 'POST', `/iam/users/${owner.json().id}/keys`, {
          body: { name: `mailed-${n}`, sendEmail: true, validityDays: 60 },
        });
        expect(res.statusCode, res.body).toBe(201);
        return { ...(res.json() as { accessKeyId: string; secretAccessKey: string }), email };
      }

      it('for a key deleted meanwhile: dropped, and its sealed body is not kept', async () => {
        const key = await whileSmtpDown(keyByEmail);
        const [queued] = await mailAbout(key.accessKeyId);
        expect(queued).toMatchObject({ kind: 'key_created', sealed: 1, key_secret_version: 1 });
        expect(queued?.text_body).not.toBe('');
        expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);

        expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
        expect(received(key.accessKeyId)).toHaveLength(0);
        expect(smtp.to(key.email)).toHaveLength(0);
        expect(await mailAbout(key.accessKeyId)).toMatchObject([
          {
            status: 'dropped',
            last_error: 'the key was deleted',
            text_body: '',
            html_body: '',
            sealed: 0,
            master_key_version: null,
          },
        ]);
      });

      it('after a new secret key was generated: dropped (the link in it is void)', async () => {
        const key = await whileSmtpDown(keyByEmail);
        const rotated = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
        expect(rotated.statusCode, rotated.body).toBe(200);

        expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
        expect(smtp.to(key.email)).toHaveLength(0);
        expect(await mailAbout(key.accessKeyId)).toMatchObject([
          {
            status: 'dropped',
            last_error: 'a new secret key was generated since this email was queued',
            text_body: '',
            html_body: '',
          },
        ]);
      });

      it('with the secret inline, after a new secret key was generated: the old secret is never mailed', async () => {
        await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: true } });
        try {
          const key = await whileSmtpDown(keyByEmail);
          await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} });
          expect(await deliver()).toMatchObject({ sent: 0, dropped: 1 });
          expect(smtp.messages.some((m) => m.raw.includes(key.secretAccessKey))).toBe(false);
          expect(smtp.messages.some((m) => m.decoded.includes(key.secretAccessKey))).toBe(false);
        } finally {
          await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: false } });
        }
      });

      it('for a key that is unchanged: delivered, with its reveal link', async () => {
        const key = await whileSmtpDown(keyByEmail);
        expect(await deliver()).toMatchObject({ sent: 1, dropped: 0 });
        const mails = smtp.to(key.email);
        expect(mails).toHaveLength(1);
        expect(mails[0]?.decoded).toContain(key.accessKeyId);
        const token = LINK.exec(mails[0]?.decoded ?? '')?.[1] as string;
        expect(token).toBeDefined();
        expect(await mailAbout(key.accessKeyId)).toMatchObject([{ status: 'sent', last_error: null }]);
      });
    });

    it('a worker whose claim was taken over while it waited neither sends nor drops the message', async () => {
      const key = await whileSmtpDown(() => dueKey());
      t.clock.advance(2 * 60_000);
      let other: Awaited<ReturnType<Notifier['runOutbox']>> | undefined;
      const second = new Notifier(t.runtime.svc);
      const stalled = new Notifier(t.runtime.svc, {
        // This worker stalls past its 5-minute lease after claiming; another worker takes the
        // row over and delivers it meanwhile.
        afterClaim: async () => {
          if (other) return;
          t.clock.advance(6 * 60_000);
          other = await second.runOutbox();
        },
      });
      try {
        const mine = await stalled.runOutbox();
        expect(other).toMatchObject({ sent: 1 });
        expect(mine).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
      } finally {
        await stalled.stop();
        await second.stop();
      }
      expect(received(key.accessKeyId)).toHaveLength(1);
      expect(await mailAbout(key.accessKeyId)).toMatchObject([{ status: 'sent' }]);
    });

    it('a change between the claim and the send is still seen: the key deleted after the claim', async () => {
      const key = await whileSmtpDown(() => dueKey());
      t.clock.advance(2 * 60_000);
      const racing = new Notifier(t.runtime.svc, {
        afterClaim: async (row) => {
          if (row.access_key_id === key.accessKeyId) {
            expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);
          }
        },
      });
      try {
        expect(await racing.runOutbox()).toMatchObject({ sent: 0, dropped: 1 });
      } finally {
        await racing.stop();
      }
      expect(received(key.accessKeyId)).toHaveLength(0);
    });
  });
});
