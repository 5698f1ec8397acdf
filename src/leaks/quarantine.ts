/**
 * Quarantine: what a leak report does to the key it names. The key keeps its secrets, roles and
 * history, but the key authority refuses it (or, when the tenant's `leakedKeyAction` is
 * `read-only`, lets only GET and HEAD through) on every instance within the change feed's delay.
 * Its owner and the tenant's administrators are told (email and bell), the change is audited
 * (`access_key.quarantine`), and the audit entry raises the `access_key.quarantined` webhook event.
 *
 * A key is quarantined once: a second report of it changes nothing and tells nobody again. An
 * administrator lifts it by generating a new secret (the old one ends at once: keys/lifecycle.ts)
 * or explicitly (`releaseQuarantine`).
 */
import { writeAudit } from '../audit/audit.js';
import { publicBaseUrl } from '../config.js';
import { type Actor, operatorActor } from '../context.js';
import { AppError } from '../errors.js';
import { administratorMemberships } from '../identity/authorization.js';
import { assertMayActAs } from '../identity/escalation.js';
import { principalContact } from '../identity/principals.js';
import { getSettings } from '../identity/settings.js';
import { findKey } from '../keys/key-rows.js';
import { type KeyView, keyViewOf } from '../keys/views.js';
import { notifyUsers } from '../notify/notifications.js';
import { enqueueMail, mailQueued } from '../notify/outbox.js';
import { tenantName } from '../notify/reminders.js';
import { keyQuarantinedEmail } from '../notify/templates.js';
import type { Services } from '../services.js';
import { type DbOrTx, forUpdate } from '../storage/dialect.js';
import type { AccessKey } from '../storage/tables.js';
import { iso } from '../time.js';

/** Who reported the leak: GitHub (operator level, any tenant) or an in-house scanner's credentials. */
export type Reporter = { kind: 'github' } | { kind: 'credentials'; actor: Actor };

export interface LeakFacts {
  /** The report's `type` and `source` (e.g. `content`, `commit`), for the reason. */
  type: string;
  source: string | null;
  url: string | null;
}

export const GITHUB_ACTOR_ID = 'github-secret-scanning';
const REASON_MAX = 300;
const URL_MAX = 2000;

function reporterLabel(reporter: Reporter): string {
  return reporter.kind === 'github'
    ? 'GitHub secret scanning'
    : `${reporter.actor.type.replace('_', ' ')} ${reporter.actor.id}`;
}

/** The URL where the secret was found, when it is an http(s) URL (anything else is not kept). */
function safeUrl(url: string | null): string | null {
  if (url === null || url.length > URL_MAX || !/^https?:\/\/[^\s]+$/.test(url)) return null;
  return url;
}

function reasonOf(reporter: Reporter, facts: LeakFacts): string {
  const where = facts.source ? ` (${facts.source})` : '';
  return `reported leaked by ${reporterLabel(reporter)}${where}`
    .replace(/[\r\n\t]+/g, ' ')
    .slice(0, REASON_MAX);
}

