/**
 * Access-key records: the row types, the queries that read keys with their owner, and deletion.
 * The authentication path (auth/key-authority.ts) reads keys through here too.
 */
import { isWellFormedAccessKeyId } from '../crypto/access-key-id.js';
import { AppError, notFound } from '../errors.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { AccessKey, PrincipalType } from '../storage/tables.js';

export type KeyType = 'access' | 'api';

export interface Owner {
  type: PrincipalType;
  id: string;
}

export type KeyRow = AccessKey & { owner_label: string | null };

/** Access keys joined to their owner (a user or a service account; the other side is null). */
export function keysWithOwner(db: DbOrTx) {
  return db
    .selectFrom('access_keys')
    .leftJoin('users', (j) =>
      j.onRef('users.id', '=', 'access_keys.owner_id').on('access_keys.owner_type', '=', 'user'),
    )
    .leftJoin('service_accounts', (j) =>
      j
        .onRef('service_accounts.id', '=', 'access_keys.owner_id')
        .on('access_keys.owner_type', '=', 'service_account'),
    );
}

/** The tenant's keys as `KeyRow`s (with the owner's email or name as its label). */
export function selectKeys(db: DbOrTx, tenantId: string) {
  return keysWithOwner(db)
    .selectAll('access_keys')
    .select((eb) => eb.fn.coalesce('users.email', 'service_accounts.name').as('owner_label'))
    .where('access_keys.tenant_id', '=', tenantId);
}

/** A key of the tenant, or NOT_FOUND. Malformed IDs are refused before any database read. */
export async function findKey(db: DbOrTx, tenantId: string, accessKeyId: string): Promise<KeyRow> {
  if (!isWellFormedAccessKeyId(accessKeyId)) {
    throw new AppError(
      'INVALID_ACCESS_KEY_ID',
      'that is not a latchkey access key ID (wrong format or checksum)',
    );
  }
  const row = await selectKeys(db, tenantId).where('access_keys.id', '=', accessKeyId).executeTakeFirst();
  if (!row) throw notFound('access key');
  return row;
}

/** Delete access keys with everything that hangs off them (secrets, memberships, role assignments). */
export async function deleteKeyRows(trx: DbOrTx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .deleteFrom('group_members')
    .where('member_type', '=', 'key')
    .where('member_id', 'in', ids)
    .execute();
  await trx
    .deleteFrom('role_assignments')
    .where('subject_type', '=', 'key')
    .where('subject_id', 'in', ids)
    .execute();
  await trx.deleteFrom('key_secrets').where('access_key_id', 'in', ids).execute();
  await trx.deleteFrom('access_keys').where('id', 'in', ids).execute();
}
