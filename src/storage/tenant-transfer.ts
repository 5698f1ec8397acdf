/**
 * Moving one tenant between deployments (`latchkey export` / `latchkey import`), whatever the
 * engines: SQLite to PostgreSQL, back, or alike. The file format is in tenant-transfer-file.ts.
 *
 * What travels (TENANT_TABLES, then the accounting tables): the tenant and its settings, users
 * (password hashes included: scrypt hashes verify anywhere), service accounts, groups, roles,
 * memberships and role assignments, access keys with every secret version, registered APIs, the
 * audit log (the tenant's history), bell notifications, the key-expiry reminder ledger (so the
 * target does not remind again about what the source already reminded of), hourly usage and quota
 * counts (so a move neither empties the usage charts nor resets a monthly quota), and every
 * accounting table with its counters (docno series, dockeys). Rows keep their IDs and times.
 *
 * What does not (NOT_EXPORTED says why for each table): deployment-wide token signing keys, the
 * mail outbox, one-time reveal links and the SQLite change feed. Nor does state outside the
 * database: failed-sign-in throttling, rate-limit counters (memory or Redis), caches. Tokens and
 * console sessions are signed by the source's signing keys, so they end with the move: people sign
 * in again on the target, with the same passwords and keys.
 *
 * Secrets: each access-key secret is opened with the source's master keyring and written into the
 * file, which is encrypted as a whole under the operator's passphrase; import seals it again under
 * the target's master key with the target's context string. The plaintext never reaches disk.
 *
 * Every table the database has must be classified here: export refuses a table it does not know
 * rather than silently leave it behind (test/e2e/tenant-transfer.test.ts checks a fresh database).
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { detailFields, RESOURCES } from '../accounting/registry.js';
import {
  masterTable as accountingMaster,
  COUNTERS_TABLE,
  detailTable,
  UDF_COLUMN,
} from '../accounting/schema.js';
import { writeAudit } from '../audit/audit.js';
import { totpSecretContext } from '../auth/mfa/factors.js';
import { ssoSecretContext } from '../auth/sso/config.js';
import { operatorActor } from '../context.js';
import { lookupColumns } from '../crypto/secret-lookup.js';
import { AppError } from '../errors.js';
import { secretContext } from '../keys/secrets.js';
import { PASSWORD_LENGTH } from '../limits.js';
import type { Services } from '../services.js';
import { iso } from '../time.js';
import { webhookSecretContext } from '../webhooks/endpoints.js';
import { type Db, type Engine, isUniqueViolation, lockForSetup, type Tx } from './dialect.js';
import {
  type EndRecord,
  ExportFileWriter,
  type ExportHeader,
  type OpenedExport,
  openExportFile,
  RECORD_BYTES_TARGET,
  type RowsRecord,
  readExportHeader,
} from './tenant-transfer-file.js';

// biome-ignore lint/suspicious/noExplicitAny: table and column names are known at run time only
type AnyDb = Kysely<any>;
type Value = string | number | null;

/** Rows read per query on export (keyset pages: constant cost however far into a table). */
const PAGE_ROWS = 500;
/** Bind parameters per INSERT, under SQLite's 32766 and PostgreSQL's 65535. */
const INSERT_PARAMETERS = 30_000;
/** Up to this many imported keys are announced one by one; more reset the caches once. */
const KEY_EVENTS_MAX = 200;
/** IDs per `IN (…)` lookup. */
const ID_CHUNK = 500;

/**
 * Which rows of a table are the tenant's:
 * - `tenant-row`: the `tenants` row itself;
 * - `tenant`: rows whose `tenant_id` is the tenant;
 * - `key-secrets`: secrets of the tenant's access keys (the table has no tenant_id);
 * - `quota`: quota counters named after the tenant's keys or principals (`q:k:<key>:…`, `q:p:<id>:…`).
 */
type Scope = 'tenant-row' | 'tenant' | 'key-secrets' | 'quota';

/**
 * A secret a table keeps sealed under the master key (crypto/envelope.ts). The file carries it
 * opened, as the column `secret` in place of these two; import seals it again under the target's
 * master key, with the same context (the row keeps its tenant and IDs).
 */
