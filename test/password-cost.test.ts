/**
 * LATCHKEY_PASSWORD_HASH_COST: new password hashes get the configured scrypt cost; a stored hash
 * made at another cost still signs in, and that sign-in stores a new hash at the current cost (so
 * a raised cost reaches every account that signs in). Sessions are untouched: same password.
 */
import { expect, it } from 'vitest';
import { setPasswordHashCost } from '../src/crypto/password.js';
import { ADMIN_EMAIL, createUserWithLogin, startTestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { TEST_PASSWORD_HASH_COST } from './helpers/process.js';

const TEST_COST = Number(TEST_PASSWORD_HASH_COST.LATCHKEY_PASSWORD_HASH_COST);
const EMAIL = 'cost@example.com';
const PASSWORD = 'a-long-enough-password';

describeEachEngine('the password hash cost', (engine) => {
  const t = useTestApp(engine);

  const storedHash = async (email: string) =>
    (
      await t.runtime.svc.db
        .selectFrom('users')
        .select('password_hash')
        .where('email_normalized', '=', email)
        .executeTakeFirstOrThrow()
    ).password_hash as string;

  it('a changed cost: the stored hash still signs in, and that sign-in re-hashes it at the new cost', async () => {
    const { token } = await createUserWithLogin(t, EMAIL, PASSWORD);
    const before = await storedHash(EMAIL);
    expect(before.startsWith(`scrypt$${TEST_COST}$8$1$`)).toBe(true);
    // The same deployment restarted with another cost (it warns: below the default).
    const raised = await startTestApp(engine, {
      db: t.db,
      env: { LATCHKEY_PASSWORD_HASH_COST: String(TEST_COST + 1) },
    });
    const signIn = (password: string) =>
      raised.app.inject({
        method: 'POST',
        url: '/iam/login',
        payload: { auth_mode: 'password', email: EMAIL, password },
      });
    try {
      expect(raised.logs.join('')).toContain('LATCHKEY_PASSWORD_HASH_COST is below the default');
      // The test harness signed the administrator in on start: re-hashed already.
      expect((await storedHash(ADMIN_EMAIL)).startsWith(`scrypt$${TEST_COST + 1}$`)).toBe(true);
      // A wrong password changes nothing.
      expect((await signIn(`${PASSWORD}-not`)).statusCode).toBe(401);
      expect(await storedHash(EMAIL)).toBe(before);
      // The right one signs in with the old hash, and replaces it; once.
      expect((await signIn(PASSWORD)).statusCode).toBe(200);
      const after = await storedHash(EMAIL);
      expect(after.startsWith(`scrypt$${TEST_COST + 1}$8$1$`)).toBe(true);
      expect((await signIn(PASSWORD)).statusCode).toBe(200);
      expect(await storedHash(EMAIL)).toBe(after);
      // The session from before is still good: the password did not change.
      const me = await raised.app.inject({
        method: 'GET',
        url: '/iam/me',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(me.statusCode).toBe(200);
    } finally {
      await raised.close();
      setPasswordHashCost(TEST_COST);
    }
  });
});
