/**
 * The web console end to end: a real latchkey listening on a port (SQLite), Debian's Chromium
 * driven by playwright-core, real curl. Screenshots of every main screen are taken on the way
 * (`npm run screenshots` saves them to docs/screenshots/).
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  CHROMIUM,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  SKIP_BROWSER as SKIP,
} from '../helpers/browser.js';
import { ROOT } from '../helpers/process.js';

// `npm run screenshots` refreshes docs/screenshots/; a plain test run writes them to a temp dir.
const SHOTS =
  process.env.LATCHKEY_SCREENSHOTS === '1'
    ? `${ROOT}docs/screenshots/`
    : `${mkdtempSync(join(tmpdir(), 'latchkey-shots-'))}/`;
const run = promisify(execFile);

const ANA = { email: 'ana@example.com', name: 'Ana Lim', password: 'ana-password-1234' };
const BOB = { email: 'bob@example.com', name: 'Bob Tan', password: 'bob-password-1234' };

if (SKIP) {
  console.warn(
    `console e2e skipped: ${CHROMIUM} not found. Install it with "apt-get install -y chromium" (in CI the suite always runs).`,
  );
}

describe.skipIf(SKIP)('web console in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let anaId: string;
  let bobId: string;
  let anaKey: { accessKeyId: string; secret: string };
  let apiKey: { accessKeyId: string; secret: string };
  let anaCurl = '';
  const started = Date.now();

  const shot = async (name: string, options: { overlay?: boolean } = {}) => {
    // Let closing modals and drawers finish their transition first.
    if (!options.overlay) await expect.poll(() => page.locator('.mantine-Overlay-root').count()).toBe(0);
    else await page.waitForTimeout(350); // the modal's or drawer's opening transition
    await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: false });
  };
  // Strings, not functions: the test's TypeScript has no DOM library; this runs in the page.
  const clipboard = () => page.evaluate<string>('navigator.clipboard.readText()');
  const storage = () =>
    page.evaluate<string>(
      'JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage }, url: location.href })',
    );

  async function signIn(email: string, password: string) {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(email);
    await page.locator('input[type=password]').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function pick(label: string, option: string) {
    await page.getByRole('combobox', { name: label, exact: true }).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  }

  beforeAll(async () => {
    ensureConsoleBuilt();
    mkdirSync(SHOTS, { recursive: true });
    ({ t, origin } = await listeningTestApp());

    // People to work with (created through the admin API, as an administrator would).
    const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
    const roleId = (name: string) => roles.find((r) => r.name === name)?.id as string;
    anaId = (await call(t, 'POST', '/iam/users', { body: ANA })).json().id;
    bobId = (await call(t, 'POST', '/iam/users', { body: BOB })).json().id;
    await call(t, 'PUT', `/iam/users/${anaId}/assignments`, { body: { roleIds: [roleId('DataReadOnly')] } });
    await call(t, 'PUT', `/iam/users/${bobId}/assignments`, { body: { roleIds: [roleId('DataReadWrite')] } });
    await call(t, 'POST', '/iam/service-accounts', {
      body: { name: 'etl-loader', description: 'Nightly ETL' },
    });

    browser = await launchChromium();
    page = await newConsolePage(browser, {
      viewport: { width: 1366, height: 820 },
      permissions: ['clipboard-read', 'clipboard-write'],
      acceptDownloads: true,
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    console.info(`console e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('serves the console with strict security headers and a SPA fallback', async () => {
    const res = await fetch(`${origin}/console/users/anything`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="root">');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const redirect = await fetch(`${origin}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/console/');
  });

  it('signs in with email and password', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').waitFor();
    // Keyboard first: Tab reaches the email field, with a visible focus ring.
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.getAttribute("type") ?? ""')).toBe('email');
    expect(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle')).not.toBe(
      'none',
    );
    await shot('sign-in');
    await signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await expect.poll(() => page.getByText(ANA.email).count()).toBeGreaterThan(0);
    await shot('users');
  });

  it('searches users and generates an API secret key for a user (More → API Secret Key)', async () => {
    await page.getByLabel('Search users').fill('ana');
    await expect.poll(() => page.getByText(BOB.email).count()).toBe(0);
    await page.getByRole('link', { name: ANA.name }).click();
    await page.getByRole('heading', { name: 'API Access' }).waitFor();
    await page.getByRole('button', { name: 'More' }).click();
    await page.getByRole('menuitem', { name: 'API Secret Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'API Secret Key' });
    await expect.poll(() => dialog.getByText(/can no longer sign in/).count()).toBe(1);
    await dialog.getByRole('button', { name: 'Generate API Secret Key' }).click();

    const accessKey = page.getByTestId('reveal-access-key');
    const secret = page.getByTestId('reveal-secret-key');
    await secret.waitFor();
    anaKey = { accessKeyId: await accessKey.inputValue(), secret: await secret.inputValue() };
    expect(anaKey.accessKeyId).toMatch(/^LKIA[0-9A-HJKMNP-TV-Z]{22}$/);
    expect(anaKey.secret).toMatch(/^lksk_[0-9A-Za-z]{40}$/);
    await expect.poll(() => page.getByText(/only time the secret key is shown/).count()).toBe(1);
    const user = (await call(t, 'GET', `/iam/users/${anaId}`)).json();
    expect(user.apiUser).toBe(true);
  });

  it('Test Connection signs GET /profile in the browser and shows who the key is', async () => {
    await page.getByRole('button', { name: 'Test Connection' }).click();
    const result = page.getByTestId('connection-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('Connection succeeded');
    expect(await result.textContent()).toContain(ANA.email);
    await shot('api-secret-key', { overlay: true });
  });

  it("copies the server's quiet sample cURL (curl -sS) that runs as-is with curl and answers 200", async () => {
    await page.getByRole('button', { name: 'Copy sample cURL' }).click();
    await expect.poll(clipboard).toContain('--aws-sigv4');
    const command = await clipboard();
    expect(command).toBe(await page.getByTestId('sample-curl').textContent());
    expect(command).toMatch(/^curl -sS /);
    expect(command).toContain(`${anaKey.accessKeyId}:${anaKey.secret}`);
    expect(command).toContain(`${origin}/agent/`);
    anaCurl = command;
    const { stdout } = await run('bash', ['-c', `${command} -w '\\n%{http_code}'`]);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('200');
    expect(JSON.parse(lines.slice(0, -1).join('\n'))).toHaveProperty('data');
  });

  it('downloads a valid Postman v2.1 collection', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download Postman Collection' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('postman_collection.json');
    const path = await download.path();
    const collection = JSON.parse(readFileSync(path, 'utf8'));
    expect(collection.info.schema).toBe(
      'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    );
    expect(collection.auth.type).toBe('awsv4');
    const variables = (collection.variable as Array<{ key: string }>).map((v) => v.key);
    expect(variables).toEqual(expect.arrayContaining(['your_access_key', 'your_secret_key']));
    expect(Array.isArray(collection.item) && collection.item.length > 0).toBe(true);
  });

  it('forgets the secret after closing, and a reload does not bring it back', async () => {
    await page.getByRole('button', { name: /I have saved the secret key/ }).click();
    await expect.poll(() => page.getByTestId('secret-reveal').count()).toBe(0);
    expect(await page.content()).not.toContain(anaKey.secret);
    expect(await storage()).not.toContain(anaKey.secret);
    await expect.poll(() => page.getByText(anaKey.accessKeyId).count()).toBeGreaterThan(0);
    // The key was used (Test Connection, curl) after the list was read: coming back to the window
    // reads it again, so "Last used" moves without a reload (uses are written every 5 s).
    const row = page.getByTestId('key-row').filter({ hasText: anaKey.accessKeyId });
    await expect
      .poll(
        async () => {
          await page.evaluate("window.dispatchEvent(new Event('focus'))");
          return row.textContent();
        },
        { timeout: 20_000, interval: 2_500 },
      )
      .not.toContain('never used');
    await shot('user-detail');
    await page.reload();
    await page.getByRole('heading', { name: 'API Access' }).waitFor();
    await expect.poll(() => page.getByText(anaKey.accessKeyId).count()).toBeGreaterThan(0);
    expect(await page.content()).not.toContain(anaKey.secret);
    expect(await storage()).not.toContain(anaKey.secret);
  });

  it('regenerating with a grace period keeps the old secret working for a while', async () => {
    await page.getByRole('button', { name: 'Revoke and regenerate API Secret Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke and generate a new secret key' });
    await dialog.getByRole('radio', { name: 'Keeps working for 1 hour' }).check();
    await dialog.getByRole('button', { name: 'Generate new secret key' }).click();
    const secret = page.getByTestId('reveal-secret-key');
    await secret.waitFor();
    expect(await secret.inputValue()).not.toBe(anaKey.secret);
    const old = await run('bash', ['-c', `${anaCurl} -o /dev/null -w '%{http_code}'`]);
    expect(old.stdout).toBe('200');
    await page.getByRole('button', { name: /I have saved the secret key/ }).click();
    await expect.poll(() => page.getByTestId('secret-reveal').count()).toBe(0);
  });

  it('revoke and regenerate gives a new secret and the old one stops working; the trash icon deletes', async () => {
    await page.getByRole('button', { name: 'Revoke and regenerate API Secret Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke and generate a new secret key' });
    // At once is the default.
    expect(await dialog.getByRole('radio', { name: 'Stops working at once' }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Generate new secret key' }).click();
    const secret = page.getByTestId('reveal-secret-key');
    await secret.waitFor();
    const renewed = await secret.inputValue();
    expect(renewed).toMatch(/^lksk_/);
    expect(renewed).not.toBe(anaKey.secret);
    // Also ends the previous secret's grace period.
    const old = await run('bash', ['-c', `${anaCurl} -o /dev/null -w '%{http_code}'`]);
    expect(old.stdout).toBe('403');
    await page.getByRole('button', { name: /I have saved the secret key/ }).click();
    await expect.poll(() => page.getByTestId('secret-reveal').count()).toBe(0);

    await page.getByRole('button', { name: 'Delete API Secret Key' }).click();
    await page
      .getByRole('dialog', { name: 'Delete access key' })
      .getByRole('button', { name: 'Delete key' })
      .click();
    await page.getByText('No API access yet').waitFor();
    expect((await call(t, 'GET', `/iam/users/${anaId}/keys`)).json().total).toBe(0);
  });

  it('Add key: type API with a custom expiry date, then copy all key details', async () => {
    await page.getByRole('link', { name: 'Access keys' }).click();
    await page.getByRole('heading', { name: 'Access keys' }).waitFor();
    await page.getByRole('button', { name: 'Add key' }).click();
    await pick('Owner', BOB.email);
    await page.getByLabel('Key name').fill('ingest');
    await page.getByRole('radio', { name: 'API', exact: true }).check();
    await pick('Validity', 'Custom date');
    const date = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Expiry date').fill(date);
    await shot('add-key', { overlay: true });
    await page.getByRole('button', { name: 'Confirm' }).click();

    const drawer = page.getByRole('dialog', { name: 'Key details' });
    await drawer.getByTestId('reveal-secret-key').waitFor();
    apiKey = {
      accessKeyId: await drawer.getByTestId('reveal-access-key').inputValue(),
      secret: await drawer.getByTestId('reveal-secret-key').inputValue(),
    };
    expect(await drawer.textContent()).toContain('API (data ingestion only)');
    await shot('key-details-new', { overlay: true });
    const stored = (await call(t, 'GET', `/iam/keys/${apiKey.accessKeyId}`)).json();
    expect(stored.type).toBe('api');
    expect(stored.owner.id).toBe(bobId);
    expect(stored.expiresAt.slice(0, 10)).toBe(date);

    await drawer.getByRole('button', { name: 'Copy all: access key, secret key and tenant ID' }).click();
    await expect.poll(clipboard).toBe(`key:${apiKey.accessKeyId}::${apiKey.secret},tenant id: ${t.tenantId}`);
  });

  it('assigning a role to the key changes its effective permissions', async () => {
    const drawer = page.getByRole('dialog', { name: 'Key details' });
    const permissions = drawer.getByTestId('effective-permissions');
    await expect.poll(() => permissions.textContent()).toContain('agent:write');
    const roles = drawer.getByRole('combobox', { name: 'Roles', exact: true });
    await roles.click();
    await page.getByRole('option', { name: 'DataReadOnly', exact: true }).click();
    // The list closes after a choice, so it does not cover the Save button.
    await expect.poll(() => roles.getAttribute('aria-expanded')).toBe('false');
    expect(await page.getByRole('option', { name: 'DataReadWrite', exact: true }).count()).toBe(0);
    await drawer.getByRole('button', { name: 'Save assignments' }).click();
    await drawer.getByText('Assignments saved').waitFor();
    await expect.poll(() => permissions.textContent()).not.toContain('agent:write');
    expect(await permissions.textContent()).toContain('agent:read');
    await shot('key-details', { overlay: true });
  });

  it('a deactivated key fails Test Connection with AccessKeyInactive', async () => {
    const drawer = page.getByRole('dialog', { name: 'Key details' });
    await drawer.getByRole('button', { name: 'Test Connection' }).click();
    await expect
      .poll(() => drawer.getByTestId('connection-result').textContent())
      .toContain('Connection succeeded');
    await drawer.getByRole('switch', { name: 'Key is active' }).click({ force: true });
    await expect.poll(() => drawer.getByTestId('key-state').textContent()).toBe('Inactive');
    await drawer.getByRole('button', { name: 'Test Connection' }).click();
    await expect
      .poll(() =>
        drawer
          .getByTestId('connection-error-code')
          .textContent()
          .catch(() => ''),
      )
      .toBe('AccessKeyInactive');
    await page.getByRole('button', { name: 'Close key details' }).click();
    await expect.poll(() => page.getByTestId('secret-reveal').count()).toBe(0);
    expect(await page.content()).not.toContain(apiKey.secret);
    await expect.poll(() => page.getByTestId('key-row').count()).toBe(1);
    await shot('access-keys');
  });

  it('a service account needs an email address before keys can be emailed, then gets them by email', async () => {
    await page.getByRole('link', { name: 'Service accounts' }).click();
    await page.getByRole('link', { name: 'etl-loader' }).click();
    await page.getByRole('button', { name: 'Add access' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add access' });
    // etl-loader has no role yet: a key for it would authenticate and read nothing.
    await expect
      .poll(() =>
        dialog
          .getByTestId('no-data-warning')
          .textContent()
          .catch(() => ''),
      )
      .toContain('This key would read nothing');
    await dialog.getByRole('checkbox', { name: /by email/ }).check();
    await dialog
      .getByText(/has no email address/)
      .first()
      .waitFor();
    expect(await dialog.getByRole('button', { name: 'Create' }).isDisabled()).toBe(true);
    await shot('service-account', { overlay: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);

    // With an email address on file, the keys can be emailed (sendEmail: true).
    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit service account' });
    await edit.getByLabel('Email').fill('etl@example.com');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByText('etl@example.com').first().waitFor();
    await page.getByRole('button', { name: 'Add access' }).click();
    const add = page.getByRole('dialog', { name: 'Add access' });
    await add
      .getByRole('checkbox', { name: 'Send the API and secret keys by email to etl@example.com' })
      .check();
    await add.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('reveal-secret-key').waitFor();
    // Test Connection signs in, and says the key can read nothing (not a plain success).
    await page.getByRole('button', { name: 'Test Connection' }).click();
    await expect
      .poll(() =>
        page
          .getByTestId('connection-result')
          .textContent()
          .catch(() => ''),
      )
      .toContain('Signed in, but this key can read nothing');
    await page.getByRole('button', { name: /I have saved the secret key/ }).click();
    const outbox = await call(t, 'GET', '/iam/outbox');
    expect(outbox.statusCode).toBe(200);
    expect(outbox.body).toContain('etl@example.com');
  });

  it('shows groups and roles, IAM settings and the audit log', async () => {
    await page.getByRole('link', { name: 'Groups and roles' }).click();
    await page.getByText('DataReadWrite').first().waitFor();
    await shot('groups-roles');
    await page.getByRole('link', { name: 'IAM settings' }).click();
    await page.getByLabel('Default key lifetime (days)').waitFor();
    await shot('iam-settings');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').fill('access_key.');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.getByText('access_key.create').count()).toBeGreaterThan(0);
    await shot('audit-log');
  });

  it('sign-out clears the session; an API user gets a clear message instead of the console', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(JSON.parse(await storage()).session).toEqual({});
    await signIn(ANA.email, ANA.password);
    await page.getByText('This is an API user').first().waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('API_USER_PASSWORD_LOGIN');
  });

  it('the bell shows the key owner the assignment change, and marks it read', async () => {
    await signIn(BOB.email, BOB.password);
    const bell = page.getByTestId('notification-bell');
    await bell.waitFor();
    await expect.poll(() => bell.getAttribute('aria-label')).toMatch(/Notifications, [1-9]\d* unread/);
    await bell.click();
    const list = page.getByTestId('notification-list');
    await expect.poll(() => list.textContent()).toContain('Access of your access key "ingest" changed');
    await shot('notifications');
    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await expect.poll(() => bell.getAttribute('aria-label')).toBe('Notifications, 0 unread');
  });
});

if (SKIP) {
  describe('web console in Chromium (skipped)', () => {
    it.skip(`needs ${CHROMIUM}: apt-get install -y chromium`, () => undefined);
  });
}
