import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { call, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const LINK = /https:\/\/keys\.example\.test\/iam\/key-reveal\/([0-9A-Za-z]{43})/;

describeEachEngine('key emails', (engine) => {
  const smtp = useTestSmtp();

  describe('send by email', () => {
    const t = useTestApp(engine, () => ({
      env: {
        SMTP_URL: smtp.url,
        LATCHKEY_PUBLIC_URL: 'https://keys.example.test/',
        LATCHKEY_TENANT_NAME: 'Acme',
      },
    }));
    let notifier: Notifier;
    let userId: string;
    /** Every secret created in this file, and the one message allowed to carry it. */
    const secrets: Array<{ secret: string; inlineTo?: string }> = [];

    beforeAll(async () => {
      notifier = new Notifier(t.runtime.svc);
      userId = (
        await call(t, 'POST', '/iam/users', { body: { email: 'erin@example.com', name: 'Erin' } })
      ).json().id;
    });
    afterAll(async () => notifier?.stop());

    async function create(path: string, body: object) {
      const res = await call(t, 'POST', path, { body });
      if (res.statusCode === 201) secrets.push({ secret: res.json().secretAccessKey });
      return res;
    }

    // An API client presses the page's button: POST (GET only shows the page, see key-reveal-page.test.ts).
    const reveal = (token: string) => t.app.inject({ method: 'POST', url: `/iam/key-reveal/${token}` });

    it('emails the owner the access key ID and a one-time link that reveals the secret once', async () => {
      const res = await create(`/iam/users/${userId}/keys`, { name: 'erin-ci', sendEmail: true });
      expect(res.statusCode).toBe(201);
      const { accessKeyId, secretAccessKey } = res.json();

      // Queued sealed: the outbox shows no body while it holds the link.
      const queued = (await call(t, 'GET', '/iam/outbox?status=pending')).json();
      const row = queued.items.find((i: { kind: string }) => i.kind === 'key_created');
      expect(row).toMatchObject({ to: 'erin@example.com', sealed: true, text: null, html: null });

      await notifier.runOutbox();
      const mails = smtp.to('erin@example.com');
      expect(mails).toHaveLength(1);
      const mail = mails[0];
      expect(mail?.subject).toBe(`[Acme] Your new access key ${accessKeyId}`);
      expect(mail?.decoded).toContain(accessKeyId);
      expect(mail?.decoded).toContain(t.tenantId);
      expect(mail?.decoded).not.toContain(secretAccessKey);
      const token = LINK.exec(mail?.decoded ?? '')?.[1] as string;
      expect(token).toBeDefined();

      // Nothing at rest holds the link token or the secret in clear.
      const db = t.runtime.svc.db;
      const stored = JSON.stringify([
        await db.selectFrom('mail_outbox').selectAll().execute(),
        await db.selectFrom('key_reveal_links').selectAll().execute(),
      ]);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(secretAccessKey);

      // Opening the link (as a mail scanner does) shows a page with a button, not the secret.
      const opened = await t.app.inject({ method: 'GET', url: `/iam/key-reveal/${token}` });
      expect(opened.statusCode).toBe(200);
      expect(opened.body).toContain('Show the secret');
      expect(opened.body).not.toContain(secretAccessKey);
      expect(mail?.decoded).toContain('press "Show the secret"');

      const first = await reveal(token);
      expect(first.statusCode).toBe(200);
      expect(first.headers['cache-control']).toBe('no-store');
      expect(first.json()).toEqual({ accessKeyId, tenantId: t.tenantId, secretAccessKey });
      const again = await reveal(token);
      expect(again.statusCode).toBe(410);
      expect(again.json().error.code).toBe('REVEAL_LINK_USED');
      expect(again.body).not.toContain(secretAccessKey);
    });

    it('the link expires after 24 hours (410), and unknown links are 404', async () => {
      const sa = (
        await call(t, 'POST', '/iam/service-accounts', {
          body: { name: 'billing-sync', email: 'billing@example.com' },
        })
      ).json();
      const res = await create(`/iam/service-accounts/${sa.id}/keys`, { sendEmail: true });
      expect(res.statusCode).toBe(201);
      await notifier.runOutbox();
      const token = LINK.exec(smtp.to('billing@example.com')[0]?.decoded ?? '')?.[1] as string;
      expect(token).toBeDefined();
      t.clock.advance(24 * 3_600_000 + 1000);
      const late = await reveal(token);
      expect(late.statusCode).toBe(410);
      expect(late.json().error.code).toBe('REVEAL_LINK_EXPIRED');
      // The job clears the sealed secret of a link that expired unused.
      await notifier.runJobs();
      const link = await t.runtime.svc.db.selectFrom('key_reveal_links').selectAll().execute();
      expect(link.every((l) => l.ciphertext === null)).toBe(true);

      expect((await reveal('x'.repeat(43))).statusCode).toBe(404);
      expect((await reveal('short')).statusCode).toBe(404);
      await refreshAdminToken(t);
    });

    it('a link is void once a new secret key was generated', async () => {
      const res = await create(`/iam/users/${t.adminId}/keys`, { name: 'rotated', sendEmail: true });
      await notifier.runOutbox();
      const token = LINK.exec(
        smtp.messages.find((m) => m.decoded.includes(res.json().accessKeyId))?.decoded ?? '',
      )?.[1] as string;
      const rotated = await call(t, 'POST', `/iam/keys/${res.json().accessKeyId}/secret`, { body: {} });
      secrets.push({ secret: rotated.json().secretAccessKey });
      const late = await reveal(token);
      expect(late.statusCode).toBe(410);
      expect(late.json().error.code).toBe('REVEAL_LINK_EXPIRED');
    });

    it('a service account without an email address: 400 EMAIL_REQUIRED and no key is created', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'no-mail' } })).json();
      const before = (await call(t, 'GET', '/iam/outbox')).json().total;
      const res = await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, {
        body: { name: 'x', sendEmail: true, validityDays: 1 },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('EMAIL_REQUIRED');
      expect(res.json().error.message).toContain('no email address');
      expect((await call(t, 'GET', `/iam/service-accounts/${sa.id}/keys`)).json().total).toBe(0);
      expect((await call(t, 'GET', '/iam/outbox')).json().total).toBe(before);
      // Without sendEmail the same request works.
      expect((await create(`/iam/service-accounts/${sa.id}/keys`, { name: 'x' })).statusCode).toBe(201);
    });

    it('with the tenant setting emailSecretInline the email carries the secret itself', async () => {
      expect(
        (await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: true } })).statusCode,
      ).toBe(200);
      try {
        const frank = (
          await call(t, 'POST', '/iam/users', { body: { email: 'frank@example.com', name: 'Frank' } })
        ).json();
        const res = await call(t, 'POST', `/iam/users/${frank.id}/keys`, { body: { sendEmail: true } });
        expect(res.statusCode).toBe(201);
        secrets.push({ secret: res.json().secretAccessKey, inlineTo: 'frank@example.com' });
        await notifier.runOutbox();
        const mail = smtp.to('frank@example.com')[0];
        expect(mail?.decoded).toContain(res.json().secretAccessKey);
        expect(mail?.decoded).not.toMatch(LINK);
        // Delivered: the sealed body is not kept.
        const row = await t.runtime.svc.db
          .selectFrom('mail_outbox')
          .selectAll()
          .where('to_address', '=', 'frank@example.com')
          .executeTakeFirstOrThrow();
        expect(row).toMatchObject({ status: 'sent', text_body: '', html_body: '' });
      } finally {
        await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: false } });
      }
    });

    it('no email ever contains a secret unless the tenant setting asked for it', async () => {
      // Put reminders in the mix too: every key above enters its lead window.
      t.clock.advance(89 * 86_400_000);
      await notifier.runOnce();
      expect(smtp.messages.length).toBeGreaterThan(5);
      for (const m of smtp.messages) {
        for (const s of secrets) {
          const present = m.raw.includes(s.secret) || m.decoded.includes(s.secret);
          expect(present, `${m.subject} to ${m.to.join(',')}`).toBe(
            s.inlineTo !== undefined && m.to.includes(s.inlineTo) && /Your new access key/.test(m.subject),
          );
        }
        if (!m.to.includes('frank@example.com') || !/Your new access key/.test(m.subject))
          expect(m.decoded).not.toMatch(/lksk_[0-9A-Za-z]{40}/);
      }
    });
  });
});
