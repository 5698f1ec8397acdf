/**
 * `latchkey backup <file>` and `latchkey restore <file>` for a SQLite deployment.
 *
 * Both open the database file directly with better-sqlite3 and never start the runtime: a backup
 * must not run migrations or create a first tenant in the deployment it copies, and a restore must
 * not touch the database it is about to replace beyond proving that nobody else has it open.
 *
 * The master key is never written into a backup. Everything secret in the database (access-key
 * secrets, token-signing private keys) is sealed under it; one file holding both the ciphertexts and
 * the key would give whoever holds the backup every secret, which is what encryption at rest is
 * there to prevent. The operator keeps the key (`<data dir>/master.key` or LATCHKEY_MASTER_KEY)
 * separately, and both commands say where it is and whether it opens the database's secrets.
 *
 * PostgreSQL deployments use pg_dump and pg_restore (README, "Backup and restore").
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { signingKeyContext } from '../auth/tokens/signing-keys.js';
import type { Config } from '../config.js';
import { SecretBox } from '../crypto/envelope.js';
import { masterKeyPath, parseKeyring } from '../crypto/master-key.js';
import { secretContext } from '../keys/secrets.js';
import { createPrivateFile, ensurePrivateDir, PRIVATE_FILE_MODE } from '../storage/private-files.js';

/** An expected refusal or failure: the CLI prints the message (no stack) and exits with `exitCode`. */
export class BackupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Files SQLite keeps beside a database; stale ones must never meet a database they do not belong to. */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/** Tables every latchkey database has had since its first migration: a file without them is not one. */
const REQUIRED_TABLES = [
  'kysely_migration',
  'tenants',
  'users',
  'service_accounts',
  'access_keys',
  'key_secrets',
  'signing_keys',
] as const;

/** The tables whose row counts the summaries show (those present in the file). */
const COUNTED_TABLES = [
  'tenants',
  'users',
  'service_accounts',
  'groups',
  'roles',
  'access_keys',
  'key_secrets',
  'signing_keys',
  'apis',
  'audit_log',
] as const;

const README_SECTION = 'README.md, "Backup and restore"';

export interface DatabaseSummary {
  /** The newest migration applied to the file (its schema version), null when none is recorded. */
  schemaVersion: string | null;
  migrations: number;
  rows: Record<string, number>;
  /** Master key versions the database's sealed secrets need. */
  masterKeyVersions: number[];
  /** `PRAGMA foreign_key_check` violations (0 in a healthy database). */
  foreignKeyViolations: number;
}

export interface MasterKeyStatus {
  /** Always false: the master key is never written into a backup (see the top of this file). */
  included: false;
  /** Where this deployment's master key is: LATCHKEY_MASTER_KEY, the keyring file, or nowhere yet. */
  source: 'env' | 'file' | 'missing';
  /** The keyring file (source `file`), or where the server would create one (source `missing`). */
  path: string | null;
  /** Whether that keyring opens a sample of the database's sealed secrets (null: nothing to check). */
  opensSecrets: boolean | null;
  /** Why not, when it does not. */
  problem: string | null;
}

export interface BackupResult extends DatabaseSummary {
  file: string;
  database: string;
  bytes: number;
  integrity: 'ok';
  masterKey: MasterKeyStatus;
  warnings: string[];
}

export interface RestoreResult extends DatabaseSummary {
  database: string;
  from: string;
  bytes: number;
  integrity: 'ok';
  /** Whether a database was there before (and was replaced: --force). */
  replaced: boolean;
  masterKey: MasterKeyStatus;
  warnings: string[];
}

