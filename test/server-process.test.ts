/**
 * The real server as a process (`node src/main.ts`): first start, restarts, logs on stdout,
 * graceful shutdown, configuration errors, and two instances racing on a fresh PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL } from './helpers/app.js';
import { engineAvailable, type ScratchDatabase, scratchDatabase } from './helpers/engines.js';
import { freePort, type ServerProcess, sleep, startServer } from './helpers/process.js';

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
    await sleep(300); // let the last log lines reach the pipe

    expect(server.stdout.split(password).length - 1, 'the password is printed exactly once').toBe(1);
    expect(server.stderr).not.toContain(password);
    const { lines, other } = logLines(server.stdout);
    expect(other, 'stdout lines that are neither JSON logs nor the banner').toEqual([]);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(JSON.stringify(line)).not.toContain(password);
      expect(typeof line.level).toBe('number');
      expect(typeof line.msg).toBe('string');
      if ('req' in line || 'res' in line) expect(typeof line.reqId, JSON.stringify(line)).toBe('string');
    }
    const mine = lines.filter((l) => l.reqId === 'proc-test-me');
    expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/iam/login')).toBe(true);
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
