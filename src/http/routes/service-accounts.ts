import { operations as op } from '../../contract/operations.js';
import { getAssignments, setAssignments } from '../../identity/assignments.js';
import {
  createServiceAccount,
  deleteServiceAccount,
  findServiceAccount,
  listServiceAccounts,
  serviceAccountView,
  updateServiceAccount,
} from '../../identity/service-accounts.js';
import { assertMayReadKeysOf } from '../../keys/access.js';
import { PAGE_SIZE } from '../../limits.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';
import { managed, managedPage, principalPermissions } from './grantable.js';
import { createKeyFor, listKeysOf } from './keys-shared.js';

export async function serviceAccountRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  route(app, op.listServiceAccounts, async (request) => {
    const { limit = PAGE_SIZE.default, offset = 0, search } = request.query;
    const actor = actorOf(request);
    const page = await listServiceAccounts(svc.db, actor.tenantId, { search, limit, offset });
    return managedPage(svc.db, actor, 'service_account', page, { limit, offset });
  });

  route(app, op.createServiceAccount, async (request, reply) => {
    const actor = actorOf(request);
    const account = await createServiceAccount(svc, actor, request.body);
    return reply.status(201).send(await managed(svc.db, actor, 'service_account', account));
  });

  route(app, op.getServiceAccount, async (request) => {
    const actor = actorOf(request);
    const account = await findServiceAccount(svc.db, actor.tenantId, request.params.serviceAccountId);
    return managed(svc.db, actor, 'service_account', serviceAccountView(account));
  });

  route(app, op.updateServiceAccount, async (request) => {
    const actor = actorOf(request);
    const account = await updateServiceAccount(svc, actor, request.params.serviceAccountId, request.body);
    return managed(svc.db, actor, 'service_account', account);
  });

  route(app, op.deleteServiceAccount, async (request, reply) => {
    await deleteServiceAccount(svc, actorOf(request), request.params.serviceAccountId);
    return reply.status(204).send();
  });

  route(app, op.getServiceAccountAssignments, async (request) => {
    const actor = actorOf(request);
    const id = request.params.serviceAccountId;
    await findServiceAccount(svc.db, actor.tenantId, id);
    return getAssignments(svc.db, actor.tenantId, { type: 'service_account', id });
  });

  route(app, op.setServiceAccountAssignments, async (request) => {
    const actor = actorOf(request);
    const id = request.params.serviceAccountId;
    return setAssignments(svc, actor, { type: 'service_account', id }, request.body, (trx) =>
      findServiceAccount(trx, actor.tenantId, id),
    );
  });

  route(app, op.getServiceAccountPermissions, async (request) => {
    const actor = actorOf(request);
    const id = request.params.serviceAccountId;
    await findServiceAccount(svc.db, actor.tenantId, id);
    return principalPermissions(svc.db, actor, 'service_account', id);
  });

  route(
    app,
    op.listServiceAccountKeys,
    async (request) => {
      const actor = actorOf(request);
      const owner = { type: 'service_account' as const, id: request.params.serviceAccountId };
      assertMayReadKeysOf(actor, owner);
      await findServiceAccount(svc.db, actor.tenantId, owner.id);
      return listKeysOf(svc, actor, owner, request.query);
    },
    { authorize: (_request, actor) => assertMayReadKeysOf(actor, { type: 'service_account', id: '' }) },
  );

  route(app, op.createServiceAccountKey, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const owner = { type: 'service_account' as const, id: request.params.serviceAccountId };
    return reply.status(201).send(await createKeyFor(svc, actorOf(request), owner, request.body));
  });
}