function postgresRefusal(command: 'backup' | 'restore'): BackupError {
  const how =
    command === 'backup'
      ? 'pg_dump --format=custom --no-owner --file=latchkey.dump "$DATABASE_URL"'
      : 'pg_restore --no-owner --exit-on-error --single-transaction --dbname="$RESTORE_URL" latchkey.dump';
  return new BackupError(
    [
      `\`latchkey ${command}\` works on a SQLite deployment; this one is PostgreSQL (DATABASE_URL).`,
      `Use PostgreSQL's own tools: ${how}`,
      `(${README_SECTION}, gives the whole procedure.)`,
    ].join('\n'),
    2,
  );
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function removeQuietly(file: string): void {
  fs.rmSync(file, { force: true });
  for (const suffix of SIDE_FILES) fs.rmSync(`${file}${suffix}`, { force: true });
}

/** fsync a file before it is renamed into place, so the new name never points at unwritten pages. */
function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync a directory after a rename in it, so the rename survives a power cut. */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // Some platforms cannot open a directory; the rename is still atomic.
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // Likewise (fsync on a directory is EINVAL on some filesystems).
  } finally {
    fs.closeSync(fd);
  }
}

/** A hidden name beside `target`, in the same directory so the final rename is atomic. */
function tempNameFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`,
  );
}

/**
 * Remove `temp` (and SQLite's side files of it) if the process is interrupted while it exists: an
 * interrupted backup or restore leaves nothing behind. Returns the function that stops watching.
 */
function cleanUpOnSignal(temp: string): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    removeQuietly(temp);
    process.stderr.write(`latchkey: interrupted (${signal}); nothing was written\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * Copy `source` into the (existing, empty, 0600) file `destination` with SQLite's online backup
 * API. After the first step (which only learns the page count) every remaining page is copied in
 * one step, inside one read transaction on the source: the copy is the database as of that moment,
 * whatever the server commits meanwhile. In small steps, each write by the server between two
 * steps would restart the copy from the first page, and a busy server could keep it from ever
 * finishing. WAL mode lets that read transaction run alongside the server's writes.
 */
async function copyDatabase(
  source: SqliteDatabase.Database,
  destination: string,
  sourceName: string,
  outcome: string,
): Promise<void> {
  try {
    await source.backup(destination, { progress: () => 0x7fffffff });
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'SQLITE_NOTADB') throw new BackupError(`${sourceName} is not a SQLite database: ${outcome}`);
    if (isCorrupt(code))
      throw new BackupError(`${sourceName} is damaged (${(error as Error).message}): ${outcome}`);
    throw error;
  }
}

function isCorrupt(code: string | undefined): boolean {
  return code === 'SQLITE_CORRUPT' || code?.startsWith('SQLITE_CORRUPT_') === true;
}

function tableNames(db: SqliteDatabase.Database): Set<string> {
  const rows = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/**
 * Check a copy: SQLite's own integrity check, latchkey's tables, then what the summary shows.
 * `what` names the file in messages ("the backup", "the copy").
 */
function verifyCopy(db: SqliteDatabase.Database, what: string): DatabaseSummary {
  const integrity = (db.prepare('pragma integrity_check').all() as { integrity_check: string }[]).map(
    (r) => r.integrity_check,
  );
  if (integrity.length !== 1 || integrity[0] !== 'ok')
    throw new BackupError(
      `${what} fails SQLite's integrity check:\n  ${integrity.slice(0, 10).join('\n  ')}`,
    );
  const tables = tableNames(db);
  const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0)
    throw new BackupError(
      `${what} is a SQLite database but not a latchkey one (no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''})`,
    );
  const migrations = db.prepare('select name from kysely_migration order by name').all() as {
    name: string;
  }[];
  const rows: Record<string, number> = {};
  for (const table of COUNTED_TABLES) {
    if (!tables.has(table)) continue;
    rows[table] = (db.prepare(`select count(*) as n from "${table}"`).get() as { n: number }).n;
  }
  // Every table that seals something records the master key version beside it (key secrets,
  // signing keys, mail bodies, reveal links, and whatever a later migration adds): all of them count.
  const sealing = db
    .prepare(
      `select m.name from sqlite_master m join pragma_table_info(m.name) c
        where m.type = 'table' and c.name = 'master_key_version' order by m.name`,
    )
    .all() as { name: string }[];
  const versions = db
    .prepare(
      `${sealing
        .map((t) => `select master_key_version as v from "${t.name}" where master_key_version is not null`)
        .join(' union ')} order by 1`,
    )
    .all() as { v: number }[];
  const foreignKeyViolations = db.prepare('pragma foreign_key_check').all().length;
  return {
    schemaVersion: migrations.at(-1)?.name ?? null,
    migrations: migrations.length,
    rows,
    masterKeyVersions: versions.map((r) => r.v),
    foreignKeyViolations,
  };
}

