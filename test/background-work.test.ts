/**
 * startBackgroundWork: the background work of a serving instance, started in one place (main.ts
 * calls it; test apps call it without the notifications). Mail queued on the instance goes out
 * without a manual run; once stopped, or once the runtime is closed, nothing more is sent.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { enqueueMail, mailQueued } from '../src/notify/outbox.js';
import { type Runtime, startBackgroundWork, startRuntime } from '../src/runtime.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { useTestSmtp } from './helpers/smtp.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachEngine('background work', (engine) => {
  const smtp = useTestSmtp();

  describe('startBackgroundWork', () => {
    const t = useTestApp(engine, () => ({ env: { SMTP_URL: smtp.url } }));

    /** A second instance on the test app's database, as `npm start` builds it; `logs` gets its log lines. */
    const instance = (logs: string[] = []) =>
      startRuntime(loadConfig(t.env), {
        clock: t.clock,
        logger: pino(
          { level: 'info' },
          new Writable({
            write(chunk, _encoding, done) {
              logs.push(String(chunk));
              done();
            },
          }),
        ),
      });

    async function queue(rt: Runtime, to: string): Promise<void> {
      await enqueueMail(rt.svc, rt.svc.db, {
        tenantId: t.tenantId,
        kind: 'test',
        to,
        subject: `test message to ${to}`,
        text: 'hello',
        html: '<p>hello</p>',
      });
      mailQueued(rt.svc, t.tenantId);
    }

    async function deliveredWithin(to: string, ms: number): Promise<number> {
      const deadline = Date.now() + ms;
      while (smtp.to(to).length === 0 && Date.now() < deadline) await sleep(20);
      return smtp.to(to).length;
    }

    it('starts the mail worker: queued mail goes out without a manual run; after stop() nothing more is sent', async () => {
      const serving = await instance();
      try {
        const stop = await startBackgroundWork(serving);
        await queue(serving, 'while-running@example.com');
        expect(await deliveredWithin('while-running@example.com', 10_000)).toBe(1);
        await stop();
        await queue(serving, 'after-stop@example.com');
        await sleep(1_500);
        expect(smtp.to('after-stop@example.com')).toHaveLength(0);
      } finally {
        await serving.close();
      }
    });

    it('runtime.close() stops background work still running; the test apps run none of the notifications', async () => {
      const logs: string[] = [];
      const serving = await instance(logs);
      await startBackgroundWork(serving);
      await serving.close();
      // A mail worker still listening would try the closed database now, and log the failure.
      mailQueued(serving.svc, t.tenantId);
      // Neither the closed instance nor the test app (started without notifications) sends this.
      await queue(t.runtime, 'after-close@example.com');
      await sleep(1_500);
      expect(smtp.to('after-close@example.com')).toHaveLength(0);
      expect(logs.filter((line) => line.includes('"level":50'))).toEqual([]);
    });
  });
});
