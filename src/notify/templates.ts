/**
 * Email templates: small functions returning subject, plain text and HTML. Every value that comes
 * from data (tenant and key names, emails) is HTML-escaped in the HTML body. No template takes a
 * secret except keyCreatedEmail with `delivery.kind === 'inline'` (the tenant setting
 * emailSecretInline).
 */

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/** Header values must stay on one line whatever a tenant or key is called. */
const oneLine = (value: string): string => value.replace(/[\r\n\t]+/g, ' ').trim();

/**
 * An email in latchkey's frame: the subject starts with the tenant's name, the text ends with it
 * as a signature, and the HTML page is headed with it and says why the reader gets the email.
 */
function framed(tenantName: string, about: string, textLines: string[], bodyHtml: string): RenderedEmail {
  const subject = oneLine(`[${tenantName}] ${about}`);
  const text = [...textLines, '', `-- latchkey, ${tenantName}`].join('\n');
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>',
    escapeHtml(subject),
    '</title></head>',
    '<body style="font-family:system-ui,sans-serif;font-size:15px;line-height:1.5;color:#1a1a1a">',
    `<p style="color:#666;font-size:13px">latchkey &middot; ${escapeHtml(tenantName)}</p>`,
    bodyHtml,
    '<p style="color:#666;font-size:13px">You receive this email because of your role in this latchkey tenant.</p>',
    '</body></html>',
  ].join('');
  return { subject, text, html };
}

function table(rows: Array<[string, string]>): { text: string; html: string } {
  const width = Math.max(...rows.map(([label]) => label.length));
  return {
    text: rows.map(([label, value]) => `  ${`${label}:`.padEnd(width + 2)}${value}`).join('\n'),
    html: `<table style="border-collapse:collapse">${rows
      .map(
        ([label, value]) =>
          `<tr><td style="padding:2px 12px 2px 0;color:#666">${escapeHtml(label)}</td><td style="padding:2px 0"><code>${escapeHtml(value)}</code></td></tr>`,
      )
      .join('')}</table>`,
  };
}

export interface ReminderData {
  tenantName: string;
  keyName: string;
  accessKeyId: string;
  ownerLabel: string;
  expiresAt: string;
  /** Base URL of the service, for the PATCH example and the console link. */
  baseUrl: string;
}

export function expiryReminderEmail(d: ReminderData): RenderedEmail {
  const details = table([
    ['Key name', d.keyName],
    ['Access key ID', d.accessKeyId],
    ['Owner', d.ownerLabel],
    ['Expires', `${d.expiresAt} (UTC)`],
  ]);
  const patch = `curl -X PATCH ${d.baseUrl}/iam/keys/${d.accessKeyId} \\\n    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n    -d '{"validityDays":90}'`;
  const console = `${d.baseUrl}/console/`;
  return framed(
    d.tenantName,
    `Access key "${d.keyName}" expires on ${d.expiresAt.slice(0, 10)}`,
    [
      `An access key in the latchkey tenant "${d.tenantName}" expires soon:`,
      '',
      details.text,
      '',
      'Requests signed with it will be refused once it expires. To keep it working, extend it:',
      '',
      `  - in the console: ${console} (Access keys, open Actions on the key, Modify expiry), or`,
      `  - with the API: PATCH /iam/keys/${d.accessKeyId} with "validityDays" or "expiresAt", e.g.`,
      '',
      `    ${patch}`,
      '',
      'If the key is no longer needed, let it expire or delete it.',
    ],
    [
      `<p>An access key in the latchkey tenant <strong>${escapeHtml(d.tenantName)}</strong> expires soon:</p>`,
      details.html,
      '<p>Requests signed with it will be refused once it expires. To keep it working, extend it:</p>',
      '<ul>',
      `<li>in the <a href="${escapeHtml(console)}">console</a> (Access keys, open Actions on the key, Modify expiry), or</li>`,
      `<li>with the API: <code>PATCH /iam/keys/${escapeHtml(d.accessKeyId)}</code> with <code>validityDays</code> or <code>expiresAt</code>:</li>`,
      '</ul>',
      `<pre style="background:#f4f4f4;padding:8px">${escapeHtml(patch)}</pre>`,
      '<p>If the key is no longer needed, let it expire or delete it.</p>',
    ].join(''),
  );
}

export interface KeyCreatedData {
  tenantName: string;
  tenantId: string;
  keyName: string;
  accessKeyId: string;
  ownerLabel: string;
  expiresAt: string | null;
  createdBy: string;
  /** A one-time link to reveal the secret, or the secret itself (tenant setting emailSecretInline). */
  delivery: { kind: 'link'; url: string; validUntil: string } | { kind: 'inline'; secretAccessKey: string };
}