interface SealedSecret {
  /** The envelope's column, and the column naming the master key version that sealed it. */
  readonly ciphertext: string;
  readonly version: string;
  /** The associated data the row's secret is sealed with. */
  readonly context: (row: Readonly<Record<string, Value>>, tenantId: string) => string;
  /** The row, for an error message (never the secret). */
  readonly label: (row: Readonly<Record<string, Value>>) => string;
  /** Rows may have no secret (both columns null; the file's `secret` is null): MFA passkeys. */
  readonly optional?: true;
}

interface TableSpec {
  readonly name: string;
  /** A unique ordering: export reads the table in pages by it. */
  readonly order: readonly string[];
  readonly scope: Scope;
  /** Accounting tables: the registry's columns, the only ones that travel (see accountingSpecs). */
  readonly columns?: readonly string[];
  readonly sealed?: SealedSecret;
}

/**
 * The tenant's identity, keys and operational history, in insertion order (referenced rows first:
 * tenants before everything, groups and roles before their members and assignments, keys before
 * their secrets).
 */
const TENANT_TABLES: readonly TableSpec[] = [
  { name: 'tenants', order: ['id'], scope: 'tenant-row' },
  { name: 'tenant_settings', order: ['tenant_id'], scope: 'tenant' },
  { name: 'users', order: ['id'], scope: 'tenant' },
  { name: 'service_accounts', order: ['id'], scope: 'tenant' },
  { name: 'groups', order: ['id'], scope: 'tenant' },
  { name: 'roles', order: ['id'], scope: 'tenant' },
  { name: 'group_members', order: ['group_id', 'member_type', 'member_id'], scope: 'tenant' },
  { name: 'role_assignments', order: ['role_id', 'subject_type', 'subject_id'], scope: 'tenant' },
  { name: 'access_keys', order: ['id'], scope: 'tenant' },
  {
    name: 'key_secrets',
    order: ['access_key_id', 'version'],
    scope: 'key-secrets',
    sealed: {
      ciphertext: 'ciphertext',
      version: 'master_key_version',
      context: (row, tenantId) => secretContext(tenantId, String(row.access_key_id), Number(row.version)),
      label: (row) => `secret version ${row.version} of access key ${row.access_key_id}`,
    },
  },
  { name: 'apis', order: ['id'], scope: 'tenant' },
  {
    name: 'webhook_endpoints',
    order: ['id'],
    scope: 'tenant',
    sealed: {
      ciphertext: 'secret_ciphertext',
      version: 'master_key_version',
      context: (row, tenantId) => webhookSecretContext(tenantId, String(row.id)),
      label: (row) => `the signing secret of webhook endpoint ${row.id}`,
    },
  },
  {
    name: 'sso_configs',
    order: ['tenant_id'],
    scope: 'tenant',
    sealed: {
      ciphertext: 'secret_ciphertext',
      version: 'master_key_version',
      context: (_row, tenantId) => ssoSecretContext(tenantId),
      label: () => 'the single sign-on client secret',
    },
  },
  { name: 'sso_identities', order: ['issuer', 'subject'], scope: 'tenant' },
  {
    name: 'mfa_factors',
    order: ['id'],
    scope: 'tenant',
    sealed: {
      ciphertext: 'secret_ciphertext',
      version: 'master_key_version',
      context: (row, tenantId) => totpSecretContext(tenantId, String(row.user_id), String(row.id)),
      label: (row) => `the authenticator secret of user ${row.user_id}`,
      optional: true,
    },
  },
  { name: 'mfa_recovery_codes', order: ['code_hash'], scope: 'tenant' },
  { name: 'key_reminders', order: ['access_key_id', 'expires_at', 'kind'], scope: 'tenant' },
  { name: 'notifications', order: ['id'], scope: 'tenant' },
  { name: 'audit_log', order: ['id'], scope: 'tenant' },
  { name: 'key_usage', order: ['access_key_id', 'api_id', 'hour'], scope: 'tenant' },
  { name: 'quota_usage', order: ['counter', 'window_start'], scope: 'quota' },
];

/** Tables left out on purpose, and why (the README's "Moving a tenant" says the same). */
export const NOT_EXPORTED: Readonly<Record<string, string>> = {
  signing_keys:
    "the deployment's token signing keys, shared by every tenant: the target signs its own tokens, so tokens and sessions from the source end with the move (people sign in again)",
  mail_outbox:
    "mail is the source's to deliver: moving queued mail could send it twice, and its sealed bodies are bound to the source's master key",
  key_reveal_links:
    "one-time links to a secret point at the source's address and were emailed already; whoever has not used theirs generates a new secret on the target",
  webhook_deliveries:
    "events are the source's to deliver, like mail: moving queued deliveries could send an event twice (the endpoints themselves move)",
  sso_flows:
    "single sign-on flows under way are minutes old and bound to the source's address: people sign in again",
  mfa_challenges: 'second steps of sign-ins under way are minutes old: people sign in again',
  sso_codes: 'one-time sign-in codes live for a minute and are bound to the source: people sign in again',
  session_credentials:
    "temporary credentials are hours long and follow a key or sign-in session of the source; the target's principals ask for new ones",
  change_events:
    "SQLite's cross-process change feed: notices to the source's own processes, seconds old and of no use elsewhere",
};

