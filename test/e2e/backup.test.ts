/**
 * `latchkey backup` and `latchkey restore` on SQLite, as an operator runs them: a real server
 * process writing continuously while the built CLI copies its database, then the copy restored into
 * a new data directory (with the master key copied as the README says) and served by a new server.
 * The refusals (existing files, a running server, a missing or wrong master key, files that are not
 * latchkey databases, PostgreSQL) are checked with their exit codes and messages.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app.js';
import {
  callServerOk,
  freePort,
  type ProcessResult,
  runCli,
  type ServerProcess,
  sleep,
  startServer,
} from '../helpers/process.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';

interface CreatedKey extends Credentials {
  serviceAccountId: string;
  serviceAccountName: string;
}

function expectExit(res: ProcessResult, code: number): void {
  expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(code);
}

async function signIn(server: ServerProcess): Promise<string> {
  const res = await fetch(`${server.url}/iam/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth_mode: 'password', email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** GET /profile signed with `key` (SigV4): the status, and the error code when refused. */
async function signedProfile(
  server: ServerProcess,
  key: Credentials,
): Promise<{ status: number; code?: string }> {
  const host = `127.0.0.1:${server.port}`;
  const headers = await signHeaders(key, { method: 'GET', path: '/profile', host });
  const res = await fetch(`${server.url}/profile`, { headers });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code };
}

/** A service account and an access key of its own, created one after the other through the API. */
async function createKeyPair(server: ServerProcess, token: string, name: string): Promise<CreatedKey> {
  const sa = await callServerOk(server, 'POST', '/iam/service-accounts', token, { name });
  const key = await callServerOk(server, 'POST', `/iam/service-accounts/${sa.id as string}/keys`, token, {
    name: 'load',
    type: 'access',
  });
  return {
    serviceAccountId: sa.id as string,
    serviceAccountName: name,
    accessKeyId: key.accessKeyId as string,
    secretAccessKey: key.secretAccessKey as string,
  };
}

const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `latchkey-${prefix}-`));

