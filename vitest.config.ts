import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `latchkey/verify` (the package's own export) resolves to its TypeScript source in tests, not to
  // dist/: package.json maps it under this condition. Added to the conditions Vitest sets.
  resolve: { conditions: ['latchkey-source'] },
  ssr: { resolve: { conditions: ['latchkey-source'] } },
  test: {
    testTimeout: 30_000,
    // Most test time is spent waiting (PostgreSQL, Redis, child processes, scrypt on libuv's
    // threads), not on the CPU: four workers on a 2-core machine finish in about two thirds of the
    // time two take.
    maxWorkers: 4,
    hookTimeout: 60_000,
    // The console's end-to-end suites poll for what the page shows. Under the whole suite on these
    // shared 2-core machines a sign-in step can take longer than vitest's default 1 s to render
    // (console-mfa failed that way once in a CI rehearsal); a poll that passes passes as soon as it
    // does, and one that fails says so after 10 s instead of 1.
    expect: { poll: { timeout: 10_000 } },
    // One migrated database per engine for the run; test apps' databases are copies of it.
    globalSetup: ['test/helpers/templates.ts'],
    // vitest's report, then what a CI log's last lines must say: retried passes and page reports.
    reporters: ['default', './test/helpers/failure-summary.ts'],
    projects: [
      {
        extends: true,
        test: {
          // `npm test`: unit and integration tests, in-process apps on both engines, real SigV4
          // clients. The files of a worker share their modules (no isolation): importing the app
          // again for every file took a third of this run's time. A module's state is then the
          // process's; a test that needs a value of it sets it (test/unit.test.ts, passwords).
          name: 'unit',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: ['test/e2e/**'],
          isolate: false,
        },
      },
      // `npm test` too: the console's components in jsdom, each file in a fresh document and storage.
      { extends: true, test: { name: 'console', include: ['console/src/**/*.test.{ts,tsx}'] } },
      {
        extends: true,
        // `npm run test:e2e`: real server processes, workers, the CLI, backups, nginx, Chromium.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] },
      },
    ],
  },
});