/** The file's column for an opened secret (SealedSecret). */
const SECRET_COLUMN = 'secret';

/** Tables with globally unique IDs that are checked before anything is written (clear refusals). */
const GLOBAL_IDS: Readonly<Record<string, string>> = {
  users: 'user',
  service_accounts: 'service account',
  groups: 'group',
  roles: 'role',
  access_keys: 'access key',
  apis: 'registered API',
  webhook_endpoints: 'webhook endpoint',
  mfa_factors: 'second factor',
};

/**
 * The accounting tables as the registry has them (aliases share their resource's tables): the
 * counters, then each resource's records and detail tables. Only the registry's columns travel: a
 * database upgraded from an older release keeps columns the data API no longer reads (a renamed
 * field's old column, its value copied to the new one by migration 0005).
 */
function accountingSpecs(): TableSpec[] {
  const specs = new Map<string, { order: string[]; columns: Set<string> }>();
  const add = (name: string, order: string[], fields: readonly string[]) => {
    const spec = specs.get(name) ?? { order, columns: new Set(['tenant_id']) };
    for (const f of fields) spec.columns.add(f);
    spec.columns.add(UDF_COLUMN);
    specs.set(name, spec);
  };
  for (const def of RESOURCES) {
    // Masters are unique by code in every release (an upgraded database's primary key is still the
    // code where a new one's is the dockey); documents by dockey.
    const order = def.kind === 'master' && def.fields.some((f) => f.name === 'code') ? 'code' : def.keyField;
    add(
      accountingMaster(def),
      ['tenant_id', order],
      def.fields.map((f) => f.name),
    );
    for (const detail of def.details)
      add(
        detailTable(def, detail),
        ['tenant_id', 'dtlkey'],
        detailFields(def, detail).map((f) => f.name),
      );
  }
  return [
    {
      name: COUNTERS_TABLE,
      order: ['tenant_id', 'name'],
      scope: 'tenant',
      columns: ['tenant_id', 'name', 'value'],
    },
    ...[...specs].map(([name, s]) => ({
      name,
      order: s.order,
      scope: 'tenant' as const,
      columns: [...s.columns],
    })),
  ];
}

interface ColumnInfo {
  readonly name: string;
  /** PostgreSQL bigint: the driver returns text; the file carries a number, as from SQLite. */
  readonly bigint: boolean;
  /** May be left out of an INSERT (nullable, or with a default). */
  readonly optional: boolean;
}

/** A table as it is in this database, with what travels of it. */
export interface TransferTable extends TableSpec {
  /** The columns the file carries for this table (`secret` in place of sealed columns). */
  readonly fileColumns: readonly string[];
  /** The table's columns here, by name. */
  readonly stored: ReadonlyMap<string, ColumnInfo>;
}

/**
 * The tables a tenant moves with, in order, as this database has them. Throws when the database
 * has a table this code has not classified (exported, or left out in NOT_EXPORTED).
 */
