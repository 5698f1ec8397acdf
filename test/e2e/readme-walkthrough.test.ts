/**
 * The README's five-minute walkthrough, run as a script so it can never drift from the code.
 *
 * The README marks its code blocks: `<!-- walkthrough:server -->` is the first terminal (it starts
 * the server and keeps running), each `<!-- walkthrough -->` block after it runs, in order, in the
 * second terminal. The test runs them as written with bash, with exactly these substitutions, each
 * checked to apply: its own scratch directory for `$PWD/walkthrough-data` and a free loopback port
 * for 8080 (the test must not touch a reader's files or port), and `exec npm start` for
 * `npm ci && npm start` (installing is what the test run itself stands on). The second terminal's
 * blocks run in one `bash` with `set -euo pipefail`, so any failing command fails the test; a
 * `# → text` line says what the command before prints (`…` for anything), and is checked.
 * SQLite only: the walkthrough chooses SQLite on purpose (`unset DATABASE_URL`, so a DATABASE_URL
 * left in a reader's shell cannot send it to another database); the same HTTP calls run on
 * PostgreSQL throughout the rest of the suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startRuntime } from '../../src/runtime.js';
import { ensureServerBuilt } from '../helpers/build.js';
import { childEnv, freePort, ROOT, runToEnd, sleep } from '../helpers/process.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block {
  kind: 'server' | 'client';
  code: string;
}

/** The walkthrough section's marked ```bash / ```sh blocks, in order. */
function walkthroughBlocks(markdown: string): Block[] {
  const start = markdown.indexOf('## Five-minute walkthrough\n');
  if (start === -1) throw new Error('README.md has no "## Five-minute walkthrough" section');
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next === -1 ? undefined : next);
  const blocks: Block[] = [];
  const marked = /<!-- walkthrough(:server)? -->\n```(?:bash|sh)\n([\s\S]*?)```/g;
  for (const m of section.matchAll(marked)) {
    blocks.push({ kind: m[1] ? 'server' : 'client', code: m[2] as string });
  }
  return blocks;
}

/** Replace `from` with `to` exactly `times` times, or fail saying the README changed. */
function substitute(code: string, from: string, to: string, times = 1): string {
  const found = code.split(from).length - 1;
  if (found !== times) {
    throw new Error(
      `expected ${times} × ${JSON.stringify(from)} in a walkthrough block, found ${found}:\n${code}`,
    );
  }
  return code.split(from).join(to);
}

/** The `# → …` lines of a block as one pattern: their fragments, in order, anything between. */
function expectedOutput(code: string): RegExp | undefined {
  const lines = code
    .split('\n')
    .filter((line) => line.startsWith('# → '))
    .map((line) => line.slice(4));
  if (lines.length === 0) return undefined;
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(lines.map((line) => line.split('…').map(literal).join('[\\s\\S]*?')).join('[\\s\\S]*?'));
}

/** A bash script run to completion from the project root. */
const bash = (script: string, env: NodeJS.ProcessEnv, timeoutMs = 90_000) =>
  runToEnd('bash', ['-c', script], env, timeoutMs);

const BLOCK_MARK = (i: number) => `@@walkthrough block ${i}@@`;
const blocks = walkthroughBlocks(README);
const serverBlocks = blocks.filter((b) => b.kind === 'server');
const clientBlocks = blocks.filter((b) => b.kind === 'client');
/** The second terminal's first block defines the helpers (LK, json). */
const helpers = (port: number) =>
  substitute(clientBlocks[0]?.code ?? '', 'LK=http://127.0.0.1:8080', `LK=http://127.0.0.1:${port}`);

