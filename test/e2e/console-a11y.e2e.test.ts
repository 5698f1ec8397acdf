/**
 * The console for everyone: every screen and dialog checked with axe-core (WCAG 2.0 and 2.1, A and
 * AA rules) in Chromium, in light and dark, at desktop (1366 × 900) and phone (390 × 844) width.
 * On the phone no screen scrolls sideways and every button is a 44 × 44 px tap target; in dark
 * mode the console follows the system's colour scheme. axe-core comes from npm and is injected by
 * the test; a real latchkey (SQLite) answers.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
import { ROOT } from '../helpers/process.js';
import { signHeaders } from '../helpers/sign.js';

// `npm run screenshots` saves every screen checked, per combination, under docs/screenshots/.
const SHOTS = process.env.LATCHKEY_SCREENSHOTS === '1' ? `${ROOT}docs/screenshots/` : null;

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1366, height: 900 };
/** WCAG 2.5.5's size, asked for on phones. */
const TAP = 44;

const COMBOS = [
  { name: 'desktop, light', dir: 'light', viewport: DESKTOP, scheme: 'light' },
  { name: 'desktop, dark', dir: 'dark', viewport: DESKTOP, scheme: 'dark' },
  { name: 'phone, light', dir: 'phone-light', viewport: PHONE, scheme: 'light' },
  { name: 'phone, dark', dir: 'phone-dark', viewport: PHONE, scheme: 'dark' },
] as const;

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: Array<{ target: string[]; failureSummary: string }>;
}

/** axe-core's critical and serious violations on the page as it is now, one line each. */
async function audit(page: Page, where: string): Promise<string[]> {
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate<Violation[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(TAGS)} }, resultTypes: ['violations'] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  );
  return violations
    .filter((v) => v.impact === 'critical' || v.impact === 'serious')
    .map(
      (v) =>
        `${where}: ${v.impact} ${v.id} (${v.help}) on ${v.nodes.length}: ${v.nodes
          .slice(0, 4)
          .map((n) => `${n.target.join(' ')} [${n.failureSummary.replace(/\s+/g, ' ').slice(0, 160)}]`)
          .join('; ')}`,
    );
}

/**
 * Structure axe rates below serious, checked here: one banner landmark (a dialog's header is not
 * one), no heading inside another, and no skipped level going down inside a dialog (h2 → h4).
 */
async function structure(page: Page, where: string): Promise<string[]> {
  const problems = await page.evaluate<string[]>(`(() => {
    const shown = (el) => el.getClientRects().length > 0;
    const problems = [];
    const banners = [...document.querySelectorAll('header, [role=banner]')].filter(
      (h) => shown(h) && (h.getAttribute('role') === 'banner' || !h.parentElement.closest('main, section, article, aside, nav')),
    );
    if (banners.length > 1) problems.push(banners.length + ' banner landmarks');
    const headings = 'h1, h2, h3, h4, h5, h6';
    for (const h of document.querySelectorAll(headings)) {
      if (shown(h) && h.parentElement.closest(headings)) problems.push('a heading inside a heading: ' + h.textContent);
    }
    for (const dialog of document.querySelectorAll('[role=dialog]')) {
      let previous = 1;
      for (const h of dialog.querySelectorAll(headings)) {
        if (!shown(h)) continue;
        const level = Number(h.tagName[1]);
        if (level > previous + 1) problems.push('h' + previous + ' then h' + level + ' (' + h.textContent + ')');
        previous = level;
      }
    }
    return problems;
  })()`);
  return problems.map((p) => `${where}: ${p}`);
}

