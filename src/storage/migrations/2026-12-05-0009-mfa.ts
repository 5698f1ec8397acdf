import type { Kysely } from 'kysely';

// Multi-factor authentication for password sign-in (issue 17):
// - mfa_factors: a user's second factors. A TOTP factor (type `totp`, at most one per user) keeps
//   its secret sealed under the master key (context `mfa-totp:<tenant>:<user>:<id>`), `pending`
//   until a first code confirms it, and the last time step a code was accepted at (a code is never
//   accepted twice). A passkey (type `webauthn`) keeps its credential ID, public key (both
//   base64url; a public key is not a secret), signature counter and transports.
// - mfa_recovery_codes: one-time codes, SHA-256 only (each is 50 random bits), used_at once spent.
// - mfa_challenges: the second step of a sign-in (or of an enrolment the tenant requires), and
//   passkey registrations under way: SHA-256 of the random value only, bound to the user and the
//   session epoch, short-lived, single-use, in the database so that any instance can finish it.
// - tenant_settings.mfa_required: `off`, `administrators` or `everyone`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('mfa_factors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret_ciphertext', 'text')
    .addColumn('master_key_version', 'integer')
    .addColumn('last_used_step', 'integer')
    .addColumn('credential_id', 'text')
    .addColumn('public_key', 'text')
    .addColumn('sign_count', 'integer')
    .addColumn('transports', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('mfa_factors_user').on('mfa_factors').columns(['user_id', 'type']).execute();
  await db.schema
    .createIndex('mfa_factors_credential')
    .on('mfa_factors')
    .column('credential_id')
    .unique()
    .execute();
  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('mfa_recovery_codes_user').on('mfa_recovery_codes').column('user_id').execute();
  await db.schema
    .createTable('mfa_challenges')
    .addColumn('challenge_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('session_epoch', 'integer', (c) => c.notNull())
    .addColumn('webauthn_challenge', 'text')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mfa_challenges_expiry').on('mfa_challenges').column('expires_at').execute();
  await db.schema
    .alterTable('tenant_settings')
    .addColumn('mfa_required', 'text', (c) => c.notNull().defaultTo('off'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tenant_settings').dropColumn('mfa_required').execute();
  await db.schema.dropTable('mfa_challenges').execute();
  await db.schema.dropTable('mfa_recovery_codes').execute();
  await db.schema.dropTable('mfa_factors').execute();
}
