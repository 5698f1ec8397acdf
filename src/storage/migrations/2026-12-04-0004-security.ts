import { type Kysely, SqliteAdapter } from 'kysely';

// The security model (issue 12):
// - users.session_epoch: bumped when a password changes or a user is disabled or made an API user;
//   a password token carries the epoch it was issued under and ends when they differ.
// - access_keys.manager_disabled: 1 when someone acting with iam:keys:manage (or the operator CLI)
//   deactivated the key; only such a caller may activate it again (self-service may not).
// - mail_outbox.access_key_id / key_expires_at / key_secret_version: what a key email was about,
//   re-checked when it is delivered (a reminder for a deleted or extended key is dropped).
// - change_events (SQLite only): the cross-process change feed. PostgreSQL uses LISTEN/NOTIFY.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('session_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('access_keys')
    .addColumn('manager_disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('mail_outbox').addColumn('access_key_id', 'text').execute();
  await db.schema.alterTable('mail_outbox').addColumn('key_expires_at', 'text').execute();
  await db.schema.alterTable('mail_outbox').addColumn('key_secret_version', 'integer').execute();
  // Dropping a stale reminder looks for its key's other undelivered emails.
  await db.schema
    .createIndex('mail_outbox_key')
    .on('mail_outbox')
    .columns(['access_key_id', 'key_expires_at'])
    .execute();

  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    // AUTOINCREMENT: ids are never reused, so a reader that remembers the last id it saw never
    // mistakes a new event for an old one, even after every row was pruned.
    await db.schema
      .createTable('change_events')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('origin', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    await db.schema.dropTable('change_events').execute();
  }
  await db.schema.dropIndex('mail_outbox_key').execute();
  await db.schema.alterTable('mail_outbox').dropColumn('key_secret_version').execute();
  await db.schema.alterTable('mail_outbox').dropColumn('key_expires_at').execute();
  await db.schema.alterTable('mail_outbox').dropColumn('access_key_id').execute();
  await db.schema.alterTable('access_keys').dropColumn('manager_disabled').execute();
  await db.schema.alterTable('users').dropColumn('session_epoch').execute();
}