export function keyCreatedEmail(d: KeyCreatedData): RenderedEmail {
  const rows: Array<[string, string]> = [
    ['Key name', d.keyName],
    ['Access key ID', d.accessKeyId],
    ['Tenant ID', d.tenantId],
    ['Owner', d.ownerLabel],
    ['Expires', d.expiresAt === null ? 'never' : `${d.expiresAt} (UTC)`],
    ['Created by', d.createdBy],
  ];
  if (d.delivery.kind === 'inline') rows.push(['Secret key', d.delivery.secretAccessKey]);
  const details = table(rows);
  const textHow =
    d.delivery.kind === 'link'
      ? [
          'To see the secret key, open this link and press "Show the secret". It works once,',
          `until ${d.delivery.validUntil} (UTC); after that, ask for a new secret key:`,
          '',
          `  ${d.delivery.url}`,
        ]
      : [
          'The secret key is in this email because your tenant asks for it. Store it in a secret',
          'manager now and delete this email: anyone who reads it can use the key.',
        ];
  const htmlHow =
    d.delivery.kind === 'link'
      ? `<p>To see the secret key, open this link and press <strong>Show the secret</strong>. It works <strong>once</strong>, until ${escapeHtml(d.delivery.validUntil)} (UTC); after that, ask for a new secret key:</p><p><a href="${escapeHtml(d.delivery.url)}">${escapeHtml(d.delivery.url)}</a></p>`
      : '<p>The secret key is in this email because your tenant asks for it. Store it in a secret manager now and delete this email: anyone who reads it can use the key.</p>';
  return framed(
    d.tenantName,
    `Your new access key ${d.accessKeyId}`,
    [
      `An access key was created for you in the latchkey tenant "${d.tenantName}":`,
      '',
      details.text,
      '',
      ...textHow,
    ],
    `<p>An access key was created for you in the latchkey tenant <strong>${escapeHtml(d.tenantName)}</strong>:</p>${details.html}${htmlHow}`,
  );
}

export interface WebhookDisabledData {
  tenantName: string;
  webhookId: string;
  url: string;
  failures: number;
  failingSince: string;
  lastError: string;
  baseUrl: string;
}

/** To the tenant's administrators: an endpoint was turned off after failing for too long. */
export function webhookDisabledEmail(d: WebhookDisabledData): RenderedEmail {
  const details = table([
    ['Endpoint', d.url],
    ['Webhook ID', d.webhookId],
    ['Failed attempts', String(d.failures)],
    ['Failing since', `${d.failingSince} (UTC)`],
    ['Last error', d.lastError],
  ]);
  const console = `${d.baseUrl}/console/`;
  return framed(
    d.tenantName,
    'A webhook endpoint was disabled after repeated failures',
    [
      `latchkey stopped sending events to a webhook endpoint of the tenant "${d.tenantName}": every delivery to it failed for too long.`,
      '',
      details.text,
      '',
      'Events raised while it is disabled are not sent to it. Once the receiver works again, enable it:',
      `  - in the console: ${console} (Webhooks), or`,
      `  - with the API: PATCH /iam/webhooks/${d.webhookId} with {"enabled": true}.`,
      '',
      'Its delivery log (GET /iam/webhooks/{id}/deliveries) shows each attempt and its error.',
    ],
    [
      `<p>latchkey stopped sending events to a webhook endpoint of the tenant <strong>${escapeHtml(d.tenantName)}</strong>: every delivery to it failed for too long.</p>`,
      details.html,
      '<p>Events raised while it is disabled are not sent to it. Once the receiver works again, enable it ',
      `in the <a href="${escapeHtml(console)}">console</a> (Webhooks) or with <code>PATCH /iam/webhooks/${escapeHtml(d.webhookId)}</code> and <code>{"enabled": true}</code>.</p>`,
    ].join(''),
  );
}

export interface KeyQuarantinedData {
  tenantName: string;
  keyName: string;
  accessKeyId: string;
  ownerLabel: string;
  /** Who reported it (`GitHub secret scanning`, or the in-house reporter's name). */
  reporter: string;
  /** Where the secret was found, when the report said. */
  url: string | null;
  /** `disable` or `read-only`: what the quarantine does. */
  action: string;
  quarantinedAt: string;
  baseUrl: string;
}

/** To the key's owner and the tenant's administrators: a leak report named the key. */
export function keyQuarantinedEmail(d: KeyQuarantinedData): RenderedEmail {
  const details = table([
    ['Key name', d.keyName],
    ['Access key ID', d.accessKeyId],
    ['Owner', d.ownerLabel],
    ['Reported by', d.reporter],
    ['Found at', d.url ?? '(not given)'],
    ['Quarantined at', `${d.quarantinedAt} (UTC)`],
  ]);
  const effect =
    d.action === 'read-only'
      ? 'Until then it signs GET and HEAD requests only; everything else is refused.'
      : 'Until then every request signed with it is refused.';
  const console = `${d.baseUrl}/console/`;
  return framed(
    d.tenantName,
    `Access key "${d.keyName}" was reported leaked and is quarantined`,
    [
      `A secret scanner reported a credential of the access key "${d.keyName}" in a public place. latchkey quarantined the key at once.`,
      effect,
      '',
      details.text,
      '',
      'Generate a new secret for the key (the reported one stops working at once), update the clients that use it, and check the key’s recent use:',
      `  - in the console: ${console} (Access keys), or`,
      `  - with the API: POST /iam/keys/${d.accessKeyId}/secret`,
      `If the report is wrong, an administrator can release the key: POST /iam/keys/${d.accessKeyId}/quarantine/release.`,
    ],
    [
      `<p>A secret scanner reported a credential of the access key <strong>${escapeHtml(d.keyName)}</strong> in a public place. latchkey quarantined the key at once. ${escapeHtml(effect)}</p>`,
      details.html,
      '<p>Generate a new secret for the key (the reported one stops working at once), update the clients that use it, and check the key’s recent use: ',
      `in the <a href="${escapeHtml(console)}">console</a> (Access keys) or with <code>POST /iam/keys/${escapeHtml(d.accessKeyId)}/secret</code>.</p>`,
      `<p>If the report is wrong, an administrator can release the key: <code>POST /iam/keys/${escapeHtml(d.accessKeyId)}/quarantine/release</code>.</p>`,
    ].join(''),
  );
}
