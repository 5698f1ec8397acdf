/**
 * Event webhooks (issue 16) against a real HTTP receiver on 127.0.0.1: deliveries arrive signed
 * (checked with the official `standardwebhooks` package), are retried after the receiver's
 * failures with the same id, survive a restart and a crash after the receiver's answer, are
 * refused for private addresses unless the operator allows them, and an endpoint that keeps
 * failing is disabled with an email to the administrators.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.js';
import { operatorActor } from '../src/context.js';
import { addKeyToFileKeyring, masterKeyPath, pruneFileKeyring } from '../src/crypto/master-key.js';
import { createKey } from '../src/keys/lifecycle.js';
import { reencryptAll } from '../src/keys/master-key-rotation.js';
import { Notifier } from '../src/notify/notifier.js';
import { outboxBacklog } from '../src/notify/outbox.js';
import { startRuntime } from '../src/runtime.js';
import { refusedRange } from '../src/webhooks/address.js';
import { pruneDeliveries, WebhookWorker, type WebhookWorkerOptions } from '../src/webhooks/worker.js';
import {
  ADMIN_EMAIL,
  call,
  createUserWithLogin,
  refreshAdminToken,
  startTestApp,
  type TestApp,
  type TestClock,
} from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { scratchDatabase } from './helpers/engines.js';
import { freePort, type ServerProcess, sleep, startServer } from './helpers/process.js';
import { signHeaders } from './helpers/sign.js';
import { useTestSmtp } from './helpers/smtp.js';

interface Hit {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver: records every request per path and answers each path's queued statuses (then
 * 204); a queued 0 never answers. A path in `together` holds its answers until that many requests
 * have arrived, then gives them all (so a test knows they were all sent before any was answered).
 */
class Receiver {
  readonly hits = new Map<string, Hit[]>();
  readonly answers = new Map<string, number[]>();
  readonly together = new Map<string, number>();
  private readonly held = new Map<string, (() => void)[]>();
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = req.url ?? '/';
        const list = this.hits.get(at) ?? [];
        list.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        this.hits.set(at, list);
        const status = this.answers.get(at)?.shift() ?? 204;
        if (status === 0) return; // hangs: never answers
        const answer = () =>
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? 'no thanks' : '');
        const wanted = this.together.get(at);
        if (wanted === undefined) return answer();
        const held = [...(this.held.get(at) ?? []), answer];
        if (held.length < wanted) return void this.held.set(at, held);
        this.held.delete(at);
        this.together.delete(at);
        for (const give of held) give();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  of(path: string): Hit[] {
    return this.hits.get(path) ?? [];
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function useReceiver(): Receiver {
  const receiver = new Receiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());
  return receiver;
}

/**
 * The clock deliveries are timestamped with: the receiver checks `webhook-timestamp` against its
 * own time (5 minutes either way), and the tests move the app's clock forward to reach retries.
 */
let senderClock: TestClock | undefined;

/** The payload, after checking the signature the way a receiver would (standardwebhooks). */
function verified(
  secret: string,
  hit: Hit,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  const headers = {
    'webhook-id': String(hit.headers['webhook-id']),
    'webhook-timestamp': String(hit.headers['webhook-timestamp']),
    'webhook-signature': String(hit.headers['webhook-signature']),
  };
  const now = vi.spyOn(Date, 'now').mockReturnValue((senderClock?.now() ?? new Date()).getTime());
  try {
    return new Webhook(secret).verify(hit.body, headers) as never;
  } finally {
    now.mockRestore();
  }
}

let serial = 0;
const hookPath = (name: string) => `/hooks/${name}-${++serial}`;

