/**
 * The console's lists on a 414 px wide phone (users, service accounts, access keys, roles, groups,
 * audit log), in Chromium against a real latchkey (SQLite): the page never scrolls sideways, wide
 * tables scroll inside their own container, and every row's actions can be reached and used.
 * Also the user management a new user looks for: rename, disable, enable, delete, new password,
 * and the server's refusal to lose the last administrator.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, login, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  SKIP_BROWSER,
} from '../helpers/browser.js';

const WIDTH = 414;
const HEIGHT = 896;
// Long, unbroken values are what push a page sideways.
const LONG = {
  name: 'Maximiliana Featherstonehaugh-Wolfeschlegelsteinhausen',
  email: 'maximiliana.featherstonehaugh-wolfeschlegelsteinhausen@accounts.example.com',
};
const SA_NAME = 'nightly-warehouse-synchronisation-loader';
const KEY_NAME = 'warehouse-synchronisation-production-key';
const ROLE_NAME = 'WarehouseSynchronisationOperators';
const GROUP_NAME = 'Warehouse synchronisation operators on call';

describe.skipIf(SKIP_BROWSER)(`console lists at ${WIDTH} px in Chromium`, BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let longUserId: string;
  let saId: string;

  /** Nothing on the page is wider than the screen: no sideways scroll of the page itself. */
  async function noSidewaysScroll(where: string) {
    const width = await page.evaluate<number>('document.scrollingElement.scrollWidth');
    expect(width, `${where}: the page is ${width} px wide`).toBeLessThanOrEqual(WIDTH);
  }

  /** The control can be brought on screen (scrolling its table's own container) and is inside the screen. */
  async function reachable(control: Locator, where: string) {
    await control.scrollIntoViewIfNeeded();
    const box = await control.boundingBox();
    expect(box, `${where}: the control is not rendered`).not.toBeNull();
    if (!box) return;
    expect(box.x, where).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width, where).toBeLessThanOrEqual(WIDTH);
    // Bringing it on screen scrolled the table's container, never the page.
    expect(await page.evaluate<number>('window.scrollX'), where).toBe(0);
    await noSidewaysScroll(where);
  }

  async function open(path: string, heading: string) {
    await page.goto(`${origin}/console${path}`);
    await page.getByRole('heading', { name: heading, level: 2 }).waitFor();
  }

  beforeAll(async () => {
    ensureConsoleBuilt();
    ({ t, origin } = await listeningTestApp());
    longUserId = (await call(t, 'POST', '/iam/users', { body: LONG })).json().id;
    for (const n of [1, 2, 3]) {
      await call(t, 'POST', '/iam/users', {
        body: { email: `person.number.${n}.with.a.long.address@example.com`, name: `Person ${n}` },
      });
    }
    const sa = (
      await call(t, 'POST', '/iam/service-accounts', {
        body: { name: SA_NAME, email: 'warehouse-synchronisation-alerts@operations.example.com' },
      })
    ).json();
    saId = sa.id;
    await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: { name: KEY_NAME } });
    await call(t, 'POST', `/iam/users/${longUserId}/keys`, { body: { name: 'laptop', validityDays: 1 } });
    const role = (
      await call(t, 'POST', '/iam/roles', {
        body: {
          name: ROLE_NAME,
          description: 'Runs and watches the warehouse synchronisation',
          permissions: [
            'agent:read',
            'customer:read',
            'stockitem:read',
            'salesinvoice:read',
            'iam:keys:read',
          ],
        },
      })
    ).json();
    await call(t, 'POST', '/iam/groups', { body: { name: GROUP_NAME, roleIds: [role.id] } });

    browser = await launchChromium();
    page = await newConsolePage(browser, { viewport: { width: WIDTH, height: HEIGHT } });
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('users: no sideways scroll; each row’s actions are reachable and open', async () => {
    await open('/users', 'Users');
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await noSidewaysScroll('users');
    const actions = page.getByRole('button', { name: `Actions for ${LONG.name}` });
    await reachable(actions, 'users: row actions');
    await actions.click();
    await page.getByRole('menuitem', { name: 'Disable user' }).waitFor();
    await page.keyboard.press('Escape');
    await reachable(page.getByRole('link', { name: LONG.name }), 'users: the user link');
  });

  it('a user’s page: no sideways scroll, and its account actions are on screen', async () => {
    await page.goto(`${origin}/console/users/${longUserId}`);
    await page.getByRole('heading', { name: LONG.name }).waitFor();
    await noSidewaysScroll('user page');
    for (const name of ['Rename', 'Disable user', 'Set password', 'Delete user']) {
      await reachable(page.getByRole('button', { name }), `user page: ${name}`);
    }
  });

  it('service accounts: no sideways scroll; each account can be opened', async () => {
    await open('/service-accounts', 'Service accounts');
    await page.getByRole('table', { name: 'Service accounts' }).waitFor();
    await noSidewaysScroll('service accounts');
    await reachable(page.getByRole('link', { name: SA_NAME }), 'service accounts: the account link');
  });

  it('a service account’s page: no sideways scroll; its keys’ actions are reachable', async () => {
    await page.goto(`${origin}/console/service-accounts/${saId}`);
    await page.getByRole('heading', { name: SA_NAME }).waitFor();
    await page.getByRole('table', { name: 'Access keys' }).waitFor();
    await noSidewaysScroll('service account page');
    await reachable(
      page.getByRole('button', { name: `Actions for ${KEY_NAME}` }),
      'service account: key actions',
    );
  });

  it('access keys: no sideways scroll; each key’s actions are reachable and open', async () => {
    await open('/keys', 'Access keys');
    await page.getByRole('table', { name: 'Access keys' }).waitFor();
    await noSidewaysScroll('access keys');
    const actions = page.getByRole('button', { name: `Actions for ${KEY_NAME}` });
    await reachable(actions, 'access keys: row actions');
    await actions.click();
    await page.getByRole('menuitem', { name: 'Key details' }).waitFor();
    await page.keyboard.press('Escape');
  });

  it('roles and groups: no sideways scroll; edit, delete and members are reachable', async () => {
    await open('/groups', 'Groups and roles');
    await page.getByRole('table', { name: 'Roles' }).waitFor();
    await noSidewaysScroll('roles');
    await reachable(page.getByRole('button', { name: `Edit role ${ROLE_NAME}` }), 'roles: edit');
    await reachable(page.getByRole('button', { name: `Delete role ${ROLE_NAME}` }), 'roles: delete');
    await page.getByRole('tab', { name: 'Groups' }).click();
    await page.getByRole('table', { name: 'Groups' }).waitFor();
    await noSidewaysScroll('groups');
    const members = page.getByRole('button', { name: `Members of ${GROUP_NAME}` });
    await reachable(members, 'groups: members');
    await reachable(page.getByRole('button', { name: `Delete group ${GROUP_NAME}` }), 'groups: delete');
    await members.click();
    await page.getByRole('dialog', { name: `Members of ${GROUP_NAME}` }).waitFor();
    await noSidewaysScroll('group members dialog');
    await page.keyboard.press('Escape');
  });

  it('audit log: no sideways scroll; filters open on demand and fit; each entry’s details open', async () => {
    await open('/audit', 'Audit log');
    await page.getByRole('table', { name: 'Audit log' }).waitFor();
    await noSidewaysScroll('audit log');
    // Entries name their targets (and actors), not only their ids.
    await page.getByRole('table', { name: 'Audit log' }).getByText(LONG.name).first().waitFor();
    // On a phone the entries come first; the filters open from their button and fit.
    expect(await page.getByRole('button', { name: 'Apply filters' }).count()).toBe(0);
    const toggle = page.getByRole('button', { name: 'Filters' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    await reachable(page.getByRole('button', { name: 'Apply filters' }), 'audit: apply filters');
    await noSidewaysScroll('audit log with its filters open');
    await page.getByRole('button', { name: 'Hide filters' }).click();
    const details = page.getByRole('button', { name: /^Details of / }).first();
    await reachable(details, 'audit: details');
    await details.click();
    await page.getByRole('dialog').waitFor();
    await noSidewaysScroll('audit details dialog');
    await page.keyboard.press('Escape');
  });

  it('settings: no sideways scroll', async () => {
    await open('/settings', 'IAM settings');
    await noSidewaysScroll('settings');
  });

  it('manages a user end to end: rename, disable, enable, new password, delete; the last administrator stays', async () => {
    const person = (
      await call(t, 'POST', '/iam/users', {
        body: { email: 'temp.person@example.com', name: 'Temp Person', password: 'first-password-1' },
      })
    ).json();
    await page.goto(`${origin}/console/users/${person.id}`);
    await page.getByRole('heading', { name: 'Temp Person' }).waitFor();

    await page.getByLabel('Name', { exact: false }).first().fill('Tess Person');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('heading', { name: 'Tess Person' }).waitFor();
    expect((await call(t, 'GET', `/iam/users/${person.id}`)).json().name).toBe('Tess Person');

    await page.getByRole('button', { name: 'Disable user' }).click();
    const disable = page.getByRole('dialog', { name: 'Disable user' });
    await disable.getByRole('button', { name: 'Disable user' }).click();
    await page.getByRole('button', { name: 'Enable user' }).waitFor();
    expect((await call(t, 'GET', `/iam/users/${person.id}`)).json().status).toBe('disabled');
    await page.getByRole('button', { name: 'Enable user' }).click();
    await page.getByRole('button', { name: 'Disable user' }).waitFor();
    expect((await call(t, 'GET', `/iam/users/${person.id}`)).json().status).toBe('active');

    await page.getByRole('button', { name: 'Set password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Set password of Tess Person' });
    await dialog.getByLabel('New password', { exact: false }).first().fill('second-password-2');
    await dialog.getByLabel('Repeat the new password', { exact: false }).fill('second-password-2');
    await dialog.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('Password set.', { exact: false }).waitFor();
    await expect(login(t, 'temp.person@example.com', 'second-password-2')).resolves.toBeTruthy();

    await page.getByRole('button', { name: 'Delete user' }).click();
    const del = page.getByRole('dialog', { name: 'Delete user' });
    await del.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('heading', { name: 'Users', level: 2 }).waitFor();
    expect((await call(t, 'GET', `/iam/users/${person.id}`)).statusCode).toBe(404);

    // The only administrator (the one signed in) cannot be deleted: the server says so, in the dialog.
    await page.goto(`${origin}/console/users/${t.adminId}`);
    await page.getByRole('button', { name: 'Delete user' }).click();
    const last = page.getByRole('dialog', { name: 'Delete user' });
    await last.getByRole('button', { name: 'Delete user' }).click();
    await last.getByText('LAST_ADMINISTRATOR').waitFor();
    await last.getByText('The last administrator must stay').waitFor();
    expect((await call(t, 'GET', `/iam/users/${t.adminId}`)).statusCode).toBe(200);
  });
});
