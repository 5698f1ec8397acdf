/**
 * The console's APIs page end to end: a real latchkey listening on a port (SQLite), a real upstream,
 * Debian's Chromium driven by playwright-core. An administrator registers an API through the form
 * (routes added and reordered), sees it listed and the roles that grant each of its permissions,
 * downloads its Postman collection, and runs Test Connection with a real key: the browser signs the
 * request, latchkey forwards it, and the upstream's answer shows in the page; the upstream saw the
 * key in x-latchkey-access-key.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  SKIP_BROWSER,
} from '../helpers/browser.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const ANA = { email: 'ana@example.com', name: 'Ana Lim' };

describe.skipIf(SKIP_BROWSER)('the APIs page in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let upstream: TestUpstream;
  let browser: Browser;
  let page: Page;
  let apiId = '';
  let key: { accessKeyId: string; secretAccessKey: string };

  // Strings, not functions: the test's TypeScript has no DOM library; these run in the page.
  const focusedName = () =>
    page.evaluate<string>(
      `(document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent || '').trim()`,
    );

  /** A route row of the form: its method, path and permission. */
  async function fillRoute(n: number, method: string, path: string, permission: string) {
    const row = page.getByRole('group', { name: `Route ${n}`, exact: true });
    await row.getByLabel('Method').selectOption(method);
    await row.getByLabel('Path').fill(path);
    await row.getByLabel('Permission').fill(permission);
  }

  beforeAll(async () => {
    ensureConsoleBuilt();
    upstream = await startUpstream();
    ({ t, origin } = await listeningTestApp());

    // Ana reads data (DataReadOnly: *:read), and holds a key: made through the admin API.
    const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
    const readOnly = roles.find((r) => r.name === 'DataReadOnly')?.id as string;
    const ana = (await call(t, 'POST', '/iam/users', { body: ANA })).json();
    await call(t, 'PUT', `/iam/users/${ana.id}/assignments`, { body: { roleIds: [readOnly] } });
    const created = await call(t, 'POST', `/iam/users/${ana.id}/keys`, { body: { name: 'orders-client' } });
    expect(created.statusCode, created.body).toBe(201);
    key = created.json();

    browser = await launchChromium();
    page = await newConsolePage(browser, { viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await upstream?.close();
  });

  it('signs in and opens APIs from the navigation', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'APIs' }).click();
    await page.getByRole('heading', { name: 'APIs', level: 2 }).waitFor();
    await page.getByText('No APIs registered yet').waitFor();
    await expect.poll(() => page.title()).toBe('APIs · latchkey');
  });

  it('opens Register API as a titled dialog that Escape closes, focus back on its button', async () => {
    const register = page.getByRole('button', { name: 'Register API' });
    await register.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Register API' }).waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await expect.poll(focusedName).toBe('Register API');
  });

  it('registers an API through the form: routes added, reordered, one removed', async () => {
    await page.getByRole('button', { name: 'Register API' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register API' });
    await dialog.getByLabel('Name').fill('orders');
    await dialog.getByLabel('Base path').fill('/api/orders');
    await dialog.getByLabel('Upstream URL').fill(upstream.url);
    await dialog.getByLabel('Upstream timeout (ms)').fill('5000');
    await fillRoute(1, 'POST', '/items', 'orders:write');
    await dialog.getByRole('button', { name: 'Add route' }).click();
    // The new route's path has focus: typing goes there.
    await page.keyboard.type('/scratch');
    await fillRoute(2, 'DELETE', '/scratch', 'orders:admin');
    await dialog.getByRole('button', { name: 'Add route' }).click();
    await fillRoute(3, 'GET', '/items/*', 'orders:read');
    // GET to the top, with the keyboard: its Move up button keeps focus between presses.
    await dialog.getByRole('button', { name: 'Move route 3 up' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(focusedName).toBe('Move route 2 up');
    await page.keyboard.press('Enter');
    await expect.poll(focusedName).toBe('Move route 1 down');
    await dialog.getByRole('button', { name: 'Remove route 3' }).click();
    await dialog.getByRole('button', { name: 'Register API' }).click();

    // The API's own page opens.
    await page.getByRole('heading', { name: 'orders', level: 2 }).waitFor();
    apiId = page.url().split('/').at(-1) ?? '';
    const stored = (await call(t, 'GET', `/iam/apis/${apiId}`)).json();
    expect(stored.routes).toEqual([
      { method: 'GET', path: '/items/*', permission: 'orders:read' },
      { method: 'POST', path: '/items', permission: 'orders:write' },
    ]);
    expect(stored).toMatchObject({ basePath: '/api/orders', upstream: upstream.url, timeoutMs: 5000 });
  });

  it('shows the routes in order and the roles that grant each permission', async () => {
    const routes = page.getByRole('table', { name: 'Routes of orders, in order' }).getByRole('row');
    await expect
      .poll(() => routes.allTextContents())
      .toEqual(['#MethodPathPermission', '1GET/items/*orders:read', '2POST/itemsorders:write']);
    const permissions = page.getByTestId('api-permission');
    const read = await permissions.filter({ hasText: 'orders:read' }).textContent();
    expect(read).toContain('Administrator');
    expect(read).toContain('DataReadOnly');
    const write = await permissions.filter({ hasText: 'orders:write' }).textContent();
    expect(write).toContain('Administrator');
    expect(write).not.toContain('DataReadOnly');
  });

  it('lists it with its base path, upstream and number of routes', async () => {
    await page.getByRole('link', { name: '← All APIs' }).click();
    const row = page.getByTestId('api-row').filter({ hasText: 'orders' });
    await row.waitFor();
    expect(await row.getByRole('cell').allTextContents()).toEqual([
      'orders',
      '/api/orders',
      upstream.url,
      '2',
      'Edit',
    ]);
    await row.getByRole('link', { name: 'orders' }).click();
    await page.getByRole('heading', { name: 'orders', level: 2 }).waitFor();
  });

  it('downloads its Postman collection', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download Postman collection' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('orders.postman_collection.json');
    const collection = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(collection.info.schema).toBe(
      'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    );
    expect(collection.auth.type).toBe('awsv4');
  });

  it("Test Connection signs GET in the browser with a real key and shows the upstream's answer", async () => {
    const received = upstream.received.length;
    await page.getByLabel('Route', { exact: true }).selectOption({ label: 'GET /items/* (orders:read)' });
    await page.getByLabel('Rest of the path (/*)').fill('42');
    await page.getByLabel('Access key ID').fill(key.accessKeyId);
    await page.getByLabel('Secret key').fill(key.secretAccessKey);
    await page.getByRole('button', { name: 'Test Connection' }).click();
    const result = page.getByTestId('api-test-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('HTTP 200');
    expect(JSON.parse((await page.getByTestId('api-test-body').textContent()) ?? '')).toEqual({
      ok: true,
      path: '/items/42',
    });

    // The upstream got the request, with the key latchkey verified.
    const got = upstream.received.slice(received);
    expect(got).toHaveLength(1);
    expect(got[0]?.method).toBe('GET');
    expect(got[0]?.url).toBe('/items/42');
    expect(got[0]?.headers['x-latchkey-access-key']).toBe(key.accessKeyId);
    expect(got[0]?.headers.authorization).toBeUndefined();

    // The sample cURL names the key, not the secret; the secret is in no storage of the page.
    const curl = (await page.getByTestId('api-sample-curl').textContent()) ?? '';
    expect(curl).toContain(`${origin}/api/orders/items/42`);
    expect(curl).toContain(key.accessKeyId);
    expect(curl).not.toContain(key.secretAccessKey);
    const storage = await page.evaluate<string>('JSON.stringify({ ...sessionStorage, ...localStorage })');
    expect(storage).not.toContain(key.secretAccessKey);
  });

  it("explains latchkey's refusal: a wrong secret, and a route the key may not use", async () => {
    const received = upstream.received.length;
    // The secret with its last character changed (whatever it was).
    const wrong = key.secretAccessKey.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'));
    await page.getByLabel('Secret key').fill(wrong);
    await page.getByRole('button', { name: 'Test Connection' }).click();
    await expect.poll(() => page.getByTestId('api-test-result').textContent()).toContain('HTTP 403');
    expect(await page.getByTestId('api-test-code').textContent()).toBe('SignatureDoesNotMatch');
    expect(await page.getByTestId('api-test-hint').textContent()).toContain('secret key');

    // A GET route Ana's DataReadOnly does not reach (orders:admin is not a read).
    await call(t, 'PATCH', `/iam/apis/${apiId}`, {
      body: {
        routes: [
          { method: 'GET', path: '/items/*', permission: 'orders:read' },
          { method: 'GET', path: '/admin', permission: 'orders:admin' },
        ],
      },
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Test Connection' }).waitFor();
    await page.getByLabel('Route', { exact: true }).selectOption({ label: 'GET /admin (orders:admin)' });
    await page.getByLabel('Access key ID').fill(key.accessKeyId);
    await page.getByLabel('Secret key').fill(key.secretAccessKey);
    await page.getByRole('button', { name: 'Test Connection' }).click();
    await expect.poll(() => page.getByTestId('api-test-code').textContent()).toBe('AccessDenied');
    expect(await page.getByTestId('api-test-result').textContent()).toContain('HTTP 403');
    expect(await page.getByTestId('api-test-hint').textContent()).toContain('it needs orders:admin');
    expect(upstream.received.length).toBe(received);
  });

  it('deletes the API after confirming', async () => {
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete API' });
    await dialog.getByRole('button', { name: 'Delete API' }).click();
    await page.getByRole('heading', { name: 'APIs', level: 2 }).waitFor();
    await page.getByText('No APIs registered yet').waitFor();
    expect((await call(t, 'GET', `/iam/apis/${apiId}`)).statusCode).toBe(404);
  });
});
