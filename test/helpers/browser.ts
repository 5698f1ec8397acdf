/**
 * What every end-to-end test in a real browser needs: Debian's Chromium (never a downloaded one),
 * the console's build, and a latchkey listening on loopback.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { startTestApp, type TestApp, type TestAppOptions } from './app.js';
import { ROOT } from './process.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Without Chromium a browser suite skips itself, except in CI (CI set), where it must run. */
export const SKIP_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;

/** Build the console if console/dist has no build yet (the server serves it from there). */
export function ensureConsoleBuilt(): void {
  if (existsSync(`${ROOT}console/dist/index.html`)) return;
  execFileSync(
    `${ROOT}node_modules/.bin/vite`,
    ['build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'],
    { cwd: ROOT, stdio: 'inherit' },
  );
}

/** A test app (SQLite) listening on a free loopback port, and the origin to browse. */
export async function listeningTestApp(
  options: TestAppOptions = {},
): Promise<{ t: TestApp; origin: string }> {
  const t = await startTestApp('sqlite', { ...options, env: { LOG_LEVEL: 'warn', ...options.env } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { t, origin: `http://127.0.0.1:${address.port}` };
}

/** Headless Chromium with the flags this machine needs (no background traffic to the closed network). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--headless=new',
      ...extraArgs,
    ],
  });
}

/**
 * A page in a fresh context of `browser` (its own storage: a fresh sign-in). A step fails within
 * 20 s, with Playwright's call log, not at the test's timeout. 20, not less: in the full suite (four
 * workers on two cores, nginx and gateway suites alongside) a page once took over 8 s to render.
 */
export async function newConsolePage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}