/**
 * The deployment's master keyring, read without creating one (the server creates `master.key` on
 * its first start; a backup or restore must not invent a key the data was never sealed under).
 */
function deploymentKeyring(config: Config): {
  status: Pick<MasterKeyStatus, 'source' | 'path'>;
  box: SecretBox | null;
  versions: number[];
} {
  if (config.masterKey !== undefined) {
    const { current, keys } = parseKeyring(config.masterKey, 'LATCHKEY_MASTER_KEY');
    return {
      status: { source: 'env', path: null },
      box: new SecretBox({ current, keys, source: { kind: 'env' } }),
      versions: [...keys.keys()],
    };
  }
  const file = masterKeyPath(config.dataDir);
  if (!fs.existsSync(file)) return { status: { source: 'missing', path: file }, box: null, versions: [] };
  const { current, keys } = parseKeyring(fs.readFileSync(file, 'utf8'), file);
  return {
    status: { source: 'file', path: file },
    box: new SecretBox({ current, keys, source: { kind: 'file', path: file } }),
    versions: [...keys.keys()],
  };
}

/**
 * Does the deployment's keyring open the database's secrets? One sealed access-key secret and one
 * token-signing key per master key version are opened: a version names one key, so one sample
 * tells whether the keyring holds the key that sealed every secret of that version. The plaintext
 * is dropped at once and never printed.
 */
function checkMasterKey(config: Config, db: SqliteDatabase.Database, needed: number[]): MasterKeyStatus {
  const { status, box, versions } = deploymentKeyring(config);
  const where =
    status.source === 'env' ? 'LATCHKEY_MASTER_KEY' : `the keyring file ${status.path ?? ''}`.trim();
  const result = (opensSecrets: boolean | null, problem: string | null): MasterKeyStatus => ({
    included: false,
    ...status,
    opensSecrets,
    problem,
  });
  if (needed.length === 0) return result(null, null);
  if (box === null)
    return result(
      false,
      `this deployment has no master key (LATCHKEY_MASTER_KEY is unset and ${status.path} does not exist), so the secrets cannot be decrypted`,
    );
  const absent = needed.filter((v) => !versions.includes(v));
  if (absent.length > 0)
    return result(
      false,
      `the secrets are sealed under master key version${absent.length > 1 ? 's' : ''} ${absent.join(', ')}, which ${where} does not hold (it holds ${versions.join(', ')})`,
    );
  const samples: { ciphertext: string; version: number; context: string; what: string }[] = [];
  for (const v of needed) {
    const secret = db
      .prepare(
        `select s.ciphertext, s.master_key_version as version, s.version as secret_version, k.id, k.tenant_id
           from key_secrets s join access_keys k on k.id = s.access_key_id
          where s.master_key_version = ? limit 1`,
      )
      .get(v) as
      | { ciphertext: string; version: number; secret_version: number; id: string; tenant_id: string }
      | undefined;
    if (secret)
      samples.push({
        ciphertext: secret.ciphertext,
        version: secret.version,
        context: secretContext(secret.tenant_id, secret.id, secret.secret_version),
        what: `the secret of access key ${secret.id}`,
      });
    const signing = db
      .prepare(
        'select kid, private_jwk_ciphertext as ciphertext, master_key_version as version from signing_keys where master_key_version = ? limit 1',
      )
      .get(v) as { kid: string; ciphertext: string; version: number } | undefined;
    if (signing)
      samples.push({
        ciphertext: signing.ciphertext,
        version: signing.version,
        context: signingKeyContext(signing.kid),
        what: `the token signing key ${signing.kid}`,
      });
  }
  for (const s of samples) {
    try {
      box.open({ ciphertext: s.ciphertext, masterKeyVersion: s.version }, s.context);
    } catch {
      return result(
        false,
        `${where} does not decrypt ${s.what} (master key version ${s.version}): it is not the key this data was sealed under`,
      );
    }
  }
  return result(true, null);
}

