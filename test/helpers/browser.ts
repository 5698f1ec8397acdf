/**
 * What every end-to-end test in a real browser needs: Debian's Chromium (never a downloaded one),
 * the console's build, and a latchkey listening on loopback.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { beforeEach } from 'vitest';
import { startTestApp, type TestApp, type TestAppOptions } from './app.js';
import { PAGE_REPORT } from './failure-summary.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Without Chromium a browser suite skips itself, except in CI (CI set), where it must run. */
export const SKIP_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;

/**
 * The options of every browser suite: in CI a failed test runs once more. These suites drive a real
 * Chromium on a loaded 2-core machine (four test workers, the nginx and gateway suites beside
 * them), where a step now and then misses its 20 s. A retry is not a silent pass: the failed
 * attempt's page report is printed where it failed, and test/helpers/failure-summary.ts lists, at
 * the end of the run, every test that passed only on its retry, with that report.
 */
export const BROWSER_SUITE = { retry: process.env.CI ? 1 : 0 } as const;

export { ensureConsoleBuilt } from './build.js';

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
  watch(page);
  // Chasing a race: LATCHKEY_E2E_CPU_THROTTLE=6 runs the page's scripts six times slower (DevTools'
  // CPU throttling), as a loaded CI machine does now and then.
  const throttle = Number(process.env.LATCHKEY_E2E_CPU_THROTTLE ?? 1);
  if (throttle > 1) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  }
  return page;
}

/** What each page said that a failing test should show: errors, warnings, refused requests. */
const said = new WeakMap<Page, string[]>();
const SAID_MAX = 120;

function watch(page: Page): void {
  const lines: string[] = [];
  said.set(page, lines);
  const note = (line: string) => {
    lines.push(`${new Date().toISOString().slice(11, 23)} ${line.slice(0, 400)}`);
    if (lines.length > SAID_MAX) lines.shift();
  };
  page.on('pageerror', (e) => note(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') note(`console.${m.type()}: ${m.text()}`);
  });
  // Every API request and its answer (not the build's files): what the page was doing when a step
  // timed out. A request that never answers shows as sent, then failed or nothing.
  const api = (url: string) => !/\/(console|assets)\//.test(new URL(url).pathname);
  page.on('request', (r) => {
    if (api(r.url())) note(`sent ${r.method()} ${r.url()}`);
  });
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) note(`navigated to ${f.url()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 || api(r.url())) note(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => note(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
}

/**
 * When a test of the suite fails, print what its page said and what was on screen: the open
 * dialogs' text, the focused element and the URL. A failure in CI is then read from its log, not
 * guessed at.
 */
export function reportOnFailure(page: () => Page | undefined): void {
  beforeEach((context) => {
    context.onTestFailed(async () => {
      const p = page();
      if (!p || p.isClosed()) return;
      const screen = await p
        .evaluate(`(() => ({
          url: location.href,
          focused: document.activeElement ? document.activeElement.outerHTML.slice(0, 300) : null,
          // Each dialog as a role locator sees it: its name (aria-labelledby), and whether it or an
          // ancestor is hidden from the accessibility tree; then its text.
          dialogs: [...document.querySelectorAll('[role=dialog]')].map((d) => {
            const by = d.getAttribute('aria-labelledby');
            const named = by ? by.split(' ').map((id) => document.getElementById(id)?.textContent ?? '(missing ' + id + ')').join(' ') : '(no aria-labelledby)';
            let hidden = '';
            for (let e = d; e; e = e.parentElement) {
              const cs = getComputedStyle(e);
              if (e.getAttribute('aria-hidden') === 'true' || e.hasAttribute('inert') || cs.display === 'none' || cs.visibility === 'hidden')
                hidden = 'hidden by <' + e.tagName.toLowerCase() + ' class=' + String(e.className).slice(0, 60) + '>; ';
            }
            const testids = [...d.querySelectorAll('[data-testid]')].map((e) => e.getAttribute('data-testid')).join(',');
            return 'name: ' + named + '; ' + hidden + 'test ids: ' + testids + '\\n' + d.innerText.slice(0, 1500);
          }),
        }))()`)
        .catch((e: unknown) => ({ error: String(e) }));
      // Test keys' secrets are on screen in a reveal: not in the log.
      const attempt = (context.task.result?.retryCount ?? 0) + 1;
      const failure = context.task.result?.errors?.at(-1)?.message?.split('\n')[0] ?? '';
      const report =
        `${PAGE_REPORT} [${context.task.name}], attempt ${attempt}: ${failure}\n` +
        `the page said:\n${(said.get(p) ?? []).join('\n') || '(nothing)'}\n` +
        `on screen: ${JSON.stringify(screen, null, 2)}`;
      console.error(report.replace(/lksk_[A-Za-z0-9]+/g, 'lksk_…'));
    });
  });
}
