import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type { ServiceAccountView as ServiceAccountViewSchema } from '../contract/views.js';
import { AppError, notFound } from '../errors.js';
import type { Services } from '../services.js';
import { containsText, type DbOrTx } from '../storage/dialect.js';
import type { ServiceAccount } from '../storage/tables.js';
import { iso } from '../time.js';
import { patchRules, type RulesPatch, rulesFromJson, rulesToJson, touchesRules } from '../traffic/rules.js';
import { assertMayActAs } from './escalation.js';
import { deletePrincipalData } from './users.js';
import { writeTransaction } from './write-transaction.js';

export type ServiceAccountView = Static<typeof ServiceAccountViewSchema>;

export const serviceAccountView = (s: ServiceAccount): ServiceAccountView => ({
  id: s.id,
  tenantId: s.tenant_id,
  name: s.name,
  email: s.email,
  description: s.description,
  status: s.status,
  ...rulesFromJson(s.traffic),
  createdAt: s.created_at,
  updatedAt: s.updated_at,
});

export async function findServiceAccount(db: DbOrTx, tenantId: string, id: string): Promise<ServiceAccount> {
  const row = await db
    .selectFrom('service_accounts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('service account');
  return row;
}

const duplicate = (name: string) =>
  new AppError('ALREADY_EXISTS', `a service account named ${name} already exists`);

export async function createServiceAccount(
  svc: Services,
  actor: Actor,
  input: { name: string; email?: string | null; description?: string },
): Promise<ServiceAccountView> {
  const now = iso(svc.clock.now());
  const row: ServiceAccount = {
    id: svc.newId('sa'),
    tenant_id: actor.tenantId,
    name: input.name.trim(),
    traffic: null,
    email: input.email?.trim() || null,
    description: input.description ?? '',
    status: 'active',
    created_at: now,
    updated_at: now,
  };
  return writeTransaction(svc, { duplicate: () => duplicate(row.name) }, async (trx) => {
    await trx.insertInto('service_accounts').values(row).execute();
    const view = serviceAccountView(row);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'service_account.create',
      { type: 'service_account', id: row.id },
      null,
      view,
    );
    return view;
  });
}

export async function listServiceAccounts(
  db: DbOrTx,
  tenantId: string,
  filter: { search?: string; limit: number; offset: number },
): Promise<{ items: ServiceAccountView[]; total: number }> {
  let query = db.selectFrom('service_accounts').where('tenant_id', '=', tenantId);
  if (filter.search) {
    query = query.where(containsText('name', filter.search));
  }
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('name').limit(filter.limit).offset(filter.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(serviceAccountView), total: Number(count.n) };
}

export async function updateServiceAccount(
  svc: Services,
  actor: Actor,
  id: string,
  patch: {
    name?: string;
    email?: string | null;
    description?: string;
    status?: 'active' | 'disabled';
  } & RulesPatch,
): Promise<ServiceAccountView> {
  const options = { authzChangedIn: actor.tenantId, duplicate: () => duplicate(patch.name ?? '') };
  return writeTransaction(svc, options, async (trx) => {
    const before = await findServiceAccount(trx, actor.tenantId, id);
    // Key emails (with a one-time link to the secret) go to this address: moving it is acting as the account.
    if (patch.email !== undefined && (patch.email?.trim() || null) !== before.email) {
      await assertMayActAs(
        trx,
        actor,
        { type: 'service_account', id },
        'changing the email of this service account',
      );
    }
    const values: Partial<ServiceAccount> = { updated_at: iso(svc.clock.now()) };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.email !== undefined) values.email = patch.email?.trim() || null;
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.status !== undefined) values.status = patch.status;
    if (touchesRules(patch)) {
      await assertMayActAs(
        trx,
        actor,
        { type: 'service_account', id },
        'changing the traffic rules of this service account',
      );
      values.traffic = rulesToJson(patchRules(rulesFromJson(before.traffic), patch));
    }
    await trx.updateTable('service_accounts').set(values).where('id', '=', id).execute();
    const after = serviceAccountView({ ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'service_account.update',
      { type: 'service_account', id },
      serviceAccountView(before),
      after,
    );
    return after;
  });
}

export async function deleteServiceAccount(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, { authzChangedIn: actor.tenantId }, async (trx) => {
    const before = await findServiceAccount(trx, actor.tenantId, id);
    await deletePrincipalData(trx, 'service_account', id);
    await trx.deleteFrom('service_accounts').where('id', '=', id).execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'service_account.delete',
      { type: 'service_account', id },
      serviceAccountView(before),
      null,
    );
  });
}
