/**
 * Storage generated from the registry, portable across SQLite and PostgreSQL:
 * - one table per resource, `acc_<resource>`, and one per detail, `acc_<resource>_dtl`;
 * - every row carries `tenant_id` (part of every key and unique constraint);
 * - strings and dates (`YYYY-MM-DD`) are `text`; integers and booleans (0/1) are `integer`
 *   (32-bit on PostgreSQL, so the API accepts ±2147483647), `lastmodified` is `bigint`;
 * - decimals are `text` holding the canonical fixed-scale string (`"1250.00"`): exact on both
 *   engines, equal values compare equal as text, and no float ever touches a money value;
 * - `acc_counters` holds every per-tenant sequence (dockey, dtlkey, docno series), bumped with
 *   one `INSERT … ON CONFLICT DO UPDATE … RETURNING` inside the writing transaction, which is
 *   atomic on both engines (PostgreSQL row lock; SQLite single writer).
 *
 * The 0002 migration calls `createResourceTables` for every definition present at that version.
 * A resource added later gets its own migration calling `createResourceTables(db, def)`.
 */
import type { CreateTableBuilder, Kysely } from 'kysely';
import { detailFields, detailLinkField, type FieldDef, type ResourceDef } from './registry.js';

// biome-ignore lint/suspicious/noExplicitAny: column names come from the registry at run time
type AnyKysely = Kysely<any>;

export const COUNTERS_TABLE = 'acc_counters';

export const masterTable = (def: ResourceDef): string => `acc_${def.name}`;
export const detailTable = (def: ResourceDef): string => `acc_${def.name}_dtl`;

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

export async function createResourceTables(db: Kysely<unknown>, def: ResourceDef): Promise<void> {
  const table = masterTable(def);
  // Column names come from the registry, so the builder is untyped here.
  let create: CreateTableBuilder<string, string> = (db as AnyKysely).schema
    .createTable(table)
    .addColumn('tenant_id', 'text', (c) => c.notNull());
  for (const field of def.fields) {
    create = create.addColumn(field.name, columnType(field), (c) =>
      field.name === def.keyField || field.name === 'updatecount' || field.name === 'lastmodified'
        ? c.notNull()
        : c,
    );
  }
  create = create.addPrimaryKeyConstraint(`${table}_pk`, ['tenant_id', def.keyField]);
  if (def.kind === 'document') create = create.addUniqueConstraint(`${table}_docno`, ['tenant_id', 'docno']);
  await create.execute();
  for (const field of def.indexed) {
    if (field === def.keyField || field === 'docno') continue;
    await db.schema.createIndex(`${table}_${field}`).on(table).columns(['tenant_id', field]).execute();
  }
  await db.schema
    .createIndex(`${table}_lastmodified`)
    .on(table)
    .columns(['tenant_id', 'lastmodified'])
    .execute();

  if (!def.detail) return;
  const dtable = detailTable(def);
  let dcreate: CreateTableBuilder<string, string> = (db as AnyKysely).schema
    .createTable(dtable)
    .addColumn('tenant_id', 'text', (c) => c.notNull());
  for (const field of detailFields(def)) {
    dcreate = dcreate.addColumn(field.name, columnType(field), (c) =>
      field.name === 'dtlkey' || field.name === detailLinkField(def) ? c.notNull() : c,
    );
  }
  await dcreate.addPrimaryKeyConstraint(`${dtable}_pk`, ['tenant_id', 'dtlkey']).execute();
  await db.schema
    .createIndex(`${dtable}_parent`)
    .on(dtable)
    .columns(['tenant_id', detailLinkField(def)])
    .execute();
}

export async function dropResourceTables(db: Kysely<unknown>, def: ResourceDef): Promise<void> {
  if (def.detail) await db.schema.dropTable(detailTable(def)).ifExists().execute();
  await db.schema.dropTable(masterTable(def)).ifExists().execute();
}
