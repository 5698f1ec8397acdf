/**
 * OpenTelemetry traces (src/observability/tracing.ts) end to end: the real server process
 * (`src/main.ts`) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real OTLP/HTTP receiver on
 * 127.0.0.1 (the SDK's own exporter, JSON encoding, POST /v1/traces), a real upstream for the
 * gateway, and the access log on stdout. And the same server without an endpoint: no trace ids,
 * no trace headers.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingConfigured } from '../../src/observability/tracing.js';
import { ADMIN_EMAIL } from '../helpers/app.js';
import { engineAvailable, type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import { freePort, type ServerProcess, sleep, startServer } from '../helpers/process.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const PASSWORD = 'tracing-test-password-0123456789';

// ------------------------------------------------------------------------------------------
// A minimal OTLP/HTTP receiver (JSON encoding)
// ------------------------------------------------------------------------------------------

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number; message?: string };
}
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
  resource: Record<string, string | number | boolean | undefined>;
}

/** OTLP span kinds (the JSON encoding uses the protobuf enum's numbers). */
const KIND = { internal: 1, server: 2, client: 3 } as const;

function attributeMap(list: Array<{ key: string; value: OtlpValue }> = []) {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const { key, value } of list)
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.boolValue ??
      value.doubleValue;
  return out;
}

interface Receiver {
  url: string;
  /** Every request body received, as sent (to search for secrets). */
  readonly bodies: string[];
  /** Requests that were not POST /v1/traces with JSON. */
  unexpected: string[];
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

/** An OTLP/HTTP JSON collector: the test upstream (test/helpers/upstream.ts) answering as one. */
async function startReceiver(): Promise<Receiver> {
  const upstream = await startUpstream();
  const receiver: Receiver = {
    url: upstream.url,
    get bodies() {
      return upstream.received.map((r) => r.body);
    },
    unexpected: [],
    spans: [],
    close: () => upstream.close(),
  };
  upstream.respond = (req, res) => {
    if (
      req.method !== 'POST' ||
      req.url !== '/v1/traces' ||
      !req.headers['content-type']?.startsWith('application/json')
    ) {
      receiver.unexpected.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      res.statusCode = 400;
      res.end();
      return;
    }
    const payload = JSON.parse(req.body) as {
      resourceSpans: Array<{
        resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
        scopeSpans: Array<{ spans: OtlpSpan[] }>;
      }>;
    };
    for (const rs of payload.resourceSpans) {
      const resource = attributeMap(rs.resource?.attributes);
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans)
          receiver.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            name: s.name,
            kind: s.kind,
            attributes: attributeMap(s.attributes),
            resource,
          });
    }
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  };
  return receiver;
}

