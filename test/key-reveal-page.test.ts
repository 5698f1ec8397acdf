/**
 * The one-time reveal link (issue 12, finding 7): GET and HEAD answer a page with a "Show the
 * secret" button and use nothing up, as mail scanners fetch every link; only the button's POST
 * reveals the secret, once. HTML for browsers, the old JSON for API clients; a cross-site POST
 * is refused and leaves the link usable.
 */
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { acceptQuality } from '../src/http/routes/key-reveal.js';
import { Notifier } from '../src/notify/notifier.js';
import { createLogger, loggableUrl } from '../src/services.js';
import { call, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const LINK = /https:\/\/keys\.example\.test\/iam\/key-reveal\/([0-9A-Za-z]{43})/;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: BROWSER_ACCEPT };
const TENANT_NAME = 'Acme <script>alert("tenant")</script> & Co';
const KEY_NAME = '<img src=x onerror=alert(1)> ci';

describe('Accept negotiation', () => {
  it('takes the most specific range and its q', () => {
    expect(acceptQuality(undefined, 'text/html')).toBe(1);
    expect(acceptQuality(BROWSER_ACCEPT, 'text/html')).toBe(1);
    expect(acceptQuality(BROWSER_ACCEPT, 'application/json')).toBe(0.8);
    expect(acceptQuality('application/json', 'text/html')).toBe(0);
    expect(acceptQuality('text/*;q=0.3, text/html;q=0, */*', 'text/html')).toBe(0);
    expect(acceptQuality('text/*;q=0.3, */*', 'text/plain')).toBe(0.3);
    expect(acceptQuality('TEXT/HTML; Q=0.5', 'text/html')).toBe(0.5);
    expect(acceptQuality('text/html;q=abc', 'text/html')).toBe(0);
  });
});

describe('request logs', () => {
  it('never hold a reveal link token (it is a credential until used)', () => {
    const logger = createLogger(loadConfig({ LOG_LEVEL: 'silent' }));
    const serialize = (logger as unknown as Record<symbol, Record<string, (r: object) => { url: string }>>)[
      pino.symbols.serializersSym
    ]?.req;
    const token = 'aB3'.repeat(14).concat('x');
    for (const url of [
      `/iam/key-reveal/${token}`,
      `/iam/key-reveal/${token}?x=1`,
      `/iam/Key-Reveal/${token}/`,
    ]) {
      // The access line (loggableUrl) and any record carrying `req` (the serializer) alike.
      for (const logged of [loggableUrl(url), serialize?.({ method: 'POST', url, id: '1' }).url ?? '']) {
        expect(logged).toContain('/[redacted]');
        expect(logged).not.toContain(token);
      }
    }
  });
});