/** On a phone: the page is no wider than the screen, and every visible button is a 44 px target. */
async function phoneLayout(page: Page, where: string): Promise<string[]> {
  const problems: string[] = [];
  const width = await page.evaluate<number>('document.scrollingElement.scrollWidth');
  if (width > PHONE.width) problems.push(`${where}: the page is ${width} px wide`);
  const small = await page.evaluate<string[]>(`
    [...document.querySelectorAll('button, [role=button], a.mantine-NavLink-root, [role=menuitem], [role=tab]')]
      .filter((el) => {
        const r = el.getBoundingClientRect();
        const hidden = r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden';
        return !hidden && !el.closest('[aria-hidden=true]') && (r.width < ${TAP} - 0.5 || r.height < ${TAP} - 0.5);
      })
      .map((el) => (el.getAttribute('aria-label') || el.textContent || el.tagName).trim().slice(0, 40) +
        ' ' + Math.round(el.getBoundingClientRect().width) + '×' + Math.round(el.getBoundingClientRect().height))`);
  if (small.length > 0) problems.push(`${where}: tap targets under ${TAP} px: ${small.join(', ')}`);
  // The header does not scroll: each of its controls must be inside the screen.
  const cut = await page.evaluate<string[]>(`
    [...document.querySelectorAll('header button, header a')]
      .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && (r.left < 0 || r.right > ${PHONE.width}); })
      .map((el) => (el.getAttribute('aria-label') || el.textContent || el.tagName).trim())`);
  if (cut.length > 0) problems.push(`${where}: header controls off screen: ${cut.join(', ')}`);
  return problems;
}

const SUITE = 'console accessibility in Chromium (axe-core, WCAG 2.0/2.1 A and AA)';