/** Wait until `find` returns something from the received spans (the exporter batches). */
async function waitFor<T>(receiver: Receiver, find: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no ${what} within 15 s; received spans:\n${receiver.spans.map((s) => `${s.name} ${JSON.stringify(s.attributes)}`).join('\n')}`,
      );
    await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------
// The server under test
// ------------------------------------------------------------------------------------------

async function json(
  server: ServerProcess,
  method: string,
  url: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

interface Started {
  server: ServerProcess;
  dataDir: string;
  token: string;
  key: Credentials;
}

/** Start a server, sign in, register the upstream as an API and create an access key. */
async function startWith(env: Record<string, string>, upstream: TestUpstream): Promise<Started> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-tracing-'));
  const server = startServer(await freePort(), {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
    LATCHKEY_ADMIN_PASSWORD: PASSWORD,
    LOG_LEVEL: 'info',
    ...env,
  });
  await server.waitReady();
  const login = await json(server, 'POST', '/iam/login', {
    body: { auth_mode: 'password', email: ADMIN_EMAIL, password: PASSWORD },
  });
  expect(login.status, JSON.stringify(login.body)).toBe(200);
  const token = login.body.token as string;
  const me = await json(server, 'GET', '/iam/me', { token });
  const api = await json(server, 'POST', '/iam/apis', {
    token,
    body: {
      name: 'orders',
      basePath: '/api/orders',
      upstream: upstream.url,
      routes: [{ method: 'GET', path: '/items/*', permission: 'orders:read' }],
    },
  });
  expect(api.status, JSON.stringify(api.body)).toBe(201);
  const key = await json(server, 'POST', `/iam/users/${me.body.id as string}/keys`, {
    token,
    body: { name: 'tracing' },
  });
  expect(key.status, JSON.stringify(key.body)).toBe(201);
  return { server, dataDir, token, key: key.body as unknown as Credentials };
}

/** A signed request (the AWS SDK's signer) over HTTP; returns the status. */
async function signedGet(
  started: Started,
  pathAndQuery: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const host = `127.0.0.1:${started.server.port}`;
  const signed = await signHeaders(started.key, { method: 'GET', path: pathAndQuery, host, headers });
  const res = await fetch(`${started.server.url}${pathAndQuery}`, { headers: signed });
  return {
    status: res.status,
    headers: { ...signed },
    body: await res.text(),
  };
}

/** The access-log line of a request id (stdout is JSON lines, but for the first-start banner). */
async function accessLine(server: ServerProcess, requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    for (const line of server.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.msg === 'request' && record.reqId === requestId) return record;
    }
    if (Date.now() > deadline) throw new Error(`no access line for ${requestId}:\n${server.stdout}`);
    await sleep(50);
  }
}

const HEX_TRACE_ID = /^[0-9a-f]{32}$/;
const HEX_SPAN_ID = /^[0-9a-f]{16}$/;

describe('OpenTelemetry traces from the server process', { timeout: 120_000 }, () => {
  let receiver: Receiver;
  let upstream: TestUpstream;
  let started: Started;
  /** Every credential the tests send: none may appear in an exported span. */
  const secrets: string[] = [PASSWORD];

  beforeAll(async () => {
    receiver = await startReceiver();
    upstream = await startUpstream();
    started = await startWith(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        // Export within 50 ms instead of the default 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
      upstream,
    );
    secrets.push(started.token, started.key.secretAccessKey);
  }, 90_000);

  afterAll(async () => {
    await started?.server.stop();
    await upstream?.close();
    await receiver?.close();
    if (started) fs.rmSync(started.dataDir, { recursive: true, force: true });
  });

  it('a signed request: a server span with a child verify span, and the key read from the database under it', async () => {
    const requestId = 'trace-signed-1';
    const res = await signedGet(started, '/profile', { 'x-request-id': requestId });
    expect(res.status, res.body).toBe(200);
    secrets.push(res.headers.authorization as string);

    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server).toMatchObject({
      name: 'GET /profile',
      kind: KIND.server,
      parentSpanId: undefined,
      attributes: expect.objectContaining({
        'http.request.method': 'GET',
        'http.route': '/profile',
        'url.path': '/profile',
        'http.response.status_code': 200,
      }),
    });
    // The default service name, and the SDK's resource attributes.
    expect(server.resource['service.name']).toBe('latchkey');
    expect(server.resource['telemetry.sdk.language']).toBe('nodejs');
    expect(server.traceId).toMatch(HEX_TRACE_ID);

    const verify = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId),
      'verify span under the server span',
    );
    expect(verify.traceId).toBe(server.traceId);
    expect(verify.attributes).toMatchObject({
      'latchkey.auth.method': 'sigv4',
      'latchkey.auth.outcome': 'ok',
      'latchkey.access_key_id': started.key.accessKeyId,
    });

    // The first signed request with this key: not in the key cache yet, so it is read from the
    // database inside the verification.
    const reads = receiver.spans.filter((s) => s.name === 'db.query' && s.parentSpanId === verify.spanId);
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) {
      expect(read.kind).toBe(KIND.client);
      expect(read.attributes['db.system.name']).toBe('sqlite');
      expect(String(read.attributes['db.query.text'])).toMatch(/^\s*(select|with)\b/i);
    }
    // Statements carry placeholders, never the values: the access key ID is a parameter.
    expect(reads.some((r) => String(r.attributes['db.query.text']).includes('?'))).toBe(true);
    for (const read of reads)
      expect(String(read.attributes['db.query.text'])).not.toContain(started.key.accessKeyId);

    // The access log line names the same trace and span.
    const line = await accessLine(started.server, requestId);
    expect(line.traceId).toBe(server.traceId);
    expect(line.spanId).toBe(server.spanId);
  });

  it('continues a trace from an incoming traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const requestId = 'trace-continued-1';
    const res = await signedGet(started, '/profile', {
      'x-request-id': requestId,
      traceparent: `00-${traceId}-${parent}-01`,
    });
    expect(res.status, res.body).toBe(200);
    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(parent);
    expect((await accessLine(started.server, requestId)).traceId).toBe(traceId);
    // The key is cached now: a verify span, and no database read under it.
    const verify = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId),
      'verify span',
    );
    expect(receiver.spans.filter((s) => s.parentSpanId === verify.spanId)).toEqual([]);
  });

  it('a token request: a verify span for the token, without the token', async () => {
    const requestId = 'trace-token-1';
    const res = await fetch(`${started.server.url}/iam/me`, {
      headers: { authorization: `Bearer ${started.token}`, 'x-request-id': requestId },
    });
    expect(res.status).toBe(200);
    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server.name).toBe('GET /iam/me');
    const verify = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId),
      'verify span',
    );
    expect(verify.attributes).toMatchObject({
      'latchkey.auth.method': 'token',
      'latchkey.auth.outcome': 'ok',
    });

    // A token that does not verify: the outcome is its error code.
    const forged = `${started.token.slice(0, -4)}AAAA`;
    secrets.push(forged);
    const refused = await fetch(`${started.server.url}/iam/me`, {
      headers: { authorization: `Bearer ${forged}`, 'x-request-id': 'trace-token-2' },
    });
    expect(refused.status).toBe(401);
    const refusedServer = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === 'trace-token-2'),
      'server span',
    );
    const refusedVerify = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === refusedServer.spanId),
      'verify span',
    );
    expect(refusedVerify.attributes['latchkey.auth.outcome']).toBe(
      refusedServer.attributes['latchkey.error_code'],
    );
    expect(refusedVerify.attributes['latchkey.auth.outcome']).toMatch(/^[A-Z_]+$/);
  });

  it('a request with a body: the handler, run after the body is read, writes to the database in the request trace', async () => {
    const requestId = 'trace-body-1';
    // The body arrives after the headers (in its own packet, 100 ms later), so the server reads it in
    // a later turn of the event loop than the one that started the request's span.
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ name: 'traced-robot' });
      const req = http.request(
        `${started.server.url}/iam/service-accounts`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${started.token}`,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'x-request-id': requestId,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      setTimeout(() => req.end(body), 100);
    });
    expect(status).toBe(201);
    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server.name).toBe('POST /iam/service-accounts');
    const insert = await waitFor(
      receiver,
      () =>
        receiver.spans.find(
          (s) =>
            s.name === 'db.query' &&
            s.traceId === server.traceId &&
            /^\s*insert\s+into\s+"service_accounts"/i.test(String(s.attributes['db.query.text'])),
        ),
      'insert span in the request trace',
    );
    expect(insert.attributes['db.operation.name']).toBe('INSERT');
    expect(String(insert.attributes['db.query.text'])).not.toContain('traced-robot');
  });

  it('a refused signature: the verify span says why, the server span carries the error code', async () => {
    const requestId = 'trace-refused-1';
    const host = `127.0.0.1:${started.server.port}`;
    const wrong = { ...started.key, secretAccessKey: `${started.key.secretAccessKey.slice(0, -1)}x` };
    const headers = await signHeaders(wrong, { method: 'GET', path: '/profile', host });
    const res = await fetch(`${started.server.url}/profile`, {
      headers: { ...headers, 'x-request-id': requestId },
    });
    expect(res.status).toBe(403);
    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server.attributes).toMatchObject({
      'http.response.status_code': 403,
      'latchkey.error_code': 'SignatureDoesNotMatch',
    });
    const verify = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId),
      'verify span',
    );
    expect(verify.attributes).toMatchObject({
      'latchkey.auth.outcome': 'SignatureDoesNotMatch',
      'latchkey.access_key_id': started.key.accessKeyId,
    });
  });

  it('a gateway request: an upstream span, and the upstream gets a traceparent of the same trace', async () => {
    upstream.received.length = 0;
    const requestId = 'trace-gateway-1';
    const clientTrace = '0af7651916cd43dd8448eb211c80319c';
    const res = await signedGet(started, '/api/orders/items/7?view=full', {
      'x-request-id': requestId,
      // The client's own trace: continued, and replaced (not duplicated) on the way upstream.
      traceparent: `00-${clientTrace}-b7ad6b7169203331-01`,
    });
    expect(res.status, res.body).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const sent = upstream.received[0]?.headers.traceparent;
    expect(typeof sent).toBe('string');
    const [version, traceId, spanId, flags] = String(sent).split('-');
    expect(version).toBe('00');
    expect(traceId).toBe(clientTrace);
    expect(spanId).toMatch(HEX_SPAN_ID);
    expect(spanId).not.toBe('b7ad6b7169203331');
    expect(flags).toBe('01');

    const server = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
      'server span',
    );
    expect(server.traceId).toBe(clientTrace);
    expect(server.attributes['http.response.status_code']).toBe(200);
    // The upstream call's span is the one whose id the upstream received, in the request's trace.
    const call = await waitFor(
      receiver,
      () => receiver.spans.find((s) => s.spanId === spanId),
      'upstream span',
    );
    expect(call).toMatchObject({ traceId: clientTrace, kind: KIND.client, name: 'GET' });
    expect(call.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.full': `${upstream.url}/items/7?view=full`,
      'http.response.status_code': 200,
    });
    // Its parent is the server span or one of its descendants.
    const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
    let ancestor = call.parentSpanId;
    while (ancestor !== undefined && ancestor !== server.spanId) ancestor = byId.get(ancestor)?.parentSpanId;
    expect(ancestor).toBe(server.spanId);
    const verify = receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId);
    expect(verify?.attributes['latchkey.auth.outcome']).toBe('ok');
    expect((await accessLine(started.server, requestId)).traceId).toBe(clientTrace);
  });

  it('no secret in any exported span, and every export was OTLP JSON to /v1/traces', async () => {
    // Let the last batch arrive.
    await sleep(300);
    expect(receiver.unexpected).toEqual([]);
    expect(receiver.bodies.length).toBeGreaterThan(0);
    const everything = receiver.bodies.join('\n');
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    // Nor any part of a SigV4 Authorization header (its signature) or a Bearer token.
    expect(everything).not.toMatch(/Signature=|Bearer /);
    expect(everything.toLowerCase()).not.toContain('authorization');
  });

  it('stops cleanly with tracing on, and the SDK reported no problem', async () => {
    await started.server.stop();
    expect(started.server.exitCode).toBe(0);
    expect(started.server.stderr).not.toContain('latchkey: tracing:');
  });
});

