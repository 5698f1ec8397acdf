/**
 * The console's side of least privilege, end to end in Chromium against a real latchkey (SQLite):
 * choosing a tenant when one email and password sign in to several, offering only what the
 * signed-in person can grant, and staying signed in across one's own password change while every
 * older session ends.
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantAsOperator } from '../../src/identity/tenants.js';
import { call, login, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  CHROMIUM,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  SKIP_BROWSER,
} from '../helpers/browser.js';

const MULTI = { email: 'multi@example.com', name: 'Mia Multi', password: 'same-password-in-both' };
const MANAGER = { email: 'um@example.com', name: 'Uma Manager', password: 'user-manager-password' };
const BOB = { email: 'bob@example.com', name: 'Bob Tan', password: 'bob-password-1234' };
const PAT = { email: 'pat@example.com', name: 'Pat Lee', password: 'pat-first-password' };
const GRANT_REASON = 'You can grant only what you hold yourself.';

describe.skipIf(SKIP_BROWSER)('console security in Chromium', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let betaId: string;
  let bobId: string;
  let userManagerRoleId: string;

  const sessionToken = () => page.evaluate<string | null>("sessionStorage.getItem('latchkey.console.token')");
  const whoAmI = (token: string | null) =>
    fetch(`${origin}/iam/me`, { headers: { authorization: `Bearer ${token}` } });

  async function signIn(email: string, password: string) {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('Email').fill(email);
    await page.locator('input[type=password]').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  }

  beforeAll(async () => {
    ensureConsoleBuilt();
    ({ t, origin } = await listeningTestApp());

    const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
    const roleId = (name: string) => roles.find((r) => r.name === name)?.id as string;
    // One email and password in two tenants: this one (the default tenant) and Beta Co.
    await call(t, 'POST', '/iam/users', { body: MULTI });
    betaId = (
      await createTenantAsOperator(t.runtime.svc, {
        name: 'Beta Co',
        adminEmail: MULTI.email,
        password: MULTI.password,
      })
    ).tenant.id;
    // A user manager holding only what it takes to manage users and read groups and roles.
    userManagerRoleId = (
      await call(t, 'POST', '/iam/roles', {
        body: {
          name: 'UserManager',
          permissions: ['iam:users:manage', 'iam:users:read', 'iam:roles:read', 'iam:groups:read'],
        },
      })
    ).json().id;
    const managerId = (await call(t, 'POST', '/iam/users', { body: MANAGER })).json().id;
    await call(t, 'PUT', `/iam/users/${managerId}/assignments`, { body: { roleIds: [userManagerRoleId] } });
    bobId = (await call(t, 'POST', '/iam/users', { body: BOB })).json().id;
    await call(t, 'PUT', `/iam/users/${bobId}/assignments`, { body: { roleIds: [roleId('DataReadOnly')] } });
    const patId = (await call(t, 'POST', '/iam/users', { body: PAT })).json().id;
    await call(t, 'PUT', `/iam/users/${patId}/assignments`, { body: { roleIds: [roleId('DataReadOnly')] } });

    browser = await launchChromium();
    page = await newConsolePage(browser, { viewport: { width: 1366, height: 820 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('one email and password in two tenants: the person chooses the tenant and is signed in to it', async () => {
    await signIn(MULTI.email, MULTI.password);
    const chooser = page.getByRole('radiogroup', { name: /Tenant/ });
    await chooser.waitFor();
    expect(await chooser.getByRole('radio').count()).toBe(2);
    const beta = chooser.getByRole('radio', { name: 'Beta Co', exact: true });
    await chooser.getByRole('radio', { name: 'Default', exact: true }).waitFor();
    // Focus moves to the choice, and the keyboard makes it.
    await expect
      .poll(() => page.evaluate<string>('document.activeElement?.getAttribute("type") ?? ""'))
      .toBe('radio');
    await beta.focus();
    await page.keyboard.press('Space');
    expect(await beta.isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByText(`tenant ${betaId}`).waitFor();
    const me = await whoAmI(await sessionToken());
    expect(me.status).toBe(200);
    expect(((await me.json()) as { tenantId: string }).tenantId).toBe(betaId);
    await signOut();
  });

  it('a user manager sees Administrator and Administrators disabled with the reason, and assigns a role they hold', async () => {
    await signIn(MANAGER.email, MANAGER.password);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByRole('link', { name: BOB.name }).click();
    const card = page.getByRole('region', { name: 'Groups and roles' });
    const groups = card.getByRole('group', { name: 'Groups', exact: true });
    const roles = card.getByRole('group', { name: 'Roles', exact: true });

    const admins = groups.getByRole('checkbox', { name: 'Administrators', exact: true });
    await admins.waitFor();
    expect(await admins.isDisabled()).toBe(true);
    const adminsReason = await admins.getAttribute('aria-describedby');
    expect(await page.locator(`[id="${adminsReason}"]`).textContent()).toContain(GRANT_REASON);
    const adminRole = roles.getByRole('checkbox', { name: 'Administrator', exact: true });
    expect(await adminRole.isDisabled()).toBe(true);
    expect(await page.locator(`[id="${await adminRole.getAttribute('aria-describedby')}"]`).isVisible()).toBe(
      true,
    );
    expect(await roles.getByRole('checkbox', { name: 'DataReadWrite', exact: true }).isDisabled()).toBe(true);
    // What Bob already has stays listed, ticked, though the manager could not give it.
    const readOnly = roles.getByRole('checkbox', { name: 'DataReadOnly', exact: true });
    expect(await readOnly.isChecked()).toBe(true);

    const userManager = roles.getByRole('checkbox', { name: 'UserManager', exact: true });
    expect(await userManager.isDisabled()).toBe(false);
    await userManager.check();
    await card.getByRole('button', { name: 'Save groups and roles' }).click();
    await card.getByText('Saved.').waitFor();
    const assigned = (await call(t, 'GET', `/iam/users/${bobId}/assignments`)).json();
    expect(assigned.roles.map((r: { name: string }) => r.name).sort()).toEqual([
      'DataReadOnly',
      'UserManager',
    ]);
    expect(assigned.groups).toEqual([]);
    await signOut();
  });

  it('changing one’s own password keeps the console signed in and ends the older session', async () => {
    await signIn(PAT.email, PAT.password);
    await page.getByRole('heading', { name: 'Access keys' }).waitFor();
    const before = await sessionToken();
    // Another session of the same person, e.g. another browser.
    const elsewhere = await login(t, PAT.email, PAT.password);

    await page.getByRole('button', { name: 'Your account' }).click();
    await page.getByRole('menuitem', { name: 'Change password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change password' });
    await dialog.getByLabel('Current password').fill(PAT.password);
    await dialog.getByLabel(/^New password/).fill('pat-second-password');
    await dialog.getByLabel('Repeat the new password').fill('pat-second-password');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByText('Password changed').waitFor();
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();

    const after = await sessionToken();
    expect(after).not.toBe(before);
    await page.reload();
    await page.getByRole('heading', { name: 'Access keys' }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(0);
    expect((await whoAmI(after)).status).toBe(200);
    expect((await whoAmI(before)).status).toBe(401);
    expect((await whoAmI(elsewhere)).status).toBe(401);
    expect(await login(t, PAT.email, 'pat-second-password')).toBeTruthy();
  });
});

if (SKIP_BROWSER) {
  describe('console security in Chromium (skipped)', () => {
    it.skip(`needs ${CHROMIUM}: apt-get install -y chromium`, () => undefined);
  });
}
