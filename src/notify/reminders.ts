/**
 * Expiry reminders and "expired" notices.
 *
 * A key is reminded once per expiry time: the reminder's row in `key_reminders` (primary key
 * access key + expiry time + kind) is inserted in the same transaction as its outbox rows and
 * bell notification, with ON CONFLICT DO NOTHING. Whoever inserts it sends the reminder; anyone
 * else (a second instance, a rerun of the job) inserts nothing and sends nothing. Extending the
 * key changes its expiry time, which re-arms the reminder. Because the job looks for every key
 * in its lead window without a row, it catches up after downtime.
 *
 * The emails record the expiry they announce; the outbox worker drops those that are no longer
 * true when their turn comes (mail-recheck.ts), and releases the reminder's row when none of
 * them went out, so the reminder for that expiry can be sent again if it becomes due again.
 */
import type { ExpressionBuilder } from 'kysely';
import { publicBaseUrl } from '../config.js';
import { administratorMemberships } from '../identity/authorization.js';
import { principalContact } from '../identity/principals.js';
import { getSettings } from '../identity/settings.js';
import type { Services } from '../services.js';
import { type DbOrTx, forUpdate } from '../storage/dialect.js';
import type { AccessKey, Database } from '../storage/tables.js';
import { addDays, iso } from '../time.js';
import { enqueueWebhookEvents } from '../webhooks/events.js';
import { notifyUsers } from './notifications.js';
import { enqueueMail, mailQueued } from './outbox.js';
import { expiryReminderEmail } from './templates.js';

export interface Recipient {
  email: string;
  /** Why they get it, for logs and tests. */
  reason: 'administrator' | 'creator' | 'modifier';
}

/**
 * Every active member of the tenant's Administrators group, and the users (or service accounts
 * with an email address) who created and last modified the key; one entry per address.
 */