describe('spans still queued at shutdown', { timeout: 120_000 }, () => {
  it('are sent before the process exits (SIGTERM)', async () => {
    const receiver = await startReceiver();
    const upstream = await startUpstream();
    // A batch delay longer than the test: only the shutdown's flush can deliver these spans.
    const started = await startWith(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      },
      upstream,
    );
    try {
      const res = await fetch(`${started.server.url}/healthcheck`, {
        headers: { 'x-request-id': 'trace-last-1' },
      });
      expect(res.status).toBe(200);
      await sleep(300);
      expect(receiver.bodies).toEqual([]);
      await started.server.stop();
      expect(started.server.exitCode).toBe(0);
      expect(receiver.spans.some((s) => s.attributes['latchkey.request_id'] === 'trace-last-1')).toBe(true);
    } finally {
      await started.server.stop();
      await upstream.close();
      await receiver.close();
      fs.rmSync(started.dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!engineAvailable('postgres'))(
  'OpenTelemetry traces on PostgreSQL',
  { timeout: 120_000 },
  () => {
    let receiver: Receiver;
    let upstream: TestUpstream;
    let database: ScratchDatabase;
    let started: Started;

    beforeAll(async () => {
      receiver = await startReceiver();
      upstream = await startUpstream();
      database = await scratchDatabase('postgres');
      started = await startWith(
        {
          DATABASE_URL: database.databaseUrl as string,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
          OTEL_BSP_SCHEDULE_DELAY: '50',
        },
        upstream,
      );
    }, 90_000);

    afterAll(async () => {
      await started?.server.stop();
      await upstream?.close();
      await receiver?.close();
      await database?.drop();
      if (started) fs.rmSync(started.dataDir, { recursive: true, force: true });
    });

    it('the key read of a first signed request is a postgresql db.query span under verify', async () => {
      const requestId = 'trace-pg-1';
      const res = await signedGet(started, '/profile', { 'x-request-id': requestId });
      expect(res.status, res.body).toBe(200);
      const server = await waitFor(
        receiver,
        () => receiver.spans.find((s) => s.attributes['latchkey.request_id'] === requestId),
        'server span',
      );
      const verify = await waitFor(
        receiver,
        () => receiver.spans.find((s) => s.name === 'verify' && s.parentSpanId === server.spanId),
        'verify span',
      );
      const reads = receiver.spans.filter((s) => s.name === 'db.query' && s.parentSpanId === verify.spanId);
      expect(reads.length).toBeGreaterThan(0);
      for (const read of reads) expect(read.attributes['db.system.name']).toBe('postgresql');
      // PostgreSQL's numbered placeholders, never the values.
      expect(reads.some((r) => /\$1\b/.test(String(r.attributes['db.query.text'])))).toBe(true);
      for (const body of receiver.bodies) {
        expect(body).not.toContain(started.key.secretAccessKey);
        expect(body).not.toContain(started.token);
      }
    });
  },
);

describe('without an OTLP endpoint', { timeout: 120_000 }, () => {
  let upstream: TestUpstream;
  let started: Started;

  beforeAll(async () => {
    upstream = await startUpstream();
    // Empty counts as unset (the SDK's rule), whatever the environment running the tests has.
    started = await startWith(
      { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' },
      upstream,
    );
  }, 90_000);

  afterAll(async () => {
    await started?.server.stop();
    await upstream?.close();
    if (started) fs.rmSync(started.dataDir, { recursive: true, force: true });
  });

  it('writes no trace ids and sends the upstream no trace headers of its own', async () => {
    upstream.received.length = 0;
    const res = await signedGet(started, '/api/orders/items/1', { 'x-request-id': 'untraced-1' });
    expect(res.status, res.body).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]?.headers.traceparent).toBeUndefined();
    const line = await accessLine(started.server, 'untraced-1');
    expect(line).toMatchObject({ status: 200, route: expect.any(String) });
    expect(line).not.toHaveProperty('traceId');
    expect(line).not.toHaveProperty('spanId');
    expect(started.server.stdout).not.toContain('"traceId"');
    expect(started.server.stderr).not.toContain('tracing');
  });

  it("passes a client's traceparent through unchanged, as a proxy that does not trace", async () => {
    upstream.received.length = 0;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await signedGet(started, '/api/orders/items/2', { traceparent });
    expect(res.status, res.body).toBe(200);
    expect(upstream.received[0]?.headers.traceparent).toBe(traceparent);
  });
});

describe('when tracing starts', () => {
  it('only with an OTLP endpoint, and not when the SDK is switched off', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_HEADERS: 'a=b' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(
      true,
    );
    expect(
      tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBe(false);
    expect(
      tracingConfigured({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_TRACES_EXPORTER: 'none',
      }),
    ).toBe(false);
  });
});
