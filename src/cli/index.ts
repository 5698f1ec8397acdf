#!/usr/bin/env node
/**
 * The operator CLI (`npx latchkey …`): the same services as the HTTP API, acting as the
 * operator on the host. Human output by default, `--json` for scripts.
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { seedDemoData } from '../accounting/demo.js';
import type { DataDb } from '../accounting/store.js';
import { resetMfa } from '../auth/mfa/factors.js';
import { deleteSso, getSso } from '../auth/sso/config.js';
import { disableBySubject } from '../auth/sso/flow.js';
import { addressKey, clearBlocks } from '../auth/throttle-keys.js';
import { SigningKeys } from '../auth/tokens/signing-keys.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { type Actor, operatorActor } from '../context.js';
import { addKeyToFileKeyring, pruneFileKeyring } from '../crypto/master-key.js';
import { randomBase62 } from '../crypto/random.js';
import { AppError } from '../errors.js';
import {
  createServiceAccount,
  deleteServiceAccount,
  listServiceAccounts,
} from '../identity/service-accounts.js';
import { getSettings, type IamSettings, updateSettings } from '../identity/settings.js';
import { createTenantAsOperator, getTenant, listTenants } from '../identity/tenants.js';
import { createUser, deleteUser, listUsers, normalizeEmail, updateUser } from '../identity/users.js';
import { findKey, type Owner } from '../keys/key-rows.js';
import { createKey, deleteKey, rotateSecret, updateKey } from '../keys/lifecycle.js';
import { reencryptAll } from '../keys/master-key-rotation.js';
import { keyViewOf, listKeys } from '../keys/views.js';
import { GRACE_SECONDS_MAX, PASSWORD_LENGTH, UNUSED_DAYS } from '../limits.js';
import { type Runtime, startRuntime } from '../runtime.js';
import { exportTenant, importTenant } from '../storage/tenant-transfer.js';
import { openExportFile } from '../storage/tenant-transfer-file.js';
import type { RulesPatch } from '../traffic/rules.js';
import { BackupError, backupDatabase, describeBackup, describeRestore, restoreDatabase } from './backup.js';
import { formatRecord, formatTable, type TableOptions } from './columns.js';
import {
  exportSummary,
  importSummary,
  PASSPHRASE_ENV,
  readPassphrase,
  withImportTarget,
} from './tenant-transfer.js';

interface GlobalOptions {
  json?: boolean;
  tenant?: string;
}

const program = new Command('latchkey')
  .description('latchkey operator CLI: manage users, service accounts, keys and settings on this host')
  .option('--json', 'print JSON (for scripts)')
  .option('--tenant <id>', 'tenant ID (default: the first tenant)')
  .showHelpAfterError();

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('not a whole number');
  return Number(value);
}

/** The CLI was pointed at a place with no latchkey database: exit 2 (like a bad setting), saying where. */
class NoDatabaseError extends Error {}

/**
 * A command run from the wrong directory must not quietly start a new deployment there (a new
 * SQLite file, master key and tenant, with the operator's change landing in none of the servers).
 * Only `latchkey init` creates the database; every other command needs it to exist. (PostgreSQL
 * names its database explicitly, so there is no directory to get wrong.)
 */
function requireDatabase(config: Config): void {
  if (config.database.kind !== 'sqlite' || fs.existsSync(config.database.file)) return;
  const file = config.database.file;
  const inDataDir = path.dirname(file) === config.dataDir;
  throw new NoDatabaseError(
    [
      inDataDir
        ? `no latchkey database in the data directory ${config.dataDir} (looked for ${file}).`
        : `no latchkey database at ${file} (DATABASE_URL).`,
      'Point the CLI at the deployment the servers use:',
      '  LATCHKEY_DATA_DIR=/path/to/data npx latchkey …      (the directory holding latchkey.sqlite)',
      '  DATABASE_URL=postgres://… npx latchkey …            (a PostgreSQL deployment)',
      `To start a new deployment in ${inDataDir ? config.dataDir : file}, run \`npx latchkey init\` (or start the server once).`,
    ].join('\n'),
  );
}

async function openRuntime(config: Config): Promise<Runtime> {
  // Log only warnings to stderr so stdout stays clean for --json.
  return startRuntime(config, { logger: pino({ level: 'warn' }, pino.destination(2)) });
}

