import type { Kysely } from 'kysely';

// Registered APIs and the gateway (issue 14):
// - apis: an API a tenant puts behind latchkey: its base path (unique per tenant), its upstream and
//   its routes (JSON, matched in order). Base paths are per tenant: the key of a request names the
//   tenant, so two tenants may each register /api/orders.
// - access_keys.last_used_api_id / last_used_decision: what the gateway last decided for the key
//   (`allowed` or `denied`) and for which API; null for requests to latchkey's own routes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('apis')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('base_path', 'text', (c) => c.notNull())
    .addColumn('upstream', 'text', (c) => c.notNull())
    .addColumn('routes', 'text', (c) => c.notNull())
    .addColumn('allow_unsigned_payload', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('timeout_ms', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('apis_tenant_name', ['tenant_id', 'name'])
    .addUniqueConstraint('apis_tenant_base_path', ['tenant_id', 'base_path'])
    .execute();
  await db.schema.alterTable('access_keys').addColumn('last_used_api_id', 'text').execute();
  await db.schema.alterTable('access_keys').addColumn('last_used_decision', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('access_keys').dropColumn('last_used_decision').execute();
  await db.schema.alterTable('access_keys').dropColumn('last_used_api_id').execute();
  await db.schema.dropTable('apis').execute();
}
