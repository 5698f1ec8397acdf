/**
 * The access log: one line per request at `info` (none at `warn`), naming the request, its route,
 * status, duration, error code and caller, with credentials in the URL redacted; and the
 * per-request logger (`request.log`), created only when something is written through it.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type AccessFields, fastAccessLine, lazyChildLogger } from '../src/observability/access-log.js';
import { createLogger } from '../src/services.js';
import { call, startTestApp, type TestApp } from './helpers/app.js';
import { type Credentials, presign, signHeaders } from './helpers/sign.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';

const HOST = 'latchkey.test';

type Line = Record<string, unknown>;
const accessLines = (t: TestApp): Line[] =>
  t.logs.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === 'request');
const linesOf = (t: TestApp, reqId: string) => accessLines(t).filter((l) => l.reqId === reqId);

describe('access log at LOG_LEVEL=info', () => {
  let t: TestApp;
  let key: Credentials & { accessKeyId: string };
  let upstream: TestUpstream;
  beforeAll(async () => {
    t = await startTestApp('sqlite');
    upstream = await startUpstream();
    const created = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'log' } });
    expect(created.statusCode, created.body).toBe(201);
    key = created.json();
  });
  afterAll(async () => {
    await upstream?.close();
    await t?.close();
  });

  it('a signed request: exactly one line, with route, status, duration and who called', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/profile',
      headers: {
        ...(await signHeaders(key, { method: 'GET', path: '/profile', host: HOST, date: t.clock.now() })),
        'x-request-id': 'log-signed-1',
      },
      remoteAddress: '203.0.113.9',
    });
    expect(res.statusCode, res.body).toBe(200);
    const lines = linesOf(t, 'log-signed-1');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        method: 'GET',
        url: '/profile',
        route: '/profile',
        status: 200,
        ip: '203.0.113.9',
        tenant: t.tenantId,
        principal: t.adminId,
        accessKey: key.accessKeyId,
      }),
    ]);
    expect(typeof lines[0]?.ms).toBe('number');
    expect(lines[0]).not.toHaveProperty('code');
  });

  it('an error: its stable code; an unknown path: no route', async () => {
    const refused = await t.app.inject({
      method: 'GET',
      url: '/iam/users',
      headers: { 'x-request-id': 'log-refused-1' },
    });
    expect(refused.statusCode).toBe(401);
    expect(linesOf(t, 'log-refused-1')).toEqual([
      expect.objectContaining({ status: 401, route: '/iam/users', code: 'UNAUTHENTICATED' }),
    ]);
    expect(linesOf(t, 'log-refused-1')[0]).not.toHaveProperty('tenant');
    const unknown = await t.app.inject({
      method: 'GET',
      url: '/no/such/thing',
      headers: { 'x-request-id': 'log-unknown-1' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(linesOf(t, 'log-unknown-1')).toEqual([
      expect.objectContaining({ status: 404, route: null, code: 'NOT_FOUND', url: '/no/such/thing' }),
    ]);
  });

  it("a presigned URL's signature and credential never reach the log", async () => {
    const url = await presign(key, { method: 'GET', path: '/profile', host: HOST, date: t.clock.now() });
    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)?.[1] as string;
    expect(signature).toBeDefined();
    const res = await t.app.inject({
      method: 'GET',
      url,
      headers: { host: HOST, 'x-request-id': 'log-presigned-1' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const [line] = linesOf(t, 'log-presigned-1');
    expect(line?.url).toMatch(/X-Amz-Signature=\[redacted\]/);
    expect(line?.url).toMatch(/X-Amz-Credential=\[redacted\]/);
    expect(t.logs.join('')).not.toContain(signature);
  });

  it('a gateway request names the caller its signature proved', async () => {
    const api = await call(t, 'POST', '/iam/apis', {
      body: {
        name: 'logged',
        basePath: '/api/logged',
        upstream: upstream.url,
        routes: [{ method: 'GET', path: '/*', permission: 'logged:read' }],
      },
    });
    expect(api.statusCode, api.body).toBe(201);
    const path = '/api/logged/items';
    const res = await t.app.inject({
      method: 'GET',
      url: path,
      headers: {
        ...(await signHeaders(key, { method: 'GET', path, host: HOST, date: t.clock.now() })),
        'x-request-id': 'log-gateway-1',
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(linesOf(t, 'log-gateway-1')).toEqual([
      expect.objectContaining({ status: 200, url: path, accessKey: key.accessKeyId, tenant: t.tenantId }),
    ]);
  });
});

describe('access log at LOG_LEVEL=warn', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes no per-request line', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/healthcheck' });
      expect(res.statusCode).toBe(200);
    }
    expect(accessLines(t)).toEqual([]);
    expect(t.logs.filter((l) => l.includes('/healthcheck'))).toEqual([]);
  });
});

describe('lazyChildLogger (request.log)', () => {
  const capture = (level: string) => {
    const lines: Line[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Line);
        done();
      },
    });
    const parent = pino({ level }, sink);
    let children = 0;
    // Counts every child made (children inherit this method, so `this` must be the caller).
    const child = parent.child;
    parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) {
      children++;
      return child.apply(this, args);
    } as typeof parent.child;
    return { parent, lines, children: () => children };
  };
  const flushed = () => new Promise((r) => setImmediate(r));

  it('makes no child for a level that is off, and one with the bindings for a level that is on', async () => {
    const { parent, lines, children } = capture('warn');
    const log = lazyChildLogger(parent, { reqId: 'r-1' }, {});
    log.info('not written');
    log.debug('not written either');
    expect(children()).toBe(0);
    expect(log.level).toBe('warn');
    log.error({ err: new Error('boom') }, 'written');
    log.warn('also written');
    await flushed();
    expect(children()).toBe(1);
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['r-1', 'written'],
      ['r-1', 'also written'],
    ]);
    expect(lines[0]?.err).toMatchObject({ message: 'boom' });
    // A child of the request's logger keeps the request's bindings.
    log.child({ part: 'x' }).warn('nested');
    await flushed();
    expect(children()).toBe(2);
    expect(lines.at(-1)).toMatchObject({ reqId: 'r-1', part: 'x', msg: 'nested' });
  });
});

describe('the access line written without pino’s general path (fastAccessLine)', () => {
  /** A logger of the production settings, and what it writes. */
  const production = (bindings?: Record<string, unknown>) => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const root = createLogger(loadConfig({ LOG_LEVEL: 'info' }), sink);
    const logger = (bindings ? root.child(bindings) : root).child({}, { redact: { paths: [] } });
    return { logger, lines };
  };
  const flushed = () => new Promise((r) => setImmediate(r));
  const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');
  const base: AccessFields = {
    reqId: 'req-1',
    method: 'GET',
    url: '/profile?x=1',
    route: '/profile',
    status: 200,
    ms: 1.25,
    ip: '127.0.0.1',
  };
  const cases: AccessFields[] = [
    base,
    { ...base, route: null, status: 404, code: 'NOT_FOUND' },
    { ...base, tenant: 'ten_1', principal: 'usr_1', accessKey: 'AKIA1' },
    { ...base, tenant: 'ten_1', principal: 'svc_1' },
    { ...base, traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), ms: 0 },
    { ...base, url: '/a"b\\c/%22/é/\u2028', method: 'POST', ip: '::1' },
    { ...base, url: `/${'x'.repeat(150)}"` },
  ];

  it('writes exactly what pino writes for the same fields, with the logger’s bindings', async () => {
    for (const bindings of [undefined, { worker: 2 }]) {
      const { logger, lines } = production(bindings);
      const fast = fastAccessLine(logger);
      expect(fast).toBeTypeOf('function');
      for (const fields of cases) {
        (fast as NonNullable<typeof fast>)(fields);
        logger.info({ ...fields }, 'request');
      }
      await flushed();
      expect(lines).toHaveLength(cases.length * 2);
      for (let i = 0; i < lines.length; i += 2) {
        expect(withoutTime(lines[i] as string)).toBe(withoutTime(lines[i + 1] as string));
      }
      expect(JSON.parse(lines[2] as string)).toMatchObject({
        level: 30,
        service: 'latchkey',
        ...(bindings ?? {}),
      });
    }
  });

  it('escapes a control character in the URL as JSON does', async () => {
    const { logger, lines } = production();
    const fast = fastAccessLine(logger) as NonNullable<ReturnType<typeof fastAccessLine>>;
    fast({ ...base, url: '/a\u0001\n' });
    logger.info({ ...base, url: '/a\u0001\n' }, 'request');
    await flushed();
    expect(JSON.parse(lines[0] as string).url).toBe('/a\u0001\n');
    expect(withoutTime(lines[0] as string)).toBe(withoutTime(lines[1] as string));
  });

  it('leaves a logger whose output pino would shape further to pino', () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    expect(fastAccessLine(pino({ mixin: () => ({ extra: 1 }) }, sink))).toBeUndefined();
    expect(fastAccessLine(pino({ formatters: { log: (o) => o } }, sink))).toBeUndefined();
    expect(fastAccessLine(pino({ messageKey: 'message' }, sink))).toBeUndefined();
    expect(fastAccessLine(pino({ nestedKey: 'payload' }, sink))).toBeUndefined();
    expect(fastAccessLine(pino({ hooks: { streamWrite: (s) => s } }, sink))).toBeUndefined();
    expect(fastAccessLine(pino({}, pino.multistream([{ stream: sink }])))).toBeUndefined();
    expect(fastAccessLine(pino({}, sink))).toBeTypeOf('function');
  });
});
