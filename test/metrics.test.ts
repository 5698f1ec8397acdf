/**
 * GET /metrics (Prometheus text format): who may read it (LATCHKEY_METRICS_TOKEN on the main port,
 * LATCHKEY_METRICS_PORT on loopback, nothing otherwise), and its counters moving with the requests
 * sent: requests and latency by route and status, error answers by code, traffic control's
 * refusals, the mail outbox's backlog.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Notifier } from '../src/notify/notifier.js';
import { enqueueMail } from '../src/notify/outbox.js';
import { Metrics } from '../src/observability/metrics.js';
import { startMetricsServer } from '../src/observability/metrics-server.js';
import { call, type TestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';
import { useTestSmtp } from './helpers/smtp.js';
import { startUpstream } from './helpers/upstream.js';

const TOKEN = 'metrics-token-0123456789abcdef0123456789';
const HOST = 'latchkey.test';

/** The value of one sample (`name{labels} value`), 0 when the series is not there yet. */
function sample(text: string, name: string, labels: Record<string, string | number> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(m[3]);
  }
  return 0;
}

async function scrape(t: TestApp): Promise<string> {
  const res = await t.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

async function newKey(t: TestApp, body: Record<string, unknown> = {}) {
  const res = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
    body: { name: `k${Math.random()}`, ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Credentials & { accessKeyId: string };
}

async function signedGet(t: TestApp, c: Credentials, path: string, remoteAddress?: string) {
  return t.app.inject({
    method: 'GET',
    url: path,
    headers: await signHeaders(c, { method: 'GET', path, host: HOST, date: t.clock.now() }),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

describeEachEngine('GET /metrics', (engine) => {
  const t = useTestApp(engine, { env: { LATCHKEY_METRICS_TOKEN: TOKEN } });

  it('needs the metrics token: none is 401 UNAUTHENTICATED; a wrong one, or an IAM token, 401 INVALID_TOKEN', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    for (const token of [`${TOKEN}x`, t.adminToken]) {
      const wrong = await t.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('INVALID_TOKEN');
    }
    const ok = await t.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    // The process's own metrics, with the prefix.
    expect(ok.body).toMatch(/^latchkey_process_cpu_user_seconds_total \d/m);
    expect(ok.body).toMatch(/^latchkey_nodejs_eventloop_lag_seconds \d/m);
    expect(ok.body).toContain('# TYPE latchkey_http_request_duration_seconds histogram');
  });

  it('counts requests by route and status, errors by code, and traffic refusals, as they are sent', async () => {
    const plain = await newKey(t);
    const limited = await newKey(t, { rateLimit: { limit: 1, periodSeconds: 60 } });
    const fenced = await newKey(t, { allowedCidrs: ['203.0.113.0/24'] });
    const before = await scrape(t);
    const profile200 = { method: 'GET', route: '/profile', status: 200 };

    for (let i = 0; i < 3; i++) expect((await signedGet(t, plain, '/profile')).statusCode).toBe(200);
    const forged = { ...plain, secretAccessKey: `${plain.secretAccessKey.slice(0, -1)}#` };
    for (let i = 0; i < 2; i++) expect((await signedGet(t, forged, '/profile')).statusCode).toBe(403);
    expect((await signedGet(t, limited, '/profile')).statusCode).toBe(200);
    expect((await signedGet(t, limited, '/profile')).statusCode).toBe(429);
    expect((await signedGet(t, fenced, '/profile', '198.51.100.7')).statusCode).toBe(403);
    expect((await signedGet(t, fenced, '/profile', '203.0.113.9')).statusCode).toBe(200);
    // A path no route serves is counted as `unmatched`, never by its raw URL.
    expect((await t.app.inject({ method: 'GET', url: '/no/such/path/4711' })).statusCode).toBe(404);

    const after = await scrape(t);
    const moved = (name: string, labels: Record<string, string | number> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved('latchkey_http_requests_total', profile200)).toBe(5);
    expect(moved('latchkey_http_request_duration_seconds_count', profile200)).toBe(5);
    expect(moved('latchkey_http_requests_total', { ...profile200, status: 403 })).toBe(3);
    expect(moved('latchkey_http_requests_total', { ...profile200, status: 429 })).toBe(1);
    expect(moved('latchkey_http_errors_total', { code: 'SignatureDoesNotMatch' })).toBe(2);
    expect(moved('latchkey_http_errors_total', { code: 'RateLimitExceeded' })).toBe(1);
    expect(moved('latchkey_http_errors_total', { code: 'SourceIpNotAllowed' })).toBe(1);
    expect(moved('latchkey_traffic_refused_total', { reason: 'limited' })).toBe(1);
    expect(moved('latchkey_traffic_refused_total', { reason: 'address' })).toBe(1);
    expect(moved('latchkey_http_requests_total', { method: 'GET', route: 'unmatched', status: 404 })).toBe(1);
    expect(after).not.toContain('/no/such/path/4711');
    // The scrape before this one is counted too (GET /metrics is a route like any other).
    expect(moved('latchkey_http_requests_total', { method: 'GET', route: '/metrics', status: 200 })).toBe(1);
  });

  it('counts key-cache hits and misses, background job runs, gateway upstream latency and the PostgreSQL pool', async () => {
    const upstream = await startUpstream();
    // The upstream takes 100 ms: the gateway's own time is what is left of each answer's.
    const answer = upstream.respond;
    upstream.respond = (req, res) => void setTimeout(() => answer(req, res), 100);
    try {
      const key = await newKey(t);
      const api = await call(t, 'POST', '/iam/apis', {
        body: {
          name: `metered${engine}`,
          basePath: `/api/metered-${engine}`,
          upstream: upstream.url,
          routes: [{ method: 'GET', path: '/*', permission: 'metered:read' }],
        },
      });
      expect(api.statusCode, api.body).toBe(201);
      const before = await scrape(t);
      // A new key: its first request reads the database, the next two are answered from memory.
      for (let i = 0; i < 3; i++) expect((await signedGet(t, key, '/profile')).statusCode).toBe(200);
      for (let i = 0; i < 2; i++)
        expect((await signedGet(t, key, `/api/metered-${engine}/items`)).statusCode).toBe(200);
      // Refused at the gateway: nothing was forwarded, nothing is timed as forwarded.
      expect((await t.app.inject({ method: 'GET', url: `/api/metered-${engine}/items` })).statusCode).toBe(
        401,
      );
      await t.runtime.usage.flush();
      const after = await scrape(t);
      const moved = (name: string, labels: Record<string, string | number> = {}) =>
        sample(after, name, labels) - sample(before, name, labels);
      expect(moved('latchkey_key_cache_lookups_total', { result: 'miss' })).toBe(1);
      expect(moved('latchkey_key_cache_lookups_total', { result: 'hit' })).toBe(4);
      const apiId = { api: api.json().id };
      expect(moved('latchkey_gateway_upstream_duration_seconds_count', apiId)).toBe(2);
      expect(moved('latchkey_gateway_upstream_duration_seconds_sum', apiId)).toBeGreaterThanOrEqual(0.19);
      // What latchkey added: every answered request, without the upstream's 100 ms.
      expect(moved('latchkey_gateway_added_duration_seconds_count', apiId)).toBe(2);
      const added = moved('latchkey_gateway_added_duration_seconds_sum', apiId);
      expect(added).toBeGreaterThan(0);
      expect(added).toBeLessThan(0.1);
      expect(moved('latchkey_job_runs_total', { job: 'usage_flush', outcome: 'ok' })).toBeGreaterThanOrEqual(
        1,
      );
      expect(
        sample(after, 'latchkey_job_duration_seconds_count', { job: 'usage_flush' }),
      ).toBeGreaterThanOrEqual(1);
      if (engine === 'postgres') {
        expect(sample(after, 'latchkey_db_pool_connections')).toBeGreaterThanOrEqual(1);
        expect(after).toMatch(/^latchkey_db_pool_waiting 0$/m);
      } else {
        // SQLite has no pool: no such gauge.
        expect(after).not.toContain('latchkey_db_pool_connections');
      }
    } finally {
      await upstream.close();
    }
  });

  it("shows the mail outbox's backlog: how many wait, and for how long the oldest has", async () => {
    const svc = t.runtime.svc;
    await enqueueMail(svc, svc.db, {
      tenantId: t.tenantId,
      kind: 'test',
      to: 'ops@example.com',
      subject: 'waiting',
      text: 'waiting',
      html: '<p>waiting</p>',
    });
    t.clock.advance(90_000);
    const text = await scrape(t);
    expect(sample(text, 'latchkey_mail_outbox_waiting')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'latchkey_mail_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(90);
  });
});

describe('mail delivery and background jobs in /metrics', () => {
  const smtp = useTestSmtp();
  const t = useTestApp('sqlite', () => ({ env: { LATCHKEY_METRICS_TOKEN: TOKEN, SMTP_URL: smtp.url } }));

  it('counts mail by outcome and each run of the reminder job and the outbox', async () => {
    const svc = t.runtime.svc;
    const before = await scrape(t);
    await enqueueMail(svc, svc.db, {
      tenantId: t.tenantId,
      kind: 'test',
      to: 'metrics@example.com',
      subject: 'counted',
      text: 'counted',
      html: '<p>counted</p>',
    });
    const notifier = new Notifier(svc);
    const { outbox } = await notifier.runOnce();
    expect(outbox.sent).toBe(1);
    expect(smtp.to('metrics@example.com')).toHaveLength(1);
    // The SMTP server refuses (5xx): the message fails for good.
    smtp.refuse = { code: 550, message: 'no such mailbox' };
    try {
      await enqueueMail(svc, svc.db, {
        tenantId: t.tenantId,
        kind: 'test',
        to: 'refused@example.com',
        subject: 'refused',
        text: 'refused',
        html: '<p>refused</p>',
      });
      expect((await notifier.runOutbox()).failed).toBe(1);
    } finally {
      smtp.refuse = null;
    }
    const after = await scrape(t);
    const moved = (name: string, labels: Record<string, string | number> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved('latchkey_mail_deliveries_total', { outcome: 'sent' })).toBe(1);
    expect(moved('latchkey_mail_deliveries_total', { outcome: 'failed' })).toBe(1);
    expect(moved('latchkey_job_runs_total', { job: 'reminders', outcome: 'ok' })).toBe(1);
    expect(moved('latchkey_job_runs_total', { job: 'mail_outbox', outcome: 'ok' })).toBe(2);
    expect(moved('latchkey_job_duration_seconds_count', { job: 'mail_outbox' })).toBe(2);
  });
});

describe('a gauge that cannot be read', () => {
  it('keeps its last value and is counted; the scrape still answers', async () => {
    const metrics = new Metrics();
    let up = true;
    metrics.gauges([{ name: 'test_backlog', help: 'a backlog read from a database' }], () => {
      if (!up) throw new Error('database unreachable');
      return [7];
    });
    expect(sample(await metrics.expose(), 'test_backlog')).toBe(7);
    up = false;
    const text = await metrics.expose();
    expect(sample(text, 'test_backlog')).toBe(7);
    expect(sample(text, 'latchkey_metrics_collect_failures_total', { gauge: 'test_backlog' })).toBe(1);
  });
});

describeEachEngine('GET /metrics without a metrics token', (engine) => {
  const t = useTestApp(engine);

  it('is not offered on the main port (404), whatever the credentials', async () => {
    for (const headers of [{}, { authorization: `Bearer ${t.adminToken}` }]) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('NOT_FOUND');
      expect(res.json().error.message).toContain('LATCHKEY_METRICS_PORT');
    }
  });

  it('LATCHKEY_METRICS_PORT serves them on loopback without a token, and nothing else', async () => {
    const errors: unknown[] = [];
    const server = await startMetricsServer(t.runtime.svc.metrics, 0, (e) => errors.push(e));
    try {
      await call(t, 'GET', '/iam/me');
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(
        sample(text, 'latchkey_http_requests_total', { method: 'GET', route: '/iam/me', status: 200 }),
      ).toBeGreaterThanOrEqual(1);
      expect((await fetch(`http://127.0.0.1:${server.port}/iam/me`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(404);
      expect(errors).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('metrics settings', () => {
  it.each([
    [{ LATCHKEY_METRICS_TOKEN: 'short' }, /LATCHKEY_METRICS_TOKEN: must be 32 to 256/],
    [{ LATCHKEY_METRICS_TOKEN: `${'a'.repeat(40)} b` }, /LATCHKEY_METRICS_TOKEN/],
    [{ LATCHKEY_METRICS_PORT: 'nine' }, /LATCHKEY_METRICS_PORT: must be a whole number/],
    [{ LATCHKEY_METRICS_PORT: '0' }, /LATCHKEY_METRICS_PORT: must be between 1 and 65535/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ LATCHKEY_DATA_DIR: '/tmp/latchkey-config-test', ...env })).toThrow(message);
  });

  it('reads both', () => {
    const config = loadConfig({
      LATCHKEY_DATA_DIR: '/tmp/x',
      LATCHKEY_METRICS_TOKEN: TOKEN,
      LATCHKEY_METRICS_PORT: '9464',
    });
    expect(config.metricsToken).toBe(TOKEN);
    expect(config.metricsPort).toBe(9464);
  });
});