export async function transferTables(db: Db, engine: Engine): Promise<TransferTable[]> {
  let tables = await db.introspection.getTables();
  if (engine === 'postgres') {
    const current = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
    tables = tables.filter((t) => t.schema === current.rows[0]?.schema);
  }
  const byName = new Map(tables.filter((t) => !t.isView).map((t) => [t.name, t]));
  const specs = [...TENANT_TABLES, ...accountingSpecs()];
  const known = new Set([...specs.map((s) => s.name), ...Object.keys(NOT_EXPORTED)]);
  const unknown = [...byName.keys()].filter(
    // Accounting tables the registry no longer has (an older release's detail table) hold nothing
    // the data API reads: left behind like the columns accountingSpecs drops.
    (name) => !known.has(name) && !name.startsWith('acc_'),
  );
  if (unknown.length > 0)
    throw new AppError(
      'CONFLICT',
      `this database has tables tenant export does not know (${unknown.join(', ')}): refusing to leave their rows behind. Update latchkey, or classify them in src/storage/tenant-transfer.ts`,
    );
  return specs.map((spec) => {
    const table = byName.get(spec.name);
    if (!table) throw new AppError('CONFLICT', `this database has no table ${spec.name}: is it migrated?`);
    const stored = new Map(
      table.columns.map((c) => [
        c.name,
        {
          name: c.name,
          bigint: engine === 'postgres' && /^(int8|bigint)$/i.test(c.dataType),
          optional: c.isNullable || c.hasDefaultValue || c.isAutoIncrementing,
        },
      ]),
    );
    const columns = spec.columns ?? table.columns.map((c) => c.name);
    const missing = columns.filter((c) => !stored.has(c));
    if (missing.length > 0)
      throw new AppError(
        'CONFLICT',
        `table ${spec.name} has no column ${missing.join(', ')}: is it migrated?`,
      );
    const sealed = spec.sealed ? [spec.sealed.ciphertext, spec.sealed.version] : [];
    const fileColumns = spec.sealed
      ? [...columns.filter((c) => !sealed.includes(c)), SECRET_COLUMN]
      : columns;
    return { ...spec, fileColumns, stored };
  });
}

/** The migrations this database has applied, in order (Kysely's own table). */
export async function appliedMigrations(db: Db): Promise<string[]> {
  const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}

export function checkPassphrase(passphrase: string): void {
  if ([...passphrase].length < PASSWORD_LENGTH.min)
    throw new AppError(
      'VALIDATION_FAILED',
      `the export passphrase must be at least ${PASSWORD_LENGTH.min} characters (it is all that protects the file)`,
    );
}

// ---------------------------------------------------------------------------------------------
// Export

export interface ExportResult {
  readonly file: string;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly schema: string;
  readonly exportedAt: string;
  /** Rows written per table (tables without rows left out). */
  readonly rows: Readonly<Record<string, number>>;
}

/**
 * Write the tenant's rows to `file` (created 0600; an existing file is refused). The rows are read
 * in one snapshot (a REPEATABLE READ transaction on PostgreSQL, a read transaction on SQLite), so a
 * server writing meanwhile cannot leave a key without its secret or a member without its group.
 */
export async function exportTenant(
  svc: Services,
  options: { tenantId: string; file: string; passphrase: string },
): Promise<ExportResult> {
  checkPassphrase(options.passphrase);
  const tenant = await svc.db
    .selectFrom('tenants')
    .selectAll()
    .where('id', '=', options.tenantId)
    .executeTakeFirst();
  if (!tenant)
    throw new AppError('NOT_FOUND', `no tenant ${options.tenantId}: \`latchkey tenants list\` shows them`);
  const tables = await transferTables(svc.db, svc.engine);
  const migrations = await appliedMigrations(svc.db);
  const exportedAt = iso(svc.clock.now());
  const writer = await ExportFileWriter.create(options.file, options.passphrase, {
    schema: migrations[migrations.length - 1] ?? '',
    migrations,
    exportedAt,
    tenantId: tenant.id,
    tenantName: tenant.name,
    sourceEngine: svc.engine,
  });
  let rows: Record<string, number>;
  try {
    // Read only: on SQLite a deferred BEGIN, a snapshot that leaves writers alone (dialect.ts).
    let snapshot = svc.db.transaction().setAccessMode('read only');
    if (svc.engine === 'postgres') snapshot = snapshot.setIsolationLevel('repeatable read');
    rows = await snapshot.execute(async (trx) => {
      const ids = { keys: new Set<string>(), principals: new Set<string>() };
      for (const table of tables) await exportTable(svc, trx, table, tenant.id, writer, ids);
      return writer.finish();
    });
  } catch (error) {
    await writer.abandon();
    throw error;
  }
  // On the source's record: who took the tenant's data out, and when (not in the file: written after).
  await writeAudit(
    svc.db,
    svc.clock,
    operatorActor(tenant.id),
    'tenant.export',
    { type: 'tenant', id: tenant.id },
    null,
    {
      exportedAt,
      schema: migrations[migrations.length - 1],
      rows,
    },
  );
  return {
    file: options.file,
    tenantId: tenant.id,
    tenantName: tenant.name,
    schema: migrations[migrations.length - 1] ?? '',
    exportedAt,
    rows,
  };
}

