import { describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { enqueueMail } from '../src/notify/outbox.js';
import { call, createUserWithLogin, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const SECOND = 1000;

describeEachEngine('mail outbox', (engine) => {
  const smtp = useTestSmtp();

  describe('with SMTP_URL', () => {
    const t = useTestApp(engine, () => ({ env: { SMTP_URL: smtp.url } }));
    let n = 0;

    async function queue(to = `user${++n}@example.com`): Promise<{ id: string; to: string }> {
      const svc = t.runtime.svc;
      const id = await enqueueMail(svc, svc.db, {
        tenantId: t.tenantId,
        kind: 'test',
        to,
        subject: `test message ${n}`,
        text: `hello ${n}`,
        html: `<p>hello ${n}</p>`,
      });
      return { id, to };
    }

    const row = (id: string) =>
      t.runtime.svc.db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    async function withNotifier<T>(
      options: ConstructorParameters<typeof Notifier>[1],
      fn: (notifier: Notifier) => Promise<T>,
    ): Promise<T> {
      const notifier = new Notifier(t.runtime.svc, options);
      try {
        return await fn(notifier);
      } finally {
        await notifier.stop();
      }
    }

    it('SMTP down, then up: retried with back-off, delivered once', async () => {
      const mail = await queue();
      await smtp.stop();
      await withNotifier({}, async (notifier) => {
        expect((await notifier.runOutbox()).retried).toBe(1);
        const failed = await row(mail.id);
        expect(failed).toMatchObject({ status: 'pending', attempts: 1 });
        expect(failed.last_error).toMatch(/ECONNREFUSED|ESOCKET|ECONNECTION/);
        // Not before its back-off ends.
        expect(await notifier.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
        t.clock.advance(31 * SECOND);
        expect((await notifier.runOutbox()).retried).toBe(1);
        expect((await row(mail.id)).attempts).toBe(2);

        await smtp.listen(); // same port
        t.clock.advance(30 * SECOND);
        expect(await notifier.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 }); // 60 s back-off now
        t.clock.advance(31 * SECOND);
        expect((await notifier.runOutbox()).sent).toBe(1);
        for (let i = 0; i < 3; i++) {
          t.clock.advance(10 * 60 * SECOND);
          await notifier.runOutbox();
        }
      });
      expect(smtp.to(mail.to)).toHaveLength(1);
      expect(await row(mail.id)).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
    });

    it('a 4xx reply is retried; the message goes out once the server accepts', async () => {
      const mail = await queue();
      smtp.refuse = { code: 451, message: 'Mailbox busy, try again later' };
      await withNotifier({}, async (notifier) => {
        expect((await notifier.runOutbox()).retried).toBe(1);
        expect((await row(mail.id)).last_error).toMatch(/^SMTP 451: .*try again later/);
        t.clock.advance(31 * SECOND);
        expect((await notifier.runOutbox()).retried).toBe(1);
        smtp.refuse = null;
        t.clock.advance(61 * SECOND);
        expect((await notifier.runOutbox()).sent).toBe(1);
      });
      expect(smtp.to(mail.to)).toHaveLength(1);
    });

    it('a 5xx reply gives up at once, visibly, with the reason', async () => {
      const mail = await queue();
      smtp.refuse = { code: 550, message: 'No such user here' };
      try {
        await withNotifier({}, async (notifier) => {
          expect((await notifier.runOutbox()).failed).toBe(1);
          t.clock.advance(3600 * SECOND);
          expect(await notifier.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
        });
      } finally {
        smtp.refuse = null;
      }
      expect(await row(mail.id)).toMatchObject({ status: 'failed', attempts: 1 });
      await refreshAdminToken(t);
      const failed = (await call(t, 'GET', '/iam/outbox?status=failed')).json();
      const item = failed.items.find((i: { id: string }) => i.id === mail.id);
      expect(item).toMatchObject({ status: 'failed', to: mail.to });
      expect(item.lastError).toMatch(/^SMTP 550: .*No such user here/);
      expect(smtp.to(mail.to)).toHaveLength(0);
    });

    it('4xx on every try: gives up after the last allowed try, with the reason', async () => {
      const mail = await queue();
      smtp.refuse = { code: 421, message: 'Service not available' };
      try {
        await withNotifier({ maxAttempts: 3 }, async (notifier) => {
          for (let i = 0; i < 5; i++) {
            await notifier.runOutbox();
            t.clock.advance(10 * 60 * SECOND);
          }
        });
      } finally {
        smtp.refuse = null;
      }
      const r = await row(mail.id);
      expect(r).toMatchObject({ status: 'failed', attempts: 3 });
      expect(r.last_error).toMatch(/^gave up after 3 attempts: SMTP 421/);
    });

    it('a crash between the SMTP accept and mark-sent: resent once after the lease, with the same Message-ID', async () => {
      const mail = await queue();
      // The first worker "dies" right after the server accepted the message.
      await withNotifier(
        {
          afterAccept: () => {
            throw new Error('killed after SMTP accept');
          },
        },
        async (crashing) => {
          await expect(crashing.runOutbox()).rejects.toThrow('killed after SMTP accept');
        },
      );
      expect(smtp.to(mail.to)).toHaveLength(1);
      expect(await row(mail.id)).toMatchObject({ status: 'sending', attempts: 1 });

      // A restarted worker leaves the row alone while the dead worker's lease lasts...
      await withNotifier({}, async (restarted) => {
        expect(await restarted.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
        t.clock.advance(4 * 60 * SECOND);
        expect(await restarted.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
        // ...then sends it again (at least once), and never a third time.
        t.clock.advance(61 * SECOND);
        expect((await restarted.runOutbox()).sent).toBe(1);
        t.clock.advance(10 * 60 * SECOND);
        expect(await restarted.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
      });
      const copies = smtp.to(mail.to);
      expect(copies).toHaveLength(2);
      // The same Message-ID both times: a receiving system that de-duplicates shows it once.
      expect(copies[0]?.messageId).toBe(copies[1]?.messageId);
      expect(copies[0]?.messageId).toBe((await row(mail.id)).message_id);
      expect(await row(mail.id)).toMatchObject({ status: 'sent', attempts: 2 });
    });

    it('started like the server: mail queued by a request goes out without a manual run, and stop() is clean', async () => {
      await refreshAdminToken(t);
      const notifier = new Notifier(t.runtime.svc);
      notifier.start();
      try {
        const res = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
          body: { name: 'auto', validityDays: 1 },
        });
        expect(res.statusCode, res.body).toBe(201);
        const id = res.json().accessKeyId as string;
        const deadline = Date.now() + 10_000;
        while (!smtp.messages.some((m) => m.decoded.includes(id)) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(smtp.messages.filter((m) => m.decoded.includes(id))).toHaveLength(1);
      } finally {
        await notifier.stop();
      }
    });

    it('concurrent workers of one instance never deliver a message twice', async () => {
      const mails = await Promise.all(Array.from({ length: 15 }, () => queue()));
      const workers = Array.from({ length: 3 }, () => new Notifier(t.runtime.svc, { batchSize: 2 }));
      try {
        const results = await Promise.all(workers.map((w) => w.runOutbox()));
        expect(results.reduce((s, r) => s + r.sent, 0)).toBe(15);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
      for (const m of mails) expect(smtp.to(m.to)).toHaveLength(1);
    });
  });
});

describeEachEngine('mail outbox', (engine) => {
  describe('without SMTP_URL', () => {
    const t = useTestApp(engine);

    it('keeps mail in the outbox, readable at GET /iam/outbox with iam:outbox:read', async () => {
      // A key created inside its lead window queues its reminder at once.
      const created = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
        body: { name: 'soon', validityDays: 1 },
      });
      expect(created.statusCode).toBe(201);
      const notifier = new Notifier(t.runtime.svc);
      expect(notifier.outbox).toBeUndefined();
      expect(await notifier.runOutbox()).toEqual({ sent: 0, retried: 0, failed: 0, dropped: 0 });
      await notifier.runJobs();
      await notifier.stop();

      const res = await call(t, 'GET', '/iam/outbox');
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.delivery).toBe('outbox-only');
      expect(body.total).toBe(1);
      expect(body.items[0]).toMatchObject({ kind: 'expiry_reminder', status: 'pending', sealed: false });
      expect(body.items[0].text).toContain(created.json().accessKeyId);
      expect(body.items[0].html).toContain(created.json().accessKeyId);
      expect(res.body).not.toContain(created.json().secretAccessKey);

      const user = await createUserWithLogin(t, 'reader@example.com');
      const denied = await call(t, 'GET', '/iam/outbox', { token: user.token });
      expect(denied.statusCode).toBe(403);
      expect(denied.json().error).toMatchObject({
        code: 'AccessDenied',
        missingPermission: 'iam:outbox:read',
      });
      expect((await call(t, 'GET', '/iam/outbox', { token: '' })).statusCode).toBe(401);
    });
  });
});
