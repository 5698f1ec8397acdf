/**
 * npm's prepare (after `npm ci`): `npm run build`, unless dist/ and console/dist/ are already newer
 * than their sources.
 *
 * Not unconditional because of `npx latchkey`: the first time it runs in this directory on a machine
 * (an npx cache that has not seen the project: every fresh CI machine, a reader's first walkthrough),
 * npm installs the project into that cache and runs prepare here. An unconditional build then
 * rewrote dist/ in place, and emptied console/dist/, under the server and the commands running from
 * them (CI: "does not provide an export named …" from a half-written module). `npm run build`
 * always builds.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { consoleBuildStale, staleServerSources } from './build-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
if (staleServerSources(root).length > 0 || consoleBuildStale(root)) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
} else {
  process.stderr.write('latchkey: dist/ and console/dist/ are current; not building (npm run build does)\n');
}