const ref = (column: string) => sql.ref(column);

/** `(a, b) > (x, y)`: the keyset condition for the page after the row with key values `after`. */
function after(order: readonly string[], values: readonly unknown[]): RawBuilder<boolean> {
  return sql<boolean>`(${sql.join(order.map(ref))}) > (${sql.join(values)})`;
}

async function exportTable(
  svc: Services,
  trx: Tx,
  table: TransferTable,
  tenantId: string,
  writer: ExportFileWriter,
  ids: { keys: Set<string>; principals: Set<string> },
): Promise<void> {
  const columns = table.columns ?? [...table.stored.keys()];
  const pageRows = async (where: (q: RawBuilder<boolean>[]) => void): Promise<void> => {
    let last: unknown[] | undefined;
    for (;;) {
      const conditions: RawBuilder<boolean>[] = [];
      where(conditions);
      if (last) conditions.push(after(table.order, last));
      let query = (trx as AnyDb)
        .selectFrom(table.name)
        .select(columns)
        .where(sql<boolean>`${sql.join(conditions, sql` and `)}`);
      for (const c of table.order) query = query.orderBy(c, 'asc');
      const rows: Array<Record<string, Value>> = await query.limit(PAGE_ROWS).execute();
      if (rows.length === 0) return;
      let page: string[] = [];
      let bytes = 0;
      for (const row of rows) {
        const json = JSON.stringify(fileRow(svc, table, tenantId, row, columns));
        if (page.length > 0 && bytes + json.length > RECORD_BYTES_TARGET) {
          await writer.writeRows(table.name, table.fileColumns, page);
          page = [];
          bytes = 0;
        }
        page.push(json);
        bytes += json.length + 1;
        if (table.name === 'access_keys') ids.keys.add(String(row.id));
        if (table.name === 'users' || table.name === 'service_accounts') ids.principals.add(String(row.id));
      }
      await writer.writeRows(table.name, table.fileColumns, page);
      if (rows.length < PAGE_ROWS) return;
      const lastRow = rows[rows.length - 1] as Record<string, Value>;
      last = table.order.map((c) => lastRow[c]);
    }
  };
  switch (table.scope) {
    case 'tenant-row':
      return pageRows((w) => w.push(sql<boolean>`${ref('id')} = ${tenantId}`));
    case 'tenant':
      return pageRows((w) => w.push(sql<boolean>`${ref('tenant_id')} = ${tenantId}`));
    case 'key-secrets':
      return pageRows((w) =>
        w.push(
          sql<boolean>`${ref('access_key_id')} in (select id from access_keys where tenant_id = ${tenantId})`,
        ),
      );
    case 'quota': {
      // The counters a key or principal of this tenant can have (src/traffic/policy.ts), looked up
      // by name: the table has no tenant column, and other tenants' counters are never read.
      const counters = [
        ...[...ids.keys].flatMap((id) => [`q:k:${id}:day`, `q:k:${id}:month`]),
        ...[...ids.principals].flatMap((id) => [`q:p:${id}:day`, `q:p:${id}:month`]),
      ];
      for (let i = 0; i < counters.length; i += ID_CHUNK) {
        const chunk = counters.slice(i, i + ID_CHUNK);
        await pageRows((w) => w.push(sql<boolean>`${ref('counter')} in (${sql.join(chunk)})`));
      }
      return;
    }
  }
}

