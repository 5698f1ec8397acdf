/**
 * npm's prepare (after `npm ci`): `npm run build`, unless dist/ and console/dist/ are already newer
 * than their sources.
 *
 * Not unconditional because of `npx latchkey`: run in this directory, npm installs the project into
 * its own cache whenever node_modules changed since `npm ci` (a test run's cache is enough), and
 * that runs prepare here. An unconditional build then rewrote dist/ in place, and emptied
 * console/dist/, under the server and the commands running from them ("does not provide an export
 * named …" from a half-written module, in CI). `npm run build` always builds.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { consoleBuildStale, staleServerSources } from './build-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const server = staleServerSources(root).length > 0;
const console_ = consoleBuildStale(root);
if (server || console_) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
} else {
  process.stderr.write('latchkey: dist/ and console/dist/ are current; not building (npm run build does)\n');
}