/** Open a database file with a short wait for locks, mapping "not a database" to a clear refusal. */
function openSqlite(file: string, options: SqliteDatabase.Options, what: string): SqliteDatabase.Database {
  try {
    const db = new SqliteDatabase(file, { fileMustExist: true, ...options });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    if (errnoCode(error) === 'SQLITE_CANTOPEN') throw new BackupError(`cannot open ${what} ${file}`);
    throw error;
  }
}

/**
 * Turn a finished copy into a self-contained file: the copy takes the source's WAL flag with its
 * pages, and a backup file should not need (or grow) -wal and -shm files beside it. A server that
 * opens it after a restore switches it back to WAL.
 */
function makeSelfContained(db: SqliteDatabase.Database): void {
  db.pragma('journal_mode = DELETE');
}

/**
 * Make the finished copy self-contained, verify it, and check the master key against it. A damaged
 * file (SQLite finds it malformed on the way) is a refusal naming `what`, not a crash.
 */
function inspectCopy(
  config: Config,
  file: string,
  what: string,
): { summary: DatabaseSummary; masterKey: MasterKeyStatus } {
  const copy = openSqlite(file, {}, 'the copy');
  try {
    makeSelfContained(copy);
    const summary = verifyCopy(copy, what);
    return { summary, masterKey: checkMasterKey(config, copy, summary.masterKeyVersions) };
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'SQLITE_NOTADB' || isCorrupt(code))
      throw new BackupError(`${what} is damaged: ${(error as Error).message}`);
    throw error;
  } finally {
    copy.close();
  }
}

// ---------------------------------------------------------------------------------------------
// backup

export async function backupDatabase(
  config: Config,
  target: string,
  options: { force?: boolean },
): Promise<BackupResult> {
  if (config.database.kind !== 'sqlite') throw postgresRefusal('backup');
  const database = config.database.file;
  const file = path.resolve(target);
  const dir = path.dirname(file);
  if ([database, ...SIDE_FILES.map((s) => `${database}${s}`)].includes(file))
    throw new BackupError(`${file} is the live database (or one of its files): give another file name`);
  const existing = fs.statSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory())
    throw new BackupError(
      `${file} is a directory: give a file name, e.g. ${path.join(file, 'latchkey-backup.sqlite')}`,
    );
  if (existing && !options.force)
    throw new BackupError(`${file} already exists: choose another name, or give --force to replace it`);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new BackupError(`the directory ${dir} does not exist`);

  // Read-only: the backup never writes to the live database, and SQLite lets a read-only
  // connection read a WAL database that the server is writing.
  const source = openSqlite(database, { readonly: true }, 'the database');
  const temp = tempNameFor(file);
  const stopWatching = cleanUpOnSignal(temp);
  try {
    // Created 0600 before SQLite writes a page into it: it holds password hashes and sealed secrets.
    createPrivateFile(temp);
    await copyDatabase(source, temp, database, 'nothing was written');
    const { summary, masterKey } = inspectCopy(config, temp, `the copy of ${database}`);
    fs.chmodSync(temp, PRIVATE_FILE_MODE);
    syncFile(temp);
    fs.renameSync(temp, file);
    syncDir(dir);
    return {
      file,
      database,
      bytes: fs.statSync(file).size,
      integrity: 'ok',
      ...summary,
      masterKey,
      warnings: backupWarnings(summary, masterKey),
    };
  } catch (error) {
    removeQuietly(temp);
    throw error;
  } finally {
    stopWatching();
    source.close();
  }
}

