import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../src/notify/notifier.js';
import { DAY_MS } from '../src/time.js';
import { ADMIN_EMAIL, call, startTestApp, type TestApp } from './helpers/app.js';
import { engineAvailable } from './helpers/engines.js';
import { TestSmtp } from './helpers/smtp.js';

const HOUR = 3_600_000;

// Several instances share a deployment only on PostgreSQL.
describe('expiry reminders on postgres', () => {
  const engine = 'postgres' as const;
  const run = engineAvailable(engine) ? describe : describe.skip;
  run('two instances on one PostgreSQL', () => {
    let a: TestApp;
    let b: TestApp;
    let smtp: TestSmtp;

    beforeAll(async () => {
      smtp = await TestSmtp.start();
      a = await startTestApp(engine, { env: { SMTP_URL: smtp.url } });
      b = await startTestApp(engine, { db: a.db, clock: a.clock, env: { SMTP_URL: smtp.url } });
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
      await smtp?.stop();
    });

    it('run the job and the outbox concurrently and send each reminder exactly once', async () => {
      const sa = (await call(a, 'POST', '/iam/service-accounts', { body: { name: 'batch' } })).json();
      const keys: string[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await call(a, 'POST', `/iam/service-accounts/${sa.id}/keys`, {
          body: { name: `k${i}`, validityDays: 5 + (i % 2) },
        });
        keys.push(res.json().accessKeyId);
      }
      const na = new Notifier(a.runtime.svc);
      const nb = new Notifier(b.runtime.svc);
      try {
        a.clock.advance(4 * DAY_MS + HOUR); // every key is now inside its 2-day lead window
        const runs = await Promise.all(
          Array.from({ length: 6 }, (_, i) => ((i % 2 === 0 ? na : nb) as Notifier).runOnce()),
        );
        const reminded = runs.reduce((sum, r) => sum + r.jobs.reminded, 0);
        expect(reminded).toBe(12);
        // Each instance did part of the work.
        expect(runs.filter((r) => r.jobs.reminded > 0).length).toBeGreaterThanOrEqual(1);
        await Promise.all([na.runOutbox(), nb.runOutbox(), na.runOutbox(), nb.runOutbox()]);
        for (const id of keys) {
          const sent = smtp.messages.filter((m) => m.decoded.includes(id));
          expect(
            sent.map((m) => m.to[0]),
            id,
          ).toEqual([ADMIN_EMAIL]);
        }
        expect(smtp.messages).toHaveLength(12);
        const ids = new Set(smtp.messages.map((m) => m.messageId));
        expect(ids.size).toBe(12);
      } finally {
        await na.stop();
        await nb.stop();
      }
    });
  });
});
