/**
 * Two instances of one deployment (one database), each with its own gateway: what is changed on
 * one is in force on the other within one second, on each engine (PostgreSQL LISTEN/NOTIFY, or
 * SQLite's change table): a registered API appears, a revoked key stops, a route's permission moves.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './helpers/app.js';
import { describeEachEngine } from './helpers/each-engine.js';
import { msUntil } from './helpers/poll.js';
import { type Credentials, signHeaders } from './helpers/sign.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';

describeEachEngine('the gateway on two instances', (engine) => {
  let a: TestApp;
  let b: TestApp;
  let upstream: TestUpstream;
  beforeAll(async () => {
    a = await startTestApp(engine);
    b = await startTestApp(engine, { db: a.db, clock: a.clock });
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await upstream?.close();
  });

  const send = async (t: TestApp, c: Credentials, method = 'GET', path = '/api/stock/items/1') => {
    const headers = await signHeaders(c, { method, path, host: 'lk', date: t.clock.now() });
    const res = await t.app.inject({ method: method as 'GET', url: path, headers });
    return { status: res.statusCode, code: res.statusCode === 200 ? 'OK' : res.json().error?.code };
  };

  /** Milliseconds until `t` answers `code` (polling every 10 ms), or Infinity after 3 s. */
  const until = async (t: TestApp, c: Credentials, code: string, method?: string): Promise<number> => {
    const started = performance.now();
    let last = '';
    while (performance.now() - started < 3000) {
      const got = (await send(t, c, method)).code;
      if (got === code) return performance.now() - started;
      if (got !== code) last = got;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect.soft(last, `still answering ${last}, not ${code}`).toBe(code);
    return Number.POSITIVE_INFINITY;
  };

  /** Milliseconds until `t`'s key cache drops the key's entry (a change was heard), or Infinity after 3 s. */
  const dropped = (t: TestApp, c: Credentials): Promise<number> =>
    msUntil(() => t.runtime.keys.peek(c.accessKeyId) === undefined, { everyMs: 5 });

  it('an API registered, a key revoked or a route changed on one instance is in force on the other within 1 s', async () => {
    const key: Credentials = (
      await call(a, 'POST', `/iam/users/${a.adminId}/keys`, { body: { name: 'gw' } })
    ).json();
    // Warm instance B: the base path is not an API yet, the key is cached.
    expect((await send(b, key)).status).toBe(404);

    const registered = await call(a, 'POST', '/iam/apis', {
      body: {
        name: 'stock',
        basePath: '/api/stock',
        upstream: upstream.url,
        routes: [{ method: 'GET', path: '/*', permission: 'stock:read' }],
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    expect(await until(b, key, 'OK')).toBeLessThan(1000);

    // The route now needs a permission the key's owner holds only through `*`: still allowed;
    // then a user who holds only stock:read loses access when the route moves to stock:list.
    const reader = (
      await call(a, 'POST', '/iam/users', { body: { email: `r-${engine}@example.com`, name: 'R' } })
    ).json();
    const role = (
      await call(a, 'POST', '/iam/roles', { body: { name: 'StockReader', permissions: ['stock:read'] } })
    ).json();
    await call(a, 'PUT', `/iam/users/${reader.id}/assignments`, { body: { roleIds: [role.id] } });
    const readerKey: Credentials = (
      await call(a, 'POST', `/iam/users/${reader.id}/keys`, { body: { name: 'r' } })
    ).json();
    expect((await send(b, readerKey)).code).toBe('OK');
    await call(a, 'PATCH', `/iam/apis/${registered.json().id}`, {
      body: { routes: [{ method: 'GET', path: '/*', permission: 'stock:list' }] },
    });
    expect(await until(b, readerKey, 'AccessDenied')).toBeLessThan(1000);

    // A revoked key: polling with it would be a run of failures the throttle turns into SlowDown,
    // so wait for B to drop its cached entry, then send one request.
    expect((await send(b, key)).code).toBe('OK');
    await call(a, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
    expect(await dropped(b, key)).toBeLessThan(1000);
    expect((await send(b, key)).code).toBe('AccessKeyInactive');
    await call(a, 'DELETE', `/iam/keys/${key.accessKeyId}`);
    expect(await dropped(b, key)).toBeLessThan(1000);
    expect((await send(b, key)).code).toBe('InvalidAccessKeyId');

    // Every request the upstream saw was allowed when it was sent.
    expect(upstream.received.every((r) => r.headers['x-latchkey-tenant'] === a.tenantId)).toBe(true);
  });
});
