import type { Actor } from '../../context.js';
import { mayGrant, principalsPatterns } from '../../identity/escalation.js';
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
