import type { Kysely } from 'kysely';

// Sign-ins under way are counted per tenant when one starts (an anonymous request: their number is
// capped, see SSO_PENDING_SIGN_INS_MAX), so the count reads an index, not the table.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sso_flows_tenant').on('sso_flows').column('tenant_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('sso_flows_tenant').execute();
}
