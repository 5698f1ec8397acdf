/**
 * Failed-authentication throttling through HTTP, on both engines, with the in-memory throttle and
 * with the one shared through Redis (REDIS_URL, default 127.0.0.1:6379; each run writes under its
 * own key prefix and removes it). Issue 12's throttling rule: bounded state under made-up key IDs
 * and emails, no counting while blocked, a per-account limit on password sign-in that slows but
 * does not lock the owner out, IPv6 grouped by /64.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryThrottle } from '../src/auth/throttle.js';
import { keySignInKeys, passwordSignInKeys, signedRequestKeys } from '../src/auth/throttle-keys.js';
import { generateAccessKeyId } from '../src/crypto/access-key-id.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { REDIS_AVAILABLE, REDIS_URL } from './helpers/redis.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

const redisReachable = REDIS_AVAILABLE;

const HOST = 'latchkey.test';
const THROTTLES: ReadonlyArray<'memory' | 'redis'> = ['memory', 'redis'];

describeEachEngine('failed-authentication throttling over HTTP', (engine) => {
  // The throttle's state lives in memory or Redis whatever the engine, so the Redis throttle runs
  // on one engine; both engines run the memory throttle (the engine only looks the subjects up).
  describe.each(engine === 'sqlite' ? THROTTLES : (['memory'] as const))('with the %s throttle', (kind) => {
    const run = kind === 'memory' || redisReachable ? describe : describe.skip;
    // Many tests here sign in with passwords dozens of times (scrypt, on purpose slow): 90 s each,
    // not the default 30 s, for a loaded machine.
    run('throttling', { timeout: 90_000 }, () => {
      // ioredis reads client options from the URL's query: every key this app writes is under it.
      const keyPrefix = `latchkey-test-${randomBytes(4).toString('hex')}:`;
      const t = useTestApp(engine, {
        env: kind === 'redis' ? { REDIS_URL: `${REDIS_URL}?keyPrefix=${encodeURIComponent(keyPrefix)}` } : {},
      });
      let redis: Redis | undefined;

      beforeAll(() => {
        if (kind === 'redis') redis = new Redis(REDIS_URL);
      });
      afterAll(async () => {
        if (redis) {
          const keys = await redis.keys(`${keyPrefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
        }
      });

      /** Throttle state: Redis keys under this app's prefix, or the memory throttle's entries. */
      const state = async (): Promise<number> =>
        redis ? (await redis.keys(`${keyPrefix}*`)).length : (t.runtime.throttle as MemoryThrottle).size;

      const passwordSignIn = (ip: string, email: string, password: string) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: ip,
          payload: { auth_mode: 'password', email, password },
        });
      const keySignIn = (ip: string, apikey: string) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: ip,
          payload: { auth_mode: 'apikey', apikey, secretkey: 'lksk_not-the-secret' },
        });
      const signed = async (ip: string, c: Credentials) => {
        const headers = await signHeaders(c, {
          method: 'GET',
          path: '/profile',
          host: HOST,
          date: t.clock.now(),
        });
        return t.app.inject({ method: 'GET', url: '/profile', headers, remoteAddress: ip });
      };
      const secret = 'lksk_made-up-secret-made-up-secret-made-up-se';

      it('failures under made-up key IDs and emails from one address leave a handful of entries', async () => {
        const before = await state();
        const codes = new Map<number, number>();
        const count = (status: number) => codes.set(status, (codes.get(status) ?? 0) + 1);
        // The address's own counter is cleared before each attempt, so that every attempt is a
        // counted failure (as if the attacker waited out each block): what stays is what the
        // made-up subjects leave behind.
        const ip = '198.51.100.7';
        const v6 = (i: number) => `2001:db8:77:1::${i.toString(16)}`;
        const clear = () =>
          t.runtime.throttle.reset([
            ...signedRequestKeys(ip, undefined),
            ...keySignInKeys(ip),
            ...passwordSignInKeys(v6(0), '', false),
          ]);
        // 1,000 made-up IDs: before the fix they left over 200 entries, after it none.
        for (let i = 0; i < 500; i++) {
          await clear();
          // Half with IDs the checksum rejects, half with well-formed IDs that are looked up.
          const accessKeyId =
            i % 2 ? generateAccessKeyId() : `LKIA${randomBytes(11).toString('hex').toUpperCase()}`;
          count((await signed(ip, { accessKeyId, secretAccessKey: secret })).statusCode);
          await clear();
          count((await keySignIn(ip, i % 2 ? generateAccessKeyId() : `made-up-${i}`)).statusCode);
        }
        // Made-up emails cost a password hash each, so fewer of them; from rotating addresses of one /64.
        for (let i = 0; i < 25; i++) {
          await clear();
          count((await passwordSignIn(v6(i), `nobody-${i}@example.com`, 'guess')).statusCode);
        }
        expect(Object.fromEntries(codes)).toEqual({ 401: 525, 403: 500 });
        // One counter per address and scope (sigv4-ip, login-ip for the IPv4 address and the /64),
        // and the made-up emails' buckets (a fixed number of them: see throttle-keys.test.ts).
        expect((await state()) - before).toBeLessThanOrEqual(3 + 25);
      }, 300_000);

      it("a blocked caller's further failures neither extend the block nor grow the counter", async () => {
        const ip = '198.51.100.20';
        for (let i = 0; i < 6; i++)
          expect((await passwordSignIn(ip, 'nobody@example.com', 'guess')).statusCode).toBe(401);
        for (let i = 0; i < 50; i++) {
          const res = await passwordSignIn(ip, 'nobody@example.com', 'guess');
          expect(res.statusCode).toBe(429);
          expect(res.json().error.code).toBe('TOO_MANY_REQUESTS');
          expect(res.headers['retry-after']).toBe('1');
          // The body says what caused the block (six failures, not fifty-six) and how to lift it.
          expect(res.json().error).toMatchObject({
            failures: 6,
            retryAfterSeconds: 1,
            message:
              '6 failed sign-ins from this address; try again in 1 s, or ask an operator to run `npx latchkey throttle clear --address 198.51.100.20`',
          });
        }
        t.clock.advance(1000);
        // The block ended on time, and the next failure is the 7th (2 s), not the 57th.
        expect((await passwordSignIn(ip, 'nobody@example.com', 'guess')).statusCode).toBe(401);
        expect((await passwordSignIn(ip, ADMIN_EMAIL, ADMIN_PASSWORD)).headers['retry-after']).toBe('2');

        const bad = { accessKeyId: generateAccessKeyId(), secretAccessKey: secret };
        const from = '198.51.100.21';
        for (let i = 0; i < 5; i++) expect((await signed(from, bad)).statusCode).toBe(403);
        for (let i = 0; i < 50; i++) {
          const res = await signed(from, bad);
          expect(res.statusCode).toBe(429);
          expect(res.json().error.code).toBe('SlowDown');
          expect(res.headers['retry-after']).toBe('1');
          expect(res.json().error).toMatchObject({
            failures: 6,
            retryAfterSeconds: 1,
            message:
              '6 failed signed requests from this address; try again in 1 s, or ask an operator to run `npx latchkey throttle clear --address 198.51.100.21`',
          });
        }
        t.clock.advance(1000);
        const next = await signed(from, bad);
        expect(next.statusCode).toBe(429);
        expect(next.headers['retry-after']).toBe('2');
        expect(next.json().error).toMatchObject({ failures: 7, retryAfterSeconds: 2 });
        t.clock.advance(2000);
      });

      it('limits password sign-in per account across addresses: slows for seconds, then the owner gets in', async () => {
        await refreshAdminToken(t);
        const email = `victim-${kind}@example.com`;
        const password = 'the-owners-long-password';
        const created = await call(t, 'POST', '/iam/users', { body: { email, name: 'victim', password } });
        expect(created.statusCode, created.body).toBe(201);
        let address = 0;
        const fresh = () => `203.0.${Math.floor(++address / 250)}.${address % 250}`;
        // Ten failures from ten addresses pass as failures (each address is far from its own limit)…
        for (let i = 0; i < 10; i++)
          expect((await passwordSignIn(fresh(), email, `guess-${i}`)).statusCode).toBe(401);
        // …the 11th blocks the account, whatever address comes next, the owner included.
        expect((await passwordSignIn(fresh(), email, 'guess-10')).statusCode).toBe(401);
        const slowed = await passwordSignIn(fresh(), email, password);
        expect(slowed.statusCode).toBe(429);
        expect(slowed.json().error.code).toBe('TOO_MANY_REQUESTS');
        expect(slowed.headers['retry-after']).toBe('1');
        // The account's counter blocked (the address had no failure): no --address would lift it.
        expect(slowed.json().error).toMatchObject({
          failures: 11,
          retryAfterSeconds: 1,
          message:
            '11 failed sign-ins for this email; try again in 1 s, or ask an operator to run `npx latchkey throttle clear`',
        });
        // The sprayer keeps going as soon as each block ends: the blocks grow, but stay seconds.
        const waits: number[] = [];
        for (let i = 0; i < 6; i++) {
          t.clock.advance(Number((await passwordSignIn(fresh(), email, 'x')).headers['retry-after']) * 1000);
          expect((await passwordSignIn(fresh(), email, `again-${i}`)).statusCode).toBe(401);
          const res = await passwordSignIn(fresh(), email, 'x');
          expect(res.statusCode).toBe(429);
          waits.push(Number(res.headers['retry-after']));
        }
        expect(waits).toEqual([2, 4, 8, 16, 30, 30]);
        // Other accounts are not slowed.
        expect((await passwordSignIn(fresh(), ADMIN_EMAIL, ADMIN_PASSWORD)).statusCode).toBe(200);
        // After the short block the owner signs in, and that success forgets the account's failures.
        t.clock.advance(30_000);
        expect((await passwordSignIn(fresh(), email, password)).statusCode).toBe(200);
        for (let i = 0; i < 10; i++)
          expect((await passwordSignIn(fresh(), email, `later-${i}`)).statusCode).toBe(401);
        expect((await passwordSignIn(fresh(), email, password)).statusCode).toBe(200);
      });

      it('slows an email without an account exactly like one with: the limit does not tell which exist', async () => {
        let address = 0;
        const fresh = () => `203.1.${Math.floor(++address / 250)}.${address % 250}`;
        const spray = async (email: string) => {
          const statuses: number[] = [];
          for (let i = 0; i < 13; i++)
            statuses.push((await passwordSignIn(fresh(), email, `guess-${i}`)).statusCode);
          return statuses;
        };
        await call(t, 'POST', '/iam/users', {
          body: { email: `exists-${kind}@example.com`, name: 'exists', password: 'exists-long-password' },
        });
        const existing = await spray(`exists-${kind}@example.com`);
        const unknown = await spray(`never-${kind}@example.com`);
        expect(existing).toEqual([...Array(11).fill(401), 429, 429]);
        expect(unknown).toEqual(existing);
      });

      it("says when an access key's own counter blocked (failures from many addresses)", async () => {
        const created = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
          body: { name: `throttled-${kind}`, neverExpires: true },
        });
        expect(created.statusCode, created.body).toBe(201);
        const wrong = { accessKeyId: created.json().accessKeyId as string, secretAccessKey: secret };
        for (let i = 1; i <= 5; i++) expect((await signed(`203.2.0.${i}`, wrong)).statusCode).toBe(403);
        const res = await signed('203.2.0.6', wrong);
        expect(res.statusCode).toBe(429);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.json().error).toMatchObject({
          code: 'SlowDown',
          failures: 6,
          retryAfterSeconds: 1,
          message:
            '6 failed signed requests with this access key; try again in 1 s, or ask an operator to run `npx latchkey throttle clear`',
        });
        t.clock.advance(2000);
      });

      it('groups IPv6 addresses by /64, and reads IPv4-mapped addresses as IPv4', async () => {
        // A new unknown email each time: only the address's counter decides.
        let n = 0;
        const fail = (ip: string) => passwordSignIn(ip, `nobody-v6-${++n}@example.com`, 'guess');
        const admin = (ip: string) => passwordSignIn(ip, ADMIN_EMAIL, ADMIN_PASSWORD);
        for (let i = 1; i <= 6; i++) expect((await fail(`2001:db8:1:2::${i}`)).statusCode).toBe(401);
        expect((await admin('2001:db8:1:2:ffff:ffff:ffff:ffff')).statusCode).toBe(429);
        expect((await admin('2001:db8:1:3::1')).statusCode).toBe(200);

        for (let i = 0; i < 6; i++) expect((await fail('::ffff:192.0.2.9')).statusCode).toBe(401);
        expect((await admin('192.0.2.9')).statusCode).toBe(429);
        for (let i = 0; i < 6; i++) expect((await fail('192.0.2.10')).statusCode).toBe(401);
        expect((await admin('::ffff:192.0.2.10')).statusCode).toBe(429);
        expect((await admin('192.0.2.11')).statusCode).toBe(200);

        // Signed requests too: the 6th failure in the /64 is answered 429 SlowDown.
        const bad = { accessKeyId: generateAccessKeyId(), secretAccessKey: secret };
        for (let i = 1; i <= 5; i++) expect((await signed(`2001:db8:9:9::${i}`, bad)).statusCode).toBe(403);
        expect((await signed('2001:db8:9:9:a:b:c:d', bad)).statusCode).toBe(429);
        expect((await signed('2001:db8:9:a::1', bad)).statusCode).toBe(403);
        t.clock.advance(2000);
      });
    });
  });
});
