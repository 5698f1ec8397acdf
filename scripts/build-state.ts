/**
 * Is the build current? dist/ (the server, tsc) and console/dist/ (the console, Vite) against their
 * sources, by modification time. Used by npm's prepare (scripts/prepare.ts) and by the tests that run
 * the built server (test/helpers/build.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Source files of src/ whose compiled file in dist/ is missing or older than they are. */
export function staleServerSources(root: string, dir = path.join(root, 'src')): string[] {
  const src = path.join(root, 'src');
  const dist = path.join(root, 'dist');
  const stale: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      stale.push(...staleServerSources(root, full));
      continue;
    }
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts') || entry.name.endsWith('.d.ts'))
      continue;
    const built = path.join(dist, path.relative(src, full)).replace(/\.ts$/, '.js');
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(full).mtimeMs) stale.push(full);
  }
  return stale;
}

function newestIn(target: string): number {
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(target)) newest = Math.max(newest, newestIn(path.join(target, entry)));
  return newest;
}

/** The console's build is missing, or older than one of its sources. */
export function consoleBuildStale(root: string): boolean {
  const built = fs.statSync(path.join(root, 'console', 'dist', 'index.html'), { throwIfNoEntry: false });
  if (!built) return true;
  const sources = ['src', 'public', 'index.html', 'vite.config.ts'].map((p) => path.join(root, 'console', p));
  return Math.max(...sources.map(newestIn)) > built.mtimeMs;
}
