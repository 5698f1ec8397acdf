/**
 * Single sign-on in the console, end to end: a real latchkey listening on a port (SQLite), a real
 * OpenID Connect provider (`oidc-provider`) on another, Debian's Chromium driven by playwright-core.
 * The administrator types their email, chooses "Sign in with SSO", signs in on the IdP's own login
 * form, accepts its consent page, and lands signed in to the console (the one-time code exchanged
 * by the page); IAM settings then shows the single sign-on section with the redirect URI.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, call, startTestApp, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  newConsolePage,
  reportOnFailure,
  SKIP_BROWSER,
} from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/process.js';

describe.skipIf(SKIP_BROWSER)('single sign-on in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let idp: TestIdp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  reportOnFailure(() => page);

  beforeAll(async () => {
    ensureConsoleBuilt();
    // The redirect URI is registered at the IdP before latchkey listens: the port is chosen first.
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    idp = await startTestIdp([`${origin}/iam/sso/callback`]);
    t = await startTestApp('sqlite', {
      env: { LOG_LEVEL: 'warn', LATCHKEY_PUBLIC_URL: origin, LATCHKEY_SSO_ALLOW_PRIVATE: '1' },
    });
    await t.app.listen({ port, host: '127.0.0.1' });
    const put = await call(t, 'PUT', '/iam/sso', {
      body: {
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        allowedDomains: ['example.com'],
      },
    });
    expect(put.statusCode, put.body).toBe(200);
    idp.accounts.set('admin-at-idp', { email: ADMIN_EMAIL, emailVerified: true });
    browser = await launchChromium();
    page = await newConsolePage(browser, { viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await idp?.close();
  });

  it('asks for the email first', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    await page.getByText('Type your work email above first').waitFor();
  });

  it('signs in through the identity provider and lands in the console', async () => {
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    // The IdP's own pages: its development login form, then its consent page.
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.locator('input[name=login]').fill('admin-at-idp');
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    // The one-time code is gone from the address, and the session is the administrator's, by SSO.
    expect(new URL(page.url()).hash).toBe('');
    const via = await page.evaluate(`(async () => {
      const token = sessionStorage.getItem('latchkey.console.token');
      const me = await fetch('/iam/me', { headers: { authorization: 'Bearer ' + token } });
      return (await me.json()).authenticatedWith;
    })()`);
    expect(via).toBe('sso');
  });

  it('shows the single sign-on settings with the redirect URI', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'IAM settings' }).click();
    await page.getByRole('heading', { name: 'Single sign-on', level: 3 }).waitFor();
    expect(await page.getByTestId('sso-redirect-uri').textContent()).toBe(`${origin}/iam/sso/callback`);
    expect(await page.getByLabel('Issuer URL').inputValue()).toBe(idp.issuer);
  });

  it('shows why single sign-on failed', async () => {
    idp.accounts.set('stranger', { email: 'stranger@example.com', emailVerified: true });
    const context = await browser.newContext();
    const fresh = await context.newPage();
    fresh.setDefaultTimeout(20_000);
    await fresh.goto(`${origin}/console/`);
    await fresh.getByLabel('Email').fill('stranger@example.com');
    await fresh.getByRole('button', { name: 'Sign in with SSO' }).click();
    await fresh.waitForURL((url) => url.origin === idp.issuer);
    await fresh.locator('input[name=login]').fill('stranger');
    await fresh.locator('input[name=password]').fill('any password');
    await fresh.locator('button[type=submit]').click();
    await fresh.getByRole('button', { name: 'Continue' }).click();
    await fresh.getByRole('alert').filter({ hasText: 'SSO_NO_ACCOUNT' }).waitFor();
    await context.close();
  });
});
