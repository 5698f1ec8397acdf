/**
 * The seed's paths with the keyboard alone, in Chromium against a real latchkey (SQLite): sign in,
 * generate a user's API Secret Key (user detail → More → API Secret Key), Add key → Key details →
 * copy, and Add access on a service account. At every Tab stop the focus is visible; opening a
 * menu focuses its first item; a page change focuses the page's heading and names the document;
 * Escape does not throw a new secret away; closing a dialog returns focus to what opened it.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  reportOnFailure,
  SKIP_BROWSER,
} from '../helpers/browser.js';

interface Focused {
  tag: string;
  role: string;
  name: string;
  /** An outline or a box shadow marks it. */
  visible: boolean;
  inDialog: boolean;
}

// A string, not a function: the test's TypeScript has no DOM library; this runs in the page.
const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { tag: 'BODY', role: '', name: '', visible: false, inDialog: false };
  const s = getComputedStyle(el);
  // A multi-select focuses an inner field; the ring is on its box (console.css).
  const box = el.closest('.mantine-PillsInput-input');
  const ringed = (x) => { const c = getComputedStyle(x); return c.outlineStyle !== 'none' && parseFloat(c.outlineWidth) >= 1; };
  const outline = ringed(el) || Boolean(box && ringed(box));
  const label = el.labels && el.labels[0] ? el.labels[0].textContent : '';
  return {
    tag: el.tagName,
    role: el.getAttribute('role') || el.tagName.toLowerCase(),
    name: (el.getAttribute('aria-label') || label || el.textContent || '').trim(),
    visible: outline || (s.boxShadow !== 'none' && s.boxShadow !== ''),
    inDialog: Boolean(el.closest('[role=dialog]')),
  };
})()`;

describe.skipIf(SKIP_BROWSER)('the seed paths with the keyboard alone (Chromium)', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;

  const focused = () => page.evaluate<Focused>(FOCUSED);

  /** Tab (or Shift+Tab) until `name` has focus, checking the focus ring at every stop on the way. */
  async function tabTo(name: string | RegExp, options: { back?: boolean; max?: number } = {}) {
    const seen: string[] = [];
    for (let i = 0; i < (options.max ?? 60); i++) {
      await page.keyboard.press(options.back ? 'Shift+Tab' : 'Tab');
      const f = await focused();
      seen.push(f.name.slice(0, 40));
      // Past the last stop the browser's own controls come next (the page's body here).
      if (f.tag === 'BODY') continue;
      expect(f.visible, `no visible focus on ${f.role} "${f.name}"`).toBe(true);
      // A required field's label ends with its asterisk ("Key name *").
      const bare = f.name.replace(/\s*\*$/, '');
      if (typeof name === 'string' ? bare === name : name.test(bare)) return f;
    }
    throw new Error(`"${name}" never took focus; stops: ${seen.join(' → ')}`);
  }

  /** The page's heading has focus and names the document. */
  async function onPage(heading: string) {
    await expect.poll(async () => (await focused()).name, { timeout: 8_000 }).toBe(heading);
    expect((await focused()).tag).toBe('H2');
    await expect.poll(() => page.title()).toMatch(new RegExp(`^${heading} · `));
  }

  const dialogs = () => page.getByRole('dialog').count();

  reportOnFailure(() => page);
  // Each test starts from a page without dialogs: one that failed midway (or its retry in CI) does
  // not fail the next. On the Users page, so that a test's keyboard path to its own page is a page
  // change (the session survives the load: sessionStorage).
  beforeEach(async () => {
    if (page && (await dialogs()) > 0) {
      await page.goto(`${origin}/console/users`);
      await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    }
  });

  beforeAll(async () => {
    ensureConsoleBuilt();
    ({ t, origin } = await listeningTestApp());
    await call(t, 'POST', '/iam/users', { body: { email: 'ana@example.com', name: 'Ana Lim' } });
    await call(t, 'POST', '/iam/service-accounts', {
      body: { name: 'etl-loader', email: 'etl@example.com' },
    });
    browser = await launchChromium();
    page = await newConsolePage(browser, {
      viewport: { width: 1366, height: 900 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs in; the first Tab stop skips to the content; the Users page heading takes focus', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').waitFor();
    expect(await page.title()).toBe('Sign in · latchkey');
    await tabTo('Email');
    await page.keyboard.type(ADMIN_EMAIL);
    await tabTo('Password');
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await onPage('Users');
    // From the top of a freshly loaded page, the first stop is the skip link; it lands in the content.
    await page.reload();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    await page.keyboard.press('Tab');
    expect((await focused()).name).toBe('Skip to main content');
    expect((await focused()).visible).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate<string>('document.activeElement.id')).toBe('main');
  });

  it("generates a user's API Secret Key: More → API Secret Key, Escape keeps the secret, focus returns to More", async () => {
    await tabTo('Ana Lim');
    await page.keyboard.press('Enter');
    await onPage('Ana Lim');
    await tabTo('More');
    await page.keyboard.press('Enter');
    // The menu-button pattern: the first item has focus, visibly.
    await expect.poll(async () => (await focused()).name).toBe('API Secret Key');
    expect((await focused()).role).toBe('menuitem');
    expect((await focused()).visible).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'API Secret Key' }).waitFor();
    expect((await focused()).inDialog).toBe(true);
    await tabTo('Generate API Secret Key');
    await page.keyboard.press('Enter');
    const secret = page.getByTestId('reveal-secret-key');
    await secret.waitFor();
    const value = await secret.inputValue();

    await page.keyboard.press('Escape');
    await page.getByRole('alert').filter({ hasText: 'Escape does not close this window' }).waitFor();
    await expect.poll(dialogs).toBe(1);
    await page.getByRole('dialog', { name: 'API Secret Key' }).getByTestId('reveal-secret-key').waitFor();
    expect(await secret.inputValue()).toBe(value);

    await tabTo('Copy secret key');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(value);
    await tabTo('I have saved the secret key — close');
    await page.keyboard.press('Enter');
    await expect.poll(dialogs).toBe(0);
    await expect.poll(async () => (await focused()).name).toBe('More');
  });

  it('Add key → Key details → copy all, with focus back on Add key after the pane closes', async () => {
    // Keyboard navigation to the page: the main navigation's link.
    await tabTo('Access keys', { back: true });
    await page.keyboard.press('Enter');
    await onPage('Access keys');
    await tabTo('Add key');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Add key' }).waitFor();
    await tabTo('Key name');
    await page.keyboard.type('ingest');
    await tabTo('Confirm');
    await page.keyboard.press('Enter');
    const pane = page.getByRole('dialog', { name: 'Key details' });
    await pane.getByTestId('reveal-secret-key').waitFor();
    const accessKey = await pane.getByTestId('reveal-access-key').inputValue();
    const secretKey = await pane.getByTestId('reveal-secret-key').inputValue();

    await page.keyboard.press('Escape');
    await pane.getByRole('alert').filter({ hasText: 'Escape does not close this window' }).waitFor();
    await tabTo('Copy all: access key, secret key and tenant ID');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.evaluate<string>('navigator.clipboard.readText()'))
      .toBe(`key:${accessKey}::${secretKey},tenant id: ${t.tenantId}`);
    await tabTo('Close key details', { back: true });
    await page.keyboard.press('Enter');
    await expect.poll(dialogs).toBe(0);
    await expect.poll(async () => (await focused()).name).toBe('Add key');
  });

  it('Add access on a service account, with focus back on Add access', async () => {
    await tabTo('Service accounts', { back: true });
    await page.keyboard.press('Enter');
    await onPage('Service accounts');
    await tabTo('etl-loader');
    await page.keyboard.press('Enter');
    await onPage('etl-loader');
    await tabTo('Add access');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Add access' }).waitFor();
    await tabTo('Key name');
    await page.keyboard.type('nightly');
    await tabTo('Create');
    await page.keyboard.press('Enter');
    await page
      .getByRole('dialog', { name: 'API and secret keys' })
      .getByTestId('reveal-secret-key')
      .waitFor();
    await tabTo('I have saved the secret key — close');
    await page.keyboard.press('Enter');
    await expect.poll(dialogs).toBe(0);
    await expect.poll(async () => (await focused()).name).toBe('Add access');
  });
});
