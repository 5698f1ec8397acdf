import type { DbOrTx } from '../storage/dialect.js';
import type { PrincipalType } from '../storage/tables.js';

export interface PrincipalContact {
  name: string;
  /** A user always has one; a service account may have none. */
  email: string | null;
  status: 'active' | 'disabled';
}

/** A user's or service account's name, email address and status; undefined when the tenant has no such principal. */
export async function principalContact(
  db: DbOrTx,
  tenantId: string,
  type: PrincipalType,
  id: string,
): Promise<PrincipalContact | undefined> {
  return db
    .selectFrom(type === 'user' ? 'users' : 'service_accounts')
    .select(['name', 'email', 'status'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}
