/**
 * Two-factor sign-in in the console, end to end in Chromium against a real latchkey (SQLite): an
 * authenticator app set up from the account menu (codes made with `otpauth` from the key the page
 * shows, as an app would), then a passkey registered with Chromium's virtual authenticator (CDP
 * WebAuthn domain: CTAP2, internal transport, resident key, user verification); signing out and in
 * again asks for the second step, finished with a code, a recovery code and the passkey.
 *
 * WebAuthn needs a secure context and a host name for the relying party: the page is opened at
 * http://localhost (a secure context), and the server takes the RP ID from the address the browser
 * used (no LATCHKEY_PUBLIC_URL here).
 *
 * Without /usr/bin/chromium this suite skips itself, except in CI (CI set), where it must run.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type TestApp } from '../helpers/app.js';
import {
  BROWSER_SUITE,
  ensureConsoleBuilt,
  launchChromium,
  listeningTestApp,
  newConsolePage,
  reportOnFailure,
  SKIP_BROWSER,
} from '../helpers/browser.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's critical and serious WCAG 2.0/2.1 A and AA violations on the page as it is now. */
async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate<string[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      .then((r) => r.violations.filter((v) => v.impact === 'critical' || v.impact === 'serious')
        .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
  );
}

describe.skipIf(SKIP_BROWSER)('two-factor sign-in in the console', BROWSER_SUITE, () => {
  let t: TestApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let secret = '';
  let recoveryCodes: string[] = [];
  reportOnFailure(() => page);

  beforeAll(async () => {
    ensureConsoleBuilt();
    const started = await listeningTestApp();
    t = started.t;
    origin = started.origin.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    page = await newConsolePage(browser);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The code the authenticator app shows now (the server and this test share the test clock). */
  const currentCode = () =>
    new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
      timestamp: t.clock.now().getTime(),
    });

  const passwordStep = async () => {
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.locator('input[type=password]').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await expect.poll(() => page.getByLabel('Email').isVisible()).toBe(true);
  };
  const signedIn = () => expect.poll(() => page.getByTestId('signed-in-as').textContent()).toBe(ADMIN_EMAIL);

  it('sets up an authenticator app from the account menu and shows the recovery codes once', async () => {
    await page.goto(`${origin}/console/`);
    await passwordStep();
    await signedIn();
    await page.getByRole('button', { name: 'Your account' }).click();
    await page.getByRole('menuitem', { name: 'Two-factor authentication' }).click();
    const dialog = page.getByRole('dialog', { name: 'Two-factor authentication' });
    await dialog.getByRole('button', { name: 'Set up an authenticator app' }).click();
    secret = await dialog.getByTestId('totp-secret').inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.waitForTimeout(300); // the dialog's opening transition (axe reads colours mid-fade)
    expect(await axeViolations(page)).toEqual([]);
    // A wrong code: the error is tied to the field.
    await dialog.getByLabel('Code from the app').fill(currentCode() === '000000' ? '111111' : '000000');
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    const field = dialog.getByLabel('Code from the app');
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    await field.fill(currentCode());
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    const list = dialog.getByTestId('recovery-codes');
    await expect.poll(() => list.locator('li').count()).toBe(10);
    recoveryCodes = (await list.locator('li').allTextContents()).map((c) => c.trim());
    expect(recoveryCodes[0]).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => dialog.getByText('10 recovery codes left').isVisible()).toBe(true);
  });

  it('registers a passkey with the virtual authenticator', async () => {
    const dialog = page.getByRole('dialog', { name: 'Two-factor authentication' });
    await dialog.getByLabel('New passkey name').fill('Virtual key');
    await dialog.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => dialog.getByText('Virtual key').isVisible()).toBe(true);
    // Kept as a passkey: its credential ID and public key, no secret.
    const passkey = await t.runtime.svc.db
      .selectFrom('mfa_factors')
      .selectAll()
      .where('type', '=', 'webauthn')
      .executeTakeFirstOrThrow();
    expect(passkey).toMatchObject({ name: 'Virtual key', status: 'active', secret_ciphertext: null });
    expect(passkey.credential_id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(passkey.public_key).toBeTruthy();
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  });

  it('after the password, asks for a code; a code from the app signs in', async () => {
    await signOut();
    t.clock.advance(30_000);
    await passwordStep();
    const code = page.getByLabel('Authentication code');
    await expect.poll(() => code.isVisible()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await code.fill(currentCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await signedIn();
  });

  it('a recovery code works once', async () => {
    await signOut();
    await passwordStep();
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[0] as string);
    await page.getByRole('button', { name: 'Verify' }).click();
    await signedIn();
    await signOut();
    await passwordStep();
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    const field = page.getByLabel('Recovery code');
    await field.fill(recoveryCodes[0] as string);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Back to the password' }).click();
  });

  it('signs in with the password and then the passkey', async () => {
    await passwordStep();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await signedIn();
    const used = await t.runtime.svc.db
      .selectFrom('mfa_factors')
      .select(['name', 'last_used_at'])
      .where('type', '=', 'webauthn')
      .executeTakeFirstOrThrow();
    expect(used.last_used_at).not.toBeNull();
  });

  it("an administrator's Reset MFA on the Users page removes every factor: the password alone signs in", async () => {
    await page.goto(`${origin}/console/users`);
    await page.getByRole('button', { name: 'Actions for Administrator' }).click();
    await page.getByRole('menuitem', { name: 'Reset MFA' }).click();
    const confirm = page.getByRole('dialog', { name: 'Reset MFA' });
    await confirm.getByRole('button', { name: 'Reset MFA' }).click();
    await expect.poll(() => confirm.isVisible()).toBe(false);
    const left = await t.runtime.svc.db.selectFrom('mfa_factors').select('id').execute();
    expect(left).toEqual([]);
    await signOut();
    await passwordStep();
    await signedIn();
  });

  it('when the tenant requires it, the sign-in sets up an authenticator app before the console opens', async () => {
    const settings = await t.app.inject({
      method: 'PATCH',
      url: '/iam/settings',
      headers: { authorization: `Bearer ${t.adminToken}` },
      payload: { mfaRequired: 'administrators' },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    await signOut();
    await passwordStep();
    await expect
      .poll(() => page.getByRole('heading', { name: 'Set up two-factor sign-in' }).isVisible())
      .toBe(true);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    secret = await page.getByTestId('totp-secret').inputValue();
    t.clock.advance(30_000);
    await page.getByLabel('Authentication code').fill(currentCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByTestId('recovery-codes').locator('li').count()).toBe(10);
    await page.getByRole('button', { name: 'I have saved the codes: continue' }).click();
    await signedIn();
  });
});
