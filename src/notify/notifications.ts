/**
 * Bell notifications: per user, written in the transaction of the change they report. Users see
 * their own (whichever of their credentials the token came from); nobody sees another's.
 */

import type { Static } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { Actor } from '../context.js';
import type { NotificationView as NotificationViewSchema } from '../contract/views.js';
import { randomBase32 } from '../crypto/random.js';
import { notFound } from '../errors.js';
import type { Assignments, NamedRef, Subject } from '../identity/assignments.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { MemberType, NotificationRow } from '../storage/tables.js';
import { iso } from '../time.js';

export type NotificationKind =
  | 'assignments_changed'
  | 'group_roles_changed'
  | 'group_membership_changed'
  | 'key_expiring'
  | 'key_expired'
  | 'key_quarantined';

/** Who made a change, as stored on the notification (null for the system's own jobs). */
export interface ChangeActor {
  type: string;
  id: string;
}

export interface NewNotification {
  tenantId: string;
  userIds: Iterable<string>;
  kind: NotificationKind;
  title: string;
  body: string;
  data: Record<string, unknown>;
  actor: ChangeActor | null;
}

let lastMs = 0;
let sequence = 0;
/** Time-ordered ids, so "newest first" is stable within one millisecond too. */
function notificationId(now: Date): string {
  const ms = now.getTime();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = 0;
  } else sequence += 1;
  return `ntf_${lastMs.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${randomBase32(8).toLowerCase()}`;
}

/** Insert one notification per distinct user; a user is not notified of their own change. */
export async function notifyUsers(svc: Services, db: DbOrTx, n: NewNotification): Promise<number> {
  const users = [...new Set(n.userIds)].filter((id) => !(n.actor?.type === 'user' && n.actor.id === id));
  if (users.length === 0) return 0;
  const now = svc.clock.now();
  await db
    .insertInto('notifications')
    .values(
      users.map((userId) => ({
        id: notificationId(now),
        tenant_id: n.tenantId,
        user_id: userId,
        kind: n.kind,
        title: n.title,
        body: n.body,
        data: JSON.stringify(n.data),
        actor_type: n.actor?.type ?? null,
        actor_id: n.actor?.id ?? null,
        created_at: iso(now),
        read_at: null,
      })),
    )
    .execute();
  return users.length;
}

export type NotificationView = Static<typeof NotificationViewSchema>;

const view = (r: NotificationRow): NotificationView => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  body: r.body,
  data: JSON.parse(r.data) as Record<string, unknown>,
  actor: r.actor_type && r.actor_id ? { type: r.actor_type, id: r.actor_id } : null,
  createdAt: r.created_at,
  read: r.read_at !== null,
  readAt: r.read_at,
});

/** Notifications are for users; a service account (or its key) has none. */
const ownerOf = (actor: Actor) => (actor.type === 'user' ? actor.id : null);

