/**
 * Traffic limits and usage in the console, end to end: a real latchkey listening on a port
 * (SQLite), Debian's Chromium driven by playwright-core. A key with a rate limit of 3 an hour and a
 * quota is made through the API and signs 5 requests with a real AWS signer (3 admitted, 2
 * throttled); once usage is written, Key details shows the key's limits, its quota's standing and
 * a drawn chart (SVG bars) whose text alternative gives the same counts; the server's INVALID_CIDR
 * shows at the Allowed networks field; the Usage page lists the key.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
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
import { type Credentials, signHeaders } from '../helpers/sign.js';

const HOST = 'latchkey.test';

describe.skipIf(SKIP_BROWSER)('traffic limits and usage in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let key: Credentials & { accessKeyId: string };

  /** A GET of the data API signed with `c`, as an AWS SDK client signs it. */
  const signedGet = async (c: Credentials, path: string) =>
    t.app.inject({
      method: 'GET',
      url: path,
      headers: await signHeaders(c, { method: 'GET', path, host: HOST, date: t.clock.now() }),
    });

  beforeAll(async () => {
    ensureConsoleBuilt();
    ({ t, origin } = await listeningTestApp());
    // Ana reads data (DataReadOnly), with a key limited to 3 requests an hour and 100 a day.
    const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
    const readOnly = roles.find((r) => r.name === 'DataReadOnly')?.id as string;
    const ana = (
      await call(t, 'POST', '/iam/users', { body: { email: 'ana@example.com', name: 'Ana Lim' } })
    ).json();
    await call(t, 'PUT', `/iam/users/${ana.id}/assignments`, { body: { roleIds: [readOnly] } });
    const created = await call(t, 'POST', `/iam/users/${ana.id}/keys`, {
      body: {
        name: 'orders-sync',
        rateLimit: { limit: 3, periodSeconds: 3600 },
        quota: { limit: 100, period: 'day' },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    key = created.json();
    expect(key).toMatchObject({
      rateLimit: { limit: 3, periodSeconds: 3600 },
      quota: { limit: 100, period: 'day' },
      allowedCidrs: null,
    });

    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await signedGet(key, '/agent')).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Usage is counted in memory and written every few seconds: written now.
    await t.runtime.usage.flush();

    browser = await launchChromium();
    page = await newConsolePage(browser, { viewport: { width: 1366, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs in and opens the key’s details from Access keys', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access keys' }).click();
    await page.getByRole('heading', { name: 'Access keys', level: 2 }).waitFor();
    await page.getByRole('button', { name: 'Actions for orders-sync' }).click();
    await page.getByRole('menuitem', { name: 'Key details' }).click();
    await page.getByRole('dialog', { name: 'Key details' }).waitFor();
  });

  it('shows the key’s limits and where its quota stands', async () => {
    const drawer = page.getByRole('dialog', { name: 'Key details' });
    const rules = drawer.getByTestId('traffic-rules');
    await expect.poll(() => rules.textContent()).toContain('3 requests per hour');
    expect(await rules.textContent()).toContain('100 requests per day (UTC)');
    expect(await rules.textContent()).toContain('Any address');
    const quota = drawer.getByTestId('quota-row');
    await expect.poll(() => quota.count()).toBe(1);
    const cells = await quota.getByRole('cell').allTextContents();
    expect(cells[0]).toBe('This key, per day');
    // Admitted requests count towards the quota; the throttled ones do not.
    expect(cells[1]).toBe('3 of 100');
    expect(cells[2]).toBe('97');
  });

  it('draws the usage chart, and its text alternative gives the counts', async () => {
    const drawer = page.getByRole('dialog', { name: 'Key details' });
    const chart = drawer.getByTestId('usage-chart');
    await chart.waitFor();
    await expect
      .poll(() => chart.getByTestId('usage-summary').textContent())
      .toBe('Requests with this key, last 7 days: 5 requests: 3 OK, 2 throttled.');
    // A drawing: an SVG with one bar segment per outcome that happened (this hour's OK and throttled).
    const svg = chart.locator('[data-testid="usage-drawing"] svg.recharts-surface');
    await expect.poll(() => svg.count()).toBe(1);
    await expect.poll(() => svg.locator('.recharts-bar-rectangle path').count()).toBeGreaterThanOrEqual(2);
    // Strings, not functions: the test's TypeScript has no DOM library; these run in the page.
    const fills = await page.evaluate<string[]>(
      `[...new Set([...document.querySelectorAll('[role=dialog] [data-testid="usage-drawing"] .recharts-bar-rectangle path')]
        .map((p) => getComputedStyle(p).fill))]`,
    );
    expect(fills.length).toBeGreaterThanOrEqual(2);
    // Hidden from screen readers, which read the table instead: one row, this hour.
    expect(await chart.getByTestId('usage-drawing').getAttribute('aria-hidden')).toBe('true');
    const table = chart.getByRole('table');
    expect(await table.getByRole('row').count()).toBe(2);
    const row = await table.getByRole('row').nth(1).getByRole('cell').allTextContents();
    // Total, OK, Throttled, Denied, Invalid signature, Expired, Inactive.
    expect(row).toEqual(['5', '3', '2', '0', '0', '0', '0']);

    // 30 days by day: the same requests, one day.
    await drawer.getByText('30 days, by day').click();
    await expect
      .poll(() => chart.getByTestId('usage-summary').textContent())
      .toBe('Requests with this key, last 30 days: 5 requests: 3 OK, 2 throttled.');
    expect(await chart.getByRole('table').getByRole('row').count()).toBe(2);
  });

  it('shows the server’s INVALID_CIDR at Allowed networks, then saves the limits', async () => {
    const drawer = page.getByRole('dialog', { name: 'Key details' });
    // A key manager may change them: the fields open with the key's limits, focus on the first.
    await drawer.getByRole('button', { name: 'Change traffic limits' }).click();
    const rate = drawer.getByLabel('Rate limit (requests)');
    await expect
      .poll(() =>
        page.evaluate<string>(
          `[...(document.activeElement?.labels ?? [])].map((l) => l.textContent).join(' ')`,
        ),
      )
      .toContain('Rate limit (requests)');
    expect(await rate.inputValue()).toBe('3');
    expect(await drawer.getByLabel('Per (seconds)').inputValue()).toBe('3600');
    expect(await drawer.getByLabel('Quota (requests)').inputValue()).toBe('100');
    const networks = drawer.getByLabel('Allowed networks');
    await networks.fill('203.0.113.0/24\n10.0.0.5/8');
    await drawer.getByRole('button', { name: 'Save traffic limits' }).click();
    await expect.poll(() => networks.getAttribute('aria-invalid')).toBe('true');
    expect(await drawer.getByTestId('error-code').textContent()).toBe('INVALID_CIDR');
    // Focus went to the field, which names the bad entry, so fixing it is one step away.
    const focused = await page.evaluate<{ label: string; description: string }>(`(() => {
      const el = document.activeElement;
      const text = (attr) => (el.getAttribute(attr) ?? '').split(/\\s+/).filter(Boolean)
        .map((id) => document.getElementById(id)?.textContent ?? '').join(' ');
      return { label: [...(el.labels ?? [])].map((l) => l.textContent).join(' '), description: text('aria-describedby') };
    })()`);
    expect(focused.label).toContain('Allowed networks');
    expect(focused.description).toContain('"10.0.0.5/8"');
    expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json().allowedCidrs).toBeNull();

    await networks.fill('203.0.113.0/24\n10.0.0.0/8');
    await drawer.getByLabel('Rate limit (requests)').fill('10');
    await drawer.getByRole('button', { name: 'Save traffic limits' }).click();
    await drawer.getByText('Traffic limits saved.').waitFor();
    await expect
      .poll(() => drawer.getByTestId('traffic-rules').textContent())
      .toContain('203.0.113.0/24, 10.0.0.0/8');
    expect((await call(t, 'GET', `/iam/keys/${key.accessKeyId}`)).json()).toMatchObject({
      rateLimit: { limit: 10, periodSeconds: 3600 },
      quota: { limit: 100, period: 'day' },
      allowedCidrs: ['203.0.113.0/24', '10.0.0.0/8'],
    });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });

  it('lists the key on the Usage page, with its counts and the tenant’s chart', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage', level: 2 }).waitFor();
    await expect.poll(() => page.title()).toBe('Usage · latchkey');
    const row = page.getByTestId('usage-item').filter({ hasText: 'orders-sync' });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells[0]).toContain(key.accessKeyId);
    // Owner, Total, OK, Throttled, Denied, Invalid signature, Expired, Inactive.
    expect(cells.slice(1)).toEqual(['ana@example.com', '5', '3', '2', '0', '0', '0', '0']);
    const summary = (await page.getByTestId('usage-summary').textContent()) ?? '';
    expect(summary).toContain('2 throttled');
    await expect
      .poll(() => page.locator('[data-testid="usage-drawing"] svg .recharts-bar-rectangle path').count())
      .toBeGreaterThanOrEqual(2);

    // By owner: Ana, with the same counts; her name leads to her page.
    await page.getByText('Owners', { exact: true }).click();
    const ana = page.getByTestId('usage-item').filter({ hasText: 'ana@example.com' });
    await ana.waitFor();
    expect((await ana.getByRole('cell').allTextContents()).slice(1, 4)).toEqual(['User', '5', '3']);

    // A key's name opens its details in place.
    await page.getByText('Keys', { exact: true }).click();
    await page.getByRole('button', { name: 'orders-sync' }).click();
    await page.getByRole('dialog', { name: 'Key details' }).getByTestId('usage-chart').waitFor();
  });
});
