/**
 * Who may read and manage the keys of whom. Holders of iam:keys:read / iam:keys:manage may act on
 * any key of the tenant; a user signed in with a password or single sign-on may also read and
 * manage their own keys (self-service), but not through a token obtained with a key.
 */
import { type Actor, can } from '../context.js';
import { AppError } from '../errors.js';
import { type Assignments, setAssignments } from '../identity/assignments.js';
import type { Services } from '../services.js';
import type { PrincipalType } from '../storage/tables.js';
import { findKey, type Owner } from './key-rows.js';

/** Self-service: a user signed in with their password may manage their own keys without iam:keys:manage. */
export function isSelfService(actor: Actor, owner: Owner): boolean {
  // A console session (password or single sign-on), never a key's token.
  const interactive = actor.via === 'password' || actor.via === 'sso';
  return interactive && owner.type === 'user' && actor.type === 'user' && actor.id === owner.id;
}

export function assertMayManageKeysOf(actor: Actor, owner: Owner): void {
  if (can(actor, 'iam:keys:manage') || isSelfService(actor, owner)) return;
  throw new AppError('AccessDenied', 'you need iam:keys:manage to manage keys of other principals', {
    missingPermission: 'iam:keys:manage',
  });
}

export function assertMayReadKeysOf(actor: Actor, owner: Owner): void {
  if (can(actor, 'iam:keys:read') || can(actor, 'iam:keys:manage') || isSelfService(actor, owner)) return;
  throw new AppError('AccessDenied', 'you need iam:keys:read to see keys of other principals', {
    missingPermission: 'iam:keys:read',
  });
}

/**
 * The part of the tenant's key list `actor` may see, as a list filter: all of it with
 * iam:keys:read (or iam:keys:manage); without, a user signed in with a password sees their own
 * keys only, and asking for another owner's is AccessDenied.
 */
export function readableKeysFilter<F extends { ownerType?: PrincipalType; ownerId?: string }>(
  actor: Actor,
  filter: F,
): F {
  if (can(actor, 'iam:keys:read') || can(actor, 'iam:keys:manage')) return filter;
  const self = { type: 'user' as const, id: actor.id };
  if (!isSelfService(actor, self)) assertMayReadKeysOf(actor, self);
  if (filter.ownerId !== undefined && filter.ownerId !== actor.id)
    assertMayReadKeysOf(actor, { type: 'user', id: filter.ownerId });
  return { ...filter, ownerType: 'user', ownerId: actor.id };
}

/** Replace a key's groups and/or roles. */
export async function setKeyAssignments(
  svc: Services,
  actor: Actor,
  accessKeyId: string,
  change: { groupIds?: string[]; roleIds?: string[] },
): Promise<Assignments> {
  return setAssignments(svc, actor, { type: 'key', id: accessKeyId }, change, async (trx) => {
    const key = await findKey(trx, actor.tenantId, accessKeyId);
    // Assigning cannot escalate (a key never exceeds its owner), so owners may shape their own keys.
    assertMayManageKeysOf(actor, { type: key.owner_type, id: key.owner_id });
  });
}
