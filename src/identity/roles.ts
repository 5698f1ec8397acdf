import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type { RoleView as RoleViewSchema } from '../contract/views.js';
import { AppError, notFound } from '../errors.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { Role } from '../storage/tables.js';
import { iso } from '../time.js';
import { tenantApiPermissions } from './api-permissions.js';
import { assertCovers, guardGains } from './escalation.js';
import { unknownPatterns } from './permissions.js';
import { writeTransaction } from './write-transaction.js';

export type RoleView = Static<typeof RoleViewSchema>;

export const roleView = (r: Role): RoleView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  permissions: JSON.parse(r.permissions) as string[],
  builtin: r.builtin !== null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function findRole(db: DbOrTx, tenantId: string, id: string): Promise<Role> {
  const row = await db
    .selectFrom('roles')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('role');
  return row;
}

/**
 * The permissions as stored (sorted, distinct), refusing names that match no permission of the
 * catalogue or of the tenant's registered APIs. `kept`: permissions the role already holds pass
 * as they are (a deleted API's permission stays valid in the roles that had it).
 */
async function checkPermissions(
  db: DbOrTx,
  tenantId: string,
  permissions: string[],
  kept: readonly string[] = [],
): Promise<string[]> {
  const added = permissions.filter((p) => !kept.includes(p));
  const unknown = added.length === 0 ? [] : unknownPatterns(added, await tenantApiPermissions(db, tenantId));
  if (unknown.length > 0) {
    throw new AppError('UNKNOWN_PERMISSION', `unknown permission: ${unknown.join(', ')}`, { unknown });
  }
  return [...new Set(permissions)].sort();
}

const duplicate = (name: string) => new AppError('ALREADY_EXISTS', `a role named ${name} already exists`);

export async function createRole(
  svc: Services,
  actor: Actor,
  input: { name: string; description?: string; permissions: string[] },
): Promise<RoleView> {
  const permissions = await checkPermissions(svc.db, actor.tenantId, input.permissions);
  // Creating a role is binding permissions to a name others can be given: only what you hold.
  assertCovers(actor, permissions, 'creating this role');
  const now = iso(svc.clock.now());
  const row: Role = {
    id: svc.newId('rol'),
    tenant_id: actor.tenantId,
    name: input.name.trim(),
    description: input.description ?? '',
    permissions: JSON.stringify(permissions),
    builtin: null,
    created_at: now,
    updated_at: now,
  };
  return writeTransaction(svc, { duplicate: () => duplicate(row.name) }, async (trx) => {
    await trx.insertInto('roles').values(row).execute();
    const view = roleView(row);
    await writeAudit(trx, svc.clock, actor, 'role.create', { type: 'role', id: row.id }, null, view);
    return view;
  });
}

export async function listRoles(db: DbOrTx, tenantId: string): Promise<RoleView[]> {
  const rows = await db
    .selectFrom('roles')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('name')
    .execute();
  return rows.map(roleView);
}

export async function updateRole(
  svc: Services,
  actor: Actor,
  id: string,
  patch: { name?: string; description?: string; permissions?: string[] },
): Promise<RoleView> {
  const options = { authzChangedIn: actor.tenantId, duplicate: () => duplicate(patch.name ?? '') };
  return writeTransaction(svc, options, async (trx) => {
    const before = await findRole(trx, actor.tenantId, id);
    if (before.builtin !== null)
      throw new AppError('BUILTIN_PROTECTED', `the built-in role ${before.name} cannot be changed`);
    const values: Partial<Role> = { updated_at: iso(svc.clock.now()) };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.permissions !== undefined)
      values.permissions = JSON.stringify(
        await checkPermissions(
          trx,
          actor.tenantId,
          patch.permissions,
          JSON.parse(before.permissions) as string[],
        ),
      );
    // Everyone holding the role gains what is added: the caller must hold it.
    await guardGains(
      trx,
      actor,
      [{ type: 'role', id }],
      `changing the permissions of the role ${before.name}`,
      () => trx.updateTable('roles').set(values).where('id', '=', id).execute(),
    );
    const after = roleView({ ...before, ...values });
    await writeAudit(trx, svc.clock, actor, 'role.update', { type: 'role', id }, roleView(before), after);
    return after;
  });
}

export async function deleteRole(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const before = await findRole(trx, actor.tenantId, id);
    if (before.builtin !== null)
      throw new AppError('BUILTIN_PROTECTED', `the built-in role ${before.name} cannot be deleted`);
    // A key whose only assignment was this role would fall back to its owner's permissions.
    const keys = await trx
      .selectFrom('role_assignments')
      .select('subject_id as id')
      .where('role_id', '=', id)
      .where('subject_type', '=', 'key')
      .execute();
    await guardGains(
      trx,
      actor,
      keys.map((k) => ({ type: 'key' as const, id: k.id })),
      `deleting the role ${before.name} (keys holding only it would get their owners' permissions)`,
      async () => {
        await trx.deleteFrom('role_assignments').where('role_id', '=', id).execute();
        await trx.deleteFrom('roles').where('id', '=', id).execute();
      },
    );
    await writeAudit(trx, svc.clock, actor, 'role.delete', { type: 'role', id }, roleView(before), null);
  });
}
