/**
 * The real server as a process (`node src/main.ts`, and `npm start`): first start, restarts, logs
 * on stdout, graceful shutdown (also with a browser's connections open, and through npm),
 * configuration errors, and two instances racing on a fresh PostgreSQL database.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL } from '../helpers/app.js';
import { ensureServerBuilt } from '../helpers/build.js';
import { engineAvailable, type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import { childEnv, freePort, ROOT, type ServerProcess, sleep, startServer } from '../helpers/process.js';

const FIRST_START = /latchkey: first start\. Sign in as (\S+) with the password\n\n\s+(\S+)\n/;

async function json(
  server: ServerProcess,
  method: string,
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

async function signIn(server: ServerProcess, password: string): Promise<string> {
  const res = await json(server, 'POST', '/iam/login', {
    body: { auth_mode: 'password', email: ADMIN_EMAIL, password },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.token as string;
}

/**
 * The JSON log lines of stdout. The first-start banner (from its first line up to the next JSON
 * line) is set aside; any other line that is not JSON is returned in `other`.
 */
function logLines(stdout: string): { lines: Record<string, unknown>[]; other: string[] } {
  let text = stdout;
  const start = FIRST_START.exec(stdout)?.index;
  if (start !== undefined) {
    const end = stdout.indexOf('\n{', start);
    text = stdout.slice(0, start) + (end === -1 ? '' : stdout.slice(end));
  }
  const lines: Record<string, unknown>[] = [];
  const other: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      other.push(line);
    }
  }
  return { lines, other };
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-proc-'));