/** Active administrators' user ids and addresses, and the owner's, one entry per person. */
async function recipients(
  db: DbOrTx,
  key: AccessKey,
): Promise<{ userIds: string[]; emails: string[]; ownerLabel: string }> {
  const admins = await administratorMemberships(db, key.tenant_id)
    .innerJoin('users', 'users.id', 'group_members.member_id')
    .select(['users.id', 'users.email'])
    .where('users.status', '=', 'active')
    .orderBy('users.email')
    .execute();
  const userIds = admins.map((a) => a.id);
  const emails = admins.map((a) => a.email);
  const owner = await principalContact(db, key.tenant_id, key.owner_type, key.owner_id);
  if (key.owner_type === 'user' && owner?.status === 'active') userIds.push(key.owner_id);
  // A service account's address is written to whatever its status (as for expiry reminders).
  if (owner?.email && (key.owner_type === 'service_account' || owner.status === 'active'))
    emails.push(owner.email);
  const seen = new Set<string>();
  return {
    userIds: [...new Set(userIds)],
    emails: emails.filter((e) => {
      const k = e.trim().toLowerCase();
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
    ownerLabel: owner
      ? key.owner_type === 'user'
        ? `${owner.name} <${owner.email}>`
        : `service account ${owner.name}`
      : key.owner_id,
  };
}

/**
 * Quarantine the key (of `tenantId`) now. Returns false when it already was: nothing changes and
 * nobody is told again. The caller has checked that the reporter may report this key.
 */
export async function quarantineKey(
  svc: Services,
  reporter: Reporter,
  key: { accessKeyId: string; tenantId: string },
  facts: LeakFacts,
): Promise<boolean> {
  const quarantined = await svc.db.transaction().execute(async (trx) => {
    // Locked: two reports of one key at once quarantine it (and notify) once.
    const row = await forUpdate(
      trx
        .selectFrom('access_keys')
        .selectAll()
        .where('id', '=', key.accessKeyId)
        .where('tenant_id', '=', key.tenantId),
      svc.engine,
    ).executeTakeFirst();
    if (!row || row.quarantined_at !== null) return false;
    const now = svc.clock.now();
    const at = iso(now);
    const values = {
      quarantined_at: at,
      quarantine_reason: reasonOf(reporter, facts),
      quarantine_url: safeUrl(facts.url),
    };
    await trx.updateTable('access_keys').set(values).where('id', '=', row.id).execute();
    const actor = reporter.kind === 'github' ? operatorActor(row.tenant_id, GITHUB_ACTOR_ID) : reporter.actor;
    const full = await findKey(trx, row.tenant_id, row.id);
    const before = await keyViewOf(svc, trx, {
      ...full,
      ...{ quarantined_at: null, quarantine_reason: null, quarantine_url: null },
    });
    const after = await keyViewOf(svc, trx, full);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.quarantine',
      { type: 'access_key', id: row.id },
      before,
      { ...after, report: { type: facts.type, source: facts.source, reporter: reporterLabel(reporter) } },
    );
    const [people, tenant, settings] = await Promise.all([
      recipients(trx, row),
      tenantName(trx, row.tenant_id),
      getSettings(trx, row.tenant_id),
    ]);
    const email = keyQuarantinedEmail({
      tenantName: tenant,
      keyName: row.name,
      accessKeyId: row.id,
      ownerLabel: people.ownerLabel,
      reporter: reporterLabel(reporter),
      url: values.quarantine_url,
      action: settings.leakedKeyAction,
      quarantinedAt: at,
      baseUrl: publicBaseUrl(svc.config),
    });
    for (const to of people.emails) {
      await enqueueMail(svc, trx, { tenantId: row.tenant_id, kind: 'key_quarantined', to, ...email });
    }
    await notifyUsers(svc, trx, {
      tenantId: row.tenant_id,
      userIds: people.userIds,
      kind: 'key_quarantined',
      title: `Key "${row.name}" was reported leaked`,
      body: `The access key "${row.name}" (${row.id}) was reported leaked and is quarantined (${settings.leakedKeyAction === 'read-only' ? 'read-only' : 'refused'}). Generate a new secret for it.`,
      data: { accessKeyId: row.id, quarantinedAt: at, url: values.quarantine_url },
      actor: { type: actor.type, id: actor.id },
    });
    return true;
  });
  if (quarantined) {
    // Every instance drops its cached entry: the key is refused everywhere within the feed's delay.
    svc.events.emit('key-changed', { tenantId: key.tenantId, accessKeyId: key.accessKeyId });
    mailQueued(svc, key.tenantId);
    svc.logger.warn(
      { accessKeyId: key.accessKeyId, reporter: reporterLabel(reporter) },
      'key quarantined: reported leaked',
    );
  }
  return quarantined;
}

/**
 * Lift a key's quarantine without a new secret (the report was wrong). Needs iam:keys:manage
 * (the route's permission), and the caller must hold everything the key may do: releasing gives
 * the key's holder its power back.
 */
export async function releaseQuarantine(svc: Services, actor: Actor, accessKeyId: string): Promise<KeyView> {
  const view = await svc.db.transaction().execute(async (trx) => {
    await forUpdate(
      trx.selectFrom('access_keys').select('id').where('id', '=', accessKeyId),
      svc.engine,
    ).execute();
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    if (before.quarantined_at === null) throw new AppError('CONFLICT', 'the key is not quarantined');
    await assertMayActAs(trx, actor, { type: 'key', id: accessKeyId }, 'releasing this key from quarantine');
    const now = svc.clock.now();
    const values = {
      quarantined_at: null,
      quarantine_reason: null,
      quarantine_url: null,
      updated_at: iso(now),
      updated_by_type: actor.type,
      updated_by_id: actor.id,
    };
    await trx.updateTable('access_keys').set(values).where('id', '=', accessKeyId).execute();
    const beforeView = await keyViewOf(svc, trx, before);
    const afterView = await keyViewOf(svc, trx, { ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.quarantine_release',
      { type: 'access_key', id: accessKeyId },
      beforeView,
      afterView,
    );
    return afterView;
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  return view;
}
