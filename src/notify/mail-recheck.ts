/**
 * Mail is checked when it is sent, not only when it is queued. An email about a key records what
 * it says (`MailAbout`); the outbox worker compares that with the key just before delivery and
 * drops the message (status `dropped`, the reason in `last_error`) when it is no longer true:
 *
 * - any key email: the key was deleted;
 * - credentials (`secretVersion`): a new secret key was generated since, so the inline secret or
 *   the reveal link in it no longer works;
 * - an expiry reminder (`expiresAt`) when the key is "no longer expiring" at that time, meaning:
 *   it is inactive (it does not work, so there is nothing to keep working), it no longer expires,
 *   its expiry is not the one the reminder announces (extended, shortened or changed back and
 *   forth: the reminder for the current expiry is queued by that change or by the job), or that
 *   expiry has passed (a "expires soon" that arrives late is wrong; the owner gets the "expired"
 *   bell notice instead).
 *   A reminder whose expiry is unchanged is never dropped for being outside the tenant's lead
 *   window: it was inside when queued, so only a shorter `reminderLeadDays` can put it outside,
 *   and that reminder was already claimed for its expiry (the job would never send another).
 *
 * When the last undelivered email of a reminder is dropped and none of its recipients got it,
 * the reminder's claim in `key_reminders` is released, so the reminder for that expiry is sent
 * afresh if the key becomes due for it again (reactivated, or its expiry set back).
 *
 * What this cannot cover: a change that lands during the SMTP conversation itself (after the
 * check, before the server's accept). Holding a database lock over network I/O would stall
 * every writer on SQLite, so the check is the last statement before the send instead.
 */
import { type DbOrTx, type Engine, forUpdate } from '../storage/dialect.js';
import type { AccessKey, OutboxRow } from '../storage/tables.js';

/** What a key email says about its key, re-checked when it is delivered. */
export interface MailAbout {
  accessKeyId: string;
  /** An expiry reminder: the expiry time it announces (the key's `expires_at` when queued). */
  expiresAt?: string;
  /** A credentials email: the secret version whose secret or reveal link it carries. */
  secretVersion?: number;
}

type Recorded = Pick<OutboxRow, 'key_expires_at' | 'key_secret_version'>;
type KeyNow = Pick<AccessKey, 'status' | 'expires_at' | 'secret_version'>;

/** Why the email is no longer true (null: send it). `key` undefined: the key is gone. */
export function staleReason(mail: Recorded, key: KeyNow | undefined, now: Date): string | null {
  if (key === undefined) return 'the key was deleted';
  if (mail.key_secret_version !== null && key.secret_version !== mail.key_secret_version) {
    return 'a new secret key was generated since this email was queued';
  }
  if (mail.key_expires_at !== null) {
    if (key.status !== 'active') return 'the key is inactive';
    if (key.expires_at === null) return 'the key no longer expires';
    const expires = Date.parse(key.expires_at);
    if (expires !== Date.parse(mail.key_expires_at)) {
      return `the key's expiry changed since this reminder was queued (now ${key.expires_at})`;
    }
    if (expires <= now.getTime()) return 'the key expired before this reminder could be delivered';
  }
  return null;
}

/** The key as the check needs it, or undefined when it no longer exists. */
export async function keyNow(db: DbOrTx, tenantId: string, accessKeyId: string): Promise<KeyNow | undefined> {
  return db
    .selectFrom('access_keys')
    .select(['status', 'expires_at', 'secret_version'])
    .where('id', '=', accessKeyId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

/**
 * After `mail` (an expiry reminder) was marked dropped in this transaction: release the
 * reminder's claim when no email of it is still on its way or delivered. Returns whether it did.
 */
export async function releaseReminderClaim(trx: DbOrTx, engine: Engine, mail: OutboxRow): Promise<boolean> {
  if (mail.access_key_id === null || mail.key_expires_at === null) return false;
  // Locking the claim serialises the workers dropping the emails of one reminder (one per
  // recipient): the last of them sees the others' drops and is the one that releases it.
  const claim = await forUpdate(
    trx
      .selectFrom('key_reminders')
      .select('access_key_id')
      .where('access_key_id', '=', mail.access_key_id)
      .where('expires_at', '=', mail.key_expires_at)
      .where('kind', '=', 'expiring'),
    engine,
  ).executeTakeFirst();
  if (!claim) return false;
  const live = await trx
    .selectFrom('mail_outbox')
    .select('id')
    .where('tenant_id', '=', mail.tenant_id)
    .where('kind', '=', mail.kind)
    .where('access_key_id', '=', mail.access_key_id)
    .where('key_expires_at', '=', mail.key_expires_at)
    .where('status', 'in', ['pending', 'sending', 'sent'])
    .limit(1)
    .executeTakeFirst();
  if (live) return false;
  await trx
    .deleteFrom('key_reminders')
    .where('access_key_id', '=', mail.access_key_id)
    .where('expires_at', '=', mail.key_expires_at)
    .where('kind', '=', 'expiring')
    .execute();
  return true;
}
