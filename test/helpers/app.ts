/** Build a real latchkey (real database, real services) for a test, with a pinnable clock. */
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { App } from '../../src/http/app-types.js';
import { type Runtime, startBackgroundWork, startRuntime } from '../../src/runtime.js';
import { type Clock, createLogger } from '../../src/services.js';
import { type EngineName, type ScratchDatabase, scratchDatabase } from './engines.js';
import { TEST_PASSWORD_HASH_COST } from './process.js';

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

export class TestClock implements Clock {
  constructor(private current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}

export interface TestApp {
  app: App;
  runtime: Runtime;
  clock: TestClock;
  db: ScratchDatabase;
  tenantId: string;
  adminToken: string;
  adminId: string;
  /** Every log line the app wrote. */
  logs: string[];
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse a database (e.g. a second instance of the same deployment). */
  db?: ScratchDatabase;
  clock?: TestClock;
}

export async function startTestApp(engine: EngineName, options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await scratchDatabase(engine, { migrated: true }));
  const env: Record<string, string> = {
    LATCHKEY_DATA_DIR: db.dataDir,
    LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
    LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    ...TEST_PASSWORD_HASH_COST,
    ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : {}),
    ...options.env,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = loadConfig(env);
  // The production logger's settings (level, redaction, serializers), writing to memory.
  const logger = createLogger(config, sink);
  const clock = options.clock ?? new TestClock();
  const runtime = await startRuntime(config, { clock, logger });
  // Reminders and mail are left to each test's own Notifier (runOnce): no timers to wait on.
  await startBackgroundWork(runtime, { notifications: false });
  const app = await buildApp(runtime, { checkContract: true });
  await app.ready();
  const login = await app.inject({
    method: 'POST',
    url: '/iam/login',
    payload: { auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  });
  if (login.statusCode !== 200) throw new Error(`admin login failed: ${login.body}`);
  const adminToken = login.json().token as string;
  const me = await app.inject({
    method: 'GET',
    url: '/iam/me',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return {
    app,
    runtime,
    clock,
    db,
    tenantId: me.json().tenantId,
    adminId: me.json().id,
    adminToken,
    logs,
    env,
    close: async () => {
      await app.close();
      await runtime.close();
      if (!options.db) await db.drop();
    },
  };
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A JSON call through app.inject. */
export async function call(
  t: TestApp,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: CallOptions = {},
): Promise<LightMyRequestResponse> {
  const token = options.token === undefined ? t.adminToken : options.token;
  return t.app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
    ...(options.body === undefined ? {} : { payload: options.body as object }),
  });
}

export async function login(t: TestApp, email: string, password: string): Promise<string> {
  const res = await call(t, 'POST', '/iam/login', {
    token: '',
    body: { auth_mode: 'password', email, password },
  });
  if (res.statusCode !== 200) throw new Error(`login of ${email} failed: ${res.body}`);
  return res.json().token;
}

export async function loginWithKey(
  t: TestApp,
  apikey: string,
  secretkey: string,
): Promise<LightMyRequestResponse> {
  return call(t, 'POST', '/iam/login', { token: '', body: { auth_mode: 'apikey', apikey, secretkey } });
}

/** Create a user with a password, returning its id and a session token. */
export async function createUserWithLogin(
  t: TestApp,
  email: string,
  password = 'a-long-enough-password',
): Promise<{ id: string; token: string }> {
  const res = await call(t, 'POST', '/iam/users', { body: { email, name: email.split('@')[0], password } });
  if (res.statusCode !== 201) throw new Error(`create user failed: ${res.body}`);
  return { id: res.json().id, token: await login(t, email, password) };
}

/** Sign the administrator in again (after moving the test clock past the token's lifetime). */
export async function refreshAdminToken(t: TestApp): Promise<void> {
  t.adminToken = await login(t, ADMIN_EMAIL, ADMIN_PASSWORD);
}

/** Every route of the app as (method, path), read back from Fastify's route tree; HEAD left out. */
export function routesOf(app: App): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) {
      // The tree prints a wildcard as its own node without the slash before it (`/console` → `*`).
      if (method !== 'HEAD') out.push({ method, path: stack.join('').replace(/([^/])\*$/, '$1/*') });
    }
  }
  return out;
}
