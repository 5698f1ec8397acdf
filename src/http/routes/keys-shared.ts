import { Type } from '@sinclair/typebox';
import type { Actor } from '../../context.js';
import { createKey, type KeyFilter, listKeys, type Owner } from '../../keys/keys.js';
import type { Services } from '../../services.js';
import { ExpiryFields, IdList, Name, Page, Strict } from '../schemas.js';

export const KeyType = Type.Union([Type.Literal('access'), Type.Literal('api')]);
export const KeyStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('inactive'),
  Type.Literal('expired'),
  Type.Literal('expiring_soon'),
]);

export const NewKeyBody = Strict({
  name: Type.Optional(Name),
  type: Type.Optional(KeyType),
  ...ExpiryFields,
  groupIds: Type.Optional(IdList),
  roleIds: Type.Optional(IdList),
  apiUser: Type.Optional(Type.Boolean()),
  /** Email the owner the key ID and a one-time link to the secret (or the secret: emailSecretInline). */
  sendEmail: Type.Optional(Type.Boolean()),
});

export const KeyListQuery = Strict({
  ...Page,
  type: Type.Optional(KeyType),
  status: Type.Optional(KeyStatus),
  search: Type.Optional(Type.String({ maxLength: 100 })),
});

export async function createKeyFor(
  svc: Services,
  actor: Actor,
  owner: Owner,
  body: typeof NewKeyBody.static,
): Promise<Record<string, unknown>> {
  const name = body.name ?? `Access key ${svc.clock.now().toISOString().slice(0, 10)}`;
  const { key, secretAccessKey } = await createKey(svc, actor, owner, { ...body, name });
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
    limit: query.limit ?? 50,
    offset: query.offset ?? 0,
  };
  const page = await listKeys(svc, actor.tenantId, filter);
  return { ...page, limit: filter.limit, offset: filter.offset };
}