describe('server process on sqlite', { timeout: 60_000 }, () => {
  let dataDir: string;
  let port: number;
  let server: ServerProcess | undefined;
  let password = '';
  let tenantId = '';
  const env = () => ({ LATCHKEY_DATA_DIR: dataDir, LOG_LEVEL: 'info' });

  beforeAll(async () => {
    dataDir = tempDir();
    port = await freePort();
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('first start prints a generated password once; it signs in; stdout logs are JSON with request ids and never hold it', async () => {
    server = startServer(port, env());
    await server.waitReady();
    const match = FIRST_START.exec(server.stdout);
    expect(match, server.stdout).not.toBeNull();
    const [, email, generated] = match as unknown as [string, string, string];
    expect(email).toBe(ADMIN_EMAIL);
    expect(generated.length).toBeGreaterThanOrEqual(16);
    password = generated;

    const token = await signIn(server, password);
    const me = await json(server, 'GET', '/iam/me', { token, headers: { 'x-request-id': 'proc-test-me' } });
    expect(me.status).toBe(200);
    expect(me.headers.get('x-request-id')).toBe('proc-test-me');
    tenantId = me.body.tenantId as string;
    expect(tenantId).toMatch(/^\d{12}$/);
    const users = await json(server, 'GET', '/iam/users', { token });
    expect(users.body.total).toBe(1);
    const wrong = await json(server, 'POST', '/iam/login', {
      body: { auth_mode: 'password', email: ADMIN_EMAIL, password: `${password}x` },
    });
    expect(wrong.status).toBe(401);
    await sleep(1_000); // let the last log lines reach the pipe (written in batches, within 250 ms)

    expect(server.stdout.split(password).length - 1, 'the password is printed exactly once').toBe(1);
    expect(server.stderr).not.toContain(password);
    const { lines, other } = logLines(server.stdout);
    expect(other, 'stdout lines that are neither JSON logs nor the banner').toEqual([]);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(JSON.stringify(line)).not.toContain(password);
      expect(typeof line.level).toBe('number');
      expect(typeof line.msg).toBe('string');
      if (line.msg === 'request') expect(typeof line.reqId, JSON.stringify(line)).toBe('string');
    }
    // One access line per request, naming who called once they are known.
    const mine = lines.filter((l) => l.reqId === 'proc-test-me');
    expect(mine).toEqual([
      expect.objectContaining({
        msg: 'request',
        method: 'GET',
        url: '/iam/me',
        route: '/iam/me',
        status: 200,
        tenant: tenantId,
      }),
    ]);
    expect(lines.some((l) => l.msg === 'request' && l.url === '/iam/login' && l.status === 401)).toBe(true);
    expect(lines.some((l) => l.msg === 'created the first tenant and its administrator')).toBe(true);
  });

  it('a restart on the same data dir prints no password and creates no second tenant', async () => {
    await server?.stop();
    expect(server?.exitCode).toBe(0);
    server = startServer(port, env());
    await server.waitReady();
    expect(server.stdout).not.toContain('first start');
    expect(server.stdout).not.toContain('created the first tenant');
    const token = await signIn(server, password);
    const me = await json(server, 'GET', '/iam/me', { token });
    expect(me.body.tenantId).toBe(tenantId);
    expect((await json(server, 'GET', '/iam/users', { token })).body.total).toBe(1);
    expect(server.stdout).not.toContain(password);
  });

  it('GET /healthcheck reports the database ok', async () => {
    if (!server) throw new Error('no server');
    const res = await json(server, 'GET', '/healthcheck');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: { status: 'ok', engine: 'sqlite' } });
  });

  it('a secret access key pasted into a URL does not reach the log', async () => {
    if (!server) throw new Error('no server');
    const token = await signIn(server, password);
    const sa = await json(server, 'POST', '/iam/service-accounts', { token, body: { name: 'url-paste' } });
    const key = await json(server, 'POST', `/iam/service-accounts/${sa.body.id}/keys`, { token, body: {} });
    const secret = key.body.secretAccessKey as string;
    expect(secret).toMatch(/^lksk_/);
    // The secret where the access key ID belongs (an easy mistake): refused, and not logged.
    const res = await json(server, 'GET', `/iam/keys/${secret}`, { token });
    expect(res.status).toBe(400);
    await sleep(300);
    expect(server.stdout).not.toContain(secret);
  });

  it('SIGTERM while a request is in flight: the request completes normally, then the process exits 0', async () => {
    if (!server) throw new Error('no server');
    const s = server;
    const body = JSON.stringify({ auth_mode: 'password', email: ADMIN_EMAIL, password });
    const half = Math.floor(body.length / 2);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let response = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      response += chunk;
    });
    const closed = once(socket, 'close');
    socket.write(
      'POST /iam/login HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Request-Id: slow-request\r\n' +
        'Connection: close\r\n\r\n',
    );
    socket.write(body.slice(0, half));
    await sleep(500);
    s.child.kill('SIGTERM');
    await sleep(1000);
    expect(s.hasExited, 'the process waits for the in-flight request').toBe(false);
    expect(response).toBe('');
    socket.write(body.slice(half));
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    const payload = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { token?: string };
    expect(payload.token).toMatch(/^ey/);
    const exitedAt = Date.now();
    const exit = await s.waitExit(15_000);
    expect(exit, s.stderr).toEqual({ code: 0, signal: null });
    expect(Date.now() - exitedAt).toBeLessThan(5_000);
    expect(s.stdout).toContain('shutting down');
    server = undefined;
  });

  it('a bad configuration value exits with code 2, naming the variable on stderr', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PORT: 'abc' }, 'PORT'],
      [{ LATCHKEY_SIGV4_REGION: 'Bad Region' }, 'LATCHKEY_SIGV4_REGION'],
    ];
    const runs = await Promise.all(
      cases.map(async ([extra]) => {
        const dir = tempDir();
        const p = startServer(await freePort(), { LATCHKEY_DATA_DIR: dir, ...extra });
        const exit = await p.waitExit(30_000);
        fs.rmSync(dir, { recursive: true, force: true });
        return { exit, stderr: p.stderr, stdout: p.stdout };
      }),
    );
    for (const [i, run] of runs.entries()) {
      const variable = (cases[i] as [Record<string, string>, string])[1];
      expect(run.exit.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(variable);
      expect(run.stdout).not.toContain('first start');
    }
  });
});

