/**
 * Days left are whole days the key still has, rounded down: a key expiring in 1 day 2 hours has 1
 * day left (not 2), one expiring in less than a day has 0 and is still usable until it expires.
 */
import { describe, expect, it } from 'vitest';
import { daysLeft } from '../src/keys/expiry.js';
import { DAY_MS } from '../src/time.js';
import { call, refreshAdminToken } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

const HOUR_MS = 3_600_000;

describe('daysLeft', () => {
  const now = new Date('2026-12-01T10:00:00.000Z');
  const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
  it('rounds down to whole days', () => {
    expect(daysLeft(at(DAY_MS + 2 * HOUR_MS), now)).toBe(1);
    expect(daysLeft(at(2 * DAY_MS - 1), now)).toBe(1);
    expect(daysLeft(at(2 * DAY_MS), now)).toBe(2);
    expect(daysLeft(at(23 * HOUR_MS), now)).toBe(0);
    expect(daysLeft(at(1), now)).toBe(0);
  });
  it('is 0 once expired and null for a key that never expires', () => {
    expect(daysLeft(at(-DAY_MS), now)).toBe(0);
    expect(daysLeft(null, now)).toBeNull();
  });
});

describeEachEngine('days left of a key', (engine) => {
  describe('API', () => {
    const t = useTestApp(engine);

    it('a key expiring in 1 day 2 hours has 1 day left; in 23 hours, 0 and still active', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'days-left' } })).json();
      const expiresAt = new Date(t.clock.now().getTime() + DAY_MS + 2 * HOUR_MS).toISOString();
      const created = await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, {
        body: { name: 'soon', expiresAt },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({ daysLeft: 1, state: 'expiring_soon' });
      const id = created.json().accessKeyId;
      expect((await call(t, 'GET', `/iam/keys/${id}`)).json().daysLeft).toBe(1);
      t.clock.advance(3 * HOUR_MS);
      await refreshAdminToken(t);
      try {
        expect((await call(t, 'GET', `/iam/keys/${id}`)).json()).toMatchObject({
          daysLeft: 0,
          state: 'expiring_soon',
        });
      } finally {
        t.clock.advance(-3 * HOUR_MS);
        await refreshAdminToken(t);
      }
    });
  });
});
