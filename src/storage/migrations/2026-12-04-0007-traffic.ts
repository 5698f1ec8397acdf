import type { Kysely } from 'kysely';

// Traffic control and usage (issue 15):
// - `traffic` on access_keys, users, service_accounts and tenant_settings: the rules set at that
//   level, JSON `{"rateLimit":{limit,periodSeconds}|null,"quota":{limit,period}|null,
//   "allowedCidrs":[...]|null}`; null when none is set. Read with the key (src/auth/key-authority.ts).
// - tenant_settings.usage_retention_days: how long hourly usage rows are kept.
// - quota_usage: requests admitted per quota counter and calendar window (UTC), so quota counts
//   survive a restart; written in batches (src/traffic/quota-ledger.ts).
// - key_usage: requests per key, registered API ('' for latchkey's own routes) and hour, by outcome;
//   written in batches (src/traffic/usage.ts). The tenant and owner are copied in, so usage stays
//   readable after the key is deleted and can be grouped by principal without a join.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of ['access_keys', 'users', 'service_accounts', 'tenant_settings']) {
    await db.schema.alterTable(table).addColumn('traffic', 'text').execute();
  }
  await db.schema
    .alterTable('tenant_settings')
    .addColumn('usage_retention_days', 'integer', (c) => c.notNull().defaultTo(90))
    .execute();
  await db.schema
    .createTable('quota_usage')
    .addColumn('counter', 'text', (c) => c.notNull())
    .addColumn('window_start', 'text', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_usage_pk', ['counter', 'window_start'])
    .execute();
  await db.schema
    .createTable('key_usage')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('access_key_id', 'text', (c) => c.notNull())
    .addColumn('owner_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('api_id', 'text', (c) => c.notNull())
    .addColumn('hour', 'text', (c) => c.notNull())
    .addColumn('ok', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('denied', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('throttled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('invalid_signature', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expired', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('inactive', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('key_usage_pk', ['access_key_id', 'api_id', 'hour'])
    .execute();
  await db.schema
    .createIndex('key_usage_tenant_hour')
    .on('key_usage')
    .columns(['tenant_id', 'hour'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('key_usage').execute();
  await db.schema.dropTable('quota_usage').execute();
  await db.schema.alterTable('tenant_settings').dropColumn('usage_retention_days').execute();
  for (const table of ['access_keys', 'users', 'service_accounts', 'tenant_settings']) {
    await db.schema.alterTable(table).dropColumn('traffic').execute();
  }
}
