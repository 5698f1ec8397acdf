/**
 * The per-engine suite and the test app of a suite, written once:
 *
 *   describeEachEngine('access keys', (engine) => {
 *     describe('lifecycle', () => {
 *       const t = useTestApp(engine);
 *       it('shows the administrator', async () => {
 *         expect((await call(t, 'GET', '/iam/me')).statusCode).toBe(200);
 *       });
 *     });
 *   });
 *
 * reports "access keys on sqlite > lifecycle > shows the administrator" and the same "on postgres".
 */
import { afterAll, beforeAll, describe, type TestOptions } from 'vitest';
import { startTestApp, type TestApp, type TestAppOptions } from './app.js';
import { ENGINES, type EngineName, engineAvailable } from './engines.js';

type EngineSuite = (engine: EngineName) => void;

/**
 * describe('<name> on <engine>', options?, () => body(engine)) for each engine in ENGINES. An engine
 * that is not available (PostgreSQL unreachable) gets describe.skip: its tests are reported as
 * skipped, never as passed.
 */
export function describeEachEngine(name: string, body: EngineSuite): void;
export function describeEachEngine(name: string, options: TestOptions, body: EngineSuite): void;
export function describeEachEngine(name: string, a: TestOptions | EngineSuite, b?: EngineSuite): void {
  const options = typeof a === 'function' ? {} : a;
  const body = typeof a === 'function' ? a : (b as EngineSuite);
  for (const engine of ENGINES) {
    const suite = engineAvailable(engine) ? describe : describe.skip;
    suite(`${name} on ${engine}`, options, () => body(engine));
  }
}

/**
 * A test app for the enclosing describe: beforeAll starts it, afterAll closes it. The object returned
 * is filled in by that beforeAll, so use it in hooks and tests, not while the suite is collected.
 * Hooks run in the order they are registered (afterAll in reverse): a beforeAll registered after this
 * call sees the app, and its afterAll runs before the app closes. `options` may be a function, called
 * in the beforeAll, when it needs something an earlier beforeAll made, such as an SMTP server's URL
 * (start that server in the enclosing describe: Biome allows one beforeAll per describe).
 */
export function useTestApp(engine: EngineName, options?: TestAppOptions | (() => TestAppOptions)): TestApp {
  const handle = {} as TestApp;
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await startTestApp(engine, typeof options === 'function' ? options() : options);
    Object.assign(handle, started);
  });
  afterAll(async () => started?.close());
  return handle;
}
