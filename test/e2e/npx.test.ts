/**
 * `npx latchkey` in the project directory (the README's walkthrough) on a machine whose npx cache
 * has not seen the project yet: npm installs the project into that cache and runs its prepare
 * script here. A current build must be left alone: an unconditional `npm run build` rewrote dist/
 * in place and emptied console/dist/ under the running server and the commands starting from them
 * (CI: "does not provide an export named 'compilePolicy'" from a half-written module).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt, ensureServerBuilt } from '../helpers/build.js';
import { childEnv, ROOT, runToEnd } from '../helpers/process.js';

const BUILT = ['dist/main.js', 'dist/cli/index.js', 'dist/traffic/policy.js', 'console/dist/index.html'];
const mtimes = () =>
  Object.fromEntries(BUILT.map((file) => [file, fs.statSync(path.join(ROOT, file)).mtimeMs]));

describe('npx latchkey with a fresh npx cache', { timeout: 120_000 }, () => {
  // The machine's npx cache is the reader's: a cache of the test's own (offline: nothing is fetched).
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-npx-cache-'));
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

  it('runs the CLI, and prepare leaves a current build as it is', async () => {
    await ensureServerBuilt();
    ensureConsoleBuilt();
    const before = mtimes();
    const run = await runToEnd(
      'npx',
      ['--loglevel', 'info', 'latchkey', 'keys', '--help'],
      childEnv({ npm_config_cache: cache, npm_config_offline: 'true', npm_config_update_notifier: 'false' }),
      90_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('latchkey keys');
    // The case this is about: npm did run the project's prepare script for this npx.
    const logs = fs
      .readdirSync(path.join(cache, '_logs'))
      .map((f) => fs.readFileSync(path.join(cache, '_logs', f), 'utf8'));
    expect(logs.join('\n')).toMatch(/run latchkey@\S+ prepare /);
    expect(mtimes()).toEqual(before);
  });
});
