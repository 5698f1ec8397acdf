/**
 * Tests that run what a reader runs (`npm start`, `npx latchkey`) need the built server in dist/.
 * `npm ci` builds it (the prepare script); after a source edit it is stale, so compile it again
 * (the server only: tsc, then the CLI's executable bit, as `npm run build` does).
 *
 * The run's global setup (test/helpers/templates.ts) makes dist/ current before any test starts.
 * Should it go stale during the run anyway (a source edited meanwhile), the next test that needs it
 * compiles into a directory of its own and swaps it in with two renames, never rewriting dist/ under
 * a CLI another test is starting. One build at a time across test workers, behind a lock file; the
 * swap is reported with the source that was stale. (What did rewrite dist/ mid-run in CI was
 * `npx latchkey` in the README test running npm's prepare: scripts/prepare.ts.)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { consoleBuildStale, staleServerSources } from '../../scripts/build-state.js';
import { ROOT, sleep } from './process.js';

const DIST = path.join(ROOT, 'dist');
const LOCK = path.join(ROOT, 'node_modules', '.cache', 'latchkey-test-build.lock');

const staleSources = () => staleServerSources(ROOT);

async function withLock<T>(fn: () => T): Promise<T> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(LOCK, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run: older than any build takes.
      const age = Date.now() - (fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) fs.rmSync(LOCK, { force: true });
      if (Date.now() > deadline) throw new Error(`another test run holds ${LOCK}`);
      await sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { force: true });
  }
}

/** Compile src/ into a new directory, then put it in dist/'s place (two renames, no half-written file). */
function buildAndSwap(): void {
  const next = `${DIST}.next-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  try {
    execFileSync(
      path.join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', next],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (error) {
    // Type errors do not stop tsc from writing its output (`npm run typecheck` reports them); say so.
    process.stderr.write(`tsc -p tsconfig.build.json reported:\n${(error as { stdout?: Buffer }).stdout}\n`);
  }
  fs.chmodSync(path.join(next, 'cli', 'index.js'), 0o755);
  if (fs.existsSync(DIST)) fs.renameSync(DIST, old);
  fs.renameSync(next, DIST);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Make dist/ match src/ (compile when any source is newer than its build, or has none). */
export async function ensureServerBuilt(): Promise<void> {
  if (staleSources().length === 0) return;
  await withLock(() => {
    const stale = staleSources();
    if (stale.length === 0) return;
    process.stderr.write(
      `dist/ is older than ${stale.length} source(s) (${path.relative(ROOT, stale[0] as string)}…): compiling it again\n`,
    );
    buildAndSwap();
    const still = staleSources();
    if (still.length > 0) throw new Error(`dist/ is still older than ${still.slice(0, 5).join(', ')}`);
  });
}

/**
 * Build the console if console/dist has no build, or one older than its sources (the server serves
 * it from there). The run's global setup calls it first, so no test rebuilds it under another.
 */
export function ensureConsoleBuilt(): void {
  if (!consoleBuildStale(ROOT)) return;
  execFileSync(
    `${ROOT}node_modules/.bin/vite`,
    ['build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'],
    { cwd: ROOT, stdio: 'inherit' },
  );
}
