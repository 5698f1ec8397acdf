/**
 * Mails name things as the console does: "Access keys" is the console's page, "access key" the
 * thing; never "API key", "Access Key" or a bare "Keys" page that the console does not have.
 */
import { describe, expect, it } from 'vitest';
import { expiryReminderEmail, keyCreatedEmail, type RenderedEmail } from '../src/notify/templates.js';

const OTHER_SPELLINGS = /\bAPI keys?\b|\bAccess Keys?\b|\bapi-key\b|\bKeys\b/;

const reminder = expiryReminderEmail({
  tenantName: 'Acme',
  keyName: 'nightly-etl',
  accessKeyId: 'LKIA0000000000000000000000',
  ownerLabel: 'etl-bot',
  expiresAt: '2026-12-01T00:00:00.000Z',
  baseUrl: 'https://keys.example.test',
});
const created = (delivery: Parameters<typeof keyCreatedEmail>[0]['delivery']) =>
  keyCreatedEmail({
    tenantName: 'Acme',
    tenantId: '123456789012',
    keyName: 'laptop',
    accessKeyId: 'LKIA0000000000000000000000',
    ownerLabel: 'rita@example.com',
    expiresAt: null,
    createdBy: 'admin@example.com',
    delivery,
  });

const parts = (mail: RenderedEmail) => [mail.subject, mail.text, mail.html];

describe('naming in mails', () => {
  it('the expiry reminder sends people to the console page the console calls "Access keys"', () => {
    expect(reminder.subject).toContain('Access key "nightly-etl"');
    expect(reminder.text).toContain('(Access keys, open Actions on the key, Modify expiry)');
    expect(reminder.html).toContain('(Access keys, open Actions on the key, Modify expiry)');
  });

  it('every mail says "access key", never another spelling', () => {
    const mails = [
      reminder,
      created({
        kind: 'link',
        url: 'https://keys.example.test/iam/key-reveal/x',
        validUntil: '2026-12-02T00:00:00.000Z',
      }),
      created({ kind: 'inline', secretAccessKey: 'lksk_x' }),
    ];
    for (const mail of mails) {
      for (const part of parts(mail)) {
        expect(part).toMatch(/\b[Aa]ccess key\b/);
        expect(part).not.toMatch(OTHER_SPELLINGS);
      }
    }
  });
});