describe.skipIf(SKIP_BROWSER)(SUITE, BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let saId: string;
  let apiId: string;
  let webhookId: string;

  beforeAll(async () => {
    ensureConsoleBuilt();
    // A webhook endpoint on 127.0.0.1 (nothing listens there: the pages only show it).
    ({ t, origin } = await listeningTestApp({ env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } }));
    const ana = (
      await call(t, 'POST', '/iam/users', { body: { email: 'ana@example.com', name: 'Ana Lim' } })
    ).json();
    await call(t, 'POST', `/iam/users/${ana.id}/keys`, { body: { name: 'laptop', validityDays: 5 } });
    await call(t, 'POST', '/iam/users', { body: { email: 'bob@example.com', name: 'Bob Tan' } });
    const sa = (
      await call(t, 'POST', '/iam/service-accounts', {
        body: { name: 'etl-loader', email: 'etl@example.com' },
      })
    ).json();
    saId = sa.id;
    // A key with traffic limits and some use, so Key details draws its chart and quota.
    const nightly = (
      await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, {
        body: {
          name: 'nightly',
          rateLimit: { limit: 2, periodSeconds: 3600 },
          quota: { limit: 1000, period: 'month' },
          allowedCidrs: ['127.0.0.0/8', '203.0.113.0/24'],
        },
      })
    ).json();
    for (let i = 0; i < 4; i++) {
      await t.app.inject({
        method: 'GET',
        url: '/agent',
        headers: await signHeaders(nightly, { method: 'GET', path: '/agent', host: 'latchkey.test' }),
      });
    }
    await t.runtime.usage.flush();
    const role = (
      await call(t, 'POST', '/iam/roles', {
        body: { name: 'Readers', description: 'Reads agents', permissions: ['agent:read'] },
      })
    ).json();
    await call(t, 'POST', '/iam/groups', { body: { name: 'Readers group', roleIds: [role.id] } });
    // A registered API (its upstream need not answer: the pages only show it).
    apiId = (
      await call(t, 'POST', '/iam/apis', {
        body: {
          name: 'orders',
          basePath: '/api/orders',
          upstream: 'http://127.0.0.1:9/orders/v1',
          routes: [
            { method: 'GET', path: '/items/*', permission: 'orders:read' },
            { method: 'POST', path: '/items', permission: 'orders:write' },
          ],
        },
      })
    ).json().id;
    webhookId = (
      await call(t, 'POST', '/iam/webhooks', {
        body: { url: 'http://127.0.0.1:9/hooks', events: ['access_key.expiring', 'audit.*'] },
      })
    ).json().id;
    await call(t, 'POST', `/iam/webhooks/${webhookId}/test`, { body: {} });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const combo of COMBOS) {
    // One retry, with a Chromium of its own each time: in three of four CI runs on a fresh clone the
    // fourth combination stalled for 20 s loading a page (at a different page each time, also with
    // a browser of its own), never in a local full run, alone or beside the heavy suites. A stall
    // twice in a row still fails; the audit itself is never retried into passing.
    it(`${combo.name}: no critical or serious violation on any screen or dialog`, {
      retry: 1,
      timeout: 240_000,
    }, async () => {
      await browser?.close();
      browser = await launchChromium();
      const page = await newConsolePage(browser, { viewport: combo.viewport, colorScheme: combo.scheme });
      const phone = combo.viewport === PHONE;
      const found: string[] = [];
      const check = async (where: string) => {
        // Let opening transitions finish: axe reads colours mid-fade otherwise.
        await page.waitForTimeout(300);
        found.push(...(await audit(page, where)));
        found.push(...(await structure(page, where)));
        if (phone) found.push(...(await phoneLayout(page, where)));
        if (SHOTS) {
          mkdirSync(`${SHOTS}${combo.dir}`, { recursive: true });
          const file = where.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
          await page.screenshot({ path: `${SHOTS}${combo.dir}/${file}.jpg`, type: 'jpeg', quality: 70 });
        }
      };
      const open = async (path: string, heading: string | RegExp) => {
        await page.goto(`${origin}/console${path}`);
        await page.getByRole('heading', { name: heading, level: 2 }).first().waitFor();
        await expect.poll(() => page.getByLabel(/^Loading/).count()).toBe(0);
      };
      const closeDialog = async () => {
        await page.keyboard.press('Escape');
        await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
      };

      await page.goto(`${origin}/console/`);
      await page.getByLabel('Email').waitFor();
      // The system's scheme is followed: dark asked, dark shown.
      const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      const [r = 0, g = 0, b = 0] = (background.match(/\d+/g) ?? []).map(Number);
      const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      if (combo.scheme === 'dark') expect(luminance, `body ${background}`).toBeLessThan(0.3);
      else expect(luminance, `body ${background}`).toBeGreaterThan(0.7);
      await check('sign-in');
      await page.getByLabel('Email').fill(ADMIN_EMAIL);
      await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();

      await open('/users', 'Users');
      await check('users');
      // A user of its own: each run generates that user's API secret key.
      const person = `Person ${combo.name.replace(/\W+/g, ' ')}`;
      const userId = (
        await call(t, 'POST', '/iam/users', {
          body: { email: `${combo.name.replace(/\W+/g, '.')}.${Date.now()}@example.com`, name: person },
        })
      ).json().id;
      await open(`/users/${userId}`, person);
      await check('user detail');
      await page.getByRole('button', { name: 'More' }).click();
      await page.getByRole('menuitem', { name: 'API Secret Key' }).waitFor();
      await check('user detail, More menu');
      await page.getByRole('menuitem', { name: 'API Secret Key' }).click();
      const secretDialog = page.getByRole('dialog', { name: 'API Secret Key' });
      await secretDialog.getByRole('button', { name: 'Generate API Secret Key' }).click();
      await secretDialog.getByTestId('reveal-secret-key').waitFor();
      await check('API secret key dialog');
      // Each key whole: its field shows every character (no scrolling inside it), and the
      // window's close button is on screen.
      const clipped = await page.evaluate<string[]>(
        `[...document.querySelectorAll('[data-testid^="reveal-"]')]
          .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
          .map((el) => el.getAttribute('data-testid'))`,
      );
      expect(clipped, combo.name).toEqual([]);
      const closeBox = await secretDialog
        .getByRole('button', { name: 'Close (the secret key is not shown again)' })
        .boundingBox();
      expect(closeBox && closeBox.x + closeBox.width <= combo.viewport.width, combo.name).toBe(true);
      await secretDialog.getByRole('button', { name: 'I have saved the secret key — close' }).click();
      await expect.poll(() => page.getByRole('dialog').count()).toBe(0);

      await open('/service-accounts', 'Service accounts');
      await check('service accounts');
      await open(`/service-accounts/${saId}`, 'etl-loader');
      await check('service account detail');
      await page.getByRole('button', { name: 'Add access' }).click();
      await page.getByRole('dialog', { name: 'Add access' }).waitFor();
      await check('Add access dialog');
      await closeDialog();

      await open('/keys', 'Access keys');
      await check('access keys');
      await page.getByRole('button', { name: 'Add key' }).click();
      await page.getByRole('dialog', { name: 'Add key' }).waitFor();
      await check('Add key dialog');
      await closeDialog();
      await page.getByRole('button', { name: 'Actions for nightly' }).click();
      await page.getByRole('menuitem', { name: 'Key details' }).waitFor();
      await check('key Actions menu');
      await page.getByRole('menuitem', { name: 'Key details' }).click();
      await page.getByRole('dialog', { name: 'Key details' }).getByTestId('usage-chart').waitFor();
      await check('Key details drawer, with its usage chart');
      await page.getByRole('button', { name: 'Change traffic limits' }).click();
      await page.getByRole('dialog', { name: 'Key details' }).getByLabel('Allowed networks').waitFor();
      await check('Key details drawer, editing traffic limits');
      await closeDialog();
      await page.getByRole('button', { name: 'Actions for nightly' }).click();
      await page.getByRole('menuitem', { name: 'Delete' }).click();
      await page.getByRole('dialog').waitFor();
      await check('confirm dialog');
      await closeDialog();

      await open('/usage', 'Usage');
      await page.getByTestId('usage-item').first().waitFor();
      await check('usage');
      await page.getByText('Owners', { exact: true }).click();
      await page.getByTestId('usage-item').filter({ hasText: 'etl-loader' }).waitFor();
      await check('usage by owner');

      await open('/groups', 'Groups and roles');
      await check('groups');
      await page.getByRole('tab', { name: 'Roles' }).click();
      await check('roles');
      await open('/apis', 'APIs');
      await check('APIs');
      await page.getByRole('button', { name: 'Register API' }).click();
      const register = page.getByRole('dialog', { name: 'Register API' });
      await register.getByRole('button', { name: 'Add route' }).click();
      await register.getByRole('group', { name: 'Route 2', exact: true }).waitFor();
      await check('Register API dialog');
      await closeDialog();
      await open(`/apis/${apiId}`, 'orders');
      await check('API details');
      // A refused Test Connection: the answer, its code and its hint.
      await page.getByLabel('Rest of the path (/*)').fill('42');
      await page.getByLabel('Access key ID').fill('LKIA0000000000000000000000');
      await page.getByLabel('Secret key').fill('not-the-secret');
      await page.getByRole('button', { name: 'Test Connection' }).click();
      await page.getByTestId('api-test-result').waitFor();
      await check('API Test Connection result');
      await open('/webhooks', 'Webhooks');
      await check('webhooks');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByRole('dialog', { name: 'Add webhook endpoint' }).waitFor();
      await check('Add webhook endpoint dialog');
      await closeDialog();
      await open(`/webhooks/${webhookId}`, 'http://127.0.0.1:9/hooks');
      await page.getByTestId('delivery-row').first().waitFor();
      await check('webhook details and delivery log');
      await open('/settings', 'IAM settings');
      await check('settings');
      await open('/audit', 'Audit log');
      await check('audit log');

      await page.getByTestId('notification-bell').click();
      await page.getByRole('dialog', { name: 'Notifications' }).waitFor();
      await check('notifications');
      await closeDialog();
      await page.getByRole('button', { name: 'Your account' }).click();
      await page.getByRole('menuitem', { name: 'Change password' }).click();
      await page.getByRole('dialog', { name: 'Change password' }).waitFor();
      await check('Change password dialog');
      await closeDialog();

      await page.context().close();
      expect(found).toEqual([]);
    });
  }
});