export async function listNotifications(
  db: DbOrTx,
  actor: Actor,
  page: { limit: number; offset: number; unread?: boolean },
): Promise<{ items: NotificationView[]; total: number; unreadCount: number }> {
  const userId = ownerOf(actor);
  if (userId === null) return { items: [], total: 0, unreadCount: 0 };
  let query = db
    .selectFrom('notifications')
    .where('tenant_id', '=', actor.tenantId)
    .where('user_id', '=', userId);
  if (page.unread) query = query.where('read_at', 'is', null);
  const [rows, counts] = await Promise.all([
    query
      .selectAll()
      .orderBy(sql`case when read_at is null then 0 else 1 end`)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    query
      .select((eb) => [
        eb.fn.countAll<string | number>().as('total'),
        eb.fn.sum<string | number | null>(sql`case when read_at is null then 1 else 0 end`).as('unread'),
      ])
      .executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(view), total: Number(counts.total), unreadCount: Number(counts.unread ?? 0) };
}

export async function markNotificationRead(
  svc: Services,
  actor: Actor,
  id: string,
): Promise<NotificationView> {
  const userId = ownerOf(actor);
  const mine = (db: DbOrTx) =>
    db
      .selectFrom('notifications')
      .selectAll()
      .where('id', '=', id)
      .where('tenant_id', '=', actor.tenantId)
      .where('user_id', '=', userId ?? '');
  const row = await mine(svc.db).executeTakeFirst();
  // Someone else's notification is answered like a missing one: no hint that it exists.
  if (!row) throw notFound('notification');
  if (row.read_at === null) {
    await svc.db
      .updateTable('notifications')
      .set({ read_at: iso(svc.clock.now()) })
      .where('id', '=', id)
      .where('read_at', 'is', null)
      .execute();
  }
  return view((await mine(svc.db).executeTakeFirstOrThrow()) as NotificationRow);
}

export async function markAllNotificationsRead(svc: Services, actor: Actor): Promise<{ marked: number }> {
  const userId = ownerOf(actor);
  if (userId === null) return { marked: 0 };
  const result = await svc.db
    .updateTable('notifications')
    .set({ read_at: iso(svc.clock.now()) })
    .where('tenant_id', '=', actor.tenantId)
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirst();
  return { marked: Number(result.numUpdatedRows) };
}

// --- what changed, by whom ---------------------------------------------------------------------

/** A readable name for whoever made a change. */
export async function actorLabel(db: DbOrTx, actor: Pick<Actor, 'type' | 'id' | 'via'>): Promise<string> {
  if (actor.type === 'user') {
    const u = await db.selectFrom('users').select('email').where('id', '=', actor.id).executeTakeFirst();
    return u?.email ?? actor.id;
  }
  if (actor.type === 'service_account') {
    const s = await db
      .selectFrom('service_accounts')
      .select('name')
      .where('id', '=', actor.id)
      .executeTakeFirst();
    return s ? `service account ${s.name}` : actor.id;
  }
  return actor.via === 'cli' ? 'an operator (CLI)' : 'latchkey';
}

function names(refs: NamedRef[]): string {
  return refs.map((r) => r.name).join(', ');
}

function diff(before: NamedRef[], after: NamedRef[]): { added: NamedRef[]; removed: NamedRef[] } {
  const b = new Set(before.map((r) => r.id));
  const a = new Set(after.map((r) => r.id));
  return { added: after.filter((r) => !b.has(r.id)), removed: before.filter((r) => !a.has(r.id)) };
}

/** "added the role X; removed the groups A, B", or null when nothing changed. */
function describeChange(before: Assignments, after: Assignments): string | null {
  const parts: string[] = [];
  const groups = diff(before.groups, after.groups);
  const roles = diff(before.roles, after.roles);
  const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);
  if (groups.added.length)
    parts.push(`added the ${plural(groups.added.length, 'group')} ${names(groups.added)}`);
  if (groups.removed.length)
    parts.push(`removed the ${plural(groups.removed.length, 'group')} ${names(groups.removed)}`);
  if (roles.added.length) parts.push(`added the ${plural(roles.added.length, 'role')} ${names(roles.added)}`);
  if (roles.removed.length)
    parts.push(`removed the ${plural(roles.removed.length, 'role')} ${names(roles.removed)}`);
  return parts.length === 0 ? null : parts.join('; ');
}

async function keyInfo(db: DbOrTx, accessKeyId: string) {
  return db
    .selectFrom('access_keys')
    .select(['id', 'name', 'owner_type', 'owner_id'])
    .where('id', '=', accessKeyId)
    .executeTakeFirst();
}

const actorRef = (actor: Actor): ChangeActor => ({ type: actor.type, id: actor.id });

/** Users affected when a group's roles change: its user members and the owners of its key members. */
async function usersBehindGroup(db: DbOrTx, groupId: string): Promise<string[]> {
  const members = await db
    .selectFrom('group_members')
    .leftJoin('access_keys', (j) =>
      j.onRef('access_keys.id', '=', 'group_members.member_id').on('group_members.member_type', '=', 'key'),
    )
    .select([
      'group_members.member_type',
      'group_members.member_id',
      'access_keys.owner_type',
      'access_keys.owner_id',
    ])
    .where('group_members.group_id', '=', groupId)
    .execute();
  const users: string[] = [];
  for (const m of members) {
    if (m.member_type === 'user') users.push(m.member_id);
    else if (m.member_type === 'key' && m.owner_type === 'user' && m.owner_id) users.push(m.owner_id);
  }
  return users;
}

