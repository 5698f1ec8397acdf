import type { Actor } from '../../context.js';
import type { KeyListQuery, NewKeyBody } from '../../contract/operations.js';
import type { Owner } from '../../keys/key-rows.js';
import { createKey } from '../../keys/lifecycle.js';
import { type KeyFilter, type KeyView, listKeys } from '../../keys/views.js';
import { PAGE_SIZE } from '../../limits.js';
import type { Services } from '../../services.js';

export async function createKeyFor(
  svc: Services,
  actor: Actor,
  owner: Owner,
  body: typeof NewKeyBody.static,
): Promise<KeyView & { secretAccessKey: string }> {
  const { key, secretAccessKey } = await createKey(svc, actor, owner, body);
  return { ...key, secretAccessKey };
}

export async function listKeysOf(
  svc: Services,
  actor: Actor,
  owner: Owner,
  query: typeof KeyListQuery.static,
) {
  const filter: KeyFilter = {
    ...query,
    ownerType: owner.type,
    ownerId: owner.id,
    limit: query.limit ?? PAGE_SIZE.default,
    offset: query.offset ?? 0,
  };
  const page = await listKeys(svc, actor.tenantId, filter);
  return { ...page, limit: filter.limit, offset: filter.offset };
}
