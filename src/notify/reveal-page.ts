/**
 * The pages of a one-time reveal link (GET and POST /iam/key-reveal/{token}): a prompt with a
 * "Show the secret" button, the secret once, or why the link cannot be used. Server-rendered HTML
 * with no script at all (the button is a plain form), so the page works without JavaScript and
 * the CSP can forbid every script. Looks like the console's sign-in card (Mantine's indigo,
 * system font), light or dark after the system setting. Every value from data is escaped.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from './templates.js';

/** Mantine's colours as the console uses them; contrast at least 4.5:1 for every text colour. */
const STYLE = `
:root{color-scheme:light dark;--bg:#f8f9fa;--card:#fff;--border:#dee2e6;--text:#212529;--dimmed:#495057;
--primary:#4263eb;--primary-hover:#3b5bdb;--on-primary:#fff;--code:#f1f3f5;--warn-bg:#fff4e6;--warn-border:#ffc078;
--warn-text:#7a3a00;--bad-bg:#fff5f5;--bad-border:#ffa8a8;--bad-text:#a51111;--focus:#4263eb}
@media (prefers-color-scheme:dark){:root{--bg:#1f1f1f;--card:#242424;--border:#424242;--text:#c9c9c9;--dimmed:#b8b8b8;
--primary:#3b5bdb;--primary-hover:#364fc7;--on-primary:#fff;--code:#2e2e2e;--warn-bg:#3a2a12;--warn-border:#a05a00;
--warn-text:#ffd8a8;--bad-bg:#3b1d1d;--bad-border:#c92a2a;--bad-text:#ffc9c9;--focus:#91a7ff}}
*{box-sizing:border-box}
html,body{margin:0}
body{min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;background:var(--bg);
color:var(--text);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:460px;max-width:100%;background:var(--card);border:1px solid var(--border);border-radius:8px;
padding:28px;box-shadow:0 1px 3px rgba(0,0,0,.05),0 10px 15px -5px rgba(0,0,0,.08)}
header{display:flex;flex-direction:column;align-items:center;gap:4px;margin-bottom:16px;text-align:center}
header svg{width:32px;height:32px}
.brand{margin:0;font-size:22px;font-weight:700;line-height:1.3}
.tenant{margin:0;color:var(--dimmed);font-size:13px;overflow-wrap:anywhere}
h1{font-size:18px;margin:0 0 8px;line-height:1.35}
p{margin:0 0 12px}
.dimmed{color:var(--dimmed);font-size:13px}
.notice{border:1px solid var(--warn-border);background:var(--warn-bg);color:var(--warn-text);border-radius:8px;
padding:10px 12px;margin:0 0 16px}
.problem{border:1px solid var(--bad-border);background:var(--bad-bg);color:var(--bad-text);border-radius:8px;
padding:10px 12px;margin:0 0 12px}
button{display:block;width:100%;font:inherit;font-weight:600;padding:10px 16px;border:0;border-radius:8px;
background:var(--primary);color:var(--on-primary);cursor:pointer}
button:hover{background:var(--primary-hover)}
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
dl{margin:0 0 12px}
dt{font-size:13px;font-weight:600;margin:12px 0 4px}
dd{margin:0}
code{display:block;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);
border:1px solid var(--border);border-radius:6px;padding:8px 10px;overflow-wrap:anywhere;user-select:all;
-webkit-user-select:all}
`;

/**
 * No script, no images, no fetches; the one inline stylesheet by its hash; forms post only here.
 * Exported for the route (every answer of the reveal routes carries it) and for tests.
 */
export const REVEAL_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Tabler's "lock" icon, the console's mark (inline: the CSP allows no image loads). */
const LOCK_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M5 13a2 2 0 0 1 2 -2h10a2 2 0 0 1 2 2v6a2 2 0 0 1 -2 2h-10a2 2 0 0 1 -2 -2v-6"/><path d="M11 16a1 1 0 1 0 2 0a1 1 0 0 0 -2 0"/><path d="M8 11v-4a4 4 0 1 1 8 0v4"/></svg>';