export async function reminderRecipients(db: DbOrTx, key: AccessKey): Promise<Recipient[]> {
  const admins = await administratorMemberships(db, key.tenant_id)
    .innerJoin('users', 'users.id', 'group_members.member_id')
    .select('users.email')
    .where('users.status', '=', 'active')
    .orderBy('users.email')
    .execute();
  const out: Recipient[] = admins.map((a) => ({ email: a.email, reason: 'administrator' as const }));
  const people: Array<[string, string, Recipient['reason']]> = [
    [key.created_by_type, key.created_by_id, 'creator'],
    [key.updated_by_type, key.updated_by_id, 'modifier'],
  ];
  for (const [type, id, reason] of people) {
    // The system and the CLI operator have no mailbox.
    if (type !== 'user' && type !== 'service_account') continue;
    const person = await principalContact(db, key.tenant_id, type, id);
    // A disabled user is not written to; a service account's address is written to whatever its status.
    if (person?.email && (type === 'service_account' || person.status === 'active')) {
      out.push({ email: person.email, reason });
    }
  }
  const seen = new Set<string>();
  return out.filter((r) => {
    const k = r.email.trim().toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

async function ownerLabel(db: DbOrTx, key: AccessKey): Promise<string> {
  const owner = await principalContact(db, key.tenant_id, key.owner_type, key.owner_id);
  if (!owner) return key.owner_id;
  return key.owner_type === 'user' ? `${owner.name} <${owner.email}>` : `service account ${owner.name}`;
}

export async function tenantName(db: DbOrTx, tenantId: string): Promise<string> {
  const t = await db.selectFrom('tenants').select('name').where('id', '=', tenantId).executeTakeFirst();
  return t?.name ?? tenantId;
}

export interface RemindResult {
  /** This call sent the key's reminder (false: not due, or already reminded for this expiry). */
  reminded: boolean;
  emails: number;
}

/**
 * Records that the key's `kind` notice for this expiry time is being sent. False when it already
 * was (by this or another instance): each notice goes out once per key and expiry time.
 */
async function claimReminder(
  trx: DbOrTx,
  key: AccessKey,
  expiresAt: string,
  kind: 'expiring' | 'expired',
  now: Date,
): Promise<boolean> {
  const claimed = await trx
    .insertInto('key_reminders')
    .values({
      access_key_id: key.id,
      expires_at: expiresAt,
      kind,
      tenant_id: key.tenant_id,
      created_at: iso(now),
    })
    .onConflict((oc) => oc.columns(['access_key_id', 'expires_at', 'kind']).doNothing())
    .executeTakeFirst();
  return Number(claimed.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The key, locked for the rest of the transaction, if it is active and has an expiry time. */
async function lockExpiringKey(
  svc: Services,
  trx: DbOrTx,
  accessKeyId: string,
): Promise<(AccessKey & { expires_at: string }) | undefined> {
  const key = await forUpdate(
    trx.selectFrom('access_keys').selectAll().where('id', '=', accessKeyId),
    svc.engine,
  ).executeTakeFirst();
  if (key?.status !== 'active' || key.expires_at === null) return undefined;
  return { ...key, expires_at: key.expires_at };
}

/** A bell notification about the key's expiry for its owner, when the owner is a user. */
async function notifyOwnerOfExpiry(
  svc: Services,
  trx: DbOrTx,
  key: AccessKey & { expires_at: string },
  notice: { kind: 'key_expiring' | 'key_expired'; title: string; body: string },
): Promise<void> {
  if (key.owner_type !== 'user') return;
  await notifyUsers(svc, trx, {
    tenantId: key.tenant_id,
    userIds: [key.owner_id],
    ...notice,
    data: { accessKeyId: key.id, expiresAt: key.expires_at },
    actor: null,
  });
}

/** The webhook event of a reminder: sent once per key and expiry time, like the reminder. */
const expiryEvent = (
  type: 'access_key.expiring' | 'access_key.expired',
  key: AccessKey & { expires_at: string },
) => ({
  type,
  data: {
    accessKeyId: key.id,
    name: key.name,
    expiresAt: key.expires_at,
    owner: { type: key.owner_type, id: key.owner_id },
  },
});

/** Send the expiry reminder of one key if it is due and not sent for this expiry time yet. */
export async function remindKey(svc: Services, accessKeyId: string): Promise<RemindResult> {
  const none: RemindResult = { reminded: false, emails: 0 };
  return svc.db.transaction().execute(async (trx) => {
    const key = await lockExpiringKey(svc, trx, accessKeyId);
    if (!key) return none;
    const now = svc.clock.now();
    const { reminderLeadDays } = await getSettings(trx, key.tenant_id);
    const expires = Date.parse(key.expires_at);
    if (expires <= now.getTime() || expires > addDays(now, reminderLeadDays).getTime()) return none;
    if (!(await claimReminder(trx, key, key.expires_at, 'expiring', now))) return none;

    const [recipients, owner, tenant] = await Promise.all([
      reminderRecipients(trx, key),
      ownerLabel(trx, key),
      tenantName(trx, key.tenant_id),
    ]);
    const email = expiryReminderEmail({
      tenantName: tenant,
      keyName: key.name,
      accessKeyId: key.id,
      ownerLabel: owner,
      expiresAt: key.expires_at,
      baseUrl: publicBaseUrl(svc.config),
    });
    for (const r of recipients) {
      await enqueueMail(svc, trx, {
        tenantId: key.tenant_id,
        kind: 'expiry_reminder',
        to: r.email,
        ...email,
        // Checked again at delivery: dropped if the key is gone, inactive or has another expiry by then.
        about: { accessKeyId: key.id, expiresAt: key.expires_at },
      });
    }
    await enqueueWebhookEvents(trx, svc.clock, key.tenant_id, [expiryEvent('access_key.expiring', key)]);
    await notifyOwnerOfExpiry(svc, trx, key, {
      kind: 'key_expiring',
      title: `Your key "${key.name}" expires soon`,
      body: `Your access key "${key.name}" (${key.id}) expires at ${key.expires_at}. Extend it before then to keep it working.`,
    });
    svc.logger.info(
      { accessKeyId: key.id, expiresAt: key.expires_at, recipients: recipients.length },
      'expiry reminder queued',
    );
    return { reminded: true, emails: recipients.length };
  });
}

/** Tell the owner of an expired key, once per expiry time. Returns whether a notice was written. */
export async function noticeExpired(svc: Services, accessKeyId: string): Promise<boolean> {
  return svc.db.transaction().execute(async (trx) => {
    const key = await lockExpiringKey(svc, trx, accessKeyId);
    if (!key) return false;
    const now = svc.clock.now();
    if (Date.parse(key.expires_at) > now.getTime()) return false;
    if (!(await claimReminder(trx, key, key.expires_at, 'expired', now))) return false;
    await enqueueWebhookEvents(trx, svc.clock, key.tenant_id, [expiryEvent('access_key.expired', key)]);
    await notifyOwnerOfExpiry(svc, trx, key, {
      kind: 'key_expired',
      title: `Your key "${key.name}" expired`,
      body: `Your access key "${key.name}" (${key.id}) expired at ${key.expires_at}; requests signed with it are refused. Extend it (PATCH /iam/keys/${key.id}) or create a new one.`,
    });
    return true;
  });
}

/**
 * After a key is created or its expiry changed: remind at once if it is already inside its lead
 * window. Never fails the caller; the periodic job catches up if this did not run.
 */
export async function remindIfDue(svc: Services, tenantId: string, accessKeyId: string): Promise<void> {
  try {
    if ((await remindKey(svc, accessKeyId)).emails > 0) mailQueued(svc, tenantId);
  } catch (error) {
    svc.logger.warn({ err: error, accessKeyId }, 'immediate expiry reminder failed; the job will retry');
  }
}

/** The tenant's active keys, as a query. */
const activeKeys = (db: DbOrTx, tenantId: string) =>
  db.selectFrom('access_keys').where('tenant_id', '=', tenantId).where('status', '=', 'active');

/** The earliest expiry time after `after` among the tenant's active keys. */
const earliestExpiry = (db: DbOrTx, tenantId: string, after: string) =>
  activeKeys(db, tenantId)
    .select((eb) => eb.fn.min('expires_at').as('at'))
    .where('expires_at', '>', after)
    .executeTakeFirst();

export interface ReminderRunResult {
  /** Keys reminded in this run. */
  reminded: number;
  emails: number;
  /** Keys whose owner was told they expired. */
  expired: number;
}

/** One pass of the job over every tenant. Safe to run concurrently on several instances. */
export async function runReminders(svc: Services): Promise<ReminderRunResult> {
  const result: ReminderRunResult = { reminded: 0, emails: 0, expired: 0 };
  const now = svc.clock.now();
  const nowIso = iso(now);
  const tenants = await svc.db
    .selectFrom('tenant_settings')
    .select(['tenant_id', 'reminder_lead_days'])
    .execute();
  for (const tenant of tenants) {
    const windowEnd = iso(addDays(now, tenant.reminder_lead_days));
    const notReminded = (kind: 'expiring' | 'expired') => (eb: ExpressionBuilder<Database, 'access_keys'>) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('key_reminders')
            .select('key_reminders.access_key_id')
            .whereRef('key_reminders.access_key_id', '=', 'access_keys.id')
            .whereRef('key_reminders.expires_at', '=', 'access_keys.expires_at')
            .where('key_reminders.kind', '=', kind),
        ),
      );
    const due = await activeKeys(svc.db, tenant.tenant_id)
      .select('id')
      .where('expires_at', '>', nowIso)
      .where('expires_at', '<=', windowEnd)
      .where(notReminded('expiring'))
      .orderBy('expires_at')
      .execute();
    for (const k of due) {
      const { reminded, emails } = await remindKey(svc, k.id);
      if (reminded) result.reminded += 1;
      result.emails += emails;
    }
    const expired = await activeKeys(svc.db, tenant.tenant_id)
      .select('id')
      .where('expires_at', '<=', nowIso)
      .where(notReminded('expired'))
      .orderBy('expires_at')
      .execute();
    for (const k of expired) if (await noticeExpired(svc, k.id)) result.expired += 1;
    if (result.emails > 0) mailQueued(svc, tenant.tenant_id);
  }
  // A reveal link that nobody used in time keeps no secret.
  await svc.db
    .updateTable('key_reveal_links')
    .set({ ciphertext: null })
    .where('expires_at', '<=', nowIso)
    .where('ciphertext', 'is not', null)
    .execute();
  return result;
}

/**
 * When the job next has something to do: the earliest moment an active key enters its lead
 * window or expires (null: no key ever will). The server sleeps until then when that is sooner
 * than the next regular run, so a reminder does not wait up to a whole job interval.
 */
export async function nextReminderAt(svc: Services): Promise<Date | null> {
  const now = svc.clock.now();
  const nowIso = iso(now);
  let next: number | null = null;
  const consider = (ms: number) => {
    if (next === null || ms < next) next = ms;
  };
  const tenants = await svc.db
    .selectFrom('tenant_settings')
    .select(['tenant_id', 'reminder_lead_days'])
    .execute();
  for (const tenant of tenants) {
    const leadMs = tenant.reminder_lead_days * 86_400_000;
    const [entering, expiring] = await Promise.all([
      earliestExpiry(svc.db, tenant.tenant_id, iso(addDays(now, tenant.reminder_lead_days))),
      earliestExpiry(svc.db, tenant.tenant_id, nowIso),
    ]);
    if (entering?.at) consider(Date.parse(entering.at) - leadMs);
    if (expiring?.at) consider(Date.parse(expiring.at));
  }
  return next === null ? null : new Date(next);
}