/** One row as the file carries it: numbers as numbers, a key's secret opened. */
function fileRow(
  svc: Services,
  table: TransferTable,
  tenantId: string,
  row: Record<string, Value>,
  columns: readonly string[],
): Value[] {
  const value = (c: string): Value => {
    const v = row[c] ?? null;
    if (typeof v === 'string' && table.stored.get(c)?.bigint) {
      const n = Number(v);
      if (!Number.isSafeInteger(n))
        throw new AppError('CONFLICT', `${table.name}.${c} holds ${v}, beyond what export carries`);
      return n;
    }
    return v;
  };
  const sealed = table.sealed;
  if (!sealed) return columns.map(value);
  if (sealed.optional && row[sealed.ciphertext] === null) {
    return table.fileColumns.map((c) => (c === SECRET_COLUMN ? null : value(c)));
  }
  let secret: string;
  try {
    secret = svc.secrets.open(
      { ciphertext: String(row[sealed.ciphertext]), masterKeyVersion: Number(row[sealed.version]) },
      sealed.context(row, tenantId),
    );
  } catch {
    // Never a half-export that leaves a key without its secret: the operator decides what to do.
    throw new AppError(
      'CONFLICT',
      `${sealed.label(row)} does not open with this deployment's master keyring (sealed under master key version ${row[sealed.version]}): nothing was exported`,
    );
  }
  return table.fileColumns.map((c) => (c === SECRET_COLUMN ? secret : value(c)));
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportResult {
  readonly file: string;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly sourceEngine: Engine;
  readonly exportedAt: string;
  /** Rows written per table. */
  readonly rows: Readonly<Record<string, number>>;
}

/**
 * Checks the records of an export against this database, in order; run once over the whole file
 * before anything is written, and again while writing (the same file, read afresh).
 */
class RecordChecker {
  private rank = -1;
  private tenantRows = 0;
  readonly counts = new Map<string, number>();
  /** Globally unique IDs by table (GLOBAL_IDS), for the collision check. */
  readonly ids = new Map<string, string[]>();
  readonly keys = new Set<string>();
  private readonly principals = new Set<string>();
  tenantName = '';

  constructor(
    private readonly file: string,
    private readonly header: ExportHeader,
    private readonly tables: ReadonlyMap<string, { table: TransferTable; rank: number }>,
  ) {}

  private wrong(message: string): AppError {
    return new AppError('VALIDATION_FAILED', `${this.file}: ${message}; nothing was imported`);
  }

  /** The table a record writes to, once its columns and rows are checked. */
  check(record: RowsRecord): TransferTable {
    const entry = this.tables.get(record.table);
    if (!entry)
      throw new AppError(
        'CONFLICT',
        `${this.file} holds rows of ${record.table}, a table this deployment does not import; nothing was imported`,
      );
    const { table, rank } = entry;
    if (rank < this.rank || (rank > this.rank && this.counts.has(table.name)))
      throw this.wrong(`the rows of ${table.name} are out of order`);
    this.rank = rank;
    const fileColumns = new Set(table.fileColumns);
    const extra = record.columns.filter((c) => !fileColumns.has(c));
    if (extra.length > 0)
      throw new AppError(
        'CONFLICT',
        `${this.file}: ${table.name} has columns this deployment lacks (${extra.join(', ')}); nothing was imported`,
      );
    const given = new Set(record.columns);
    const needed = table.fileColumns.filter(
      (c) => !given.has(c) && (c === SECRET_COLUMN || !table.stored.get(c)?.optional),
    );
    if (needed.length > 0) throw this.wrong(`${table.name} lacks the columns ${needed.join(', ')}`);
    const at = (row: ReadonlyArray<Value>, column: string) => row[record.columns.indexOf(column)];
    const tenantId = this.header.tenantId;
    for (const row of record.rows) {
      switch (table.scope) {
        case 'tenant-row':
          this.tenantRows += 1;
          if (at(row, 'id') !== tenantId || this.tenantRows > 1)
            throw this.wrong(`it holds a tenant other than ${tenantId}`);
          this.tenantName = String(at(row, 'name'));
          break;
        case 'tenant':
          if (at(row, 'tenant_id') !== tenantId)
            throw this.wrong(`a row of ${table.name} belongs to another tenant than ${tenantId}`);
          break;
        case 'key-secrets':
          if (!this.keys.has(String(at(row, 'access_key_id'))))
            throw this.wrong('a secret belongs to no access key of the tenant');
          break;
        case 'quota': {
          const m = /^q:(k|p):(.+):(day|month)$/.exec(String(at(row, 'counter')));
          if (!m || !(m[1] === 'k' ? this.keys : this.principals).has(m[2] as string))
            throw this.wrong('a quota counter belongs to no key or principal of the tenant');
          break;
        }
      }
      if (
        table.sealed &&
        typeof at(row, SECRET_COLUMN) !== 'string' &&
        !(table.sealed.optional && at(row, SECRET_COLUMN) === null)
      )
        throw this.wrong(`a row of ${table.name} lacks its secret`);
      if (table.name === 'access_keys') this.keys.add(String(at(row, 'id')));
      if (table.name === 'users' || table.name === 'service_accounts')
        this.principals.add(String(at(row, 'id')));
      if (GLOBAL_IDS[table.name]) {
        const list = this.ids.get(table.name) ?? [];
        list.push(String(at(row, 'id')));
        this.ids.set(table.name, list);
      }
    }
    this.counts.set(table.name, (this.counts.get(table.name) ?? 0) + record.rows.length);
    return table;
  }

  end(record: EndRecord): void {
    const counted = Object.fromEntries(this.counts);
    const same =
      Object.keys(record.tables).length === this.counts.size &&
      Object.entries(record.tables).every(([t, n]) => counted[t] === n);
    if (!same) throw this.wrong('its end record does not count the rows it holds');
    if (this.tenantRows !== 1) throw this.wrong(`it holds no tenant ${this.header.tenantId}`);
  }
}

/**
 * Import an export into this database, in one transaction: everything or (on any error) nothing.
 * Refuses, before writing anything: a file that is not an export, was changed, or is cut short; a
 * wrong passphrase; a schema other than this database's; a tenant ID already here, a tenant name
 * already here (import under `tenantName` then), or any access key, principal, group, role or API ID
 * already here.
 */
export async function importTenant(
  svc: Services,
  options: {
    file: string;
    passphrase: string;
    tenantName?: string;
    /** The file already opened with the passphrase (the CLI checks it before opening the target). */
    opened?: OpenedExport;
  },
): Promise<ImportResult> {
  const { file } = options;
  const newName = options.tenantName?.trim();
  if (newName !== undefined && (newName.length === 0 || newName.length > 100))
    throw new AppError('VALIDATION_FAILED', 'the tenant name must be 1 to 100 characters');
  // The header first: a file that is no export, or from another schema, is refused before scrypt runs.
  const header = await readExportHeader(file);
  const migrations = await appliedMigrations(svc.db);
  checkSchema(file, header, migrations);
  const opened = options.opened ?? (await openExportFile(file, options.passphrase));
  const tables = new Map(
    (await transferTables(svc.db, svc.engine)).map((table, rank) => [table.name, { table, rank }]),
  );

  // 1. The whole file, checked: authentic, complete, one tenant's rows only, columns this schema has.
  const checked = new RecordChecker(file, header, tables);
  for await (const record of opened.records()) {
    if (record.type === 'end') checked.end(record);
    else checked.check(record);
  }
  const tenantName = newName ?? checked.tenantName;

  // 2. Written in one transaction, checking each record again as it is read again.
  const rows = await svc.db.transaction().execute(async (trx) => {
    await lockForImport(trx, svc.engine);
    await refuseCollisions(trx, header.tenantId, tenantName, checked);
    const checker = new RecordChecker(file, header, tables);
    for await (const record of opened.records()) {
      if (record.type === 'end') {
        checker.end(record);
        continue;
      }
      const table = checker.check(record);
      await insertRows(svc, trx, table, record, header.tenantId, newName);
    }
    const counts = Object.fromEntries(checker.counts);
    await writeAudit(
      trx,
      svc.clock,
      operatorActor(header.tenantId),
      'tenant.import',
      { type: 'tenant', id: header.tenantId },
      null,
      {
        from: { engine: header.sourceEngine, exportedAt: header.exportedAt, tenantName: checked.tenantName },
        rows: counts,
      },
    );
    return counts;
  });

  // Running servers on this deployment hear of the new tenant (the change feed forwards these): an
  // access key someone tried before the import was cached as unknown, and the gateway's registered
  // APIs are loaded in memory.
  svc.events.emit('authz-changed', { tenantId: header.tenantId });
  svc.events.emit('apis-changed', { tenantId: header.tenantId });
  if (checked.keys.size <= KEY_EVENTS_MAX) {
    for (const accessKeyId of checked.keys)
      svc.events.emit('key-changed', { tenantId: header.tenantId, accessKeyId });
  } else {
    // Thousands of events would each be a row or a NOTIFY: one reset empties every cache instead.
    svc.events.emit('feed-reset');
  }
  return {
    file,
    tenantId: header.tenantId,
    tenantName,
    sourceEngine: header.sourceEngine,
    exportedAt: header.exportedAt,
    rows,
  };
}

/** Serialises imports (and the name check) across instances: a PostgreSQL advisory lock. */
const IMPORT_LOCK = 0x1a7c4e2;

/**
 * Take the write lock first. PostgreSQL: imports one at a time, so two imports of tenants with the
 * same name cannot both pass the name check. SQLite: a transaction that reads before it writes gets
 * SQLITE_BUSY, without waiting, when another process (a running server) committed in between; a
 * write that changes nothing as the first statement takes the lock at once, waiting for it under
 * the busy timeout like any write.
 */
async function lockForImport(trx: Tx, engine: Engine): Promise<void> {
  if (engine === 'postgres') await lockForSetup(trx, engine, IMPORT_LOCK);
  else await sql`update tenants set name = name where 0`.execute(trx);
}

/**
 * The rows are in the source's schema: importing them into another one could skip what a migration
 * did to existing rows (0005 numbered stock items, for one), so the migrations must be the same.
 */
function checkSchema(file: string, header: ExportHeader, here: readonly string[]): void {
  const theirs = header.migrations;
  if (theirs.length === here.length && theirs.every((m, i) => m === here[i])) return;
  const newer = theirs.some((m) => !here.includes(m));
  throw new AppError(
    'CONFLICT',
    newer
      ? `${file} comes from a newer latchkey (schema ${header.schema}) than this deployment (schema ${here[here.length - 1]}): upgrade latchkey here, then import; nothing was imported`
      : `${file} comes from an older latchkey (schema ${header.schema}) than this deployment (schema ${here[here.length - 1]}): upgrade the source to this release and export again; nothing was imported`,
  );
}

async function refuseCollisions(
  trx: Tx,
  tenantId: string,
  tenantName: string,
  checked: RecordChecker,
): Promise<void> {
  const existing = await trx
    .selectFrom('tenants')
    .select(['id', 'name'])
    .where('id', '=', tenantId)
    .executeTakeFirst();
  if (existing)
    throw new AppError(
      'ALREADY_EXISTS',
      `tenant ${tenantId} (${existing.name}) is already on this deployment (imported before?); nothing was imported`,
    );
  // Names are how people choose a tenant when one email signs in to several (as tenants create).
  const sameName = await trx
    .selectFrom('tenants')
    .select('id')
    .where((eb) => eb(eb.fn('lower', ['name']), '=', tenantName.toLowerCase()))
    .executeTakeFirst();
  if (sameName)
    throw new AppError(
      'ALREADY_EXISTS',
      `a tenant named ${tenantName} is already on this deployment (${sameName.id}): import under another name with --tenant-name; nothing was imported`,
    );
  for (const [table, ids] of checked.ids) {
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const taken = await (trx as AnyDb)
        .selectFrom(table)
        .select(['id', 'tenant_id'])
        .where('id', 'in', ids.slice(i, i + ID_CHUNK))
        .limit(5)
        .execute();
      if (taken.length > 0)
        throw new AppError(
          'ALREADY_EXISTS',
          `${GLOBAL_IDS[table]} ${taken.map((r: { id: string; tenant_id: string }) => `${r.id} (tenant ${r.tenant_id})`).join(', ')} already ${taken.length === 1 ? 'exists' : 'exist'} on this deployment, and IDs are unique across tenants; nothing was imported`,
        );
    }
  }
}