describe('backup and restore on sqlite', { timeout: 180_000, sequential: true }, () => {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  let sourceDir: string;
  let backupDir: string;
  let backupFile: string;
  let restoredDir: string;
  let server: ServerProcess;
  /** Every key the writer created, in order (it creates one at a time). */
  const created: CreatedKey[] = [];
  let keysBeforeBackup = 0;
  let keysAfterBackup = 0;

  const env = (dataDir: string, extra: Record<string, string | undefined> = {}) => ({
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_ADMIN_EMAIL: ADMIN_EMAIL,
    LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
    ...extra,
  });
  const dir = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const serve = async (dataDir: string, extra: Record<string, string | undefined> = {}) => {
    const s = startServer(await freePort(), env(dataDir, extra));
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    sourceDir = dir('backup-source');
    backupDir = dir('backup-files');
    backupFile = path.join(backupDir, 'latchkey.sqlite');
    server = await serve(sourceDir);
    await server.waitReady(60_000);
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('backs up while a server writes continuously: the copy is checked, 0600, and a consistent snapshot', async () => {
    const token = await signIn(server);
    // A reader's open transaction keeps the server's checkpoints from moving what is written after
    // it into the database file: every key below then exists only in the WAL, as the latest writes
    // of a busy server do, so a backup that copied the file without its WAL would miss them all.
    const pin = new SqliteDatabase(path.join(sourceDir, 'latchkey.sqlite'), { readonly: true });
    pin.exec('begin');
    expect(pin.prepare("select count(*) as n from service_accounts where name like 'load-%'").get()).toEqual({
      n: 0,
    });
    let stop = false;
    let failure: unknown;
    // The writer: service accounts and their keys, one request at a time, so `created` is in commit
    // order. A second loop signs requests, whose last-used times the server writes in the background.
    const writer = (async () => {
      for (let i = 0; !stop; i++) created.push(await createKeyPair(server, token, `load-${i}`));
    })().catch((error: unknown) => {
      failure = error;
    });
    const signer = (async () => {
      while (!stop) {
        const key = created.at(-1);
        if (key) expect((await signedProfile(server, key)).status).toBe(200);
        else await sleep(20);
      }
    })().catch((error: unknown) => {
      failure = error;
    });
    while (created.length < 20 && failure === undefined) await sleep(50);

    keysBeforeBackup = created.length;
    const backup = await runCli(['--json', 'backup', backupFile], env(sourceDir), 60_000);
    keysAfterBackup = created.length;
    // Keep writing a little after the backup, so the live database moves on past the snapshot.
    while (created.length < keysAfterBackup + 5 && failure === undefined) await sleep(50);
    stop = true;
    await Promise.all([writer, signer]);
    pin.exec('commit');
    pin.close();
    expect(failure).toBeUndefined();

    expectExit(backup, 0);
    expect(keysAfterBackup, 'keys were written while the backup ran').toBeGreaterThan(keysBeforeBackup);
    const result = JSON.parse(backup.stdout) as {
      file: string;
      bytes: number;
      integrity: string;
      schemaVersion: string;
      rows: Record<string, number>;
      masterKey: { included: boolean; source: string; path: string; opensSecrets: boolean };
    };
    expect(result.file).toBe(backupFile);
    expect(result.integrity).toBe('ok');
    expect(result.schemaVersion).toMatch(/^\d{4}-\d{2}-\d{2}-\d{4}-/);
    expect(result.bytes).toBe(fs.statSync(backupFile).size);
    expect(result.masterKey).toMatchObject({
      included: false,
      source: 'file',
      path: path.join(sourceDir, 'master.key'),
      opensSecrets: true,
    });
    expect(backup.stderr).toContain(
      `the backup does not contain the master key: back up ${sourceDir}/master.key`,
    );
    // Secrets never reach the output.
    for (const k of created) expect(backup.stdout + backup.stderr).not.toContain(k.secretAccessKey);

    expect(fs.statSync(backupFile).mode & 0o777).toBe(0o600);
    // Only the backup itself: no temporary file, and no -wal/-shm (the copy is self-contained).
    expect(fs.readdirSync(backupDir)).toEqual(['latchkey.sqlite']);

    const copy = new SqliteDatabase(backupFile, { readonly: true, fileMustExist: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(copy.prepare('pragma foreign_key_check').all()).toEqual([]);
      const keyIds = new Set(
        (copy.prepare('select id from access_keys').all() as { id: string }[]).map((r) => r.id),
      );
      const saNames = new Set(
        (
          copy.prepare("select name from service_accounts where name like 'load-%'").all() as {
            name: string;
          }[]
        ).map((r) => r.name),
      );
      const inCopy = created.filter((k) => keyIds.has(k.accessKeyId)).length;
      // A consistent snapshot of a sequential writer is a prefix of what it wrote: the first
      // `inCopy` keys, none after; each key's service account, and at most one account whose key
      // had not been committed yet.
      expect(created.slice(0, inCopy).every((k) => keyIds.has(k.accessKeyId))).toBe(true);
      expect(inCopy).toBeGreaterThanOrEqual(keysBeforeBackup);
      expect(inCopy, 'keys written after the backup are not in it').toBeLessThan(created.length);
      expect(
        saNames.size === inCopy || saNames.size === inCopy + 1,
        `${saNames.size} accounts, ${inCopy} keys`,
      ).toBe(true);
      expect(created.slice(0, saNames.size).every((k) => saNames.has(k.serviceAccountName))).toBe(true);
      // No key without its owner or its sealed secret, no secret without its key.
      const orphans = copy
        .prepare(
          `select count(*) as n from access_keys k
            where (k.owner_type = 'service_account' and not exists (select 1 from service_accounts s where s.id = k.owner_id))
               or (k.owner_type = 'user' and not exists (select 1 from users u where u.id = k.owner_id))
               or not exists (select 1 from key_secrets s where s.access_key_id = k.id)`,
        )
        .get() as { n: number };
      expect(orphans.n).toBe(0);
      // The summary counted the copy's rows.
      expect(result.rows.access_keys).toBe(keyIds.size);
      expect(result.rows.service_accounts).toBe(
        (copy.prepare('select count(*) as n from service_accounts').get() as { n: number }).n,
      );
      // Each key's creation is audited in the same transaction: the snapshot has both or neither.
      const audited = copy
        .prepare("select count(*) as n from audit_log where action = 'access_key.create'")
        .get() as { n: number };
      expect(audited.n).toBe(inCopy);
    } finally {
      copy.close();
    }
  });

  it('restores into a new data directory with the master key copied beside it: the keys from before the backup authenticate', async () => {
    restoredDir = dir('backup-restored');
    fs.copyFileSync(path.join(sourceDir, 'master.key'), path.join(restoredDir, 'master.key'));
    const restore = await runCli(['restore', backupFile], env(restoredDir));
    expectExit(restore, 0);
    expect(restore.stdout).toContain(`into ${restoredDir}/latchkey.sqlite`);
    expect(restore.stdout).toContain('Integrity check:   ok');
    expect(restore.stdout).toContain('it opens the secrets');
    expect(fs.statSync(path.join(restoredDir, 'latchkey.sqlite')).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(restoredDir).sort()).toEqual(['latchkey.sqlite', 'master.key']);

    const restored = await serve(restoredDir);
    await restored.waitReady(60_000);
    // A key from before the backup began, and the last key the snapshot holds.
    const copy = new SqliteDatabase(backupFile, { readonly: true });
    const ids = new Set(
      (copy.prepare('select id from access_keys').all() as { id: string }[]).map((r) => r.id),
    );
    copy.close();
    const lastInCopy = created.filter((k) => ids.has(k.accessKeyId)).at(-1) as CreatedKey;
    for (const key of [created[0] as CreatedKey, created[keysBeforeBackup - 1] as CreatedKey, lastInCopy])
      expect(await signedProfile(restored, key)).toEqual({ status: 200 });
    // A key created after the snapshot is unknown to the restored deployment.
    expect(await signedProfile(restored, created.at(-1) as CreatedKey)).toEqual({
      status: 403,
      code: 'InvalidAccessKeyId',
    });
    // The restored deployment serves its own writes.
    const token = await signIn(restored);
    const fresh = await createKeyPair(restored, token, 'after-restore');
    expect((await signedProfile(restored, fresh)).status).toBe(200);

    // While it serves, restore refuses, even with --force, and leaves the database alone.
    const before = fs.readFileSync(path.join(restoredDir, 'latchkey.sqlite'));
    const busy = await runCli(['restore', '--force', backupFile], env(restoredDir));
    expectExit(busy, 1);
    expect(busy.stderr).toContain(`has ${restoredDir}/latchkey.sqlite open: stop every server that uses it`);
    expect(busy.stderr).not.toContain('    at ');
    expect(fs.readFileSync(path.join(restoredDir, 'latchkey.sqlite')).equals(before)).toBe(true);
    expect((await signedProfile(restored, fresh)).status).toBe(200);

    await restored.stop();
    // Stopped: without --force it still refuses to replace the database…
    const exists = await runCli(['restore', backupFile], env(restoredDir));
    expectExit(exists, 1);
    expect(exists.stderr).toContain(
      `a database already exists at ${restoredDir}/latchkey.sqlite: give --force`,
    );
    // …and with --force it replaces it: the key created after the restore is gone again.
    const forced = await runCli(['--json', 'restore', '--force', backupFile], env(restoredDir));
    expectExit(forced, 0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ replaced: true, integrity: 'ok' });
    expect(fs.readdirSync(restoredDir).sort()).toEqual(['latchkey.sqlite', 'master.key']);
    const again = await serve(restoredDir);
    await again.waitReady(60_000);
    expect(await signedProfile(again, created[0] as CreatedKey)).toEqual({ status: 200 });
    expect(await signedProfile(again, fresh)).toEqual({ status: 403, code: 'InvalidAccessKeyId' });
    await again.stop();
  });

  it('restore refuses a deployment whose master key cannot open the backup; --force restores, and the server then cannot start', async () => {
    const noKey = dir('backup-nokey');
    const missing = await runCli(['restore', backupFile], env(noKey));
    expectExit(missing, 1);
    expect(missing.stderr).toContain(`${noKey}/master.key does not exist`);
    expect(missing.stderr).toContain(
      `put the master.key of the deployment the backup came from at ${noKey}/master.key`,
    );
    expect(fs.readdirSync(noKey)).toEqual([]);
    // Nor does a refused restore leave behind the data directory it would have made.
    const notYet = path.join(dir('backup-parent'), 'data');
    expectExit(await runCli(['restore', backupFile], env(notYet)), 1);
    expect(fs.existsSync(notYet)).toBe(false);

    const otherKey = randomBytes(32).toString('base64');
    const wrong = await runCli(
      ['restore', backupFile],
      env(dir('backup-wrongkey'), { LATCHKEY_MASTER_KEY: otherKey }),
    );
    expectExit(wrong, 1);
    expect(wrong.stderr).toContain('LATCHKEY_MASTER_KEY does not decrypt');
    expect(wrong.stderr).not.toContain(otherKey);

    const forced = await runCli(['restore', '--force', backupFile], env(noKey));
    expectExit(forced, 0);
    expect(forced.stderr).toContain('latchkey: warning: this deployment has no master key');
    // What the refusal prevents: the server generates a new master key, which opens nothing.
    const doomed = await serve(noKey);
    const exit = await doomed.waitExit(60_000);
    expect(exit.code, doomed.stdout + doomed.stderr).not.toBe(0);
    // AES-GCM's refusal: the new key does not open the token signing key sealed under the old one.
    expect(doomed.stderr).toContain('unable to authenticate data');
  });

  it('restore refuses files that are not latchkey backups, replacing nothing', async () => {
    const target = dir('backup-notours');
    fs.copyFileSync(path.join(sourceDir, 'master.key'), path.join(target, 'master.key'));
    const text = path.join(backupDir, 'notes.txt');
    fs.writeFileSync(text, 'not a database\n'.repeat(200));
    const other = path.join(backupDir, 'other.sqlite');
    const db = new SqliteDatabase(other);
    db.exec('create table things (id integer primary key)');
    db.close();
    // A damaged backup: a real one with its middle overwritten (a bad disk, a truncated transfer).
    const damaged = path.join(backupDir, 'damaged.sqlite');
    const bytes = fs.readFileSync(backupFile);
    bytes.fill(0xab, Math.floor(bytes.length / 4), Math.floor((bytes.length * 3) / 4));
    fs.writeFileSync(damaged, bytes);
    for (const [file, message] of [
      [damaged, `the backup ${damaged}`],
      [text, `${text} is not a SQLite database: nothing was restored`],
      [other, 'is a SQLite database but not a latchkey one (no kysely_migration, tenants, users'],
      [path.join(backupDir, 'missing.sqlite'), `no backup at ${path.join(backupDir, 'missing.sqlite')}`],
    ] as const) {
      const res = await runCli(['restore', file], env(target));
      expectExit(res, 1);
      expect(res.stderr).toContain(message);
      expect(res.stderr, 'an expected failure, not a crash').not.toContain('    at ');
      expect(fs.readdirSync(target)).toEqual(['master.key']);
    }
    for (const file of [damaged, text, other]) fs.rmSync(file);
  });

  it('backup refuses an existing file without --force and replaces it with --force', async () => {
    const target = path.join(backupDir, 'existing.sqlite');
    fs.writeFileSync(target, 'keep me');
    const refused = await runCli(['backup', target], env(sourceDir));
    expectExit(refused, 1);
    expect(refused.stderr).toContain(`${target} already exists: choose another name, or give --force`);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me');

    const forced = await runCli(['backup', '--force', target], env(sourceDir));
    expectExit(forced, 0);
    expect(forced.stdout).toContain(`to ${target} (mode 0600)`);
    expect(forced.stdout).toContain('Integrity check:   ok');
    const copy = new SqliteDatabase(target, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    copy.close();
    expect(fs.readdirSync(backupDir).sort()).toEqual(['existing.sqlite', 'latchkey.sqlite']);

    const live = await runCli(['backup', path.join(sourceDir, 'latchkey.sqlite')], env(sourceDir));
    expectExit(live, 1);
    expect(live.stderr).toContain('is the live database');
  });

  it('backup with the master key in LATCHKEY_MASTER_KEY warns that the backup does not hold it', async () => {
    const keyDir = dir('backup-envkey');
    const key = randomBytes(32).toString('base64');
    const init = await runCli(['init'], env(keyDir, { LATCHKEY_MASTER_KEY: key }));
    expectExit(init, 0);
    const file = path.join(keyDir, 'copy.sqlite');
    const res = await runCli(['backup', file], env(keyDir, { LATCHKEY_MASTER_KEY: key }));
    expectExit(res, 0);
    expect(res.stderr).toContain(
      'latchkey: warning: the backup does not contain the master key: it is in LATCHKEY_MASTER_KEY',
    );
    expect(res.stdout).toContain(
      'Master key:        LATCHKEY_MASTER_KEY; it opens the secrets (not in the backup)',
    );
    expect(res.stdout + res.stderr).not.toContain(key);
    // Neither the copy nor anything else written holds the key's bytes.
    expect(fs.readFileSync(file).includes(Buffer.from(key, 'base64'))).toBe(false);
    expect(fs.readFileSync(file).includes(key)).toBe(false);
  });

  it('on PostgreSQL, backup and restore point to pg_dump and pg_restore and write nothing', async () => {
    const file = path.join(backupDir, 'pg.dump');
    const pgEnv = env(dir('backup-pg'), {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/latchkey_nowhere',
    });
    const backup = await runCli(['backup', file], pgEnv);
    expectExit(backup, 2);
    expect(backup.stderr).toContain('`latchkey backup` works on a SQLite deployment; this one is PostgreSQL');
    expect(backup.stderr).toContain(
      'pg_dump --format=custom --no-owner --file=latchkey.dump "$DATABASE_URL"',
    );
    expect(backup.stderr).toContain('README.md, "Backup and restore"');
    expect(fs.existsSync(file)).toBe(false);
    const restore = await runCli(['restore', backupFile], pgEnv);
    expectExit(restore, 2);
    expect(restore.stderr).toContain('pg_restore --no-owner');
  });

  it('backup of a directory that holds no deployment says where it looked', async () => {
    const empty = dir('backup-empty');
    const res = await runCli(['backup', path.join(backupDir, 'nothing.sqlite')], env(empty));
    expectExit(res, 2);
    expect(res.stderr).toContain(`no latchkey database in the data directory ${empty}`);
    expect(fs.existsSync(path.join(backupDir, 'nothing.sqlite'))).toBe(false);
  });
});
