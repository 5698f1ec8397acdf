/**
 * Storage generated from the registry, portable across SQLite and PostgreSQL:
 * - one table per resource, `acc_<resource>`, and one per detail array, `acc_<resource>_<table>`
 *   (`_dtl` for the first);
 * - every row carries `tenant_id` (part of every key and unique constraint);
 * - strings and dates (`YYYY-MM-DD`) are `text`; integers and booleans (0/1) are `integer`
 *   (32-bit on PostgreSQL, so the API accepts ±2147483647), `lastmodified` is `bigint`;
 * - decimals are `text` holding the canonical fixed-scale string (`"1250.00"`): exact on both
 *   engines, equal values compare equal as text, and no float ever touches a money value;
 * - `acc_counters` holds every per-tenant sequence (dockey, dtlkey, docno series), bumped with
 *   one `INSERT … ON CONFLICT DO UPDATE … RETURNING` inside the writing transaction, which is
 *   atomic on both engines (PostgreSQL row lock; SQLite single writer).
 *
 * - user-defined `udf_*` values live in one JSON text column `udf` per table.
 *
 * `syncResourceTables` creates what the registry has and the database lacks (tables, columns,
 * indexes), so a migration that follows a registry change calls it again (see 0005).
 */
import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
import { engineOf, foldedColumn } from './filters.js';
import {
  type DetailDef,
  detailFields,
  detailLinkField,
  type FieldDef,
  type ResourceDef,
  storageName,
} from './registry.js';
import { storedDefault } from './values.js';

// biome-ignore lint/suspicious/noExplicitAny: column names come from the registry at run time
type AnyKysely = Kysely<any>;

export const COUNTERS_TABLE = 'acc_counters';

/** Aliases share their resource's tables, so tables are named after the resource. */
export const masterTable = (def: ResourceDef): string => `acc_${storageName(def)}`;
export const detailTable = (def: ResourceDef, detail: DetailDef): string =>
  `acc_${storageName(def)}_${detail.table}`;

/** User-defined `udf_*` values of a record or a detail row, as one JSON object (text). */
export const UDF_COLUMN = 'udf';

export function columnType(field: FieldDef): 'text' | 'integer' | 'bigint' {
  // Unix seconds outgrow a 32-bit PostgreSQL integer in 2038.
  if (field.name === 'lastmodified') return 'bigint';
  return field.type === 'integer' || field.type === 'boolean' ? 'integer' : 'text';
}

export async function createCountersTable(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable(COUNTERS_TABLE)
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('acc_counters_pk', ['tenant_id', 'name'])
    .execute();
}

interface Existing {
  readonly tables: Map<string, Set<string>>;
  readonly indexes: Set<string>;
}

async function existingTables(db: Kysely<unknown>): Promise<Existing> {
  const tables = new Map<string, Set<string>>();
  for (const t of await db.introspection.getTables()) {
    tables.set(t.name, new Set(t.columns.map((c) => c.name)));
  }
  // Kysely's introspection has no indexes: read them, so a sync issues no DDL for those there are
  // (a migration that finds everything in place costs two queries, not hundreds of statements).
  const names =
    engineOf(db) === 'postgres'
      ? await sql<{
          name: string;
        }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(db)
      : await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db);
  return { tables, indexes: new Set(names.rows.map((r) => r.name)) };
}

/** Create an index unless it exists (by name). */
async function ensureIndex(
  db: Kysely<unknown>,
  existing: Existing,
  name: string,
  table: string,
  columns: readonly string[],
): Promise<void> {
  if (existing.indexes.has(name)) return;
  await db.schema
    .createIndex(name)
    .ifNotExists()
    .on(table)
    .columns([...columns])
    .execute();
  existing.indexes.add(name);
}

/**
 * Create what is missing of a resource's tables: the tables, then columns a later version added
 * (filled from a column the field had under an older name, see FieldDef.aliases), then indexes.
 * Idempotent, so one function serves a new deployment and every later migration.
 */
