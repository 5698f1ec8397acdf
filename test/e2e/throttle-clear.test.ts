/**
 * `npx latchkey throttle clear [--address A]` as a real CLI process against a running app: the
 * memory throttle lives in the server, so the CLI reaches it through the change feed (NOTIFY on
 * PostgreSQL, the event table on SQLite); the Redis throttle (REDIS_URL, default 127.0.0.1:6379,
 * each run under its own key prefix) is cleared by the CLI itself as well, server or no server.
 * The command run is the one the 429 body tells the caller to ask an operator for.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKeys } from '../../src/auth/throttle-keys.js';
import { generateAccessKeyId } from '../../src/crypto/access-key-id.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachEngine } from '../helpers/each-engine.js';
import { type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import { type ProcessResult, runCli } from '../helpers/process.js';
import { REDIS_AVAILABLE, REDIS_URL } from '../helpers/redis.js';
import { signHeaders } from '../helpers/sign.js';

const redisReachable = REDIS_AVAILABLE;

/** The change feed's promise: a change is in force everywhere within 1 s (the CLI has exited by then). */
const IN_FORCE_MS = 1000;
/** Slack for a loaded machine (the test reports how long it really took when it fails). */
const WAIT_MS = 3000;

function expectOk(res: ProcessResult): void {
  expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
}

