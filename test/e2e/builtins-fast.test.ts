/**
 * The modules the server loads must leave V8's built-in prototypes in fast mode.
 *
 * One object made with `String.prototype` as its prototype (ioredis 6.0 declares
 * `class VerbatimString extends String` when it is imported) turns `String.prototype` into a
 * dictionary for the life of the process. Every string method (`charCodeAt`, `slice`,
 * `toLowerCase`, …) then runs up to twice as slow everywhere: the SigV4 parser ran 2.5 times slower
 * and signed requests cost 4 µs more of server CPU (bench/auth.ts). Nothing else shows it, so this
 * test asks V8 directly (`%HasFastProperties`, behind `--allow-natives-syntax`) in a fresh process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

const PROTOTYPES = ['String', 'Array', 'Object', 'Function', 'Number', 'RegExp', 'Promise'];

/** Imports what the server process imports (main.ts without starting it), then reports each prototype. */
async function fastPrototypes(before = ''): Promise<Record<string, boolean>> {
  const script = `${before}
await import('./src/app.ts');
await import('./src/runtime.ts');
await import('./src/notify/notifier.ts');
await import('close-with-grace');
// Loaded on demand (PostgreSQL, Redis, the sample-curl page), so imported here explicitly.
await import('pg');
await import('ioredis');
await import('@smithy/signature-v4');
await import('@aws-crypto/sha256-js');
console.log(JSON.stringify({ ${PROTOTYPES.map((p) => `${p}: %HasFastProperties(${p}.prototype)`).join(', ')} }));`;
  const { stdout } = await run(
    process.execPath,
    ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent' } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, boolean>;
}

describe('built-in prototypes stay fast once the server modules are loaded', () => {
  it('String.prototype and the other built-in prototypes keep fast properties', async () => {
    const state = await fastPrototypes();
    expect(state).toEqual(Object.fromEntries(PROTOTYPES.map((p) => [p, true])));
  }, 30_000);

  it('the probe sees the damage a String subclass does', async () => {
    const state = await fastPrototypes('class Verbatim extends String {}');
    expect(state.String).toBe(false);
  }, 30_000);
});
