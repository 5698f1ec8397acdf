import type { Kysely } from 'kysely';
import { RESOURCES } from '../../accounting/registry.js';
import {
  COUNTERS_TABLE,
  createCountersTable,
  dropResourceTables,
  syncResourceTables,
} from '../../accounting/schema.js';

/**
 * The accounting data API's tables, generated from the resource registry as it stands at this
 * version (see src/accounting/schema.ts): on a new deployment, as the registry stands now; a
 * deployment created earlier gets what was added since from the later migrations (0005).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createCountersTable(db);
  await syncResourceTables(db, RESOURCES);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const def of [...RESOURCES].reverse()) await dropResourceTables(db, def);
  await db.schema.dropTable(COUNTERS_TABLE).ifExists().execute();
}