async function register(t: TestApp, url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const res = await call(t, 'POST', '/iam/webhooks', { body: { url, events, description: 'test' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** Remove an endpoint (signing in again first: the test may have moved the clock past the token). */
async function unregister(t: TestApp, id: string): Promise<void> {
  await refreshAdminToken(t);
  expect((await call(t, 'DELETE', `/iam/webhooks/${id}`)).statusCode).toBe(204);
}

const deliveries = async (t: TestApp, id: string) => {
  const res = await call(t, 'GET', `/iam/webhooks/${id}/deliveries`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items as Array<Record<string, unknown>>;
};

/** A worker without jitter and with short back-off, so a test can step the clock to each retry. */
const worker = (t: TestApp, options: WebhookWorkerOptions = {}) =>
  new WebhookWorker(t.runtime.svc, { jitter: 0, backoffBaseMs: 1_000, ...options });

describeEachEngine('webhooks', (engine) => {
  describe('delivery to a local receiver (LATCHKEY_WEBHOOK_ALLOW_PRIVATE=1)', () => {
    const receiver = useReceiver();
    const smtp = useTestSmtp();
    const t = useTestApp(engine, () => ({
      env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1', SMTP_URL: smtp.url },
    }));
    // Tests step the clock past the token's lifetime to reach retries.
    beforeEach(async () => {
      senderClock = t.clock;
      await refreshAdminToken(t);
    });

    it('a created key arrives signed (Standard Webhooks), once, with no secret in it; the log says delivered', async () => {
      const p = hookPath('created');
      const hook = await register(t, receiver.url(p), ['access_key.created']);
      expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      // Shown once: never again, and stored sealed.
      const got = await call(t, 'GET', `/iam/webhooks/${hook.id}`);
      expect(got.json()).not.toHaveProperty('secret');
      expect((await call(t, 'GET', '/iam/webhooks')).body).not.toContain(hook.secret);
      const stored = await t.runtime.svc.db
        .selectFrom('webhook_endpoints')
        .select('secret_ciphertext')
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      expect(stored.secret_ciphertext).not.toContain(hook.secret.slice(6, 20));

      const key = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'hooked' } });
      expect(key.statusCode).toBe(201);
      expect(await worker(t).runOnce()).toMatchObject({ delivered: 1, retried: 0 });
      const [hit, ...more] = receiver.of(p);
      expect(more).toHaveLength(0);
      expect(hit).toBeDefined();
      const body = verified(hook.secret, hit as Hit);
      expect(body.type).toBe('access_key.created');
      expect(body.data).toMatchObject({
        accessKeyId: key.json().accessKeyId,
        actor: { type: 'user', id: t.adminId },
        key: { accessKeyId: key.json().accessKeyId, name: 'hooked' },
      });
      expect(hit?.body).not.toContain(key.json().secretAccessKey);
      expect(hit?.headers['content-type']).toBe('application/json');
      // A wrong secret does not verify: the signature is really checked.
      expect(() => verified(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, hit as Hit)).toThrow();

      const log = await deliveries(t, hook.id);
      expect(log).toEqual([
        expect.objectContaining({
          id: hit?.headers['webhook-id'],
          eventType: 'access_key.created',
          status: 'delivered',
          attempts: 1,
          lastStatusCode: 204,
          lastError: null,
        }),
      ]);
      // Nothing more to do, ever.
      t.clock.advance(3_600_000);
      expect(await worker(t).runOnce()).toEqual({ delivered: 0, retried: 0, failed: 0, dropped: 0 });
      expect(receiver.of(p)).toHaveLength(1);
      await unregister(t, hook.id);
    });

    it('the receiver fails twice: retried with back-off under the same id, then delivered once', async () => {
      const p = hookPath('retry');
      const hook = await register(t, receiver.url(p), ['access_key.rotated']);
      receiver.answers.set(p, [500, 503]);
      const key = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: {} })).json();
      expect((await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, { body: {} })).statusCode).toBe(
        200,
      );
      const counted = async (outcome: string) =>
        (await t.runtime.svc.metrics.webhookDeliveries.get()).values.find((v) => v.labels.outcome === outcome)
          ?.value ?? 0;
      const before = { retried: await counted('retried'), delivered: await counted('delivered') };
      // Waiting, as /metrics shows (latchkey_webhook_outbox_waiting).
      expect((await outboxBacklog(t.runtime.svc, 'webhook_deliveries')).waiting).toBeGreaterThanOrEqual(1);
      const w = worker(t);
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      expect(await deliveries(t, hook.id)).toEqual([
        expect.objectContaining({
          status: 'pending',
          attempts: 1,
          lastStatusCode: 500,
          lastError: 'HTTP 500',
        }),
      ]);
      // Not before its back-off (1 s, then 2 s) ends.
      expect(await w.runOnce()).toMatchObject({ retried: 0, delivered: 0 });
      t.clock.advance(1_001);
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      t.clock.advance(1_000);
      expect(await w.runOnce()).toMatchObject({ retried: 0, delivered: 0 });
      t.clock.advance(1_001);
      expect(await w.runOnce()).toMatchObject({ delivered: 1 });
      t.clock.advance(60_000);
      expect(await w.runOnce()).toMatchObject({ delivered: 0, retried: 0 });

      // Each attempt is counted in /metrics (latchkey_webhook_deliveries_total).
      expect(await counted('retried')).toBe(before.retried + 2);
      expect(await counted('delivered')).toBe(before.delivered + 1);
      const hits = receiver.of(p);
      expect(hits).toHaveLength(3);
      expect(new Set(hits.map((h) => h.headers['webhook-id'])).size).toBe(1);
      expect(new Set(hits.map((h) => h.body)).size).toBe(1);
      // Each attempt signed afresh, with its own timestamp, and every one verifies.
      for (const hit of hits) expect(verified(hook.secret, hit).type).toBe('access_key.rotated');
      expect(verified(hook.secret, hits[2] as Hit).data).toMatchObject({
        accessKeyId: key.accessKeyId,
        secretVersion: 2,
      });
      expect(await deliveries(t, hook.id)).toEqual([
        expect.objectContaining({ status: 'delivered', attempts: 3, lastStatusCode: 204, lastError: null }),
      ]);
      await unregister(t, hook.id);
    });

    it('a redirect is not followed and a receiver that never answers times out: both are retried', async () => {
      const p = hookPath('slow');
      const hook = await register(t, receiver.url(p), ['audit.group.create']);
      receiver.answers.set(p, [0, 302]);
      await call(t, 'POST', '/iam/groups', { body: { name: 'Slow receiver' } });
      const w = worker(t, { timeoutMs: 300 });
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      expect((await deliveries(t, hook.id))[0]).toMatchObject({
        status: 'pending',
        lastStatusCode: null,
        lastError: 'ETIMEDOUT: no answer within 300 ms',
      });
      t.clock.advance(1_001);
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      expect((await deliveries(t, hook.id))[0]).toMatchObject({ lastStatusCode: 302, lastError: 'HTTP 302' });
      t.clock.advance(2_001);
      expect(await w.runOnce()).toMatchObject({ delivered: 1 });
      expect(receiver.of(p)).toHaveLength(3);
      await unregister(t, hook.id);
    });

    it('a crash after the receiver answered: sent again after the lease, with the same webhook-id', async () => {
      const p = hookPath('crash');
      const hook = await register(t, receiver.url(p), ['access_key.deleted']);
      const key = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: {} })).json();
      expect((await call(t, 'DELETE', `/iam/keys/${key.accessKeyId}`)).statusCode).toBe(204);
      const crashing = worker(t, {
        afterAnswer: () => {
          throw new Error('killed after the answer');
        },
      });
      await expect(crashing.runOnce()).rejects.toThrow('killed after the answer');
      expect(receiver.of(p)).toHaveLength(1);
      expect((await deliveries(t, hook.id))[0]).toMatchObject({ status: 'sending', attempts: 1 });
      const restarted = worker(t);
      expect(await restarted.runOnce()).toMatchObject({ delivered: 0 });
      t.clock.advance(2 * 60_000 + 1);
      expect(await restarted.runOnce()).toMatchObject({ delivered: 1 });
      const hits = receiver.of(p);
      expect(hits).toHaveLength(2);
      expect(hits[0]?.headers['webhook-id']).toBe(hits[1]?.headers['webhook-id']);
      expect(verified(hook.secret, hits[1] as Hit).data).toMatchObject({ accessKeyId: key.accessKeyId });
      await unregister(t, hook.id);
    });

    it('deactivating, expiring, throttling and audit entries raise their events; the test event reaches one endpoint', async () => {
      const keys = hookPath('keys');
      const audit = hookPath('audit');
      const keyHook = await register(t, receiver.url(keys), [
        'access_key.deactivated',
        'access_key.expiring',
        'access_key.throttled',
      ]);
      const auditHook = await register(t, receiver.url(audit), ['audit.role.create']);
      // Created inside its reminder window: its reminder (and the expiring event) goes at once.
      const soon = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
          body: { validityDays: 1, rateLimit: { limit: 1, periodSeconds: 60 } },
        })
      ).json();
      expect(
        (await call(t, 'PATCH', `/iam/keys/${soon.accessKeyId}`, { body: { name: 'renamed' } })).statusCode,
      ).toBe(200);
      // A burst of refusals: one event for the key, API and hour, however many are refused.
      const creds = { accessKeyId: soon.accessKeyId, secretAccessKey: soon.secretAccessKey };
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/agent',
          headers: await signHeaders(creds, {
            method: 'GET',
            path: '/agent',
            host: 'lk.test',
            date: t.clock.now(),
          }),
        });
        statuses.push(res.statusCode);
        if (i === 2) await t.runtime.usage.flush();
      }
      expect(statuses).toEqual([200, 429, 429, 429]);
      await t.runtime.usage.flush();
      expect(
        (await call(t, 'PATCH', `/iam/keys/${soon.accessKeyId}`, { body: { active: false } })).statusCode,
      ).toBe(200);
      const role = await call(t, 'POST', '/iam/roles', {
        body: { name: 'Hooked', permissions: ['agent:read'] },
      });
      expect(role.statusCode).toBe(201);
      const test = await call(t, 'POST', `/iam/webhooks/${auditHook.id}/test`);
      expect(test.statusCode, test.body).toBe(202);
      expect(test.json()).toMatchObject({ eventType: 'webhook.test', status: 'pending' });

      await worker(t).runOnce();
      const keyEvents = receiver.of(keys).map((h) => verified(keyHook.secret, h));
      expect(keyEvents.map((e) => e.type).sort()).toEqual([
        'access_key.deactivated',
        'access_key.expiring',
        'access_key.throttled',
      ]);
      expect(keyEvents.find((e) => e.type === 'access_key.throttled')?.data).toMatchObject({
        accessKeyId: soon.accessKeyId,
        apiId: null,
      });
      expect(keyEvents.find((e) => e.type === 'access_key.expiring')?.data).toMatchObject({
        accessKeyId: soon.accessKeyId,
        expiresAt: expect.any(String),
      });
      const auditEvents = receiver.of(audit).map((h) => verified(auditHook.secret, h));
      expect(auditEvents.map((e) => e.type).sort()).toEqual(['audit.role.create', 'webhook.test']);
      expect(auditEvents.find((e) => e.type === 'audit.role.create')?.data).toMatchObject({
        action: 'role.create',
        target: { type: 'role', id: role.json().id },
        after: { name: 'Hooked' },
      });
      // No event carries a secret.
      for (const hit of [...receiver.of(keys), ...receiver.of(audit)]) {
        expect(hit.body).not.toContain(soon.secretAccessKey);
        expect(hit.body).not.toContain('whsec_');
      }
      await unregister(t, keyHook.id);
      await unregister(t, auditHook.id);
    });

    it('an endpoint failing for too long is disabled, its waiting events dropped, and the administrators emailed', async () => {
      const p = hookPath('down');
      const hook = await register(t, receiver.url(p), ['audit.*']);
      receiver.answers.set(p, Array(20).fill(500));
      const w = worker(t, { disableAfter: 3, disableAfterMs: 2_000 });
      // Its own creation is its first event (audit.webhook.create): it fails, and again 1 s later.
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      t.clock.advance(1_001);
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      // A third failure, of another event, but all within 2 s: not disabled yet.
      expect((await call(t, 'POST', '/iam/groups', { body: { name: 'While down' } })).statusCode).toBe(201);
      expect(await w.runOnce()).toMatchObject({ retried: 1 });
      expect((await call(t, 'GET', `/iam/webhooks/${hook.id}`)).json()).toMatchObject({
        enabled: true,
        consecutiveFailures: 3,
      });
      // Both are due again 2 s on, and fail: failing for 3 s now, so the first of them disables it.
      // (Both are sent before either is answered: the second is in flight when the first disables it.)
      t.clock.advance(2_001);
      receiver.together.set(p, 2);
      await w.runOnce();
      const disabled = (await call(t, 'GET', `/iam/webhooks/${hook.id}`)).json();
      expect(disabled).toMatchObject({ enabled: false, consecutiveFailures: 5 });
      expect(disabled.disabledReason).toMatch(/^disabled after 4 failed attempts since \S+; last: HTTP 500$/);
      // The one whose failure disabled it is dropped with the endpoint's waiting events; the other,
      // still being sent meanwhile, is dropped when its turn comes.
      expect((await deliveries(t, hook.id)).map((d) => d.status).sort()).toEqual(['dropped', 'pending']);
      t.clock.advance(60_000);
      expect(await w.runOnce()).toMatchObject({ dropped: 1 });
      expect((await deliveries(t, hook.id)).map((d) => d.status)).toEqual(['dropped', 'dropped']);
      const refusedTest = await call(t, 'POST', `/iam/webhooks/${hook.id}/test`);
      expect(refusedTest.statusCode).toBe(409);
      expect(refusedTest.json().error.code).toBe('CONFLICT');
      const sentBefore = receiver.of(p).length;
      await call(t, 'POST', '/iam/groups', { body: { name: 'While disabled' } });
      t.clock.advance(60_000);
      await w.runOnce();
      expect(receiver.of(p)).toHaveLength(sentBefore);

      // The administrators hear of it by email.
      const notifier = new Notifier(t.runtime.svc);
      try {
        await notifier.runOutbox();
      } finally {
        await notifier.stop();
      }
      const mail = smtp.to(ADMIN_EMAIL).find((m) => m.subject.includes('webhook endpoint was disabled'));
      expect(mail, smtp.messages.map((m) => m.subject).join('\n')).toBeDefined();
      expect(mail?.decoded).toContain(receiver.url(p));
      expect(mail?.decoded).toContain(`PATCH /iam/webhooks/${hook.id}`);
      const auditRows = (
        await call(t, 'GET', `/iam/audit?action=webhook.disable&targetId=${hook.id}`)
      ).json();
      expect(auditRows.items).toHaveLength(1);

      // Enabled again: a fresh start, and events flow.
      const enabled = await call(t, 'PATCH', `/iam/webhooks/${hook.id}`, { body: { enabled: true } });
      expect(enabled.json()).toMatchObject({ enabled: true, disabledReason: null, consecutiveFailures: 0 });
      receiver.answers.set(p, []);
      await call(t, 'POST', '/iam/groups', { body: { name: 'After the fix' } });
      expect(await w.runOnce()).toMatchObject({ delivered: expect.any(Number) });
      const last = receiver.of(p).at(-1) as Hit;
      expect(verified(hook.secret, last).type).toMatch(/^audit\./);
      await unregister(t, hook.id);
    });

    it('concurrent workers deliver each event once; finished deliveries leave the log after 30 days', async () => {
      const p = hookPath('many');
      const hook = await register(t, receiver.url(p), ['audit.group.create']);
      for (let i = 0; i < 10; i++) {
        expect((await call(t, 'POST', '/iam/groups', { body: { name: `Many ${i}` } })).statusCode).toBe(201);
      }
      const workers = Array.from({ length: 3 }, () => worker(t, { batchSize: 2 }));
      const results = await Promise.all(workers.map((w) => w.runOnce()));
      expect(results.reduce((n, r) => n + r.delivered, 0)).toBe(10);
      const ids = receiver.of(p).map((h) => h.headers['webhook-id']);
      expect(ids).toHaveLength(10);
      expect(new Set(ids).size).toBe(10);

      expect(await pruneDeliveries(t.runtime.svc)).toBe(0);
      t.clock.advance(31 * 86_400_000);
      expect(await pruneDeliveries(t.runtime.svc)).toBeGreaterThanOrEqual(10);
      await refreshAdminToken(t);
      expect(await deliveries(t, hook.id)).toEqual([]);
      await unregister(t, hook.id);
    });

    it('bad input is refused with a stable code and changes nothing', async () => {
      const before = (await call(t, 'GET', '/iam/webhooks')).json().items;
      const url = receiver.url('/hooks/bad');
      const cases: Array<[unknown, number, string]> = [
        [{ url, events: 'access_key.created' }, 400, 'VALIDATION_FAILED'],
        [{ url, events: [] }, 400, 'VALIDATION_FAILED'],
        [{ url, events: ['access_key.exploded'] }, 400, 'VALIDATION_FAILED'],
        [{ url, events: ['audit.nothing.real'] }, 400, 'VALIDATION_FAILED'],
        [{ url, events: ['access_key.created', 'access_key.created'] }, 400, 'VALIDATION_FAILED'],
        [{ url, events: ['access_key.created'], extra: true }, 400, 'VALIDATION_FAILED'],
        [{ url: 12345678, events: ['access_key.created'] }, 400, 'VALIDATION_FAILED'],
        [{ events: ['access_key.created'] }, 400, 'VALIDATION_FAILED'],
        [{ url: 'not a url at all', events: ['access_key.created'] }, 400, 'INVALID_WEBHOOK'],
        [{ url: 'ftp://127.0.0.1/hook', events: ['access_key.created'] }, 400, 'INVALID_WEBHOOK'],
        [{ url: 'http://user:pw@127.0.0.1/hook', events: ['access_key.created'] }, 400, 'INVALID_WEBHOOK'],
        [{ url, events: ['access_key.created'], secret: 'whsec_short' }, 400, 'VALIDATION_FAILED'],
        [{ url, events: ['access_key.created'], secret: `whsec_${'!'.repeat(40)}` }, 400, 'INVALID_WEBHOOK'],
        [
          { url, events: ['access_key.created'], secret: `nope_${Buffer.alloc(32).toString('base64')}` },
          400,
          'INVALID_WEBHOOK',
        ],
      ];
      for (const [body, status, code] of cases) {
        const res = await call(t, 'POST', '/iam/webhooks', { body });
        expect(res.statusCode, `${JSON.stringify(body)}: ${res.body}`).toBe(status);
        expect(res.json().error.code, JSON.stringify(body)).toBe(code);
      }
      const hook = await register(t, url, ['access_key.created']);
      for (const [patch, code] of [
        [{ events: ['nope'] }, 'VALIDATION_FAILED'],
        [{ url: 'gopher://x.example/' }, 'INVALID_WEBHOOK'],
        [{ enabled: 'yes' }, 'VALIDATION_FAILED'],
        [{ secret: 'whsec_x' }, 'VALIDATION_FAILED'],
      ] as const) {
        const res = await call(t, 'PATCH', `/iam/webhooks/${hook.id}`, { body: patch });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json().error.code).toBe(code);
      }
      expect((await call(t, 'GET', `/iam/webhooks/${hook.id}`)).json()).toMatchObject({
        url,
        events: ['access_key.created'],
        enabled: true,
      });
      expect((await call(t, 'GET', '/iam/webhooks/whk_nosuch')).statusCode).toBe(404);
      expect((await call(t, 'GET', '/iam/webhooks/whk_nosuch/deliveries')).statusCode).toBe(404);
      await unregister(t, hook.id);
      expect((await call(t, 'GET', '/iam/webhooks')).json().items).toEqual(before);
    });

    it('a secret of your own is used as given; a rotated secret signs from then on', async () => {
      const p = hookPath('own');
      const mine = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      const res = await call(t, 'POST', '/iam/webhooks', {
        body: { url: receiver.url(p), events: ['audit.group.create'], secret: mine },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const hook = res.json();
      expect(hook.secret).toBe(mine);
      await call(t, 'POST', '/iam/groups', { body: { name: 'Signed with mine' } });
      await worker(t).runOnce();
      expect(verified(mine, receiver.of(p)[0] as Hit).type).toBe('audit.group.create');
      const rotated = await call(t, 'POST', `/iam/webhooks/${hook.id}/secret`);
      expect(rotated.statusCode, rotated.body).toBe(200);
      const next = rotated.json().secret as string;
      expect(next).not.toBe(mine);
      await call(t, 'POST', '/iam/groups', { body: { name: 'Signed with the new one' } });
      await worker(t).runOnce();
      const last = receiver.of(p)[1] as Hit;
      expect(verified(next, last).type).toBe('audit.group.create');
      expect(() => verified(mine, last)).toThrow();
      await unregister(t, hook.id);
    });

    it('master key rotation re-seals the signing secrets; deliveries still sign after the old key is pruned', async () => {
      const p = hookPath('rekey');
      const hook = await register(t, receiver.url(p), ['audit.group.create']);
      // Everything sealed is re-sealed under the new key, so the app goes on with the new keyring.
      const file = masterKeyPath(t.db.dataDir);
      try {
        const version = addKeyToFileKeyring(file);
        const counts = await reencryptAll(t.runtime.svc);
        expect(counts.webhookSecrets).toBeGreaterThanOrEqual(1);
        const row = await t.runtime.svc.db
          .selectFrom('webhook_endpoints')
          .select('master_key_version')
          .where('id', '=', hook.id)
          .executeTakeFirstOrThrow();
        expect(row.master_key_version).toBe(version);
        pruneFileKeyring(file);
        await call(t, 'POST', '/iam/groups', { body: { name: 'After the new master key' } });
        expect(await worker(t).runOnce()).toMatchObject({ delivered: 1 });
        expect(verified(hook.secret, receiver.of(p)[0] as Hit).type).toBe('audit.group.create');
      } finally {
        await unregister(t, hook.id);
      }
    });

    it('subscribing needs the permission to read what the events carry', async () => {
      const roles = (
        await call(t, 'POST', '/iam/roles', {
          body: {
            name: 'Webhook manager',
            permissions: ['iam:webhooks:manage', 'iam:webhooks:read', 'iam:keys:read'],
          },
        })
      ).json();
      const user = await createUserWithLogin(t, 'hooks@example.com');
      await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [roles.id] } });
      const token = (
        await call(t, 'POST', '/iam/login', {
          token: '',
          body: { auth_mode: 'password', email: 'hooks@example.com', password: 'a-long-enough-password' },
        })
      ).json().token as string;
      const url = receiver.url('/hooks/delegate');
      const audit = await call(t, 'POST', '/iam/webhooks', { token, body: { url, events: ['audit.*'] } });
      expect(audit.statusCode, audit.body).toBe(403);
      expect(audit.json().error).toMatchObject({
        code: 'PRIVILEGE_ESCALATION',
        missingPermissions: ['iam:audit:read'],
      });
      const keys = await call(t, 'POST', '/iam/webhooks', {
        token,
        body: { url, events: ['access_key.created'] },
      });
      expect(keys.statusCode, keys.body).toBe(201);
      const widen = await call(t, 'PATCH', `/iam/webhooks/${keys.json().id}`, {
        token,
        body: { events: ['audit.user.create'] },
      });
      expect(widen.statusCode).toBe(403);
      expect((await call(t, 'GET', `/iam/webhooks/${keys.json().id}`)).json().events).toEqual([
        'access_key.created',
      ]);
      await unregister(t, keys.json().id);
    });
  });

  describe('restarts', () => {
    const receiver = useReceiver();

    it('an event queued before a restart is delivered after it', async () => {
      senderClock = undefined;
      const db = await scratchDatabase(engine);
      const env = { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' };
      try {
        const first = await startTestApp(engine, { db, env });
        const p = hookPath('restart');
        let hook = { id: '', secret: '' };
        try {
          hook = await register(first, receiver.url(p), ['access_key.created']);
          const key = await call(first, 'POST', `/iam/users/${first.adminId}/keys`, { body: {} });
          expect(key.statusCode).toBe(201);
        } finally {
          await first.close();
        }
        expect(receiver.of(p)).toHaveLength(0);
        const second = await startTestApp(engine, { db, env });
        try {
          expect(await worker(second).runOnce()).toMatchObject({ delivered: 1 });
          expect(verified(hook.secret, receiver.of(p)[0] as Hit).type).toBe('access_key.created');
        } finally {
          await second.close();
        }
      } finally {
        await db.drop();
      }
    });
  });

  describe('private addresses (no LATCHKEY_WEBHOOK_ALLOW_PRIVATE)', () => {
    const receiver = useReceiver();
    const t = useTestApp(engine);

    it('refuses loopback, private, link-local and mapped addresses at registration, and names the range', async () => {
      for (const url of [
        receiver.url('/hooks/x'),
        'http://localhost:9/hook',
        'http://10.1.2.3/hook',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/hook',
        'http://[::ffff:192.168.0.1]/hook',
        'https://100.64.0.1/hook',
        'http://0.0.0.0/hook',
      ]) {
        const res = await call(t, 'POST', '/iam/webhooks', { body: { url, events: ['access_key.created'] } });
        expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
        expect(res.json().error.code, url).toBe('WEBHOOK_ADDRESS_REFUSED');
      }
      expect((await call(t, 'GET', '/iam/webhooks')).json().items).toEqual([]);
    });

    it('refuses them again when delivering (the address may have changed since registration)', async () => {
      // As if these names resolved to public addresses when they were registered, and to loopback
      // now: an address, and a name the connection itself resolves.
      const endpoints = [
        {
          id: 'whk_literal',
          path: hookPath('literal'),
          host: '127.0.0.1',
          refused: /^EADDRREFUSED: 127\.0\.0\.1 .*loopback/,
        },
        {
          id: 'whk_named',
          path: hookPath('named'),
          host: 'localhost',
          refused: /^EADDRREFUSED: localhost resolves to \S+ \(loopback\)/,
        },
      ];
      const now = new Date().toISOString();
      for (const e of endpoints) {
        const sealed = t.runtime.svc.secrets.seal(
          `whsec_${Buffer.alloc(32, 3).toString('base64')}`,
          `webhook-secret:${t.tenantId}:${e.id}`,
        );
        await t.runtime.svc.db
          .insertInto('webhook_endpoints')
          .values({
            id: e.id,
            tenant_id: t.tenantId,
            url: `http://${e.host}:${receiver.port}${e.path}`,
            description: '',
            events: JSON.stringify(['audit.*']),
            secret_ciphertext: sealed.ciphertext,
            master_key_version: sealed.masterKeyVersion,
            enabled: 1,
            disabled_reason: null,
            failing_since: null,
            last_success_at: null,
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      await call(t, 'POST', '/iam/groups', { body: { name: 'Rebound' } });
      expect(await worker(t).runOnce()).toMatchObject({ retried: 2, delivered: 0 });
      for (const e of endpoints) {
        expect(receiver.of(e.path)).toHaveLength(0);
        const [delivery] = await deliveries(t, e.id);
        expect(delivery).toMatchObject({ status: 'pending', lastStatusCode: null });
        expect(String(delivery?.lastError)).toMatch(e.refused);
      }
    });

    it('classifies addresses as a receiver would be reached', () => {
      expect(['8.8.8.8', '2606:4700::1', '::ffff:8.8.8.8'].map(refusedRange)).toEqual([null, null, null]);
      expect(
        [
          '127.0.0.1',
          '10.0.0.1',
          '172.16.0.1',
          '192.168.1.1',
          '169.254.1.1',
          '100.64.0.1',
          '0.0.0.0',
          '224.0.0.1',
          '::1',
          '::',
          'fe80::1',
          'fc00::1',
          'fd12::1',
          'ff02::1',
          '::ffff:127.0.0.1',
          '64:ff9b::a00:1',
          '2002:a00:1::',
        ].map((a) => refusedRange(a) !== null),
      ).toEqual(Array(17).fill(true));
    });
  });
});

describe('webhooks with the real server process', () => {
  const receiver = useReceiver();

  // Two server starts (tsx compiling the sources each time) on a machine that may be busy.
  it('an event queued while the server was killed (SIGKILL) is delivered when it starts again', {
    timeout: 120_000,
  }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-webhooks-'));
    const env = {
      LATCHKEY_DATA_DIR: dir,
      LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
      LATCHKEY_ADMIN_PASSWORD: 'webhook-process-password',
      LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1',
      LOG_LEVEL: 'warn',
    };
    let server: ServerProcess | undefined;
    try {
      server = startServer(await freePort(), env);
      await server.waitReady();
      const base = server.url;
      const login = await fetch(`${base}/iam/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth_mode: 'password',
          email: ADMIN_EMAIL,
          password: env.LATCHKEY_ADMIN_PASSWORD,
        }),
      });
      const token = ((await login.json()) as { token: string }).token;
      const p = '/hooks/process';
      const created = await fetch(`${base}/iam/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ url: receiver.url(p), events: ['access_key.created'] }),
      });
      expect(created.status).toBe(201);
      const hook = (await created.json()) as { secret: string };
      server.child.kill('SIGKILL');
      await server.waitExit();

      // While no server runs, a key is created (as the operator CLI would: same database, no worker).
      const rt = await startRuntime(loadConfig(env));
      let accessKeyId: string;
      try {
        const tenantId = rt.bootstrap.tenantId;
        const admin = await rt.svc.db
          .selectFrom('users')
          .select('id')
          .where('tenant_id', '=', tenantId)
          .executeTakeFirstOrThrow();
        accessKeyId = (await createKey(rt.svc, operatorActor(tenantId), { type: 'user', id: admin.id }, {}))
          .key.accessKeyId;
      } finally {
        await rt.close();
      }
      expect(receiver.of(p)).toHaveLength(0);

      server = startServer(await freePort(), env);
      await server.waitReady();
      const deadline = Date.now() + 30_000;
      while (receiver.of(p).length === 0 && Date.now() < deadline) await sleep(100);
      senderClock = undefined;
      const hits = receiver.of(p);
      expect(hits, server.stdout + server.stderr).toHaveLength(1);
      expect(verified(hook.secret, hits[0] as Hit)).toMatchObject({
        type: 'access_key.created',
        data: { accessKeyId },
      });
    } finally {
      await server?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