async function withRuntime<T>(fn: (rt: Runtime, actor: Actor) => Promise<T>): Promise<void> {
  const opts = program.opts<GlobalOptions>();
  const config = loadConfig();
  requireDatabase(config);
  const runtime = await openRuntime(config);
  if (runtime.bootstrap.generatedPassword) {
    // The CLI ran before the server ever did: it created the first tenant, so it shows the password once.
    process.stderr.write(
      `latchkey: created the first tenant; sign in as ${runtime.bootstrap.adminEmail} with the password ${runtime.bootstrap.generatedPassword} (shown once)\n`,
    );
  }
  try {
    let tenantId: string;
    if (opts.tenant !== undefined) {
      if (!(await getTenant(runtime.svc.db, opts.tenant)))
        throw new AppError('NOT_FOUND', `no tenant ${opts.tenant}: \`latchkey tenants list\` shows them`);
      tenantId = opts.tenant;
    } else {
      tenantId = (
        await runtime.svc.db
          .selectFrom('tenants')
          .select('id')
          .orderBy('created_at')
          .limit(1)
          .executeTakeFirstOrThrow()
      ).id;
    }
    const result = await fn(runtime, operatorActor(tenantId));
    if (result !== undefined) print(result);
  } finally {
    await runtime.close();
  }
}

/** What a list command returns: its rows, and how the human output shows missing values. */
class Listing {
  constructor(
    readonly rows: ReadonlyArray<object>,
    readonly options: TableOptions = {},
  ) {}
}

function print(value: unknown): void {
  const data = value instanceof Listing ? value.rows : value;
  if (program.opts<GlobalOptions>().json) {
    // A missing value is null in JSON (never left out, never a placeholder such as "-").
    const json = JSON.stringify(data, (_key, v: unknown) => (v === undefined ? null : v), 2);
    process.stdout.write(`${json}\n`);
    return;
  }
  if (typeof data === 'string') {
    process.stdout.write(`${data}\n`);
    return;
  }
  const options = value instanceof Listing ? value.options : {};
  if (Array.isArray(data)) {
    process.stdout.write(data.length === 0 ? '(none)\n' : `${formatTable(data, options)}\n`);
    return;
  }
  process.stdout.write(`${formatRecord(data as object, options)}\n`);
}

async function ownerFrom(
  rt: Runtime,
  actor: Actor,
  opts: { user?: string; serviceAccount?: string },
): Promise<Owner> {
  if (opts.serviceAccount) return { type: 'service_account', id: opts.serviceAccount };
  if (!opts.user)
    throw new AppError('VALIDATION_FAILED', 'give --user <email or id> or --service-account <id>');
  if (opts.user.includes('@')) {
    const row = await rt.svc.db
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', actor.tenantId)
      .where('email_normalized', '=', normalizeEmail(opts.user))
      .executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', `no user ${opts.user}`);
    return { type: 'user', id: row.id };
  }
  return { type: 'user', id: opts.user };
}

const tenants = program
  .command('tenants')
  .description('tenants on this deployment (each with its own users, keys and data)');
tenants
  .command('create')
  .description(
    'create a tenant and its administrator; prints the tenant ID and a one-time administrator password (or uses LATCHKEY_ADMIN_PASSWORD)',
  )
  .requiredOption('--name <name>', 'the tenant name people choose when one email belongs to several tenants')
  .requiredOption('--admin-email <email>', "the tenant administrator's email")
  .action((o: { name: string; adminEmail: string }) =>
    withRuntime(async (rt) => {
      const created = await createTenantAsOperator(rt.svc, {
        name: o.name,
        adminEmail: o.adminEmail,
        // From the environment only: a password on the command line would stay in shell history and `ps`.
        password: rt.svc.config.adminPassword,
      });
      if (program.opts<GlobalOptions>().json) return created;
      return [
        `Tenant ID:         ${created.tenant.id}`,
        `Tenant name:       ${created.tenant.name}`,
        `Administrator:     ${created.adminEmail}`,
        created.generatedPassword
          ? `Password:          ${created.generatedPassword}\n\nThe password is shown this once: sign in at /console/ and change it.`
          : 'Password:          the one in LATCHKEY_ADMIN_PASSWORD',
      ].join('\n');
    }),
  );
