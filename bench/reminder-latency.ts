/**
 * Reminder latency: the time from a key entering its reminder lead window to the reminder email
 * arriving, with a real server process (`src/main.ts`), the default job interval
 * (LATCHKEY_JOBS_INTERVAL_SECONDS unset = 60 s) and a local SMTP server.
 *
 * The job runs every interval and also wakes at the moment the next key enters its window (see
 * src/notify/notifier.ts), so the delay is expected well under a second rather than up to one
 * interval. Keys are created so that their lead windows start a few seconds after creation, staggered
 * across one job interval (the job's phase relative to a key's window start is what decides the
 * delay, so one sample alone says little). Each key's delay is printed, then min / median / max.
 *
 *   npx tsx bench/reminder-latency.ts [keys=4] [firstWindowStartsInSeconds=5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ServerProcess, sleep } from '../test/helpers/process.js';
import { TestSmtp } from '../test/helpers/smtp.js';

const KEYS = Number(process.argv[2] ?? 4);
const FIRST_IN_S = Number(process.argv[3] ?? 5);
const PASSWORD = 'bench-password-123456';
const DAY_MS = 86_400_000;

async function main(): Promise<void> {
  const smtp = await TestSmtp.start();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  const port = await freePort();
  const interval = process.env.LATCHKEY_JOBS_INTERVAL_SECONDS; // unset: the default, 60 s
  const server = new ServerProcess(port, {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_ADMIN_EMAIL: 'admin@example.com',
    LATCHKEY_ADMIN_PASSWORD: PASSWORD,
    SMTP_URL: smtp.url,
    LOG_LEVEL: 'warn',
    LATCHKEY_JOBS_INTERVAL_SECONDS: interval,
  });
  try {
    await server.waitReady();
    const api = async (method: string, url: string, token?: string, body?: unknown) => {
      const res = await fetch(`${server.url}${url}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const { token } = (await api('POST', '/iam/login', undefined, {
      auth_mode: 'password',
      email: 'admin@example.com',
      password: PASSWORD,
    })) as { token: string };
    const me = (await api('GET', '/iam/me', token)) as { id: string };
    const { reminderLeadDays } = (await api('GET', '/iam/settings', token)) as { reminderLeadDays: number };
    const intervalS = Number(interval ?? 60);
    const spacingMs = Math.floor((intervalS * 1000) / KEYS);

    // Key i enters its lead window FIRST_IN_S seconds + i · interval/KEYS after now.
    const started = Date.now();
    const keys: Array<{ id: string; windowStartsAt: number }> = [];
    for (let i = 0; i < KEYS; i++) {
      const windowStartsAt = started + FIRST_IN_S * 1000 + i * spacingMs;
      const expiresAt = new Date(windowStartsAt + reminderLeadDays * DAY_MS).toISOString();
      const key = (await api('POST', `/iam/users/${me.id}/keys`, token, {
        name: `bench-${i}`,
        expiresAt,
      })) as {
        accessKeyId: string;
      };
      keys.push({ id: key.accessKeyId, windowStartsAt });
    }
    process.stdout.write(
      `server pid ${server.child.pid}, job interval ${intervalS} s, lead ${reminderLeadDays} days, ${KEYS} keys entering their window ${FIRST_IN_S} s to ${(FIRST_IN_S + ((KEYS - 1) * spacingMs) / 1000).toFixed(1)} s from now\n`,
    );

    const arrived = new Map<string, number>();
    const deadline = started + FIRST_IN_S * 1000 + KEYS * spacingMs + (intervalS + 30) * 1000;
    while (arrived.size < keys.length && Date.now() < deadline) {
      for (const k of keys) {
        if (!arrived.has(k.id) && smtp.messages.some((m) => m.decoded.includes(k.id)))
          arrived.set(k.id, Date.now());
      }
      await sleep(50);
    }
    const delays: number[] = [];
    for (const k of keys) {
      const at = arrived.get(k.id);
      if (at === undefined) {
        process.stdout.write(`${k.id}: no reminder within ${intervalS + 30} s of its window start\n`);
        continue;
      }
      const delay = (at - k.windowStartsAt) / 1000;
      delays.push(delay);
      process.stdout.write(`${k.id}: window start → email ${delay.toFixed(2)} s\n`);
    }
    delays.sort((a, b) => a - b);
    if (delays.length > 0) {
      const median = delays[Math.floor((delays.length - 1) / 2)] as number;
      process.stdout.write(
        `reminder latency with a ${intervalS} s job interval: min ${(delays[0] as number).toFixed(2)} s, median ${median.toFixed(2)} s, max ${(delays.at(-1) as number).toFixed(2)} s (the job wakes when a window starts; without that the bound is one interval)\n`,
      );
    }
    if (smtp.messages.length !== keys.length) {
      process.stdout.write(`warning: ${smtp.messages.length} emails for ${keys.length} keys\n`);
    }
  } finally {
    await server.stop();
    await smtp.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
