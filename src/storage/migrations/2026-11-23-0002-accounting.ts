import type { Kysely } from 'kysely';
import { RESOURCES } from '../../accounting/registry.js';
import {
  COUNTERS_TABLE,
  createCountersTable,
  createResourceTables,
  dropResourceTables,
} from '../../accounting/schema.js';

/**
 * The accounting data API's tables, generated from the resource registry as it stands at this
 * version (see src/accounting/schema.ts). Resources added later get their own migration.
 */
const NAMES_AT_THIS_VERSION = RESOURCES.map((r) => r.name);

export async function up(db: Kysely<unknown>): Promise<void> {
  await createCountersTable(db);
  for (const def of RESOURCES) {
    if (NAMES_AT_THIS_VERSION.includes(def.name)) await createResourceTables(db, def);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const def of [...RESOURCES].reverse()) await dropResourceTables(db, def);
  await db.schema.dropTable(COUNTERS_TABLE).ifExists().execute();
}