export async function createResourceTables(
  db: Kysely<unknown>,
  def: ResourceDef,
  existing?: Existing,
): Promise<void> {
  existing ??= await existingTables(db);
  const table = masterTable(def);
  await ensureTable(
    db,
    existing,
    table,
    def.fields,
    (create) => {
      let c = create.addPrimaryKeyConstraint(`${table}_pk`, ['tenant_id', def.keyField]);
      if (def.kind === 'document') c = c.addUniqueConstraint(`${table}_docno`, ['tenant_id', 'docno']);
      if (def.kind === 'master' && def.keyField !== 'code')
        c = c.addUniqueConstraint(`${table}_code`, ['tenant_id', 'code']);
      return c;
    },
    (field) => field.name === def.keyField || field.name === 'updatecount' || field.name === 'lastmodified',
  );
  for (const field of def.indexed) {
    if (field === 'docno' || (def.kind === 'master' && field === 'code')) continue;
    if (field === def.keyField) continue; // the primary key, or (upgraded) the unique index of 0005
    // Text fields get the folded index below, which serves exact matches too (filters.ts).
    if (def.fields.find((f) => f.name === field)?.type === 'string') continue;
    await ensureIndex(db, existing, `${table}_${field}`, table, ['tenant_id', field]);
  }
  await ensureIndex(db, existing, `${table}_lastmodified`, table, ['tenant_id', 'lastmodified']);
  await createFoldedIndexes(db, def, existing);

  const link = detailLinkField(def);
  for (const detail of def.details) {
    const dtable = detailTable(def, detail);
    await ensureTable(
      db,
      existing,
      dtable,
      detailFields(def, detail),
      (create) => create.addPrimaryKeyConstraint(`${dtable}_pk`, ['tenant_id', 'dtlkey']),
      (field) => field.name === 'dtlkey' || field.name === link,
    );
    await ensureIndex(db, existing, `${dtable}_parent`, dtable, ['tenant_id', link]);
    if (detail.fields.some((f) => f.name === 'refdockey')) {
      await ensureIndex(db, existing, `${dtable}_ref`, dtable, ['tenant_id', 'refresource', 'refdockey']);
    }
  }
}

/**
 * For every indexed text field, a btree index on `(tenant_id, folded value)`: the expression
 * filters.ts compares for `*` patterns and text ranges (`lower(col)` on SQLite, `lower(col COLLATE
 * "C")` on PostgreSQL), so `?code=300*` is an index range scan on both engines. Named
 * `<table>_<field>_folded`; IF NOT EXISTS, so every later sync adds those a registry change asks for.
 */
async function createFoldedIndexes(db: Kysely<unknown>, def: ResourceDef, existing: Existing): Promise<void> {
  const table = masterTable(def);
  const engine = engineOf(db);
  for (const name of def.indexed) {
    if (def.fields.find((f) => f.name === name)?.type !== 'string') continue;
    if (existing.indexes.has(`${table}_${name}_folded`)) continue;
    existing.indexes.add(`${table}_${name}_folded`);
    await sql`create index if not exists ${sql.id(`${table}_${name}_folded`)} on ${sql.table(table)} (tenant_id, ${foldedColumn(engine, name)})`.execute(
      db,
    );
  }
}

/** Bring every resource's tables up to the registry (see createResourceTables). */
export async function syncResourceTables(db: Kysely<unknown>, defs: readonly ResourceDef[]): Promise<void> {
  const existing = await existingTables(db);
  for (const def of defs) await createResourceTables(db, def, existing);
}

async function ensureTable(
  db: Kysely<unknown>,
  existing: Existing,
  table: string,
  fields: readonly FieldDef[],
  constraints: (create: CreateTableBuilder<string, string>) => CreateTableBuilder<string, string>,
  notNull: (field: FieldDef) => boolean,
): Promise<void> {
  const columns = existing.tables.get(table);
  if (!columns) {
    // Column names come from the registry, so the builder is untyped here.
    let create: CreateTableBuilder<string, string> = (db as AnyKysely).schema
      .createTable(table)
      .addColumn('tenant_id', 'text', (c) => c.notNull());
    for (const field of fields) {
      create = create.addColumn(field.name, columnType(field), (c) => (notNull(field) ? c.notNull() : c));
    }
    create = create.addColumn(UDF_COLUMN, 'text');
    await constraints(create).execute();
    existing.tables.set(table, new Set(['tenant_id', ...fields.map((f) => f.name), UDF_COLUMN]));
    return;
  }
  for (const field of [...fields, { name: UDF_COLUMN, type: 'string' } as FieldDef]) {
    if (columns.has(field.name)) continue;
    // A column added to a table with rows cannot be NOT NULL without a default: keys added this
    // way (a stock item's dockey) are filled by their migration.
    await (db as AnyKysely).schema.alterTable(table).addColumn(field.name, columnType(field)).execute();
    columns.add(field.name);
    const older = field.aliases?.find((a) => columns.has(a));
    if (older) {
      await (db as AnyKysely)
        .updateTable(table)
        .set({ [field.name]: sql.ref(older) })
        .execute();
    } else if (storedDefault(field) !== null) {
      await (db as AnyKysely)
        .updateTable(table)
        .set({ [field.name]: storedDefault(field) })
        .execute();
    }
  }
}

export async function dropResourceTables(db: Kysely<unknown>, def: ResourceDef): Promise<void> {
  for (const detail of def.details) await db.schema.dropTable(detailTable(def, detail)).ifExists().execute();
  await db.schema.dropTable(masterTable(def)).ifExists().execute();
}
