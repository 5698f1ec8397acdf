/**
 * Run latchkey as real processes (the CLI and the server) from the TypeScript sources through tsx,
 * with a clean environment: nothing from the developer's LATCHKEY_* / DATABASE_URL leaks in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json and src/ are). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const INHERITED_BLOCKLIST = new Set(['DATABASE_URL', 'PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS']);

/**
 * Test servers and CLI runs hash passwords at scrypt cost 2^10 (LATCHKEY_PASSWORD_HASH_COST), not
 * the default 2^15: the same code with a cheaper parameter, as test suites of password-hashing
 * applications do (Devise's `stretches`, Django's test hasher). Sign-ins, password changes and the
 * failed-sign-in throttle cost a few ms instead of ~50 each, which took half of the whole suite's
 * time. test/unit.test.ts checks the default cost; the README walkthrough runs with the defaults.
 */
export const TEST_PASSWORD_HASH_COST = { LATCHKEY_PASSWORD_HASH_COST: '10' } as const;

/** process.env without latchkey's own variables, plus `extra` (undefined values are left out). */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('LATCHKEY_') || INHERITED_BLOCKLIST.has(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/**
 * Ports handed out below Linux's ephemeral range (32768–60999), where nothing that listens on port
 * 0 (test upstreams, SMTP servers, nginx helpers' peers, every client's outgoing connection) is
 * ever put. A port from `listen(0)` was taken back by one of those in the moment between this
 * check and the server's own listen: CI saw a server die of EADDRINUSE on one. Each vitest worker
 * (VITEST_POOL_ID) gets a block of its own, so two workers never pick the same port either; within
 * a block ports go round in turn, from a random start.
 */
const PORT_BASE = 20_000;
const PORT_BLOCK = 1_000;
const PORT_BLOCKS = 12; // 20000–31999
const poolId = Number(process.env.VITEST_POOL_ID ?? 0);
const block = Number.isInteger(poolId) && poolId > 0 ? (poolId - 1) % PORT_BLOCKS : PORT_BLOCKS - 1;
let nextInBlock = Math.floor(Math.random() * PORT_BLOCK);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that no other test worker is given. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_BLOCK; tries++) {
    const port = PORT_BASE + block * PORT_BLOCK + (nextInBlock++ % PORT_BLOCK);
    if (await canListen(port)) return port;
  }
  throw new Error(
    `no free port in ${PORT_BASE + block * PORT_BLOCK}–${PORT_BASE + (block + 1) * PORT_BLOCK - 1}`,
  );
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function tsxArgs(entry: string, args: string[]): string[] {
  return ['--import', 'tsx', entry, ...args];
}

/** Run a process to completion, collecting its output; killed after `timeoutMs`. */
export async function runToEnd(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ProcessResult> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await exitOf(child);
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Run `latchkey <args>` (dist/cli/index.js, compiled first when stale) to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 30_000,
): Promise<ProcessResult> {
  // The built CLI, as `npx latchkey` runs it: it starts in half the time of compiling the source
  // with tsx on every run, which some 70 runs across the suite feel on a loaded machine. Imported
  // here, not at the top: build.ts imports this module.
  const { ensureServerBuilt } = await import('./build.js');
  await ensureServerBuilt();
  return runToEnd(
    process.execPath,
    [`${ROOT}dist/cli/index.js`, ...args],
    childEnv({ ...TEST_PASSWORD_HASH_COST, ...env }),
    timeoutMs,
  );
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/** A JSON call to a spawned server, with a Bearer token unless `token` is null: its status and body. */
export async function callServer(
  server: ServerProcess,
  method: string,
  url: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** callServer for a call that must succeed: its JSON answer, or an error naming the call. */
export async function callServerOk(
  server: ServerProcess,
  method: string,
  url: string,
  token: string | null,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const { status, text } = await callServer(server, method, url, token, body);
  if (status >= 300) throw new Error(`${method} ${url}: ${status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A `node src/main.ts` process. */
export class ServerProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exitCode: number | null | undefined = undefined;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly port: number,
    env: Record<string, string | undefined>,
    /** Node's arguments: the sources through tsx by default; `['dist/main.js']` runs the build. */
    args: string[] = tsxArgs('src/main.ts', []),
  ) {
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: childEnv({ HOST: '127.0.0.1', PORT: String(port), ...TEST_PASSWORD_HASH_COST, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = exitOf(this.child).then((result) => {
      this.exitCode = result.code;
      this.exitSignal = result.signal;
      return result;
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Wait until GET /healthcheck answers 200 (or fail with what the process printed). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.hasExited) {
        throw new Error(
          `server exited (code ${this.exitCode}) before it was ready.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/healthcheck`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(
      `server not ready after ${timeoutMs} ms.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
    );
  }

  /** Wait for the process to end, killing it after `timeoutMs`. */
  async waitExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (if still running) and wait for the exit. */
  async stop(): Promise<void> {
    if (!this.hasExited) this.child.kill('SIGTERM');
    await this.waitExit();
  }
}

export function startServer(port: number, env: Record<string, string | undefined>): ServerProcess {
  return new ServerProcess(port, env);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
