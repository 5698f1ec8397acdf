import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import { hashPassword } from '../crypto/password.js';
import { AppError, notFound } from '../errors.js';
import { deleteKeyRows } from '../keys/key-rows.js';
import type { Services } from '../services.js';
import { containsText, type DbOrTx } from '../storage/dialect.js';
import type { User } from '../storage/tables.js';
import { iso } from '../time.js';
import {
  patchRules,
  type Quota,
  type RateLimit,
  rulesFromJson,
  rulesToJson,
  touchesRules,
} from '../traffic/rules.js';
import { administratorMemberships, assertNotLastAdministrator, isAdministrator } from './authorization.js';
import { assertHoldsEverything, assertMayActAs } from './escalation.js';
import { writeTransaction } from './write-transaction.js';

export interface UserView {
  id: string;
  tenantId: string;
  email: string;
  name: string;
  status: 'active' | 'disabled';
  /** An API user signs requests with keys only; password sign-in is refused. */
  apiUser: boolean;
  isAdministrator: boolean;
  hasPassword: boolean;
  /** Traffic rules shared by all the user's keys (null: none). */
  rateLimit: RateLimit | null;
  quota: Quota | null;
  allowedCidrs: string[] | null;
  createdAt: string;
  updatedAt: string;
}

export function userView(u: User, isAdmin: boolean): UserView {
  return {
    id: u.id,
    tenantId: u.tenant_id,
    email: u.email,
    name: u.name,
    status: u.status,
    apiUser: u.api_user === 1,
    isAdministrator: isAdmin,
    hasPassword: u.password_hash !== null,
    ...rulesFromJson(u.traffic),
    createdAt: u.created_at,
    updatedAt: u.updated_at,
  };
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

const duplicate = (email: string) =>
  new AppError('ALREADY_EXISTS', `a user with email ${email} already exists`);

export async function findUser(db: DbOrTx, tenantId: string, id: string): Promise<User> {
  const user = await db
    .selectFrom('users')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!user) throw notFound('user');
  return user;
}

export async function getUserView(db: DbOrTx, tenantId: string, id: string): Promise<UserView> {
  const user = await findUser(db, tenantId, id);
  return userView(user, await isAdministrator(db, tenantId, id));
}

export interface NewUserInput {
  email: string;
  name: string;
  password?: string;
}

/** A new user's row: active, signs in with a password (when it has one), no sessions yet. */
export function newUserRow(
  svc: Services,
  tenantId: string,
  input: { email: string; name: string; passwordHash: string | null },
): User {
  const now = iso(svc.clock.now());
  return {
    id: svc.newId('usr'),
    tenant_id: tenantId,
    email: input.email.trim(),
    traffic: null,
    email_normalized: normalizeEmail(input.email),
    name: input.name.trim(),
    password_hash: input.passwordHash,
    status: 'active',
    api_user: 0,
    session_epoch: 0,
    created_at: now,
    updated_at: now,
  };
}

export async function createUser(svc: Services, actor: Actor, input: NewUserInput): Promise<UserView> {
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const user = newUserRow(svc, actor.tenantId, { email: input.email, name: input.name, passwordHash });
  return writeTransaction(svc, { duplicate: () => duplicate(user.email) }, async (trx) => {
    await trx.insertInto('users').values(user).execute();
    const view = userView(user, false);
    await writeAudit(trx, svc.clock, actor, 'user.create', { type: 'user', id: user.id }, null, view);
    return view;
  });
}

export interface UserFilter {
  search?: string;
  status?: 'active' | 'disabled';
  apiUser?: boolean;
  limit: number;
  offset: number;
}

export async function listUsers(
  db: DbOrTx,
  tenantId: string,
  filter: UserFilter,
): Promise<{ items: UserView[]; total: number }> {
  let query = db.selectFrom('users').where('tenant_id', '=', tenantId);
  if (filter.search) {
    const needle = filter.search;
    query = query.where((eb) =>
      eb.or([containsText('email_normalized', needle), containsText('name', needle)]),
    );
  }
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.apiUser !== undefined) query = query.where('api_user', '=', filter.apiUser ? 1 : 0);
  const [rows, count, admins] = await Promise.all([
    query.selectAll().orderBy('email_normalized').limit(filter.limit).offset(filter.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
    administratorMemberships(db, tenantId).select('group_members.member_id').execute(),
  ]);
  const adminIds = new Set(admins.map((a) => a.member_id));
  return { items: rows.map((u) => userView(u, adminIds.has(u.id))), total: Number(count.n) };
}

