/**
 * Impossible calendar dates (issue 12, finding 10): `Date` rolls 2030-02-30 over to 2 March, so a
 * key's expiry was stored on a day nobody asked for. Every date the API and CLI read must exist.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.js';
import { DEFAULT_SETTINGS, type IamSettings } from '../src/identity/settings.js';
import { resolveExpiry } from '../src/keys/expiry.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, startTestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';

const NOW = new Date('2026-12-04T00:00:00Z');
const SETTINGS: IamSettings = { ...DEFAULT_SETTINGS, acceptedScopes: [] };

const IMPOSSIBLE = [
  '2030-02-30',
  '2031-02-29',
  '2030-04-31',
  '2030-06-31',
  '2030-13-01',
  '2030-00-10',
  '2030-01-00',
  '2030-01-32',
  '2030-02-30T10:00:00Z',
  '2031-02-29T00:00:00+08:00',
  '2030-04-31T12:00Z',
  '2030-01-01T24:00:00Z',
  '2030-01-01T23:60:00Z',
  '2030-01-01T23:59:60Z',
  '2030-01-01T10:00:00+24:00',
  '2030-01-01T10:00:00+05:60',
];

function refusal(expiresAt: string): AppError | undefined {
  try {
    resolveExpiry({ expiresAt }, SETTINGS, NOW);
  } catch (error) {
    return error as AppError;
  }
  return undefined;
}

describe('resolveExpiry refuses dates that do not exist', () => {
  it.each(IMPOSSIBLE)('%s is INVALID_EXPIRY', (expiresAt) => {
    const error = refusal(expiresAt);
    expect(error).toBeInstanceOf(AppError);
    expect(error?.code).toBe('INVALID_EXPIRY');
  });

  it.each([
    ['2032-02-29', '2032-02-29T23:59:59.999Z'],
    ['2030-02-28', '2030-02-28T23:59:59.999Z'],
    ['2030-12-31', '2030-12-31T23:59:59.999Z'],
    ['2032-02-29T23:59:59Z', '2032-02-29T23:59:59.000Z'],
    ['2030-04-30T23:30+08:00', '2030-04-30T15:30:00.000Z'],
    ['2030-01-01T00:00:00.123456-09:30', '2030-01-01T09:30:00.123Z'],
  ])('%s is a real date (stored as %s)', (expiresAt, stored) => {
    expect(resolveExpiry({ expiresAt }, SETTINGS, NOW)).toBe(stored);
  });
});

describeEachEngine('impossible dates through the HTTP API', (engine) => {
  describe('keys', () => {
    const t = useTestApp(engine);
    let accessKeyId: string;
    beforeAll(async () => {
      const created = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, {
        body: { name: 'dated', expiresAt: '2032-02-29' },
      });
      expect(created.statusCode).toBe(201);
      accessKeyId = created.json().accessKeyId;
    });

    const keyCount = async () => (await call(t, 'GET', `/iam/keys?limit=200`)).json().items.length as number;

    it('a leap day that exists is kept as given', async () => {
      expect((await call(t, 'GET', `/iam/keys/${accessKeyId}`)).json().expiresAt).toBe(
        '2032-02-29T23:59:59.999Z',
      );
    });

    it.each(['2030-02-30', '2031-02-29', '2030-04-31', '2030-13-01', '2030-01-01T24:00:00Z'])(
      'POST …/keys with expiresAt %s answers 400 INVALID_EXPIRY and creates nothing',
      async (expiresAt) => {
        const before = await keyCount();
        const res = await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { expiresAt } });
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('INVALID_EXPIRY');
        expect(await keyCount()).toBe(before);
      },
    );

    it.each(['2030-02-30', '2031-02-29T12:00:00Z'])(
      'PATCH /iam/keys/{id} with expiresAt %s answers 400 INVALID_EXPIRY and changes nothing',
      async (expiresAt) => {
        const res = await call(t, 'PATCH', `/iam/keys/${accessKeyId}`, { body: { expiresAt } });
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('INVALID_EXPIRY');
        expect((await call(t, 'GET', `/iam/keys/${accessKeyId}`)).json().expiresAt).toBe(
          '2032-02-29T23:59:59.999Z',
        );
      },
    );

    it('the other date inputs already refuse impossible dates (audit since/until, data API date filters)', async () => {
      for (const q of [
        'since=2030-02-30T00:00:00Z',
        'until=2031-02-29T00:00:00Z',
        'since=2030-01-01T24:00:00Z',
      ]) {
        const res = await call(t, 'GET', `/iam/audit?${q}`);
        expect(res.statusCode, q).toBe(400);
        expect(res.json().error.code, q).toBe('VALIDATION_FAILED');
      }
      const filter = await call(t, 'GET', '/salesinvoice/?docdate=2030-02-30');
      expect(filter.statusCode).toBe(400);
      expect(filter.json().error.message).toMatch(/docdate must be a date/);
    });
  });
});

describe('the CLI uses the same rule', () => {
  it('keys create --expires-at 2030-02-30 fails with INVALID_EXPIRY; 2032-02-29 works', {
    timeout: 60_000,
  }, async () => {
    const t = await startTestApp('sqlite');
    try {
      const env = {
        LATCHKEY_DATA_DIR: t.db.dataDir,
        LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
        LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      };
      const bad = await runCli(
        ['keys', 'create', '--user', ADMIN_EMAIL, '--expires-at', '2030-02-30', '--json'],
        env,
      );
      expect(bad.code, bad.stdout + bad.stderr).toBe(1);
      expect(bad.stderr).toMatch(/INVALID_EXPIRY: expiresAt 2030-02-30 is not a real date/);
      const good = await runCli(
        ['keys', 'create', '--user', ADMIN_EMAIL, '--expires-at', '2032-02-29', '--json'],
        env,
      );
      expect(good.code, good.stdout + good.stderr).toBe(0);
      expect(JSON.parse(good.stdout).expiresAt).toBe('2032-02-29T23:59:59.999Z');
    } finally {
      await t.close();
    }
  });
});
