import type { DbOrTx } from '../storage/dialect.js';

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
