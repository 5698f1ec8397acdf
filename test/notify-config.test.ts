import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSmtpUrl } from '../src/config.js';
import { escapeHtml, expiryReminderEmail } from '../src/notify/templates.js';

const base = { LATCHKEY_DATA_DIR: '/tmp/latchkey-config-test' };

describe('mail configuration', () => {
  it('parses SMTP_URL: TLS mode, port defaults, STARTTLS and auth', () => {
    expect(parseSmtpUrl('smtp://127.0.0.1:2525?starttls=off')).toMatchObject({
      host: '127.0.0.1',
      port: 2525,
      secure: false,
      ignoreTLS: true,
      requireTLS: false,
      auth: undefined,
    });
    expect(parseSmtpUrl('smtp://mail.example.com')).toMatchObject({
      port: 587,
      secure: false,
      ignoreTLS: false,
    });
    expect(parseSmtpUrl('smtp://u:p@mail.example.com?starttls=required')).toMatchObject({
      requireTLS: true,
      auth: { user: 'u', pass: 'p' },
    });
    expect(parseSmtpUrl('smtps://user%40example.com:p%2Fw@smtp.example.com')).toMatchObject({
      port: 465,
      secure: true,
      rejectUnauthorized: true,
      auth: { user: 'user@example.com', pass: 'p/w' },
    });
    expect(parseSmtpUrl('smtps://h?tls_reject_unauthorized=false').rejectUnauthorized).toBe(false);
  });

  it.each([
    ['http://mail.example.com', /smtp:\/\/ or smtps:\/\//],
    ['not a url', /not a URL/],
    ['smtps://h?starttls=required', /smtp:\/\/ only/],
    ['smtp://h?starttls=maybe', /auto, required or off/],
    ['smtp://h?pool=true', /unknown option pool/],
    ['smtp://:pw@h', /password but no user/],
  ])('refuses SMTP_URL=%s with an error naming the variable', (value, message) => {
    let error: unknown;
    try {
      loadConfig({ ...base, SMTP_URL: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('SMTP_URL');
    expect((error as Error).message).toMatch(/^SMTP_URL: /);
    expect((error as Error).message).toMatch(message);
  });

  it('LATCHKEY_MAIL_FROM: an address or a name and address; defaults; refuses others', () => {
    expect(loadConfig(base).mailFrom).toBe('latchkey <latchkey@localhost>');
    expect(loadConfig(base).smtp).toBeUndefined();
    expect(loadConfig({ ...base, LATCHKEY_MAIL_FROM: 'keys@example.com' }).mailFrom).toBe('keys@example.com');
    expect(loadConfig({ ...base, LATCHKEY_MAIL_FROM: 'Latchkey <keys@example.com>' }).mailFrom).toBe(
      'Latchkey <keys@example.com>',
    );
    for (const bad of ['nobody', 'a@b, c@d', 'Name <not-an-address>']) {
      expect(() => loadConfig({ ...base, LATCHKEY_MAIL_FROM: bad })).toThrow(/^LATCHKEY_MAIL_FROM: /);
    }
  });
});

describe('mail templates', () => {
  it('escape HTML in every value and keep headers on one line', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const mail = expiryReminderEmail({
      tenantName: 'Evil <script>alert(1)</script>',
      keyName: 'k"\r\nBcc: x@evil.test',
      accessKeyId: 'LKIA0000000000000000000000',
      ownerLabel: 'o <o@example.com>',
      expiresAt: '2026-12-01T00:00:00.000Z',
      baseUrl: 'https://keys.example.test',
    });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('Evil &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.text).toContain('Evil <script>alert(1)</script>'); // plain text stays literal
  });
});