function backupWarnings(summary: DatabaseSummary, key: MasterKeyStatus): string[] {
  const warnings: string[] = [];
  const without =
    'without it the access-key secrets and token signing keys in the backup cannot be decrypted';
  if (key.source === 'env')
    warnings.push(
      `the backup does not contain the master key: it is in LATCHKEY_MASTER_KEY. Keep that value safe, apart from the backup; ${without}.`,
    );
  else if (key.source === 'file')
    warnings.push(
      `the backup does not contain the master key: back up ${key.path} as well, and keep it apart from the backup; ${without}.`,
    );
  if (key.opensSecrets === false && key.problem !== null)
    warnings.push(
      `${key.problem}. Find the master key of this deployment before you need the backup; ${without}.`,
    );
  if (summary.foreignKeyViolations > 0)
    warnings.push(
      `the database has ${summary.foreignKeyViolations} foreign key violation(s) (PRAGMA foreign_key_check): the backup copies them as they are`,
    );
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// restore

/**
 * Prove that no process has `file` open, and keep it that way until `release()`.
 *
 * latchkey's servers keep their connection to the database open while they run, in WAL mode, and
 * every connection to a WAL database holds a shared lock on the file for as long as it is open,
 * idle or busy. A connection in `locking_mode = EXCLUSIVE` must take the file's exclusive lock for
 * its first transaction, which SQLite grants only when no other connection has the file open; with
 * `busy_timeout` at 0 that fails at once with SQLITE_BUSY. (`BEGIN EXCLUSIVE` in normal locking
 * mode would not do: in WAL mode it only takes the write lock, which an idle server does not hold.
 * Looking for a -wal file would not either: one is left behind after a crash, and none may exist
 * between checkpoints.) Holding the lock also keeps a server from starting on the file meanwhile.
 *
 * Once it holds the lock, this connection checkpoints the old database's WAL into it and leaves WAL
 * mode, which removes the -wal file; the -shm file is then unused and is removed by the caller.
 * Leaving WAL mode is itself refused (SQLITE_BUSY) while another connection is open, so it is a
 * second proof of the same thing (test/e2e/backup.test.ts fails only when both are taken away).
 * Only processes on this host that share the file's locks are seen: stop servers on other hosts
 * (a network file system) yourself.
 */
function lockStoppedDatabase(file: string): { release(): void } {
  let db: SqliteDatabase.Database;
  try {
    db = new SqliteDatabase(file, { fileMustExist: true, timeout: 0 });
  } catch (error) {
    throw new BackupError(
      `cannot open the database ${file} to check that no server uses it (${errnoCode(error)})`,
    );
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    db.pragma('journal_mode = DELETE');
  } catch (error) {
    db.close();
    const code = errnoCode(error);
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
      throw new BackupError(
        `a latchkey server (or another process) has ${file} open: stop every server that uses it, then restore again`,
      );
    // A file that is not a database (or is corrupt) cannot be in use by a server: nothing to keep.
    if (code === 'SQLITE_NOTADB' || isCorrupt(code)) return { release: () => {} };
    throw error;
  }
  return { release: () => db.close() };
}

export async function restoreDatabase(
  config: Config,
  backupFile: string,
  options: { force?: boolean },
): Promise<RestoreResult> {
  if (config.database.kind !== 'sqlite') throw postgresRefusal('restore');
  const database = config.database.file;
  const from = path.resolve(backupFile);
  const stat = fs.statSync(from, { throwIfNoEntry: false });
  if (!stat) throw new BackupError(`no backup at ${from}`);
  if (!stat.isFile()) throw new BackupError(`${from} is not a file`);
  if (from === database) throw new BackupError(`${from} is this deployment's own database`);

  const dir = path.dirname(database);
  const replaced = fs.existsSync(database);
  // The server-running check comes first: with a server running, --force must not help.
  const lock = replaced ? lockStoppedDatabase(database) : { release: () => {} };
  let temp: string | undefined;
  let createdDir = false;
  let stopWatching = () => {};
  try {
    if (replaced && !options.force)
      throw new BackupError(
        `a database already exists at ${database}: give --force to replace it (its data is lost; back it up first with \`latchkey backup\`)`,
      );
    // The data directory is latchkey's own (0700), as when the server creates it.
    createdDir = !fs.existsSync(dir);
    ensurePrivateDir(dir, path.resolve(config.dataDir) === dir);
    temp = tempNameFor(database);
    stopWatching = cleanUpOnSignal(temp);
    createPrivateFile(temp);
    // Copied through SQLite (not byte for byte): a backup taken some other way, with committed
    // pages still in a -wal beside it, is read as SQLite sees it, and a file that is not a
    // database fails here, before anything is replaced.
    const source = openSqlite(from, { readonly: true }, 'the backup');
    try {
      await copyDatabase(source, temp, from, 'nothing was restored');
    } finally {
      source.close();
    }
    const { summary, masterKey } = inspectCopy(config, temp, `the backup ${from}`);
    const warnings: string[] = [];
    if (summary.foreignKeyViolations > 0) {
      const message = `the backup has ${summary.foreignKeyViolations} foreign key violation(s) (PRAGMA foreign_key_check)`;
      if (!options.force)
        throw new BackupError(`${message}: nothing was restored; --force restores it anyway`);
      warnings.push(message);
    }
    if (masterKey.opensSecrets === false) {
      const fix =
        masterKey.source === 'env'
          ? 'set LATCHKEY_MASTER_KEY to the key of the deployment the backup came from'
          : `put the master.key of the deployment the backup came from at ${masterKeyPath(config.dataDir)} (mode 0600), or set LATCHKEY_MASTER_KEY`;
      const message = `${masterKey.problem}; a server would not start on it (it cannot open its token signing key)`;
      if (!options.force)
        throw new BackupError(
          `${message}.\nNothing was restored: ${fix}, then restore again (--force restores anyway).`,
        );
      warnings.push(`${message}: ${fix} before starting the server`);
    }
    fs.chmodSync(temp, PRIVATE_FILE_MODE);
    syncFile(temp);
    // Side files of the old database (or of one deleted without them) would be read as part of the
    // new one: SQLite would replay an old WAL's pages over the restored database. They go first,
    // while the lock keeps servers out, so nothing stale exists when the new file appears.
    for (const suffix of SIDE_FILES) fs.rmSync(`${database}${suffix}`, { force: true });
    fs.renameSync(temp, database);
    temp = undefined;
    syncDir(dir);
    return {
      database,
      from,
      bytes: fs.statSync(database).size,
      integrity: 'ok',
      replaced,
      ...summary,
      masterKey,
      warnings,
    };
  } catch (error) {
    if (temp !== undefined) removeQuietly(temp);
    // A refused restore leaves no trace, not even the data directory it made for the database.
    if (createdDir) {
      try {
        fs.rmdirSync(dir); // only while empty: whatever else appeared in it stays
      } catch {
        // Not empty, or gone: leave it.
      }
    }
    throw error;
  } finally {
    stopWatching();
    lock.release();
  }
}

// ---------------------------------------------------------------------------------------------
// human output

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function summaryLines(s: DatabaseSummary & { bytes: number }): string[] {
  const counts = Object.entries(s.rows)
    .map(([table, n]) => `${table} ${n}`)
    .join(', ');
  return [
    `Size:              ${formatBytes(s.bytes)} (${s.bytes} bytes)`,
    'Integrity check:   ok',
    `Schema version:    ${s.schemaVersion ?? '(no migrations)'} (${s.migrations} migrations)`,
    `Rows:              ${counts}`,
  ];
}

function masterKeyLine(key: MasterKeyStatus): string {
  const where =
    key.source === 'env'
      ? 'LATCHKEY_MASTER_KEY'
      : key.source === 'file'
        ? (key.path ?? '')
        : `none (no LATCHKEY_MASTER_KEY, no ${key.path})`;
  const opens =
    key.opensSecrets === null
      ? ''
      : key.opensSecrets
        ? '; it opens the secrets'
        : '; it does NOT open the secrets';
  return `Master key:        ${where}${opens}`;
}

export function describeBackup(r: BackupResult): string {
  return [
    `Backed up ${r.database}`,
    `to ${r.file} (mode 0600)`,
    '',
    ...summaryLines(r),
    `${masterKeyLine(r.masterKey)} (not in the backup)`,
  ].join('\n');
}

export function describeRestore(r: RestoreResult): string {
  return [
    `Restored ${r.from}`,
    `into ${r.database}${r.replaced ? ' (the database that was there is replaced)' : ''}`,
    '',
    ...summaryLines(r),
    masterKeyLine(r.masterKey),
    '',
    'Start the server: it applies any newer migrations at start.',
  ].join('\n');
}
