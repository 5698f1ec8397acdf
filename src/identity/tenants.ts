import { writeAudit } from '../audit/audit.js';
import { operatorActor } from '../context.js';
import { hashPassword } from '../crypto/password.js';
import { randomBase62, randomDigits } from '../crypto/random.js';
import { AppError } from '../errors.js';
import { PASSWORD_LENGTH } from '../limits.js';
import type { Services } from '../services.js';
import type { DbOrTx, Tx } from '../storage/dialect.js';
import type { Tenant } from '../storage/tables.js';
import { iso } from '../time.js';
import { ADMINISTRATORS_GROUP, BUILTIN_ROLES } from './permissions.js';
import { DEFAULT_SETTINGS, settingsToRow } from './settings.js';
import { newUserRow } from './users.js';

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

/** Make `userId` a member of the tenant's Administrators group (tenant set-up only: no checks). */
async function addFirstAdministrator(trx: Tx, tenantId: string, userId: string, at: string): Promise<void> {
  await trx
    .insertInto('group_members')
    .values({
      tenant_id: tenantId,
      group_id: await administratorsGroupId(trx, tenantId),
      member_type: 'user',
      member_id: userId,
      created_at: at,
    })
    .execute();
}

/**
 * A tenant with its first administrator, inside `trx`: the first start and
 * `latchkey tenants create` both make tenants this way.
 */
export async function createTenantWithAdministrator(
  svc: Services,
  trx: Tx,
  input: { name: string; adminEmail: string; passwordHash: string },
): Promise<{ tenant: Tenant; adminId: string }> {
  const tenant = await createTenant(svc, trx, input.name);
  const admin = newUserRow(svc, tenant.id, {
    email: input.adminEmail,
    name: 'Administrator',
    passwordHash: input.passwordHash,
  });
  await trx.insertInto('users').values(admin).execute();
  await addFirstAdministrator(trx, tenant.id, admin.id, admin.created_at);
  return { tenant, adminId: admin.id };
}

export interface NewTenant {
  tenant: TenantView;
  adminId: string;
  adminEmail: string;
  /** Only when latchkey generated it: shown once, stored only hashed. */
  generatedPassword?: string;
}

/**
 * The operator's `latchkey tenants create`: a tenant and its administrator. The password is the
 * one given (at least 12 characters) or a generated one, returned once.
 */
export async function createTenantAsOperator(
  svc: Services,
  input: { name: string; adminEmail: string; password?: string },
): Promise<NewTenant> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100)
    throw new AppError('VALIDATION_FAILED', 'the tenant name must be 1 to 100 characters');
  if (!/^[^@\s]+@[^@\s]+$/.test(input.adminEmail.trim()))
    throw new AppError('VALIDATION_FAILED', 'the administrator email is not an email address');
  if (input.password !== undefined && input.password.length < PASSWORD_LENGTH.min)
    throw new AppError(
      'VALIDATION_FAILED',
      `the administrator password must be at least ${PASSWORD_LENGTH.min} characters`,
    );
  const generatedPassword = input.password === undefined ? randomBase62(20) : undefined;
  const passwordHash = await hashPassword(input.password ?? (generatedPassword as string));
  const created = await svc.db.transaction().execute(async (trx) => {
    // Names are how people choose a tenant when one email signs in to several: keep them apart.
    const same = await trx
      .selectFrom('tenants')
      .select('id')
      .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
      .executeTakeFirst();
    if (same) throw new AppError('ALREADY_EXISTS', `a tenant named ${name} already exists (${same.id})`);
    const result = await createTenantWithAdministrator(svc, trx, {
      name,
      adminEmail: input.adminEmail,
      passwordHash,
    });
    const operator = operatorActor(result.tenant.id);
    await writeAudit(
      trx,
      svc.clock,
      operator,
      'tenant.create',
      { type: 'tenant', id: result.tenant.id },
      null,
      {
        name,
        administrator: { id: result.adminId, email: input.adminEmail.trim() },
      },
    );
    return result;
  });
  return {
    tenant: tenantView(created.tenant),
    adminId: created.adminId,
    adminEmail: input.adminEmail.trim(),
    generatedPassword,
  };
}

export async function listTenants(db: DbOrTx): Promise<Array<TenantView & { users: number }>> {
  const rows = await db
    .selectFrom('tenants')
    .leftJoin('users', 'users.tenant_id', 'tenants.id')
    .select(['tenants.id', 'tenants.name', 'tenants.created_at'])
    .select((eb) => eb.fn.count<string | number>('users.id').as('users'))
    .groupBy(['tenants.id', 'tenants.name', 'tenants.created_at'])
    .orderBy('tenants.created_at')
    .execute();
  return rows.map((r) => ({ ...tenantView(r), users: Number(r.users) }));
}