export interface UserPatch {
  name?: string;
  email?: string;
  status?: 'active' | 'disabled';
  apiUser?: boolean;
  password?: string;
  rateLimit?: RateLimit | null;
  quota?: Quota | null;
  allowedCidrs?: string[] | null;
}

export async function updateUser(
  svc: Services,
  actor: Actor,
  id: string,
  patch: UserPatch,
): Promise<UserView> {
  const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password);
  const options = { authzChangedIn: actor.tenantId, duplicate: () => duplicate(`${patch.email}`) };
  return writeTransaction(svc, options, async (trx) => {
    const before = await findUser(trx, actor.tenantId, id);
    // A new password or email lets the caller sign in as the user (email: through a later reset
    // or single sign-on): the caller must hold all the user holds.
    if (
      patch.password !== undefined ||
      (patch.email !== undefined && normalizeEmail(patch.email) !== before.email_normalized)
    ) {
      await assertMayActAs(
        trx,
        actor,
        { type: 'user', id },
        `setting the ${patch.password !== undefined ? 'password' : 'email'} of this user`,
      );
    }
    const losesAccess =
      (patch.status === 'disabled' && before.status !== 'disabled') ||
      (patch.apiUser === true && before.api_user === 0);
    if (losesAccess) await assertNotLastAdministrator(trx, actor.tenantId, id);
    const values: Partial<User> = { updated_at: iso(svc.clock.now()) };
    if (touchesRules(patch)) {
      // Limits on someone holding more than the caller would let a user manager lock them out.
      await assertMayActAs(trx, actor, { type: 'user', id }, 'changing the traffic rules of this user');
      values.traffic = rulesToJson(patchRules(rulesFromJson(before.traffic), patch));
    }
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.email !== undefined) {
      values.email = patch.email.trim();
      values.email_normalized = normalizeEmail(patch.email);
    }
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.apiUser !== undefined) values.api_user = patch.apiUser ? 1 : 0;
    if (passwordHash !== undefined) values.password_hash = passwordHash;
    // Earlier password sessions end: a new password, a disabled user, or one who became an API user.
    if (passwordHash !== undefined || losesAccess) values.session_epoch = before.session_epoch + 1;
    await trx.updateTable('users').set(values).where('id', '=', id).execute();
    const isAdmin = await isAdministrator(trx, actor.tenantId, id);
    const after = userView({ ...before, ...values }, isAdmin);
    const action =
      patch.password !== undefined && Object.keys(patch).length === 1 ? 'user.password' : 'user.update';
    await writeAudit(trx, svc.clock, actor, action, { type: 'user', id }, userView(before, isAdmin), after);
    return after;
  });
}

export async function deleteUser(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const before = await findUser(trx, actor.tenantId, id);
    await assertNotLastAdministrator(trx, actor.tenantId, id);
    const isAdmin = await isAdministrator(trx, actor.tenantId, id);
    if (isAdmin) assertHoldsEverything(actor, 'deleting a member of the Administrators group');
    await deletePrincipalData(trx, 'user', id);
    await trx.deleteFrom('notifications').where('user_id', '=', id).execute();
    await trx.deleteFrom('users').where('id', '=', id).execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'user.delete',
      { type: 'user', id },
      userView(before, isAdmin),
      null,
    );
  });
}

/** Remove a principal's keys, memberships and role assignments (its row is the caller's to delete). */
export async function deletePrincipalData(
  trx: DbOrTx,
  type: 'user' | 'service_account',
  id: string,
): Promise<void> {
  const keys = await trx
    .selectFrom('access_keys')
    .select('id')
    .where('owner_type', '=', type)
    .where('owner_id', '=', id)
    .execute();
  await deleteKeyRows(
    trx,
    keys.map((k) => k.id),
  );
  await trx.deleteFrom('group_members').where('member_type', '=', type).where('member_id', '=', id).execute();
  await trx
    .deleteFrom('role_assignments')
    .where('subject_type', '=', type)
    .where('subject_id', '=', id)
    .execute();
}