async function insertRows(
  svc: Services,
  trx: Tx,
  table: TransferTable,
  record: RowsRecord,
  tenantId: string,
  newName: string | undefined,
): Promise<void> {
  const { sealed } = table;
  const objects = record.rows.map((row) => {
    const out: Record<string, Value> = {};
    let secret: string | undefined;
    record.columns.forEach((c, i) => {
      if (c === SECRET_COLUMN) secret = row[i] === null && sealed?.optional ? undefined : String(row[i]);
      else out[c] = row[i] ?? null;
    });
    if (sealed && secret !== undefined) {
      // Sealed under this deployment's master key, bound to the same row as on the source.
      const box = svc.secrets.seal(secret, sealed.context(out, tenantId));
      out[sealed.ciphertext] = box.ciphertext;
      out[sealed.version] = box.masterKeyVersion;
      // A key secret's leak-report lookup hash is keyed by the master key too (src/leaks/lookup.ts).
      if (table.name === 'key_secrets') Object.assign(out, lookupColumns(svc.secrets, secret));
    }
    if (table.name === 'tenants' && newName !== undefined) out.name = newName;
    return out;
  });
  const columns = record.columns.length + 1;
  const perInsert = Math.max(1, Math.floor(INSERT_PARAMETERS / columns));
  for (let i = 0; i < objects.length; i += perInsert) {
    try {
      await (trx as AnyDb)
        .insertInto(table.name)
        .values(objects.slice(i, i + perInsert))
        .execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      throw new AppError(
        'ALREADY_EXISTS',
        `a row of ${table.name} in the export is already on this deployment (same key); nothing was imported`,
      );
    }
  }
}
