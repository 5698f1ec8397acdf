/**
 * GET /readyz: 200 while the database and a configured Redis answer, 503 naming the one that does
 * not. Redis (and PostgreSQL) are reached through a TCP relay the test can cut and restore, so the
 * dependency really goes away and comes back: no fake client.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/app.js';
import { ensureServerBuilt } from '../helpers/build.js';
import { describeEachEngine, useTestApp } from '../helpers/each-engine.js';
import { engineAvailable, scratchDatabase } from '../helpers/engines.js';
import { freePort, ServerProcess, sleep } from '../helpers/process.js';
import { REDIS_AVAILABLE, REDIS_URL } from '../helpers/redis.js';

/** A TCP relay to `target` on a loopback port: cut() drops every connection and stops listening. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

async function readyz(t: TestApp) {
  const res = await t.app.inject({ method: 'GET', url: '/readyz' });
  return { status: res.statusCode, body: res.json() };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describeEachEngine('GET /readyz', (engine) => {
  const t = useTestApp(engine);

  it('is 200 when the database answers; no Redis is configured, so none is named', async () => {
    expect(await readyz(t)).toEqual({ status: 200, body: { status: 'ready', database: { status: 'ok' } } });
  });
});

describe('GET /readyz while shutting down', () => {
  it('once close has begun a probe is not answered: no new connection, nor another request on an open one', async () => {
    const t = await startTestApp('sqlite');
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as net.AddressInfo;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      let response = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        response += chunk;
      });
      // A sign-in whose body has not all arrived: in flight, so close() waits for it.
      const body = JSON.stringify({ auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
      const half = Math.floor(body.length / 2);
      socket.write(
        `POST /iam/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      const closing = t.app.close();
      await new Promise((r) => setTimeout(r, 300));
      // The rest of the body, and a readiness probe behind it on the same connection.
      socket.write(`${body.slice(half)}GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      await closing;
      await once(socket, 'close');
      // The request in flight finishes; the probe behind it gets no answer and the connection closes.
      const statuses = [...response.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      expect(statuses).toEqual([200]);
      const refused = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        (e: Error) => e.name,
      );
      expect(refused).toBe('TypeError'); // fetch failed: connection refused
    } finally {
      await t.close();
    }
  });
});

describe('LATCHKEY_SHUTDOWN_DELAY_SECONDS', () => {
  it('on SIGTERM /readyz answers 503 (stopping) while everything else is still served, then the process stops', async () => {
    await ensureServerBuilt();
    const db = await scratchDatabase('sqlite');
    const server = new ServerProcess(
      await freePort(),
      {
        LATCHKEY_DATA_DIR: db.dataDir,
        LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
        LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LATCHKEY_SHUTDOWN_DELAY_SECONDS: '3',
      },
      ['dist/main.js'],
    );
    try {
      await server.waitReady();
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      await sleep(500);
      const probe = await fetch(`${server.url}/readyz`);
      expect(probe.status).toBe(503);
      expect(await probe.json()).toMatchObject({ status: 'unavailable', stopping: true });
      // A new connection is still accepted and served during the delay.
      expect((await fetch(`${server.url}/healthcheck`)).status).toBe(200);
      const { code } = await server.waitExit(20_000);
      expect(code).toBe(0);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(3_000);
      expect(server.stdout).toContain('/readyz answers 503');
    } finally {
      await server.stop();
      await db.drop();
    }
  });
});

describe.skipIf(!REDIS_AVAILABLE)('GET /readyz with Redis', () => {
  const relay = new Relay({ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) });
  let t: TestApp;

  beforeAll(async () => {
    await relay.open();
    const url = new URL(REDIS_URL);
    url.port = String(relay.port);
    t = await startTestApp('sqlite', { env: { REDIS_URL: url.toString() } });
  });
  afterAll(async () => {
    await t?.close();
    await relay.cut();
  });

  it('is 503 naming Redis while it is unreachable, and 200 again once it is back', async () => {
    expect(await readyz(t)).toEqual({
      status: 200,
      body: { status: 'ready', database: { status: 'ok' }, redis: { status: 'ok' } },
    });
    await relay.cut();
    const down = await until(
      () => readyz(t),
      (r) => r.status === 503,
    );
    expect(down).toEqual({
      status: 503,
      body: { status: 'unavailable', database: { status: 'ok' }, redis: { status: 'unreachable' } },
    });
    // The liveness check does not depend on Redis.
    expect((await t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode).toBe(200);
    await relay.open(); // the same port: the clients reconnect on their own
    const back = await until(
      () => readyz(t),
      (r) => r.status === 200,
    );
    expect(back.status).toBe(200);
  }, 60_000);
});

describe.skipIf(!engineAvailable('postgres'))('GET /readyz on PostgreSQL', () => {
  let relay: Relay;
  let t: TestApp;

  beforeAll(async () => {
    // A deployment whose DATABASE_URL goes through the relay.
    const direct = await startTestApp('postgres');
    const url = new URL(direct.env.DATABASE_URL as string);
    relay = new Relay({ host: url.hostname, port: Number(url.port || 5432) });
    await relay.open();
    url.port = String(relay.port);
    t = await startTestApp('postgres', { db: direct.db, env: { DATABASE_URL: url.toString() } });
    await direct.app.close();
    await direct.runtime.close();
  });
  afterAll(async () => {
    await t?.close();
    await relay?.cut();
    await t?.db.drop();
  });

  it('is 503 naming the database while PostgreSQL is unreachable, and 200 again once it is back', async () => {
    expect((await readyz(t)).status).toBe(200);
    await relay.cut();
    const down = await until(
      () => readyz(t),
      (r) => r.status === 503,
    );
    expect(down).toEqual({
      status: 503,
      body: { status: 'unavailable', database: { status: 'unreachable' } },
    });
    await relay.open();
    const back = await until(
      () => readyz(t),
      (r) => r.status === 200,
    );
    expect(back.status).toBe(200);
  }, 60_000);
});