/** Ask `probe` until it says yes; the time it took, or a failure after WAIT_MS. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > WAIT_MS) throw new Error(`${what}: still not so after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const THROTTLES: ReadonlyArray<'memory' | 'redis'> = ['memory', 'redis'];

describeEachEngine('npx latchkey throttle clear', (engine) => {
  // Redis is the same whatever the engine; the engine decides how the event reaches the server.
  describe.each(engine === 'sqlite' ? THROTTLES : (['memory'] as const))('with the %s throttle', (kind) => {
    const run = kind === 'memory' || redisReachable ? describe : describe.skip;
    run('lifting blocks', { timeout: 120_000, sequential: true }, () => {
      let db: ScratchDatabase;
      let t: TestApp;
      let redis: Redis | undefined;
      const keyPrefix = `latchkey-test-${randomBytes(4).toString('hex')}:`;
      const extraEnv: Record<string, string> =
        kind === 'redis' ? { REDIS_URL: `${REDIS_URL}?keyPrefix=${encodeURIComponent(keyPrefix)}` } : {};
      const cli = (args: string[]) => runCli(args, { ...t.env, ...extraEnv, LOG_LEVEL: 'warn' }, 60_000);

      beforeAll(async () => {
        db = await scratchDatabase(engine);
        t = await startTestApp(engine, { db, env: extraEnv });
        if (kind === 'redis') redis = new Redis(REDIS_URL);
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
        if (redis) {
          const keys = await redis.keys(`${keyPrefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
        }
      });

      let n = 0;
      /** A failed password sign-in from `ip` (a new unknown email each time: only the address counts). */
      const failSignIn = (ip: string) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: ip,
          payload: { auth_mode: 'password', email: `nobody-${++n}@example.com`, password: 'guess' },
        });
      const adminSignIn = (ip: string) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: ip,
          payload: { auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
        });
      const badSigned = async (ip: string) => {
        const credentials = {
          accessKeyId: generateAccessKeyId(),
          secretAccessKey: 'lksk_made-up-secret-made-up-secret-made-up-se',
        };
        const headers = await signHeaders(credentials, {
          method: 'GET',
          path: '/profile',
          host: 'latchkey.test',
          date: t.clock.now(),
        });
        return t.app.inject({ method: 'GET', url: '/profile', headers, remoteAddress: ip });
      };
      /**
       * Fail from `ip` until its block lasts half a minute, so it outlives the CLI runs: Redis
       * expires a block on the real clock, and a CLI run takes seconds. Each block is waited out
       * on the test clock, which is then set back, so no other address's block is shortened.
       */
      const longBlock = async (fail: () => Promise<unknown>, wait: () => Promise<number>) => {
        const start = t.clock.now();
        for (let i = 0; i < 6; i++) await fail();
        for (let seconds = await wait(); seconds < 30; seconds = await wait()) {
          t.clock.advance(seconds * 1000);
          await fail();
        }
        t.clock.set(start);
      };
      const retryAfter = (res: { headers: Record<string, unknown> }) =>
        Number(res.headers['retry-after'] ?? 0);
      /** Block `ip` for password sign-in; the 429 the rightful owner then gets. */
      const blockSignIn = async (ip: string, from: (i: number) => string = () => ip) => {
        let i = 0;
        await longBlock(
          async () => expect((await failSignIn(from(i++ % 6))).statusCode).toBe(401),
          async () => retryAfter(await adminSignIn(ip)),
        );
        const blocked = await adminSignIn(ip);
        expect(blocked.statusCode).toBe(429);
        return blocked.json().error as { message: string; failures: number; retryAfterSeconds: number };
      };
      const blockSigned = async (ip: string) => {
        await longBlock(
          () => badSigned(ip),
          async () => retryAfter(await badSigned(ip)),
        );
        expect((await badSigned(ip)).statusCode).toBe(429);
      };

      it('--address lifts that address on the running server, and no other', async () => {
        const a = '198.51.100.50';
        const b = '198.51.100.51';
        await blockSigned(b);
        const error = await blockSignIn(a);

        // The operator runs exactly the command the 429 names.
        const command = /`npx latchkey (throttle clear --address \S+)`/.exec(error.message)?.[1];
        expect(command, error.message).toBe(`throttle clear --address ${a}`);
        const cleared = await cli((command as string).split(' '));
        expectOk(cleared);
        expect(cleared.stdout).toContain(`lifted the blocks of ${a}`);
        // Timed on the throttle itself (a sign-in costs a password hash, which says nothing about the feed).
        const took = await eventually(
          `${a}'s block lifted`,
          async () =>
            (await t.runtime.throttle.blocked(addressKeys(a), t.clock.now().getTime())) === undefined,
        );
        expect(took, `took ${took} ms`).toBeLessThan(IN_FORCE_MS);
        expect((await adminSignIn(a)).statusCode).toBe(200);
        // The other address is still blocked (a blocked caller's attempts are not counted, so asking is free).
        expect((await badSigned(b)).statusCode).toBe(429);
      });

      it('--address with an IPv6 address lifts its whole /64, as the throttle counts it', async () => {
        await blockSignIn('2001:db8:5:5::1', (i) => `2001:db8:5:5::${i + 1}`);
        expect((await adminSignIn('2001:db8:5:5:ffff::9')).statusCode).toBe(429);
        const cleared = await cli(['throttle', 'clear', '--address', '2001:db8:5:5::abcd', '--json']);
        expectOk(cleared);
        expect(JSON.parse(cleared.stdout)).toEqual({
          address: '2001:db8:5:5::abcd',
          throttledAs: '2001:db8:5:5::/64',
          redis: kind === 'redis',
        });
        await eventually(
          'the /64 signs in again',
          async () => (await adminSignIn('2001:db8:5:5:ffff::9')).statusCode === 200,
        );
      });

      it('without --address lifts every block', async () => {
        const b = '198.51.100.52';
        await blockSigned(b);
        await blockSignIn('198.51.100.52');
        const cleared = await cli(['throttle', 'clear']);
        expectOk(cleared);
        expect(cleared.stdout).toContain('lifted every failed-authentication block');
        await eventually(`${b}'s failures count again`, async () => (await badSigned(b)).statusCode === 403);
        expect((await adminSignIn('198.51.100.52')).statusCode).toBe(200);
      });

      it('refuses an --address that is not an IP address, changing nothing', async () => {
        await blockSignIn('198.51.100.53');
        const bad = await cli(['throttle', 'clear', '--address', '198.51.100']);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toContain(
          'VALIDATION_FAILED: --address 198.51.100 is not an IPv4 or IPv6 address',
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect((await adminSignIn('198.51.100.53')).statusCode).toBe(429);
      });

      if (kind === 'redis') {
        it('with Redis the CLI clears the shared state itself: no server needs to be running', async () => {
          const ip = '198.51.100.54';
          await blockSignIn(ip);
          const stored = async () => ((await redis?.keys(`${keyPrefix}*${ip}`)) ?? []).length;
          expect(await stored()).toBe(2); // the counter and the blocked-until time
          await t.close(); // no server hears the change feed now
          expectOk(await cli(['throttle', 'clear', '--address', ip]));
          expect(await stored()).toBe(0);
          t = await startTestApp(engine, { db, env: extraEnv });
          expect((await adminSignIn(ip)).statusCode).toBe(200);
        });
      }
    });
  });
});