describeEachEngine('one-time reveal links', (engine) => {
  const smtp = useTestSmtp();

  describe('page, button, secret once', () => {
    const t = useTestApp(engine, () => ({
      env: {
        SMTP_URL: smtp.url,
        LATCHKEY_PUBLIC_URL: 'https://keys.example.test/',
        LATCHKEY_TENANT_NAME: TENANT_NAME,
      },
    }));
    let notifier: Notifier;
    let people = 0;

    beforeAll(async () => {
      notifier = new Notifier(t.runtime.svc);
    });
    afterAll(async () => notifier?.stop());

    /** A new key, sent by email to its owner (a new user each time: users hold at most 2 keys). */
    async function emailedKey(name = 'gail-ci') {
      const email = `gail-${++people}@example.com`;
      const user = await call(t, 'POST', '/iam/users', { body: { email, name: 'Gail' } });
      const res = await call(t, 'POST', `/iam/users/${user.json().id}/keys`, {
        body: { name, sendEmail: true },
      });
      expect(res.statusCode, res.body).toBe(201);
      const { accessKeyId, secretAccessKey } = res.json() as { accessKeyId: string; secretAccessKey: string };
      await notifier.runOutbox();
      const mail = smtp.messages.find((m) => m.decoded.includes(accessKeyId));
      const token = LINK.exec(mail?.decoded ?? '')?.[1];
      if (!token) throw new Error(`no reveal link for ${accessKeyId}`);
      return { accessKeyId, secretAccessKey, token, url: `/iam/key-reveal/${token}` };
    }

    const linkRows = () =>
      t.runtime.svc.db.selectFrom('key_reveal_links').selectAll().orderBy('token_hash').execute();

    const open = (url: string, method: 'GET' | 'HEAD' = 'GET', headers: Record<string, string> = {}) =>
      t.app.inject({ method, url, headers: { accept: BROWSER_ACCEPT, ...headers } });
    const press = (url: string, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url, headers: { ...FORM, ...headers }, payload: '' });

    function expectSecurityHeaders(res: LightMyRequestResponse) {
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(String(res.headers['x-robots-tag'])).toContain('noindex');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      const csp = String(res.headers['content-security-policy']);
      for (const directive of [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ]) {
        expect(csp).toContain(directive);
      }
      expect(csp).not.toContain('script-src');
      expect(csp).not.toContain('unsafe');
    }

    /** The page's one stylesheet is the one the CSP allows by hash, and there is no script. */
    function expectStrictPage(res: LightMyRequestResponse) {
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expectSecurityHeaders(res);
      const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] ?? '';
      const hash = createHash('sha256').update(style).digest('base64');
      expect(String(res.headers['content-security-policy'])).toContain(`style-src 'sha256-${hash}'`);
      // Data in the page is escaped, so a real `<` only ever starts a tag of the template.
      expect(res.body).not.toMatch(/<script|<[^>]*\s(on[a-z]+|style)=/i);
    }

    it('GET and HEAD, however often (a mail scanner), show the button, no secret, and use nothing up', async () => {
      const key = await emailedKey();
      const before = await linkRows();

      const gets = [
        await open(key.url),
        await open(key.url),
        await open(key.url, 'GET', { accept: '*/*', 'user-agent': 'SafeLinks-Scanner/1.0' }),
        await t.app.inject({ method: 'GET', url: key.url }),
      ];
      for (const res of gets) {
        expect(res.statusCode).toBe(200);
        expectStrictPage(res);
        expect(res.body).toContain(
          '<form method="post"><button type="submit">Show the secret</button></form>',
        );
        expect(res.body).not.toContain(key.secretAccessKey);
        // The page says nothing about the key before the button is pressed.
        expect(res.body).not.toContain(key.accessKeyId);
        expect(res.body).not.toContain('Acme');
      }
      const head = await open(key.url, 'HEAD');
      expect(head.statusCode).toBe(200);
      expect(head.body).toBe('');
      const { date: _d1, 'x-request-id': _r1, ...headHeaders } = head.headers;
      const { date: _d2, 'x-request-id': _r2, ...getHeaders } = gets[0]?.headers ?? {};
      expect(headHeaders).toEqual(getHeaders);
      await open(key.url, 'HEAD');

      // Nothing changed: not used, the sealed secret still there.
      expect(await linkRows()).toEqual(before);
      expect(before.find((r) => r.access_key_id === key.accessKeyId)?.used_at).toBeNull();

      // And the person can still press the button after all those fetches.
      const shown = await press(key.url);
      expect(shown.statusCode).toBe(200);
      expect(shown.body).toContain(key.secretAccessKey);
    });

    it("the button's form POST shows the secret once; a second POST is 410 and shows nothing", async () => {
      const key = await emailedKey(KEY_NAME);
      const shown = await press(key.url);
      expect(shown.statusCode).toBe(200);
      expectStrictPage(shown);
      expect(shown.body).toContain(`<code>${key.secretAccessKey}</code>`);
      expect(shown.body).toContain(`<code>${key.accessKeyId}</code>`);
      expect(shown.body).toContain(`<code>${t.tenantId}</code>`);
      expect(shown.body).toContain('Shown once: store it now.');
      expect(shown.body).toContain(`key:${key.accessKeyId}::${key.secretAccessKey},tenant id: ${t.tenantId}`);
      // Tenant and key names are data: escaped, never markup.
      expect(shown.body).toContain('Acme &lt;script&gt;alert(&quot;tenant&quot;)&lt;/script&gt; &amp; Co');
      expect(shown.body).toContain('&lt;img src=x onerror=alert(1)&gt; ci');
      expect(shown.body).not.toContain('<img');
      expect(shown.body).not.toContain('<script');

      const row = (await linkRows()).find((r) => r.access_key_id === key.accessKeyId);
      expect(row?.used_at).not.toBeNull();
      expect(row?.ciphertext).toBeNull();

      const again = await press(key.url);
      expect(again.statusCode).toBe(410);
      expectStrictPage(again);
      expect(again.body).toContain('This link was already used');
      expect(again.body).toContain('REVEAL_LINK_USED');
      expect(again.body).not.toContain(key.secretAccessKey);
      expect(again.body).not.toContain('<form');

      const json = await t.app.inject({
        method: 'POST',
        url: key.url,
        headers: { accept: 'application/json' },
      });
      expect(json.statusCode).toBe(410);
      expect(json.json()).toEqual({
        error: { code: 'REVEAL_LINK_USED', message: expect.any(String), requestId: expect.any(String) },
      });
      const page = await open(key.url);
      expect(page.statusCode).toBe(410);
      expect(page.body).toContain('This link was already used');
      expect(page.body).not.toContain('<form');
    });

    it('an API client (JSON, or no body) gets the JSON it always got', async () => {
      const a = await emailedKey();
      const res = await t.app.inject({ method: 'POST', url: a.url, headers: { accept: 'application/json' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('application/json');
      expectSecurityHeaders(res);
      expect(res.json()).toEqual({
        accessKeyId: a.accessKeyId,
        tenantId: t.tenantId,
        secretAccessKey: a.secretAccessKey,
      });

      // curl -X POST with a JSON body and its default Accept: */*.
      const b = await emailedKey();
      const curl = await t.app.inject({
        method: 'POST',
        url: b.url,
        headers: { accept: '*/*', 'content-type': 'application/json' },
        payload: '{}',
      });
      expect(curl.statusCode).toBe(200);
      expect(curl.json()).toEqual({
        accessKeyId: b.accessKeyId,
        tenantId: t.tenantId,
        secretAccessKey: b.secretAccessKey,
      });

      // A form whose sender asks for JSON gets JSON.
      const c = await emailedKey();
      const form = await press(c.url, { accept: 'application/json' });
      expect(form.statusCode).toBe(200);
      expect(form.json().secretAccessKey).toBe(c.secretAccessKey);

      // Only one of several simultaneous presses gets the secret.
      const d = await emailedKey();
      const racing = await Promise.all(
        Array.from({ length: 6 }, () =>
          t.app.inject({ method: 'POST', url: d.url, headers: { accept: 'application/json' } }),
        ),
      );
      expect(racing.map((r) => r.statusCode).sort()).toEqual([200, 410, 410, 410, 410, 410]);
      expect(racing.filter((r) => r.body.includes(d.secretAccessKey))).toHaveLength(1);
    });

    it('a POST from another site is 403 CROSS_SITE_REQUEST and leaves the link usable', async () => {
      const key = await emailedKey();
      const before = await linkRows();
      const crossSite: Array<Record<string, string>> = [
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
        { 'sec-fetch-site': 'cross-site', origin: 'null' },
        { 'sec-fetch-site': 'cross-site', origin: 'https://keys.example.test' },
        { origin: 'https://evil.example' },
        { origin: 'https://keys.example.test.evil.example' },
        { origin: 'http://keys.example.test' },
        { origin: 'not a url' },
      ];
      for (const headers of crossSite) {
        const page = await press(key.url, headers);
        expect(page.statusCode, JSON.stringify(headers)).toBe(403);
        expectStrictPage(page);
        expect(page.body).toContain('CROSS_SITE_REQUEST');
        expect(page.body).toContain('the link still works');
        const json = await t.app.inject({
          method: 'POST',
          url: key.url,
          headers: { accept: 'application/json', ...headers },
        });
        expect(json.statusCode).toBe(403);
        expect(json.json().error.code).toBe('CROSS_SITE_REQUEST');
        expect(json.body).not.toContain(key.secretAccessKey);
      }
      expect(await linkRows()).toEqual(before);

      // The same origin, as the request reached us or as LATCHKEY_PUBLIC_URL names it, is fine;
      // so is the "null" origin that the page's no-referrer policy makes browsers send.
      expect((await press(key.url, { origin: 'https://keys.example.test' })).statusCode).toBe(200);
      const own = await emailedKey();
      expect(
        (await press(own.url, { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' })).statusCode,
      ).toBe(200);
      const fromPage = await emailedKey();
      const chromium = await press(fromPage.url, { origin: 'null', 'sec-fetch-site': 'same-origin' });
      expect(chromium.statusCode).toBe(200);
      expect(chromium.body).toContain(fromPage.secretAccessKey);
    });

    it('unknown and expired links show why, with 404 or 410, and change nothing', async () => {
      for (const token of ['x'.repeat(43), 'short']) {
        const page = await open(`/iam/key-reveal/${token}`);
        expect(page.statusCode).toBe(404);
        expectStrictPage(page);
        expect(page.body).toContain('This link is not valid');
        expect(page.body).not.toContain('<form');
        const json = await t.app.inject({ method: 'GET', url: `/iam/key-reveal/${token}` });
        expect(json.statusCode).toBe(404);
        expect(json.json().error.code).toBe('NOT_FOUND');
        expect((await press(`/iam/key-reveal/${token}`)).statusCode).toBe(404);
      }

      const key = await emailedKey();
      t.clock.advance(24 * 3_600_000 + 1000);
      try {
        const before = await linkRows();
        const page = await open(key.url);
        expect(page.statusCode).toBe(410);
        expectStrictPage(page);
        expect(page.body).toContain('This link can no longer be used');
        expect(page.body).toContain('REVEAL_LINK_EXPIRED');
        expect(page.body).not.toContain('<form');
        const head = await open(key.url, 'HEAD');
        expect(head.statusCode).toBe(410);
        expect(head.body).toBe('');
        const json = await t.app.inject({
          method: 'GET',
          url: key.url,
          headers: { accept: 'application/json' },
        });
        expect(json.statusCode).toBe(410);
        expect(json.json().error.code).toBe('REVEAL_LINK_EXPIRED');
        const pressed = await press(key.url);
        expect(pressed.statusCode).toBe(410);
        expect(pressed.body).not.toContain(key.secretAccessKey);
        expect(await linkRows()).toEqual(before);
      } finally {
        await refreshAdminToken(t);
      }
    });
  });
});
