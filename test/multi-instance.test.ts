/**
 * Several instances on one PostgreSQL: a change made on one instance takes effect on all of them
 * within one second (LISTEN/NOTIFY invalidates every instance's key cache).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './helpers/app.js';
import { engineAvailable } from './helpers/engines.js';
import { msUntil } from './helpers/poll.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

const run = engineAvailable('postgres') ? describe : describe.skip;

run('two instances sharing PostgreSQL', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp('postgres');
    b = await startTestApp('postgres', { db: a.db, clock: a.clock });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const signed = async (t: TestApp, c: Credentials) => {
    const headers = await signHeaders(c, {
      method: 'GET',
      path: '/profile',
      host: 'lk',
      date: t.clock.now(),
    });
    return t.app.inject({ method: 'GET', url: '/profile', headers });
  };

  /** Milliseconds until `t` answers `code`, or Infinity after 3 s. */
  const until = (t: TestApp, c: Credentials, code: string): Promise<number> =>
    msUntil(async () => {
      const res = await signed(t, c);
      return res.statusCode !== 200 && res.json().error.code === code;
    });

  it('both instances share the tenant', () => {
    expect(b.tenantId).toBe(a.tenantId);
  });

  it('deactivation, rotation and deletion on one instance apply on the other within one second', async () => {
    const sa = (await call(a, 'POST', '/iam/service-accounts', { body: { name: 'shared' } })).json();
    const key = (await call(a, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
    const c = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    // Warm both caches.
    expect((await signed(a, c)).statusCode).toBe(200);
    expect((await signed(b, c)).statusCode).toBe(200);

    await call(a, 'PATCH', `/iam/keys/${c.accessKeyId}`, { body: { active: false } });
    const deactivated = await until(b, c, 'AccessKeyInactive');
    expect(deactivated).toBeLessThan(1000);

    await call(a, 'PATCH', `/iam/keys/${c.accessKeyId}`, { body: { active: true } });
    const started = performance.now();
    while ((await signed(b, c)).statusCode !== 200 && performance.now() - started < 3000)
      await new Promise((r) => setTimeout(r, 10));
    expect(performance.now() - started).toBeLessThan(1000);
    const rotated = (await call(b, 'POST', `/iam/keys/${c.accessKeyId}/secret`, { body: {} })).json();
    const rotatedOut = await until(a, c, 'SignatureDoesNotMatch');
    expect(rotatedOut).toBeLessThan(1000);
    const c2 = { ...c, secretAccessKey: rotated.secretAccessKey };
    expect((await signed(a, c2)).statusCode).toBe(200);

    await call(a, 'DELETE', `/iam/keys/${c.accessKeyId}`);
    const deleted = await until(b, c2, 'InvalidAccessKeyId');
    expect(deleted).toBeLessThan(1000);
    process.stdout.write(
      `cross-instance propagation: deactivate ${deactivated.toFixed(0)} ms, rotate ${rotatedOut.toFixed(0)} ms, delete ${deleted.toFixed(0)} ms\n`,
    );
  });

  it('a permission change on one instance applies to signed requests on the other', async () => {
    const sa = (await call(a, 'POST', '/iam/service-accounts', { body: { name: 'perm-shared' } })).json();
    const key = (await call(a, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
    const c = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    const users = async () => {
      const headers = await signHeaders(c, {
        method: 'GET',
        path: '/iam/users',
        host: 'lk',
        date: b.clock.now(),
      });
      return (await b.app.inject({ method: 'GET', url: '/iam/users', headers })).statusCode;
    };
    expect(await users()).toBe(403);
    const admin = (await call(a, 'GET', '/iam/roles'))
      .json()
      .items.find((r: { name: string }) => r.name === 'Administrator');
    await call(a, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, { body: { roleIds: [admin.id] } });
    const started = performance.now();
    while ((await users()) !== 200 && performance.now() - started < 3000)
      await new Promise((r) => setTimeout(r, 10));
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
