import type { Kysely } from 'kysely';

// OIDC single sign-on for the console (issue 17):
// - sso_configs: one identity provider per tenant: the issuer URL, the client id, the client secret
//   sealed under the master key (context `sso-client-secret:<tenant>`), whether sign-in is enabled,
//   just-in-time creation of unknown users (and the group they join), the email domains accepted.
// - sso_identities: which IdP subject (issuer, sub) is which latchkey user, with the email the IdP
//   last gave and the time of the last sign-in. One link per subject and tenant.
// - sso_flows: sign-ins under way (between the redirect to the IdP and its callback): the state's
//   SHA-256, the PKCE verifier sealed under the master key, the nonce. Short-lived and single-use;
//   in the database so that any instance can finish a flow another one started.
// - sso_codes: one-time codes handed to the console after a callback (SHA-256 only), exchanged once
//   at POST /iam/login for a session token, so the token never travels in a URL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sso_configs')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('master_key_version', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('jit_enabled', 'integer', (c) => c.notNull())
    .addColumn('jit_group_id', 'text', (c) => c.references('groups.id').onDelete('set null'))
    .addColumn('allowed_domains', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sso_identities')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_sign_in_at', 'text')
    .addPrimaryKeyConstraint('sso_identities_pk', ['tenant_id', 'issuer', 'subject'])
    .execute();
  await db.schema.createIndex('sso_identities_user').on('sso_identities').column('user_id').execute();
  await db.schema
    .createTable('sso_flows')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('verifier_ciphertext', 'text', (c) => c.notNull())
    .addColumn('master_key_version', 'integer', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sso_flows_expiry').on('sso_flows').column('expires_at').execute();
  await db.schema
    .createTable('sso_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sso_codes_expiry').on('sso_codes').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sso_codes').execute();
  await db.schema.dropTable('sso_flows').execute();
  await db.schema.dropTable('sso_identities').execute();
  await db.schema.dropTable('sso_configs').execute();
}