tenants.command('list').action(() => withRuntime(async (rt) => new Listing(await listTenants(rt.svc.db))));

const users = program.command('users').description('users of the tenant');
users
  .command('list')
  .option('--search <text>')
  .action((o: { search?: string }) =>
    withRuntime(
      async (rt, actor) =>
        new Listing(
          (
            await listUsers(rt.svc.db, actor.tenantId, { search: o.search, limit: 1000, offset: 0 })
          ).items.map((u) => ({
            id: u.id,
            email: u.email,
            name: u.name,
            status: u.status,
            apiUser: u.apiUser,
            admin: u.isAdministrator,
          })),
        ),
    ),
  );
users
  .command('create')
  .requiredOption('--email <email>')
  .requiredOption('--name <name>')
  .option('--password <password>', `initial password (at least ${PASSWORD_LENGTH.min} characters)`)
  .action((o: { email: string; name: string; password?: string }) =>
    withRuntime((rt, actor) => createUser(rt.svc, actor, o)),
  );
for (const [command, status] of [
  ['disable', 'disabled'],
  ['enable', 'active'],
] as const) {
  users
    .command(`${command} <userId>`)
    .action((id: string) => withRuntime((rt, actor) => updateUser(rt.svc, actor, id, { status })));
}
users.command('delete <userId>').action((id: string) =>
  withRuntime(async (rt, actor) => {
    await deleteUser(rt.svc, actor, id);
    return `deleted ${id}`;
  }),
);

const sas = program.command('service-accounts').description('service accounts of the tenant');
sas
  .command('list')
  .action(() =>
    withRuntime(
      async (rt, actor) =>
        new Listing((await listServiceAccounts(rt.svc.db, actor.tenantId, { limit: 1000, offset: 0 })).items),
    ),
  );
sas
  .command('create')
  .requiredOption('--name <name>')
  .option('--email <email>')
  .option('--description <text>')
  .action((o: { name: string; email?: string; description?: string }) =>
    withRuntime((rt, actor) => createServiceAccount(rt.svc, actor, o)),
  );
sas.command('delete <serviceAccountId>').action((id: string) =>
  withRuntime(async (rt, actor) => {
    await deleteServiceAccount(rt.svc, actor, id);
    return `deleted ${id}`;
  }),
);

const keys = program.command('keys').description('access keys');
keys
  .command('list')
  .option('--user <emailOrId>')
  .option('--service-account <id>')
  .option('--status <status>', 'active, inactive, expired or expiring_soon')
  .option(
    '--unused-days <n>',
    `only keys not used in the last n days (never used: created before then); ${UNUSED_DAYS.min} to ${UNUSED_DAYS.max}`,
    (value: string) => {
      const n = integer(value);
      if (n < UNUSED_DAYS.min || n > UNUSED_DAYS.max)
        throw new InvalidArgumentError(`must be from ${UNUSED_DAYS.min} to ${UNUSED_DAYS.max}`);
      return n;
    },
  )
  .action((o: { user?: string; serviceAccount?: string; status?: 'active'; unusedDays?: number }) =>
    withRuntime(async (rt, actor) => {
      const owner = o.user || o.serviceAccount ? await ownerFrom(rt, actor, o) : undefined;
      const page = await listKeys(rt.svc, actor.tenantId, {
        ownerType: owner?.type,
        ownerId: owner?.id,
        status: o.status,
        unusedDays: o.unusedDays,
        limit: 1000,
        offset: 0,
      });
      return new Listing(
        page.items.map((k) => ({
          accessKeyId: k.accessKeyId,
          name: k.name,
          type: k.type,
          state: k.state,
          owner: k.owner.label,
          expiresAt: k.expiresAt,
          lastUsedAt: k.lastUsedAt,
        })),
        // A key without an expiry date never expires (JSON says null, as the API does).
        { empty: { expiresAt: 'never', lastUsedAt: 'never' } },
      );
    }),
  );

