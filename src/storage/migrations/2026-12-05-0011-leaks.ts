import type { Kysely } from 'kysely';

// Leaked-key intake (issue 17):
// - key_secrets.lookup_hash: HMAC-SHA256 of the secret under a key derived from the master key
//   (src/leaks/lookup.ts), so a reported secret finds its key with one indexed query without
//   decrypting anything; lookup_key: which derived key made it (a fingerprint, not a version, so a
//   row imported from another deployment is recognised as foreign). Null for secrets stored before
//   this migration until the start-up backfill fills them in.
// - access_keys.quarantined_at / quarantine_reason / quarantine_url: set when a leak report names the
//   key; the key authority then refuses it (or lets only reads through, per the tenant's setting).
// - tenant_settings.leaked_key_action: `disable` (default) or `read-only`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('key_secrets').addColumn('lookup_hash', 'text').execute();
  await db.schema.alterTable('key_secrets').addColumn('lookup_key', 'text').execute();
  await db.schema.createIndex('key_secrets_lookup').on('key_secrets').column('lookup_hash').execute();
  await db.schema.alterTable('access_keys').addColumn('quarantined_at', 'text').execute();
  await db.schema.alterTable('access_keys').addColumn('quarantine_reason', 'text').execute();
  await db.schema.alterTable('access_keys').addColumn('quarantine_url', 'text').execute();
  await db.schema
    .alterTable('tenant_settings')
    .addColumn('leaked_key_action', 'text', (c) => c.notNull().defaultTo('disable'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tenant_settings').dropColumn('leaked_key_action').execute();
  for (const column of ['quarantine_url', 'quarantine_reason', 'quarantined_at'])
    await db.schema.alterTable('access_keys').dropColumn(column).execute();
  await db.schema.dropIndex('key_secrets_lookup').execute();
  for (const column of ['lookup_key', 'lookup_hash'])
    await db.schema.alterTable('key_secrets').dropColumn(column).execute();
}
