/**
 * A reporter beside vitest's own: at the end of the run it repeats what a reader of a CI log needs
 * and would otherwise find only far above the last lines, among thousands: the tests that passed
 * only on a retry (the browser suites retry once in CI, see BROWSER_SUITE), and the page reports
 * the browser suites printed when a test failed (reportOnFailure). A retried pass is then never a
 * silent one.
 */
import type { Reporter, TestModule } from 'vitest/node';

type UserConsoleLog = Parameters<NonNullable<Reporter['onUserConsoleLog']>>[0];

/** How a page report starts (reportOnFailure in ./browser.ts writes them). */
export const PAGE_REPORT = 'page report of';

export default class FailureSummary implements Reporter {
  private readonly pageReports: string[] = [];

  onUserConsoleLog(log: UserConsoleLog): void {
    if (log.content.startsWith(PAGE_REPORT)) this.pageReports.push(log.content.trimEnd());
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const retried: string[] = [];
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const diagnostic = test.diagnostic();
        if (diagnostic?.flaky) {
          retried.push(`  ${module.relativeModuleId} > ${test.fullName} (retries: ${diagnostic.retryCount})`);
        }
      }
    }
    const out: string[] = [];
    if (retried.length > 0) {
      out.push(`Passed only on a retry (${retried.length}): flaky, look into them`, ...retried, '');
    }
    if (this.pageReports.length > 0) {
      out.push(`Page reports of failed browser-test attempts (${this.pageReports.length}):`, '');
      out.push(...this.pageReports.map((report) => `${report}\n`));
    }
    if (out.length > 0) process.stdout.write(`\n${out.join('\n')}\n`);
  }
}
