/**
 * A user changing their own profile (PATCH /iam/me). Only a user signed in with a password may;
 * a new password needs the current one, and ends every session, the caller's too: the caller gets
 * a new session with the answer.
 */
import type { Actor } from '../context.js';
import { verifyPassword } from '../crypto/password.js';
import { AppError } from '../errors.js';
import { findUser, type UserView, updateUser } from '../identity/users.js';
import { type AuthDeps, passwordSession } from './login.js';
import type { IssuedToken } from './tokens/tokens.js';

export interface OwnProfilePatch {
  name?: string;
  password?: string;
  /** Required with `password`. */
  currentPassword?: string;
}

/** The user's view; with `session` when the password changed (the caller's old session has ended). */
export type OwnProfileUpdate = UserView | (UserView & { session: IssuedToken });

export async function updateOwnProfile(
  deps: AuthDeps,
  actor: Actor,
  patch: OwnProfilePatch,
): Promise<OwnProfileUpdate> {
  if (actor.type !== 'user' || (actor.via !== 'password' && actor.via !== 'sso')) {
    throw new AppError(
      'AccessDenied',
      'only a user signed in with a password or single sign-on can change their own profile',
    );
  }
  const { svc } = deps;
  const { name, password, currentPassword } = patch;
  if (password !== undefined) {
    const user = await findUser(svc.db, actor.tenantId, actor.id);
    if (
      currentPassword === undefined ||
      !user.password_hash ||
      !(await verifyPassword(currentPassword, user.password_hash))
    ) {
      throw new AppError('INVALID_CREDENTIALS', 'currentPassword is wrong');
    }
  }
  const view = await updateUser(svc, actor, actor.id, { name, password });
  if (password === undefined) return view;
  const session = await passwordSession(deps, await findUser(svc.db, actor.tenantId, actor.id));
  return { ...view, session };
}
