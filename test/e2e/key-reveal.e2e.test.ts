/**
 * The one-time reveal link in a real browser (Debian's Chromium through playwright-core), against
 * a latchkey listening on a port: the page renders under its CSP with no violation, the button
 * works without JavaScript, the POST Chromium really sends (Origin "null" under the page's
 * no-referrer policy, Sec-Fetch-Site same-origin) is accepted, and a page on another site that
 * auto-submits a form to the link is refused without using it up.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../../src/notify/notifier.js';
import { call, type TestApp } from '../helpers/app.js';
import { BROWSER_SUITE, launchChromium, listeningTestApp, SKIP_BROWSER as SKIP } from '../helpers/browser.js';
import { TestSmtp } from '../helpers/smtp.js';

const SHOTS = process.env.LATCHKEY_REVEAL_SHOTS ?? mkdtempSync(join(tmpdir(), 'latchkey-reveal-'));
const TOKEN = /\/iam\/key-reveal\/([0-9A-Za-z]{43})/;

describe.skipIf(SKIP)('reveal link in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let smtp: TestSmtp;
  let notifier: Notifier;
  let browser: Browser;
  let origin: string;
  let people = 0;
  /** Another site's page that auto-submits a form to ?target=… (a real server, on loopback). */
  let attacker: Server;
  let attackerPort: number;

  beforeAll(async () => {
    smtp = await TestSmtp.start();
    ({ t, origin } = await listeningTestApp({ env: { SMTP_URL: smtp.url } }));
    notifier = new Notifier(t.runtime.svc);
    attacker = createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '';
      res.setHeader('content-type', 'text/html');
      res.end(
        `<!doctype html><form method="post" action="${encodeURI(target)}"></form><script>document.forms[0].submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerPort = (attacker.address() as AddressInfo).port;
    // attacker.test: a site of its own (not a secure context) served by the attacker server.
    browser = await launchChromium(['--host-resolver-rules=MAP attacker.test 127.0.0.1']);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await notifier?.stop();
    await t?.close();
    await smtp?.stop();
  });

  async function emailedKey() {
    const email = `rita-${++people}@example.com`;
    const user = await call(t, 'POST', '/iam/users', { body: { email, name: 'Rita' } });
    const res = await call(t, 'POST', `/iam/users/${user.json().id}/keys`, {
      body: { name: 'rita-laptop', sendEmail: true },
    });
    expect(res.statusCode, res.body).toBe(201);
    await notifier.runOutbox();
    const token = TOKEN.exec(smtp.to(email)[0]?.decoded ?? '')?.[1];
    if (!token) throw new Error('no reveal link in the email');
    return {
      accessKeyId: res.json().accessKeyId as string,
      secret: res.json().secretAccessKey as string,
      url: `${origin}/iam/key-reveal/${token}`,
    };
  }

  /** A page that records console messages (a CSP violation is reported there). */
  async function newPage(colorScheme: 'light' | 'dark' = 'light') {
    const context = await browser.newContext({ viewport: { width: 800, height: 720 }, colorScheme });
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    const messages: string[] = [];
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    return { page, messages, close: () => context.close() };
  }

  const mainText = (page: Page) => page.locator('main').innerText();

  it.each(['light', 'dark'] as const)('opens the page and shows the secret once (%s)', async (scheme) => {
    const key = await emailedKey();
    const { page, messages, close } = await newPage(scheme);
    try {
      const opened = await page.goto(key.url);
      expect(opened?.status()).toBe(200);
      const before = await mainText(page);
      expect(before).toContain('Your new secret key');
      expect(before).not.toContain(key.secret);
      expect(before).not.toContain(key.accessKeyId);
      await page.screenshot({ path: join(SHOTS, `reveal-prompt-${scheme}.png`) });
      // Styles applied (the CSP allows the stylesheet by its hash): the button is indigo, not grey.
      const background = await page.evaluate<string>(
        "getComputedStyle(document.querySelector('button')).backgroundColor",
      );
      expect(background).toBe(scheme === 'light' ? 'rgb(66, 99, 235)' : 'rgb(59, 91, 219)');

      const sent = page.waitForRequest((r) => r.method() === 'POST');
      await page.getByRole('button', { name: 'Show the secret' }).click();
      const headers = await (await sent).allHeaders();
      await page.waitForLoadState();
      expect(headers['sec-fetch-site']).toBe('same-origin');
      expect(headers.origin).toBe('null');
      const shown = await mainText(page);
      expect(shown).toContain(key.secret);
      expect(shown).toContain(key.accessKeyId);
      expect(shown).toContain('Shown once: store it now.');
      await page.screenshot({ path: join(SHOTS, `reveal-secret-${scheme}.png`), fullPage: true });
      // A phone: the long values wrap, nothing scrolls sideways.
      await page.setViewportSize({ width: 390, height: 800 });
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(SHOTS, `reveal-secret-${scheme}-390.png`), fullPage: true });

      // Reloading re-sends the POST: the link is used up and the secret is not shown again.
      page.once('dialog', (d) => d.accept());
      const again = await page.reload();
      expect(again?.status()).toBe(410);
      expect(await mainText(page)).toContain('This link was already used');
      expect(await mainText(page)).not.toContain(key.secret);
      await page.screenshot({ path: join(SHOTS, `reveal-used-${scheme}.png`) });
      expect(messages.filter((m) => /Content Security Policy|Refused/i.test(m))).toEqual([]);
    } finally {
      await close();
    }
  });

  // attacker.test is not a secure context, so Chromium sends it no Fetch Metadata and the Origin
  // check refuses it; localhost is a secure context of another site than 127.0.0.1:
  // Sec-Fetch-Site refuses it.
  it.each([
    { host: 'attacker.test', header: 'origin', value: (port: number) => `http://attacker.test:${port}` },
    { host: 'localhost', header: 'sec-fetch-site', value: () => 'cross-site' },
  ])(
    'a page on $host auto-submitting a form to the link is refused; the link still works',
    async ({ host, header, value }) => {
      const key = await emailedKey();
      const { page, close } = await newPage();
      try {
        const refused = page.waitForResponse((r) => r.url() === key.url && r.request().method() === 'POST');
        await page.goto(`http://${host}:${attackerPort}/?target=${encodeURIComponent(key.url)}`);
        const response = await refused;
        expect(response.status()).toBe(403);
        expect((await response.request().allHeaders())[header]).toBe(value(attackerPort));
        await page.waitForLoadState();
        expect(await mainText(page)).toContain('Request refused');
        expect(await mainText(page)).not.toContain(key.secret);

        // The person opens the link from the email afterwards and still gets the secret.
        await page.goto(key.url);
        await page.getByRole('button', { name: 'Show the secret' }).click();
        await page.waitForLoadState();
        expect(await mainText(page)).toContain(key.secret);
      } finally {
        await close();
      }
    },
  );
});
