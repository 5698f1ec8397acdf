/**
 * The README's PostgreSQL backup procedure, followed literally: its `<!-- backup:postgres -->`
 * blocks (pg_dump while latchkey serves, pg_restore into a new empty database) run as written with
 * bash, and a server started on the restored database with the same master key authenticates the
 * keys made before the dump. Skipped, visibly, without a reachable PostgreSQL (and a failure when
 * LATCHKEY_REQUIRE_POSTGRES=1), as every PostgreSQL test is (./helpers/engines.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app.js';
import { engineAvailable, type ScratchDatabase, scratchDatabase } from '../helpers/engines.js';
import {
  callServerOk,
  childEnv,
  freePort,
  ROOT,
  runToEnd,
  type ServerProcess,
  startServer,
} from '../helpers/process.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The marked blocks of the README's "Backup and restore" section, in order. */
function procedureBlocks(): string[] {
  const start = README.indexOf('### Backup and restore\n');
  if (start === -1) throw new Error('README.md has no "### Backup and restore" section');
  const end = README.indexOf('\n## ', start);
  const section = README.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/<!-- backup:postgres -->\n```bash\n([\s\S]*?)```/g)].map(
    (m) => m[1] as string,
  );
}

async function bash(code: string, cwd: string, env: Record<string, string>): Promise<void> {
  const res = await runToEnd(
    'bash',
    ['-c', `set -euo pipefail\ncd "$WORK_DIR"\n${code}`],
    childEnv({ ...env, WORK_DIR: cwd }),
    120_000,
  );
  expect(res.code, `bash exited ${res.code}:\n${code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(
    0,
  );
}

async function newKey(server: ServerProcess, token: string, name: string): Promise<Credentials> {
  const sa = await callServerOk(server, 'POST', '/iam/service-accounts', token, { name });
  const key = await callServerOk(server, 'POST', `/iam/service-accounts/${sa.id as string}/keys`, token, {
    type: 'access',
  });
  return { accessKeyId: key.accessKeyId as string, secretAccessKey: key.secretAccessKey as string };
}

async function signedProfile(
  server: ServerProcess,
  key: Credentials,
): Promise<{ status: number; code?: string }> {
  const headers = await signHeaders(key, {
    method: 'GET',
    path: '/profile',
    host: `127.0.0.1:${server.port}`,
  });
  const res = await fetch(`${server.url}/profile`, { headers });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code };
}

const suite = engineAvailable('postgres') ? describe : describe.skip;

suite('PostgreSQL backup and restore, as the README says', { timeout: 180_000, sequential: true }, () => {
  let source: ScratchDatabase;
  let target: ScratchDatabase;
  let workDir: string;
  const servers: ServerProcess[] = [];
  // The same master key on both sides: it is not in the dump (README, "Backup and restore").
  const masterKey = randomBytes(32).toString('base64');
  const serve = async (db: ScratchDatabase, key = masterKey) => {
    const server = startServer(await freePort(), {
      DATABASE_URL: db.databaseUrl,
      LATCHKEY_DATA_DIR: db.dataDir,
      LATCHKEY_MASTER_KEY: key,
      LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
      LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
    });
    servers.push(server);
    await server.waitReady(60_000);
    return server;
  };

  beforeAll(async () => {
    source = await scratchDatabase('postgres');
    // scratchDatabase makes a new, empty database: the one the README restores into.
    target = await scratchDatabase('postgres');
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-pgdump-'));
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await source?.drop();
    await target?.drop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('pg_dump while serving, pg_restore into a new database: the same keys sign requests there', async () => {
    const blocks = procedureBlocks();
    expect(blocks).toHaveLength(2);
    const [dump, restore] = blocks as [string, string];
    expect(dump).toContain('pg_dump --format=custom --no-owner');
    expect(restore).toContain('pg_restore --no-owner');

    const live = await serve(source);
    const login = await callServerOk(live, 'POST', '/iam/login', null, {
      auth_mode: 'password',
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    const token = login.token as string;
    const before = [await newKey(live, token, 'before-1'), await newKey(live, token, 'before-2')];
    for (const key of before) expect(await signedProfile(live, key)).toEqual({ status: 200 });

    // The dump runs while the server serves, and is being signed against.
    const traffic = Promise.all(
      Array.from({ length: 20 }, () => signedProfile(live, before[0] as Credentials)),
    );
    await bash(dump, workDir, { DATABASE_URL: source.databaseUrl as string });
    for (const r of await traffic) expect(r.status).toBe(200);
    expect(fs.statSync(path.join(workDir, 'latchkey.dump')).size).toBeGreaterThan(0);
    const after = await newKey(live, token, 'after-dump');
    await live.stop();

    await bash(restore, workDir, { RESTORE_URL: target.databaseUrl as string });

    const restored = await serve(target);
    for (const key of before) expect(await signedProfile(restored, key)).toEqual({ status: 200 });
    expect(await signedProfile(restored, after)).toEqual({ status: 403, code: 'InvalidAccessKeyId' });
    // The administrator signs in with the same password and sees the same service accounts.
    const again = await callServerOk(restored, 'POST', '/iam/login', null, {
      auth_mode: 'password',
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    const accounts = await callServerOk(restored, 'GET', '/iam/service-accounts', again.token as string);
    expect((accounts.items as { name: string }[]).map((a) => a.name).sort()).toEqual([
      'before-1',
      'before-2',
    ]);
    await restored.stop();

    // Without the master key the restored data is no use: another key cannot open the token
    // signing key, and the server does not start.
    const otherKey = randomBytes(32).toString('base64');
    const wrong = startServer(await freePort(), {
      DATABASE_URL: target.databaseUrl,
      LATCHKEY_DATA_DIR: target.dataDir,
      LATCHKEY_MASTER_KEY: otherKey,
      LOG_LEVEL: 'warn',
    });
    servers.push(wrong);
    const exit = await wrong.waitExit(60_000);
    expect(exit.code, wrong.stdout + wrong.stderr).not.toBe(0);
    expect(wrong.stderr).toContain('unable to authenticate data');
  });
});