function secretNotice(accessKeyId: string, secret: string, tenantId: string): string {
  return [
    `Access key ID:     ${accessKeyId}`,
    `Secret access key: ${secret}`,
    `Tenant ID:         ${tenantId}`,
    '',
    'The secret is shown this once. Store it now; if it is lost, generate a new one with `latchkey keys rotate`.',
  ].join('\n');
}

keys
  .command('create')
  .option('--user <emailOrId>')
  .option('--service-account <id>')
  .option('--name <name>', 'a label for the key', 'CLI key')
  .option('--type <type>', 'access or api', 'access')
  .option('--days <n>', 'valid for n days', integer)
  .option('--expires-at <date>', 'YYYY-MM-DD or ISO date-time')
  .option('--never-expires')
  .option('--api-user', 'make the user an API user (no more password sign-in)')
  .action(
    (o: {
      user?: string;
      serviceAccount?: string;
      name: string;
      type: string;
      days?: number;
      expiresAt?: string;
      neverExpires?: boolean;
      apiUser?: boolean;
    }) =>
      withRuntime(async (rt, actor) => {
        if (o.type !== 'access' && o.type !== 'api')
          throw new AppError('VALIDATION_FAILED', '--type must be access or api');
        const created = await createKey(rt.svc, actor, await ownerFrom(rt, actor, o), {
          name: o.name,
          type: o.type,
          validityDays: o.days,
          expiresAt: o.expiresAt,
          neverExpires: o.neverExpires,
          apiUser: o.apiUser,
        });
        return program.opts<GlobalOptions>().json
          ? { ...created.key, secretAccessKey: created.secretAccessKey }
          : secretNotice(created.key.accessKeyId, created.secretAccessKey, actor.tenantId);
      }),
  );
keys
  .command('rotate <accessKeyId>')
  .description('generate a new secret key')
  .option(
    '--grace <seconds>',
    `keep the old secret working this long (at most ${GRACE_SECONDS_MAX})`,
    integer,
  )
  .action((id: string, o: { grace?: number }) =>
    withRuntime(async (rt, actor) => {
      const created = await rotateSecret(rt.svc, actor, id, o.grace ?? 0);
      return program.opts<GlobalOptions>().json
        ? { ...created.key, secretAccessKey: created.secretAccessKey }
        : secretNotice(id, created.secretAccessKey, actor.tenantId);
    }),
  );
for (const [command, active] of [
  ['disable', false],
  ['enable', true],
] as const) {
  keys
    .command(`${command} <accessKeyId>`)
    .action((id: string) => withRuntime((rt, actor) => updateKey(rt.svc, actor, id, { active })));
}
keys
  .command('limit <accessKeyId>')
  .description(
    'set a key’s traffic rules, e.g. `--rate-limit 10/1 --quota 10000/day --allowed-cidrs 203.0.113.0/24,2001:db8::/32` (`none` clears one)',
  )
  .option('--rate-limit <limit/seconds>', 'at most <limit> requests per <seconds>, or none')
  .option('--quota <limit/period>', 'at most <limit> requests per day or month (UTC), or none')
  .option('--allowed-cidrs <list>', 'comma-separated CIDRs or addresses, or none')
  .action((id: string, options: { rateLimit?: string; quota?: string; allowedCidrs?: string }) =>
    withRuntime(async (rt, actor) => {
      const patch = trafficOptions(options);
      if (Object.keys(patch).length === 0)
        throw new AppError(
          'VALIDATION_FAILED',
          'nothing to change: give --rate-limit, --quota or --allowed-cidrs',
        );
      return updateKey(rt.svc, actor, id, patch);
    }),
  );
keys.command('delete <accessKeyId>').action((id: string) =>
  withRuntime(async (rt, actor) => {
    await deleteKey(rt.svc, actor, id);
    return `deleted ${id}`;
  }),
);
keys
  .command('show <accessKeyId>')
  .action((id: string) =>
    withRuntime(async (rt, actor) =>
      keyViewOf(rt.svc, rt.svc.db, await findKey(rt.svc.db, actor.tenantId, id)),
    ),
  );