function page(title: string, body: string, tenantLine?: string): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(title)} · latchkey</title><style>${STYLE}</style></head><body><main>`,
    `<header>${LOCK_ICON}<p class="brand">latchkey</p>`,
    tenantLine === undefined ? '' : `<p class="tenant">${escapeHtml(tenantLine)}</p>`,
    `</header>${body}</main></body></html>`,
  ].join('');
}

/** "2026-12-05T10:00:00.000Z" → "2026-12-05 10:00 UTC". */
const utc = (isoDate: string): string => `${isoDate.slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The page a link opens. It says nothing about the key: a mail scanner that fetches it learns
 * only that a link exists. The form has no action, so it posts back to this very URL (also
 * behind a proxy that mounts latchkey under a path).
 */
export function renderRevealPrompt(link: { expiresAt: string }): string {
  return page(
    'Your new secret key',
    [
      '<h1>Your new secret key</h1>',
      '<p>An access key was created for you. Its secret key is shown <strong>once</strong>: press the button when you are ready to store it (in a secret manager or your application&#39;s configuration).</p>',
      `<p class="dimmed">This link works once, until ${escapeHtml(utc(link.expiresAt))}.</p>`,
      '<form method="post"><button type="submit">Show the secret</button></form>',
    ].join(''),
  );
}

export interface RevealedPageData {
  accessKeyId: string;
  secretAccessKey: string;
  tenantId: string;
  tenantName: string;
  keyName: string;
}

/** The secret, once. Values sit in `<code>` that selects whole on a click (user-select: all). */
export function renderRevealedSecret(d: RevealedPageData): string {
  const field = (label: string, value: string) =>
    `<dt>${escapeHtml(label)}</dt><dd><code>${escapeHtml(value)}</code></dd>`;
  return page(
    'Your secret key',
    [
      '<h1>Your secret key</h1>',
      '<p class="notice" role="alert"><strong>Shown once: store it now.</strong> This link is used up; opening or reloading it will not show the secret again.</p>',
      '<dl>',
      field('Key name', d.keyName),
      field('Access key ID', d.accessKeyId),
      field('Secret key', d.secretAccessKey),
      field('Tenant ID', d.tenantId),
      // The form the console's "Copy all" uses (and SQL Account's key screen).
      field('All in one line', `key:${d.accessKeyId}::${d.secretAccessKey},tenant id: ${d.tenantId}`),
      '</dl>',
      '<p class="dimmed">Sign requests with the access key ID and the secret key (AWS Signature Version 4). Lost it? Ask for a new secret key: the old one stops working.</p>',
    ].join(''),
    `Tenant ${d.tenantName}`,
  );
}

const PROBLEMS: Record<string, { title: string; advice: string }> = {
  REVEAL_LINK_USED: {
    title: 'This link was already used',
    advice:
      'If you did not see it yourself, tell an administrator: a new secret key for this access key ends the old one.',
  },
  REVEAL_LINK_EXPIRED: {
    title: 'This link can no longer be used',
    advice: 'Ask an administrator, or use the console, to generate a new secret key for this access key.',
  },
  NOT_FOUND: {
    title: 'This link is not valid',
    advice: 'Check that you opened the whole link from the email; some mail programs break long links.',
  },
  CROSS_SITE_REQUEST: {
    title: 'Request refused',
    advice:
      'The secret was not shown and the link still works. Open the link from your email directly and press "Show the secret".',
  },
};

/** Why a link cannot be used, without the button; status and code match the JSON error. */
export function renderRevealProblem(problem: { code: string; message: string; requestId: string }): string {
  const known = PROBLEMS[problem.code] ?? { title: 'Something went wrong', advice: 'Try again later.' };
  return page(
    known.title,
    [
      `<h1>${escapeHtml(known.title)}</h1>`,
      `<p class="problem" role="alert">${escapeHtml(problem.message)}</p>`,
      `<p>${escapeHtml(known.advice)}</p>`,
      `<p class="dimmed">Code ${escapeHtml(problem.code)} · request ${escapeHtml(problem.requestId)}</p>`,
    ].join(''),
  );
}