/**
 * A subject's groups or roles were replaced: tell the users it affects. For a user, that user;
 * for a key, its owner (when a user); for a group (its roles), every user in it and the owners of
 * the keys in it. A service account has no one to tell.
 */
export async function notifyAssignmentChange(
  svc: Services,
  db: DbOrTx,
  actor: Actor,
  subject: Subject,
  before: Assignments,
  after: Assignments,
): Promise<void> {
  const change = describeChange(before, after);
  if (change === null) return;
  const who = await actorLabel(db, actor);
  const base = { tenantId: actor.tenantId, actor: actorRef(actor) };
  if (subject.type === 'user') {
    await notifyUsers(svc, db, {
      ...base,
      userIds: [subject.id],
      kind: 'assignments_changed',
      title: 'Your access changed',
      body: `${who} changed your access: ${change}.`,
      data: { subjectType: 'user', subjectId: subject.id, before, after },
    });
  } else if (subject.type === 'key') {
    const key = await keyInfo(db, subject.id);
    if (key?.owner_type !== 'user') return;
    await notifyUsers(svc, db, {
      ...base,
      userIds: [key.owner_id],
      kind: 'assignments_changed',
      title: `Access of your access key "${key.name}" changed`,
      body: `${who} changed the access of your access key "${key.name}" (${key.id}): ${change}.`,
      data: { subjectType: 'key', accessKeyId: key.id, before, after },
    });
  } else if (subject.type === 'group') {
    const group = await db
      .selectFrom('groups')
      .select('name')
      .where('id', '=', subject.id)
      .executeTakeFirst();
    const name = group?.name ?? subject.id;
    await notifyUsers(svc, db, {
      ...base,
      userIds: await usersBehindGroup(db, subject.id),
      kind: 'group_roles_changed',
      title: `Roles of the group ${name} changed`,
      body: `${who} changed the roles of the group ${name}, which you or one of your access keys belong to: ${change}.`,
      data: { subjectType: 'group', groupId: subject.id, before: before.roles, after: after.roles },
    });
  }
}

/** A user, a service account or a key joined or left a group. */
export async function notifyMembershipChange(
  svc: Services,
  db: DbOrTx,
  actor: Actor,
  groupId: string,
  member: { type: MemberType; id: string },
  change: 'added' | 'removed',
): Promise<void> {
  const group = await db.selectFrom('groups').select('name').where('id', '=', groupId).executeTakeFirst();
  const groupName = group?.name ?? groupId;
  const who = await actorLabel(db, actor);
  const verb = change === 'added' ? 'added' : 'removed';
  const prep = change === 'added' ? 'to' : 'from';
  const base = {
    tenantId: actor.tenantId,
    actor: actorRef(actor),
    kind: 'group_membership_changed' as const,
  };
  if (member.type === 'user') {
    await notifyUsers(svc, db, {
      ...base,
      userIds: [member.id],
      title: change === 'added' ? `You joined the group ${groupName}` : `You left the group ${groupName}`,
      body: `${who} ${verb} you ${prep} the group ${groupName}.`,
      data: { groupId, memberType: 'user', memberId: member.id, change },
    });
  } else if (member.type === 'key') {
    const key = await keyInfo(db, member.id);
    if (key?.owner_type !== 'user') return;
    await notifyUsers(svc, db, {
      ...base,
      userIds: [key.owner_id],
      title: `Access of your access key "${key.name}" changed`,
      body: `${who} ${verb} your access key "${key.name}" (${key.id}) ${prep} the group ${groupName}.`,
      data: { groupId, memberType: 'key', accessKeyId: key.id, change },
    });
  }
}