const settings = program.command('settings').description('IAM settings of the tenant');
settings.command('get').action(() => withRuntime((rt, actor) => getSettings(rt.svc.db, actor.tenantId)));
settings
  .command('set <assignments...>')
  .description('e.g. `latchkey settings set userKeyLimit=3 maxKeyLifetimeDays=365` (null clears a limit)')
  .action((assignments: string[]) =>
    withRuntime(async (rt, actor) => {
      const current = await getSettings(rt.svc.db, actor.tenantId);
      const patch: Record<string, unknown> = {};
      for (const a of assignments) {
        const eq = a.indexOf('=');
        const name = a.slice(0, eq);
        if (eq < 1 || !(name in current))
          throw new AppError('VALIDATION_FAILED', `unknown setting in "${a}"`);
        patch[name] = JSON.parse(a.slice(eq + 1));
      }
      return updateSettings(rt.svc, actor, patch as Partial<IamSettings>);
    }),
  );

const sso = program.command('sso').description('single sign-on (OIDC) of the tenant');
sso.command('show').action(() => withRuntime((rt, actor) => getSso(rt.svc, actor.tenantId)));
sso
  .command('disable-subject <subject>')
  .description(
    "disable the user linked to this identity provider subject (the ID token's sub): keys and sessions stop",
  )
  .action((subject: string) =>
    withRuntime(async (rt, actor) => {
      const user = await disableBySubject(rt.svc, actor, subject);
      return { id: user.id, email: user.email, status: user.status };
    }),
  );
sso
  .command('off')
  .description('remove the single sign-on configuration (sign-in through the identity provider stops)')
  .action(() =>
    withRuntime(async (rt, actor) => {
      await deleteSso(rt.svc, actor);
      return 'single sign-on removed';
    }),
  );

program
  .command('init')
  .description(
    'create the database and the first tenant here (what the first server start does); prints the administrator password once unless LATCHKEY_ADMIN_PASSWORD is set',
  )
  .action(async () => {
    const runtime = await openRuntime(loadConfig());
    try {
      const { bootstrap: b } = runtime;
      const where =
        runtime.svc.config.database.kind === 'sqlite'
          ? runtime.svc.config.database.file
          : 'PostgreSQL (DATABASE_URL)';
      if (program.opts<GlobalOptions>().json) {
        print({
          created: b.created,
          database: where,
          tenantId: b.tenantId,
          adminEmail: b.adminEmail ?? null,
          password: b.generatedPassword ?? null,
        });
      } else if (!b.created) {
        print(`already set up: ${where} holds the first tenant ${b.tenantId}; nothing changed`);
      } else {
        print(
          [
            `Database:          ${where}`,
            `Tenant ID:         ${b.tenantId}`,
            `Administrator:     ${b.adminEmail}`,
            b.generatedPassword
              ? `Password:          ${b.generatedPassword}\n\nThe password is shown this once: sign in at /console/ and change it.`
              : 'Password:          the one in LATCHKEY_ADMIN_PASSWORD',
          ].join('\n'),
        );
      }
    } finally {
      await runtime.close();
    }
  });

program
  .command('throttle')
  .description(
    'failed-authentication blocks (429 TOO_MANY_REQUESTS on sign-in, 429 SlowDown on signed requests)',
  )
  .command('clear')
  .description(
    'lift the blocks on every running server: of one address (an IPv6 address: its /64, as the throttle counts it) or all of them',
  )
  .option('--address <ip>', 'the address a 429 named (default: every block)')
  .action((o: { address?: string }) =>
    withRuntime(async (rt) => {
      const address = o.address ?? null;
      if (address !== null && isIP(address) === 0)
        throw new AppError('VALIDATION_FAILED', `--address ${address} is not an IPv4 or IPv6 address`);
      // The memory throttle lives in each server: they lift their blocks when the change feed
      // brings them this event (published before the CLI exits). The Redis throttle is shared, so
      // it is cleared here as well, and done whether or not a server is running.
      await clearBlocks(rt.throttle, address);
      rt.svc.events.emit('throttle-cleared', { address });
      const redis = rt.svc.config.redisUrl !== undefined;
      const group = address === null ? null : addressKey(address);
      if (program.opts<GlobalOptions>().json) return { address, throttledAs: group, redis };
      const what =
        address === null
          ? 'every failed-authentication block'
          : `the blocks of ${address}${group !== address ? ` (counted as ${group})` : ''}`;
      return `lifted ${what}: told every running server${redis ? ' and cleared them in Redis' : ''}`;
    }),
  );

