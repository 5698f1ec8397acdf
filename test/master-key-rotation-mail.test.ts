/**
 * `latchkey master-key rotate` re-seals what the key emails keep sealed: the bodies of key emails
 * still waiting in the outbox (they hold the secret itself, or a one-time reveal link) and the
 * unused reveal links. After `--prune` drops the old master key, an instance that knows only the
 * new key still delivers those emails, and the link still reveals the secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { call, loginWithKey, startTestApp, type TestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';
import { useTestSmtp } from './helpers/smtp.js';

const LINK = /https:\/\/keys\.example\.test\/iam\/key-reveal\/([0-9A-Za-z]{43})/;
const INLINE_TO = 'inline-owner@example.com';
const LINK_TO = 'link-owner@example.com';

interface CreatedKey {
  accessKeyId: string;
  secretAccessKey: string;
}

describeEachEngine('master-key rotation of key emails', (engine) => {
  const smtp = useTestSmtp();

  describe('pending key emails and reveal links, rotated and pruned', { timeout: 90_000 }, () => {
    const env = () => ({ SMTP_URL: smtp.url, LATCHKEY_PUBLIC_URL: 'https://keys.example.test/' });
    const t = useTestApp(engine, () => ({ env: env() }));
    /** A second instance started after the prune: its keyring holds only the new master key. */
    let fresh: TestApp | undefined;
    let inlineKey: CreatedKey;
    let linkKey: CreatedKey;

    const keyFileVersions = () =>
      fs
        .readFileSync(path.join(t.db.dataDir, 'master.key'), 'utf8')
        .trim()
        .split(',')
        .map((entry) => Number(entry.split(':')[0]));
    const sealedMails = () =>
      t.runtime.svc.db
        .selectFrom('mail_outbox')
        .select(['to_address', 'status', 'sealed', 'master_key_version', 'text_body'])
        .where('kind', '=', 'key_created')
        .orderBy('to_address')
        .execute();
    const revealLinks = () =>
      t.runtime.svc.db
        .selectFrom('key_reveal_links')
        .select(['access_key_id', 'ciphertext', 'master_key_version'])
        .execute();
    const cli = async (args: string[]) => {
      const res = await runCli(args, { ...t.env, LOG_LEVEL: 'warn' });
      expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
      return res;
    };

    beforeAll(async () => {
      const keyFor = async (email: string): Promise<CreatedKey> => {
        const user = await call(t, 'POST', '/iam/users', { body: { email, name: email.split('@')[0] } });
        expect(user.statusCode, user.body).toBe(201);
        const res = await call(t, 'POST', `/iam/users/${user.json().id}/keys`, {
          body: { name: 'mailed', sendEmail: true },
        });
        expect(res.statusCode, res.body).toBe(201);
        return res.json();
      };
      // The tenant setting emailSecretInline on: the email body itself holds the secret.
      const on = await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: true } });
      expect(on.statusCode, on.body).toBe(200);
      inlineKey = await keyFor(INLINE_TO);
      // The default: a one-time reveal link in the email, the secret sealed in key_reveal_links.
      const off = await call(t, 'PATCH', '/iam/settings', { body: { emailSecretInline: false } });
      expect(off.statusCode, off.body).toBe(200);
      linkKey = await keyFor(LINK_TO);
    });
    afterAll(async () => fresh?.close());

    it('before: both emails wait sealed under master key 1, and so does the reveal link', async () => {
      expect(keyFileVersions()).toEqual([1]);
      const mails = await sealedMails();
      expect(mails.map((m) => [m.to_address, m.status, m.sealed, m.master_key_version])).toEqual([
        [INLINE_TO, 'pending', 1, 1],
        [LINK_TO, 'pending', 1, 1],
      ]);
      for (const m of mails) expect(m.text_body).not.toContain(inlineKey.secretAccessKey);
      const links = await revealLinks();
      expect(links).toHaveLength(1);
      expect(links[0]).toMatchObject({ access_key_id: linkKey.accessKeyId, master_key_version: 1 });
      expect(links[0]?.ciphertext).toEqual(expect.any(String));
    });

    it('rotate re-seals the mail bodies and the link under master key 2; --prune drops key 1', async () => {
      const before = JSON.stringify([await sealedMails(), await revealLinks()]);
      const rotated = await cli(['master-key', 'rotate', '--json']);
      expect(JSON.parse(rotated.stdout)).toMatchObject({
        currentVersion: 2,
        reencryptedMailBodies: 2,
        reencryptedRevealLinks: 1,
        reencryptedWebhookSecrets: 0,
      });
      expect(keyFileVersions()).toEqual([2, 1]);

      const pruned = await cli(['master-key', 'rotate', '--prune', '--json']);
      expect(JSON.parse(pruned.stdout)).toMatchObject({
        currentVersion: 2,
        reencryptedMailBodies: 0,
        reencryptedRevealLinks: 0,
        reencryptedWebhookSecrets: 0,
      });
      expect(keyFileVersions()).toEqual([2]);

      const mails = await sealedMails();
      expect(mails.map((m) => [m.to_address, m.status, m.sealed, m.master_key_version])).toEqual([
        [INLINE_TO, 'pending', 1, 2],
        [LINK_TO, 'pending', 1, 2],
      ]);
      const links = await revealLinks();
      expect(links.map((l) => [l.access_key_id, l.master_key_version])).toEqual([[linkKey.accessKeyId, 2]]);
      expect(links[0]?.ciphertext).toEqual(expect.any(String));
      // Sealed anew, not relabelled: every ciphertext changed.
      const after = [...mails.map((m) => m.text_body), ...links.map((l) => l.ciphertext as string)];
      for (const ciphertext of after) expect(before).not.toContain(ciphertext);
    });

    it('an instance with only master key 2 delivers both emails: the secret inline, the link', async () => {
      fresh = await startTestApp(engine, { db: t.db, clock: t.clock, env: env() });
      expect(fresh.runtime.svc.keyring.keys.has(1)).toBe(false);
      const notifier = new Notifier(fresh.runtime.svc);
      try {
        expect(await notifier.runOutbox()).toEqual({ sent: 2, retried: 0, failed: 0, dropped: 0 });
      } finally {
        await notifier.stop();
      }
      const inline = smtp.to(INLINE_TO);
      expect(inline).toHaveLength(1);
      expect(inline[0]?.decoded).toContain(inlineKey.accessKeyId);
      expect(inline[0]?.decoded).toContain(inlineKey.secretAccessKey);
      const linked = smtp.to(LINK_TO);
      expect(linked).toHaveLength(1);
      expect(linked[0]?.decoded).toContain(linkKey.accessKeyId);
      expect(linked[0]?.decoded).not.toContain(linkKey.secretAccessKey);
      expect(linked[0]?.decoded).toMatch(LINK);
      // The key secrets were rotated too: both keys sign in on the new instance.
      for (const key of [inlineKey, linkKey]) {
        expect((await loginWithKey(fresh, key.accessKeyId, key.secretAccessKey)).statusCode).toBe(200);
      }
    });

    it('the emailed link still reveals the secret, once', async () => {
      if (!fresh) throw new Error('no second instance');
      const token = LINK.exec(smtp.to(LINK_TO)[0]?.decoded ?? '')?.[1];
      expect(token).toBeDefined();
      const reveal = () => fresh?.app.inject({ method: 'POST', url: `/iam/key-reveal/${token}` });
      const first = await reveal();
      expect(first?.statusCode, first?.body).toBe(200);
      expect(first?.json()).toEqual({
        accessKeyId: linkKey.accessKeyId,
        tenantId: t.tenantId,
        secretAccessKey: linkKey.secretAccessKey,
      });
      const again = await reveal();
      expect(again?.statusCode).toBe(410);
      expect(again?.json().error.code).toBe('REVEAL_LINK_USED');
    });
  });
});