const pgRun = engineAvailable('postgres') ? describe : describe.skip;
pgRun('server processes on postgres', { timeout: 90_000 }, () => {
  let db: ScratchDatabase;
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    db = await scratchDatabase('postgres');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('two servers started at the same moment on a fresh database create exactly one tenant', async () => {
    // Several instances share one master key (LATCHKEY_MASTER_KEY), each its own data dir.
    const masterKey = randomBytes(32).toString('base64');
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      const dir = tempDir();
      dirs.push(dir);
      servers.push(
        startServer(port, {
          LATCHKEY_DATA_DIR: dir,
          DATABASE_URL: db.databaseUrl,
          LATCHKEY_MASTER_KEY: masterKey,
          LOG_LEVEL: 'info',
        }),
      );
    }
    await Promise.all(servers.map((s) => s.waitReady(60_000)));

    const client = new pg.Client({ connectionString: db.postgresUrl });
    await client.connect();
    try {
      const count = async (table: string) =>
        Number((await client.query(`select count(*)::int as n from ${table}`)).rows[0].n);
      expect(await count('tenants')).toBe(1);
      expect(await count('users')).toBe(1);
      expect(await count('tenant_settings')).toBe(1);
      expect(await count("groups where builtin = 'administrators'")).toBe(1);
    } finally {
      await client.end();
    }

    const banners = servers.map((s) => FIRST_START.exec(s.stdout));
    expect(banners.filter(Boolean), servers.map((s) => s.stdout).join('\n---\n')).toHaveLength(1);
    const password = (banners.find(Boolean) as RegExpExecArray)[2] as string;
    const tenants = new Set<string>();
    for (const s of servers) {
      const token = await signIn(s, password);
      tenants.add((await json(s, 'GET', '/iam/me', { token })).body.tenantId as string);
      const health = await json(s, 'GET', '/healthcheck');
      expect(health.body).toMatchObject({ status: 'ok', database: { status: 'ok', engine: 'postgres' } });
    }
    expect(tenants.size).toBe(1);
    for (const s of servers) {
      await s.stop();
      expect(s.exitCode, s.stderr).toBe(0);
    }
  });
});

/** src/main.ts: the whole shutdown (SIGTERM to exit) must fit in this, `docker stop` gives 10 s. */
const GRACE_MS = 9_000;

/** Resolves once nothing accepts connections on the port any more. */
async function portClosed(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return true;
    await sleep(50);
  }
  return false;
}

/** A connection as a browser leaves it: open, with `request` (maybe nothing, maybe half) sent. */
async function rawConnection(
  port: number,
  request: string,
): Promise<{ socket: net.Socket; closed: Promise<unknown> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('data', () => {});
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  if (request) socket.write(request);
  return { socket, closed };
}

/** GET over a keep-alive agent: the connection stays open after the answer, as a browser's does. */
function keepAliveGet(agent: http.Agent, port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('shutdown with a browser connected', { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  async function started(): Promise<ServerProcess> {
    const dir = tempDir();
    dirs.push(dir);
    const server = startServer(await freePort(), { LATCHKEY_DATA_DIR: dir, LOG_LEVEL: 'info' });
    await server.waitReady();
    return server;
  }

  it('idle keep-alive, spare (nothing sent) and half-sent connections do not hold SIGTERM: exit 0 at once', async () => {
    const server = await started();
    const agent = new http.Agent({ keepAlive: true });
    try {
      expect([200, 503]).toContain(await keepAliveGet(agent, server.port, '/console/'));
      expect(agent.sockets, 'the keep-alive connection is pooled').toBeDefined();
      const spare = await rawConnection(server.port, '');
      const halfHeaders = await rawConnection(server.port, `GET /console/ HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      await sleep(200);
      const sentAt = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.waitExit(GRACE_MS + 5_000);
      const took = Date.now() - sentAt;
      expect(exit, server.stdout + server.stderr).toEqual({ code: 0, signal: null });
      expect(took, 'exits well inside the grace period').toBeLessThan(3_000);
      await Promise.all([spare.closed, halfHeaders.closed]);
      expect(await portClosed(server.port, 1_000)).toBe(true);
      expect(server.stdout).not.toContain('killed by timeout');
    } finally {
      agent.destroy();
      await server.stop();
    }
  });

  it('a request that never completes is cut when the grace period runs out; the process still exits 0 in time', async () => {
    const server = await started();
    try {
      // Headers complete (so it is a request in progress), body never finished.
      const stuck = await rawConnection(
        server.port,
        `POST /iam/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"auth_mode":`,
      );
      await sleep(200);
      const sentAt = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.waitExit(GRACE_MS + 5_000);
      const took = Date.now() - sentAt;
      expect(exit, server.stdout + server.stderr).toEqual({ code: 0, signal: null });
      expect(took).toBeLessThan(GRACE_MS);
      await stuck.closed;
      expect(server.stdout).toContain('requests still in progress at the end of the grace period');
      expect(server.stdout).not.toContain('killed by timeout');
    } finally {
      await server.stop();
    }
  });
  it('a second SIGTERM later in the shutdown means now: exit 1 at once (a copy arriving with the first is ignored)', async () => {
    const server = await started();
    try {
      const stuck = await rawConnection(
        server.port,
        `POST /iam/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
      );
      await sleep(200);
      server.child.kill('SIGTERM');
      server.child.kill('SIGTERM'); // the same request delivered twice (npm forwarding, a terminal)
      await sleep(1_500);
      expect(server.hasExited, 'still draining the request in progress').toBe(false);
      const secondAt = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.waitExit(5_000);
      expect(exit.code, server.stderr).toBe(1);
      expect(Date.now() - secondAt).toBeLessThan(2_000);
      expect(server.stderr).toContain('SIGTERM again while shutting down: exiting now');
      stuck.socket.destroy();
    } finally {
      await server.stop();
    }
  });
});

/** Process IDs of `pid`'s descendants (from ps), children before grandchildren. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = rows.filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    out.push(...next);
    frontier = next;
  }
  return out;
}

/** Running (not gone, not a zombie waiting to be reaped). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface NpmStart {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** npm's descendants once it listens: the shell (if any) and the server. */
  processes: number[];
}