program
  .command('demo')
  .description('demo accounting data')
  .command('seed')
  .description(
    'fill the tenant with realistic demo data (agents, customers, items, invoices…); existing records are kept',
  )
  .action(() =>
    withRuntime(async (rt, actor) =>
      seedDemoData({
        db: rt.svc.db as unknown as DataDb,
        engine: rt.svc.engine,
        clock: rt.svc.clock,
        tenantId: actor.tenantId,
      }),
    ),
  );

const admin = program.command('admin').description('administrator recovery');
admin
  .command('reset-password')
  .requiredOption('--email <email>')
  .option('--password <password>', 'new password (default: generate one and print it once)')
  .action((o: { email: string; password?: string }) =>
    withRuntime(async (rt, actor) => {
      const owner = await ownerFrom(rt, actor, { user: o.email });
      const password = o.password ?? randomBase62(20);
      await updateUser(rt.svc, actor, owner.id, { password });
      return o.password
        ? `password of ${o.email} changed`
        : `new password of ${o.email} (shown once): ${password}`;
    }),
  );

program
  .command('mfa')
  .description('two-factor sign-in')
  .command('reset')
  .description("remove every second factor of a user who lost theirs (the last administrator's way back in)")
  .requiredOption('--email <email>')
  .action((o: { email: string }) =>
    withRuntime(async (rt, actor) => {
      const owner = await ownerFrom(rt, actor, { user: o.email });
      await resetMfa(rt.svc, actor, owner.id);
      return `two-factor sign-in of ${o.email} reset: they sign in with their password (and enrol again if the tenant requires it)`;
    }),
  );

program
  .command('master-key')
  .description('master key operations')
  .command('rotate')
  .description('re-encrypt every stored secret under a new master key')
  .option('--prune', 'then remove old keys from the keyring file (restart every server first)')
  .action((o: { prune?: boolean }) =>
    withRuntime(async (rt) => {
      const source = rt.svc.keyring.source;
      let version = rt.svc.secrets.currentVersion;
      if (source.kind === 'file') {
        version = o.prune ? version : addKeyToFileKeyring(source.path);
      }
      const counts = await reencryptAll(rt.svc);
      if (o.prune && source.kind === 'file') pruneFileKeyring(source.path);
      return {
        currentVersion: rt.svc.secrets.currentVersion,
        reencryptedKeySecrets: counts.keySecrets,
        reencryptedSigningKeys: counts.signingKeys,
        reencryptedMailBodies: counts.mailBodies,
        reencryptedRevealLinks: counts.revealLinks,
        reencryptedWebhookSecrets: counts.webhookSecrets,
        reencryptedTotpSecrets: counts.totpSecrets,
        reencryptedSsoSecrets: counts.ssoSecrets,
        reencryptedSessionSecrets: counts.sessionSecrets,
        note:
          source.kind === 'env'
            ? 'LATCHKEY_MASTER_KEY: everything now uses its first key; remove the older entries from every instance.'
            : o.prune
              ? 'old keys removed from the keyring file'
              : `new key version ${version} added; run again with --prune once every server has restarted`,
      };
    }),
  );

program
  .command('signing-key')
  .description('token signing keys')
  .command('rotate')
  .description('sign new tokens with a new key; the old key stays published until its tokens expire')
  .action(() => withRuntime(async (rt) => ({ kid: await new SigningKeys(rt.svc).rotate() })));

// Backup and restore open the SQLite file directly (src/cli/backup.ts): no runtime, no migrations.
program
  .command('backup <file>')
  .description(
    'copy a SQLite deployment to <file> while it serves (SQLite’s online backup API); the master key is not in the copy',
  )
  .option('--force', 'replace <file> if it exists')
  .action(async (file: string, o: { force?: boolean }) => {
    const config = loadConfig();
    requireDatabase(config);
    const result = await backupDatabase(config, file, o);
    for (const warning of result.warnings) process.stderr.write(`latchkey: warning: ${warning}\n`);
    print(program.opts<GlobalOptions>().json ? result : describeBackup(result));
  });
