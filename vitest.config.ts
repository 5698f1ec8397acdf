import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `latchkey/verify` (the package's own export) resolves to its TypeScript source in tests, not to
  // dist/: package.json maps it under this condition. Added to the conditions Vitest sets.
  resolve: { conditions: ['latchkey-source'] },
  ssr: { resolve: { conditions: ['latchkey-source'] } },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'console/src/**/*.test.{ts,tsx}'],
    testTimeout: 30_000,
    // Most test time is spent waiting (PostgreSQL, Redis, child processes, scrypt on libuv's
    // threads), not on the CPU: four workers on a 2-core machine finish in about two thirds of the
    // time two take.
    maxWorkers: 4,
    hookTimeout: 60_000,
  },
});
