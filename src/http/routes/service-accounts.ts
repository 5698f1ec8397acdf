import { Type } from '@sinclair/typebox';
import { getAssignments, setAssignments } from '../../identity/assignments.js';
import {
  createServiceAccount,
  deleteServiceAccount,
  findServiceAccount,
  listServiceAccounts,
  serviceAccountView,
  updateServiceAccount,
} from '../../identity/service-accounts.js';
import { assertMayReadKeysOf } from '../../keys/keys.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Description, Email, Id, IdList, Name, Page, Strict } from '../schemas.js';
import { withinYourPermissions } from './grantable.js';
import { createKeyFor, KeyListQuery, listKeysOf, NewKeyBody } from './keys-shared.js';

const Params = Strict({ serviceAccountId: Id });
const NullableEmail = Type.Union([Email, Type.Null()]);

export async function serviceAccountRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  app.get(
    '/iam/service-accounts',
    {
      config: { permission: 'iam:service-accounts:read' },
      schema: { querystring: Strict({ ...Page, search: Type.Optional(Type.String({ maxLength: 100 })) }) },
    },
    async (request) => {
      const { limit = 50, offset = 0, search } = request.query;
      const actor = actorOf(request);
      const page = await listServiceAccounts(svc.db, actor.tenantId, { search, limit, offset });
      return {
        ...page,
        items: await withinYourPermissions(svc.db, actor, 'service_account', page.items),
        limit,
        offset,
      };
    },
  );

  app.post(
    '/iam/service-accounts',
    {
      config: { permission: 'iam:service-accounts:manage' },
      schema: {
        body: Strict({
          name: Name,
          email: Type.Optional(NullableEmail),
          description: Type.Optional(Description),
        }),
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createServiceAccount(svc, actorOf(request), request.body)),
  );

  app.get(
    '/iam/service-accounts/:serviceAccountId',
    { config: { permission: 'iam:service-accounts:read' }, schema: { params: Params } },
    async (request) => {
      const actor = actorOf(request);
      const sa = serviceAccountView(
        await findServiceAccount(svc.db, actor.tenantId, request.params.serviceAccountId),
      );
      return (await withinYourPermissions(svc.db, actor, 'service_account', [sa]))[0];
    },
  );

  app.patch(
    '/iam/service-accounts/:serviceAccountId',
    {
      config: { permission: 'iam:service-accounts:manage' },
      schema: {
        params: Params,
        body: Strict({
          name: Type.Optional(Name),
          email: Type.Optional(NullableEmail),
          description: Type.Optional(Description),
          status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
        }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const sa = await updateServiceAccount(svc, actor, request.params.serviceAccountId, request.body);
      return (await withinYourPermissions(svc.db, actor, 'service_account', [sa]))[0];
    },
  );

  app.delete(
    '/iam/service-accounts/:serviceAccountId',
    { config: { permission: 'iam:service-accounts:manage' }, schema: { params: Params } },
    async (request, reply) => {
      await deleteServiceAccount(svc, actorOf(request), request.params.serviceAccountId);
      return reply.status(204).send();
    },
  );

  app.get(
    '/iam/service-accounts/:serviceAccountId/assignments',
    { config: { permission: 'iam:service-accounts:read' }, schema: { params: Params } },
    async (request) => {
      const actor = actorOf(request);
      await findServiceAccount(svc.db, actor.tenantId, request.params.serviceAccountId);
      return getAssignments(svc.db, actor.tenantId, {
        type: 'service_account',
        id: request.params.serviceAccountId,
      });
    },
  );

  app.put(
    '/iam/service-accounts/:serviceAccountId/assignments',
    {
      config: { permission: 'iam:service-accounts:manage' },
      schema: {
        params: Params,
        body: Strict({ groupIds: Type.Optional(IdList), roleIds: Type.Optional(IdList) }),
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const id = request.params.serviceAccountId;
      return setAssignments(svc, actor, { type: 'service_account', id }, request.body, (trx) =>
        findServiceAccount(trx, actor.tenantId, id),
      );
    },
  );

  app.get(
    '/iam/service-accounts/:serviceAccountId/keys',
    {
      config: {
        authorize: (_request, actor) => assertMayReadKeysOf(actor, { type: 'service_account', id: '' }),
      },
      schema: { params: Params, querystring: KeyListQuery },
    },
    async (request) => {
      const actor = actorOf(request);
      const owner = { type: 'service_account' as const, id: request.params.serviceAccountId };
      assertMayReadKeysOf(actor, owner);
      await findServiceAccount(svc.db, actor.tenantId, owner.id);
      return listKeysOf(svc, actor, owner, request.query);
    },
  );

  app.post(
    '/iam/service-accounts/:serviceAccountId/keys',
    { config: { permission: 'iam:keys:manage' }, schema: { params: Params, body: NewKeyBody } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const owner = { type: 'service_account' as const, id: request.params.serviceAccountId };
      return reply.status(201).send(await createKeyFor(svc, actorOf(request), owner, request.body));
    },
  );
}