program
  .command('restore <file>')
  .description(
    'restore a backup into this SQLite deployment, with every server stopped; --force replaces an existing database',
  )
  .option('--force', 'replace the existing database; restore even if the master key does not open the backup')
  .action(async (file: string, o: { force?: boolean }) => {
    const result = await restoreDatabase(loadConfig(), file, o);
    for (const warning of result.warnings) process.stderr.write(`latchkey: warning: ${warning}\n`);
    print(program.opts<GlobalOptions>().json ? result : describeRestore(result));
  });

// Moving one tenant between deployments, any engine to any engine (src/storage/tenant-transfer.ts).
program
  .command('export')
  .description(
    'write the tenant named by --tenant to a passphrase-encrypted file, for `latchkey import` on another deployment',
  )
  .requiredOption('--out <file>', 'the file to write (created 0600; an existing file is never replaced)')
  .option('--passphrase-file <file>', `the passphrase that encrypts the file (or ${PASSPHRASE_ENV})`)
  .action(async (o: { out: string; passphraseFile?: string }) => {
    if (program.opts<GlobalOptions>().tenant === undefined)
      throw new AppError(
        'VALIDATION_FAILED',
        'export needs --tenant <id>: `latchkey tenants list` shows them',
      );
    const passphrase = readPassphrase(o.passphraseFile);
    await withRuntime(async (rt, actor) => {
      const result = await exportTenant(rt.svc, { tenantId: actor.tenantId, file: o.out, passphrase });
      return program.opts<GlobalOptions>().json ? result : exportSummary(result);
    });
  });
program
  .command('import <file>')
  .description(
    'add the tenant of an export file to this deployment in one transaction; refused when the tenant, its name or any of its IDs is here already',
  )
  .option('--passphrase-file <file>', `the passphrase the file was exported with (or ${PASSPHRASE_ENV})`)
  .option('--tenant-name <name>', 'import under this name (when a tenant here has the same name)')
  .option(
    '--init',
    'create the SQLite database if there is none (without a first tenant: the imported one is its only one)',
  )
  .action(async (file: string, o: { passphraseFile?: string; tenantName?: string; init?: boolean }) => {
    const config = loadConfig();
    if (!o.init) requireDatabase(config);
    const passphrase = readPassphrase(o.passphraseFile);
    // The file and passphrase first: a wrong one changes nothing here, not even with --init.
    const opened = await openExportFile(file, passphrase);
    const result = await withImportTarget(config, pino({ level: 'warn' }, pino.destination(2)), (svc) =>
      importTenant(svc, { file, passphrase, tenantName: o.tenantName, opened }),
    );
    print(program.opts<GlobalOptions>().json ? result : importSummary(result));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof NoDatabaseError) {
    process.stderr.write(`latchkey: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof BackupError) {
    process.stderr.write(`latchkey: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  if (error instanceof AppError || error instanceof ConfigError) {
    process.stderr.write(`latchkey: ${error instanceof AppError ? `${error.code}: ` : ''}${error.message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  process.stderr.write(`latchkey: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

/** `keys limit` options as a traffic-rules patch; malformed values are VALIDATION_FAILED naming the option. */
function trafficOptions(options: { rateLimit?: string; quota?: string; allowedCidrs?: string }): RulesPatch {
  const patch: RulesPatch = {};
  const bad = (option: string, shape: string) =>
    new AppError('VALIDATION_FAILED', `${option} must be ${shape}, or none`);
  if (options.rateLimit !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(options.rateLimit);
    if (options.rateLimit === 'none') patch.rateLimit = null;
    else if (m) patch.rateLimit = { limit: Number(m[1]), periodSeconds: Number(m[2]) };
    else throw bad('--rate-limit', '<limit>/<seconds> (10/1: ten requests a second)');
  }
  if (options.quota !== undefined) {
    const m = /^(\d+)\/(day|month)$/.exec(options.quota);
    if (options.quota === 'none') patch.quota = null;
    else if (m) patch.quota = { limit: Number(m[1]), period: m[2] as 'day' | 'month' };
    else throw bad('--quota', '<limit>/day or <limit>/month');
  }
  if (options.allowedCidrs !== undefined)
    patch.allowedCidrs =
      options.allowedCidrs === 'none' ? null : options.allowedCidrs.split(',').map((c) => c.trim());
  return patch;
}