describe('README five-minute walkthrough', { timeout: 120_000 }, () => {
  let dataDir: string;
  let port: number;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let serverExit: Promise<unknown> | undefined;
  const clientEnv = () =>
    childEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });

  beforeAll(async () => {
    expect(serverBlocks, 'one <!-- walkthrough:server --> block').toHaveLength(1);
    expect(clientBlocks.length, '<!-- walkthrough --> blocks').toBeGreaterThan(5);
    await ensureServerBuilt();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-walkthrough-'));
    port = await freePort();
  });
  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      process.kill(-(server.pid as number), 'SIGTERM');
      await Promise.race([serverExit, sleep(10_000)]);
      if (server.exitCode === null && server.signalCode === null)
        process.kill(-(server.pid as number), 'SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs as written, whatever ran before it, and prints what the README says', async () => {
    // What a reader may have run before: a database in that directory with another administrator
    // password (an earlier start). The walkthrough must not trip over it.
    const before = await startRuntime(
      loadConfig({
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_ADMIN_PASSWORD: 'an-older-password-123',
        LOG_LEVEL: 'silent',
      }),
    );
    await before.close();

    // First terminal.
    let serverScript = (serverBlocks[0] as Block).code;
    serverScript = substitute(serverScript, '"$PWD/walkthrough-data"', JSON.stringify(dataDir));
    serverScript = substitute(serverScript, 'export PORT=8080', `export PORT=${port}`);
    serverScript = substitute(serverScript, 'npm ci && npm start', 'exec npm start');
    server = spawn('bash', ['-c', `set -euo pipefail\n${serverScript}`], {
      cwd: ROOT,
      // Left in the reader's shell from earlier: the block must not depend on them being unset.
      env: {
        ...clientEnv(),
        DATABASE_URL: 'postgres://someone@127.0.0.1:1/another_project',
        LATCHKEY_ADMIN_PASSWORD: 'a-password-from-earlier',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      serverOutput += chunk;
    });
    server.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      serverOutput += chunk;
    });
    serverExit = once(server, 'exit');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/healthcheck`).catch(() => undefined);
      if (res?.status === 200) break;
      if (server.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the first terminal's block did not start latchkey:\n${serverOutput}`);
      }
      await sleep(200);
    }

    // Second terminal: every block in one shell, in order, a mark printed before each.
    const script = [
      'set -euo pipefail',
      ...clientBlocks.map((block, i) => {
        let code = substitute(
          block.code,
          '"$PWD/walkthrough-data"',
          JSON.stringify(dataDir),
          i === 0 ? 1 : 0,
        );
        if (i === 0) code = substitute(code, 'LK=http://127.0.0.1:8080', `LK=http://127.0.0.1:${port}`);
        return `printf '\\n%s\\n' ${JSON.stringify(BLOCK_MARK(i))}\n${code}`;
      }),
    ].join('\n');
    const run = await bash(script, clientEnv());
    expect(run.code, `the walkthrough failed:\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);

    const outputs = run.stdout.split(/\n@@walkthrough block \d+@@\n/).slice(1);
    expect(outputs).toHaveLength(clientBlocks.length);
    let checked = 0;
    for (const [i, block] of clientBlocks.entries()) {
      const expected = expectedOutput(block.code);
      if (!expected) continue;
      checked++;
      expect(outputs[i], `block ${i}:\n${block.code}`).toMatch(expected);
    }
    expect(checked, 'blocks that say what they print').toBeGreaterThan(5);

    // What the README promises beyond the printed lines.
    const agents = /\{"pagination":\{[^}]*\},"data":\[.*\]\}/.exec(outputs.join('\n'));
    expect(JSON.parse(agents?.[0] ?? '{}').data.map((a: { code: string }) => a.code)).toEqual(
      expect.arrayContaining(['ALI', 'BEN']),
    );
    const keyFile = path.join(dataDir, 'ana-laptop-key.json');
    expect(fs.statSync(keyFile).mode & 0o777, 'the file holding a secret is private').toBe(0o600);
    expect(JSON.parse(fs.readFileSync(keyFile, 'utf8')).secretAccessKey).toMatch(/^lksk_/);
  });

  it('its json helper fails loudly on an error answer: the answer on stderr, nothing on stdout, a non-zero exit', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        '{"error":{"code":"INVALID_CREDENTIALS","message":"wrong email or password"}}',
        'token',
        /INVALID_CREDENTIALS/,
      ],
      ['{"id":"usr_1"}', 'token', /no token in \{"id":"usr_1"\}/],
      ['<html>Bad Gateway</html>', 'token', /Bad Gateway/],
      ['', 'token', /no answer/],
    ];
    for (const [answer, field, stderr] of cases) {
      const run = await bash(
        `${helpers(port)}\nprintf '%s' ${shellQuote(answer)} | json ${field}`,
        clientEnv(),
      );
      expect(run.code, answer).not.toBe(0);
      expect(run.stdout, answer).toBe('');
      expect(run.stderr, answer).toMatch(stderr);
    }
    const ok = await bash(
      `${helpers(port)}\nprintf '%s' '{"a":{"b":[{"name":"x","id":7}]}}' | json a.b.name=x.id`,
      clientEnv(),
    );
    expect(ok).toMatchObject({ code: 0, stdout: '7\n' });
  });

  it('a step that gets an error answer from latchkey stops the walkthrough with the error, not with "undefined"', async () => {
    const run = await bash(
      `set -euo pipefail\n${helpers(port)}\n` +
        `TOKEN=$(curl -sS $LK/iam/login -H 'content-type: application/json' \\\n` +
        `  -d '{"auth_mode":"password","email":"admin@example.com","password":"not-the-password"}' | json token)\n` +
        'echo "signed in with $TOKEN"',
      clientEnv(),
    );
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain('signed in');
    expect(run.stderr).toContain('"error":{"code":"');
    expect(run.stderr).not.toContain('undefined');
  });
});

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
