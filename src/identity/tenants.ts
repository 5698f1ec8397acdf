import { randomDigits } from '../crypto/random.js';
import type { Services } from '../services.js';
import type { DbOrTx, Tx } from '../storage/dialect.js';
import type { Tenant } from '../storage/tables.js';
import { iso } from '../time.js';
import { ADMINISTRATORS_GROUP, BUILTIN_ROLES } from './permissions.js';
import { DEFAULT_SETTINGS, settingsToRow } from './settings.js';

export interface TenantView {
  id: string;
  name: string;
  createdAt: string;
}

export const tenantView = (t: Tenant): TenantView => ({ id: t.id, name: t.name, createdAt: t.created_at });

/**
 * Create a tenant with its settings, built-in roles and the Administrators group.
 * Tenant IDs are 12 digits, like AWS account IDs: stable, easy to read out and paste.
 */
export async function createTenant(svc: Services, trx: Tx, name: string): Promise<Tenant> {
  const now = iso(svc.clock.now());
  const tenant: Tenant = { id: randomDigits(12), name, created_at: now };
  await trx.insertInto('tenants').values(tenant).execute();
  await trx
    .insertInto('tenant_settings')
    .values(settingsToRow(tenant.id, DEFAULT_SETTINGS, svc.clock.now()))
    .execute();
  const roleIds: Record<string, string> = {};
  for (const [builtin, role] of Object.entries(BUILTIN_ROLES)) {
    const id = svc.newId('rol');
    roleIds[builtin] = id;
    await trx
      .insertInto('roles')
      .values({
        id,
        tenant_id: tenant.id,
        name: role.name,
        description: role.description,
        permissions: JSON.stringify(role.permissions),
        builtin,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
  const groupId = svc.newId('grp');
  await trx
    .insertInto('groups')
    .values({
      id: groupId,
      tenant_id: tenant.id,
      name: ADMINISTRATORS_GROUP,
      description: 'Tenant administrators: members manage everything and receive key-expiry reminders.',
      builtin: 'administrators',
      created_at: now,
      updated_at: now,
    })
    .execute();
  await trx
    .insertInto('role_assignments')
    .values({
      tenant_id: tenant.id,
      role_id: roleIds.administrator as string,
      subject_type: 'group',
      subject_id: groupId,
      created_at: now,
    })
    .execute();
  return tenant;
}

export async function getTenant(db: DbOrTx, id: string): Promise<Tenant | undefined> {
  return db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function administratorsGroupId(db: DbOrTx, tenantId: string): Promise<string> {
  const row = await db
    .selectFrom('groups')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('builtin', '=', 'administrators')
    .executeTakeFirstOrThrow();
  return row.id;
}
