/**
 * Temporary credentials from the console, end to end in Chromium against a real latchkey (SQLite):
 * the account menu's "Temporary credentials" shows an LKSA access key ID, a secret and a session
 * token once; signed with the AWS SDK v3 signer they read the data API, and a new password ends
 * them.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  SKIP_BROWSER,
} from '../helpers/browser.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';

describe.skipIf(SKIP_BROWSER)('temporary credentials in the console', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ensureConsoleBuilt();
    ({ t, origin } = await listeningTestApp({ env: { LATCHKEY_DEMO_DATA: '1' } }));
    browser = await launchChromium();
    page = await newConsolePage(browser);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const signedGet = async (c: Credentials, path: string) => {
    const host = new URL(origin).host;
    const headers = await signHeaders(c, { method: 'GET', path, host });
    return fetch(`${origin}${path}`, { headers });
  };

  it('creates them from the account menu, shows them once, and they sign requests', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Your account' }).click();
    await page.getByRole('menuitem', { name: 'Temporary credentials' }).click();
    const dialog = page.getByRole('dialog', { name: 'Temporary credentials' });
    await dialog.getByRole('combobox', { name: 'Valid for', exact: true }).click();
    await page.getByRole('option', { name: '15 minutes' }).click();
    await dialog.getByRole('button', { name: 'Create' }).click();
    const accessKeyId = await page.getByTestId('temp-access-key').inputValue();
    const secretAccessKey = await page.getByTestId('temp-secret').inputValue();
    const sessionToken = await page.getByTestId('temp-token').inputValue();
    expect(accessKeyId).toMatch(/^LKSA[0-9A-Z]{22}$/);
    expect(sessionToken).toMatch(/^lkst_/);
    await expect
      .poll(() => dialog.getByRole('button', { name: 'Copy as environment variables' }).isVisible())
      .toBe(true);

    const c = { accessKeyId, secretAccessKey, sessionToken };
    const agents = await signedGet(c, '/agent/');
    expect(agents.status, await agents.clone().text()).toBe(200);
    const profile = (await (await signedGet(c, '/profile')).json()) as { accessKeyId: string };
    expect(profile.accessKeyId).toBe(accessKeyId);

    // Once closed, they are gone from the page.
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => page.getByTestId('temp-secret').count()).toBe(0);

    // They follow the sign-in they came from: a new password ends them.
    const token = await page.evaluate<string | null>("sessionStorage.getItem('latchkey.console.token')");
    const changed = await fetch(`${origin}/iam/me`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'a-new-admin-password', currentPassword: ADMIN_PASSWORD }),
    });
    expect(changed.status).toBe(200);
    const ended = await signedGet(c, '/agent/');
    expect(ended.status).toBe(400);
    expect(((await ended.json()) as { error: { code: string } }).error.code).toBe('InvalidToken');
  });
});
