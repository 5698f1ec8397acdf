import type { Actor } from '../../context.js';
import { tenantApiPermissions } from '../../identity/api-permissions.js';
import { mayGrant, principalsPatterns } from '../../identity/escalation.js';
import { PermissionSet } from '../../identity/permissions.js';
import type { DbOrTx } from '../../storage/dialect.js';

/**
 * Each principal with `withinYourPermissions`: the caller holds everything it holds, so may create
 * keys for it and set its password or email (the escalation rules allow nothing else). The
 * console disables those actions for the others.
 */
export async function withinYourPermissions<P extends { id: string }>(
  db: DbOrTx,
  actor: Actor,
  type: 'user' | 'service_account',
  principals: P[],
): Promise<Array<P & { withinYourPermissions: boolean }>> {
  const patterns = await principalsPatterns(
    db,
    actor.tenantId,
    type,
    principals.map((p) => p.id),
  );
  return principals.map((p) => ({ ...p, withinYourPermissions: mayGrant(actor, patterns.get(p.id) ?? []) }));
}

/** One principal with `withinYourPermissions`: what a route that creates, reads or changes it answers. */
export async function managed<P extends { id: string }>(
  db: DbOrTx,
  actor: Actor,
  type: 'user' | 'service_account',
  principal: P,
): Promise<P & { withinYourPermissions: boolean }> {
  const [flagged] = await withinYourPermissions(db, actor, type, [principal]);
  return flagged as P & { withinYourPermissions: boolean };
}

/** A page of principals, each with `withinYourPermissions`, and the paging it was read with. */
export async function managedPage<P extends { id: string }>(
  db: DbOrTx,
  actor: Actor,
  type: 'user' | 'service_account',
  page: { items: P[]; total: number },
  paging: { limit: number; offset: number },
): Promise<{
  items: Array<P & { withinYourPermissions: boolean }>;
  total: number;
  limit: number;
  offset: number;
}> {
  return { ...page, items: await withinYourPermissions(db, actor, type, page.items), ...paging };
}

/** A principal's permissions, expanded, and whether any of them reaches beyond the admin API. */
export async function principalPermissions(
  db: DbOrTx,
  actor: Actor,
  type: 'user' | 'service_account',
  id: string,
): Promise<{ permissions: string[]; readsData: boolean }> {
  const patterns = (await principalsPatterns(db, actor.tenantId, type, [id])).get(id) ?? [];
  const permissions = new PermissionSet(patterns).expand(await tenantApiPermissions(db, actor.tenantId));
  return { permissions, readsData: permissions.some((p) => !p.startsWith('iam:')) };
}
