import type { Kysely } from 'kysely';

// Temporary SigV4 credentials (issue 17), like AWS STS's: an `LKSA…` access key ID, a secret sealed
// under the master key (context `session-secret:<tenant>:<id>`) and a session token kept only as its
// SHA-256. Each row names its source, which it follows on every request: a long-term key (the
// credentials end when it is deleted, disabled, expires or gets a new secret) or a user's password
// session (they end with the user's session epoch). `permissions` narrows what the source may do;
// `source_permissions` is the narrowing a key token already carried. Rows are deleted a day after
// they expire (the job runner).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('session_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('source_key_id', 'text', (c) => c.references('access_keys.id').onDelete('cascade'))
    .addColumn('source_secret_version', 'integer')
    .addColumn('source_permissions', 'text')
    .addColumn('session_epoch', 'integer')
    .addColumn('permissions', 'text')
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('master_key_version', 'integer', (c) => c.notNull())
    .addColumn('token_sha256', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('session_credentials_principal')
    .on('session_credentials')
    .columns(['tenant_id', 'principal_type', 'principal_id'])
    .execute();
  // A leak report may name the credentials by their session token (only its SHA-256 is kept).
  await db.schema
    .createIndex('session_credentials_token')
    .on('session_credentials')
    .column('token_sha256')
    .execute();
  await db.schema
    .createIndex('session_credentials_expiry')
    .on('session_credentials')
    .column('expires_at')
    .execute();
  await db.schema
    .alterTable('tenant_settings')
    .addColumn('max_session_duration_seconds', 'integer', (c) => c.notNull().defaultTo(43200))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('session_credentials').execute();
  await db.schema.alterTable('tenant_settings').dropColumn('max_session_duration_seconds').execute();
}