describe('npm start', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const started: NpmStart[] = [];
  beforeAll(async () => {
    await ensureServerBuilt();
  });
  afterAll(() => {
    // Whatever survived a failed assertion (an orphaned server) must not outlive the test.
    for (const run of started) {
      for (const pid of run.processes) if (running(pid)) process.kill(pid, 'SIGKILL');
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `npm start` in its own process group (as a terminal runs it), listening on a free port. */
  async function npmStart(): Promise<NpmStart> {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const port = await freePort();
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: childEnv({ HOST: '127.0.0.1', PORT: String(port), LATCHKEY_DATA_DIR: dataDir, LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const run: NpmStart = {
      child,
      port,
      output: () => output,
      exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>,
      processes: [],
    };
    started.push(run);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/healthcheck`).catch(() => undefined);
      if (res?.status === 200) break;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`npm start did not listen:\n${output}`);
      await sleep(200);
    }
    run.processes = descendants(child.pid as number);
    expect(run.processes.length, 'npm runs the server').toBeGreaterThan(0);
    return run;
  }

  /** npm exits 0 and none of its processes is left, all within the grace period from `sentAt`. */
  async function expectStopped(run: NpmStart, sentAt: number): Promise<void> {
    expect(await portClosed(run.port, GRACE_MS), `the port is still open:\n${run.output()}`).toBe(true);
    const [code, signal] = await Promise.race([
      run.exited,
      sleep(GRACE_MS).then(() => ['npm still running', null] as const),
    ]);
    expect({ code, signal }, run.output()).toEqual({ code: 0, signal: null });
    while (run.processes.some(running) && Date.now() - sentAt < GRACE_MS) await sleep(100);
    expect(run.processes.filter(running), `processes left running:\n${run.output()}`).toEqual([]);
    expect(Date.now() - sentAt).toBeLessThan(GRACE_MS);
  }

  it('SIGTERM to npm stops latchkey: the port closes and npm and the server exit within the grace period', async () => {
    const run = await npmStart();
    // The console open in a browser: a keep-alive connection that has fetched the page, and a spare one.
    const agent = new http.Agent({ keepAlive: true });
    expect([200, 503]).toContain(await keepAliveGet(agent, run.port, '/console/'));
    const spare = await rawConnection(run.port, '');
    try {
      const sentAt = Date.now();
      run.child.kill('SIGTERM');
      await expectStopped(run, sentAt);
      expect(run.output()).toMatch(/"signal":"SIGTERM".*"msg":"shutting down: finishing in-flight requests"/);
      await spare.closed;
    } finally {
      agent.destroy();
      spare.socket.destroy();
    }
  });

  it('Ctrl-C (SIGINT to the process group, and npm forwarding its own copy) is one graceful stop, exit 0', async () => {
    const run = await npmStart();
    const sentAt = Date.now();
    // What a terminal does on Ctrl-C; the server gets it twice at once (npm forwards what it got).
    process.kill(-(run.child.pid as number), 'SIGINT');
    await expectStopped(run, sentAt);
    expect(run.output()).toMatch(/"signal":"SIGINT".*"msg":"shutting down: finishing in-flight requests"/);
    expect(run.output()).not.toContain('exiting now');
  });
});
