/** `/iam/apis`: registering the APIs the gateway fronts (src/gateway/apis.ts holds the rules). */
import { operations as op } from '../../contract/operations.js';
import { buildApiPostmanCollection } from '../../devtools/postman.js';
import { apiView, createApi, deleteApi, findApi, listApis, updateApi } from '../../gateway/apis.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, requestBaseUrl } from '../auth.js';
import { route } from '../contract.js';

export async function apiRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  const { config } = svc;
  route(app, op.listApis, async (request) => ({ items: await listApis(svc.db, actorOf(request).tenantId) }));

  // Each write's 'apis-changed' event starts this instance's reload at once; the answer waits for
  // it, so the caller's next request through the gateway sees the change (other instances hear of
  // it on the change feed).
  route(app, op.createApi, async (request, reply) => {
    const view = await createApi(svc, actorOf(request), request.body);
    await deps.apis.loaded();
    return reply.status(201).send(view);
  });

  route(app, op.getApi, async (request) =>
    apiView(svc.db, await findApi(svc.db, actorOf(request).tenantId, request.params.apiId)),
  );

  route(app, op.updateApi, async (request) => {
    const view = await updateApi(svc, actorOf(request), request.params.apiId, request.body);
    await deps.apis.loaded();
    return view;
  });

  route(app, op.deleteApi, async (request, reply) => {
    await deleteApi(svc, actorOf(request), request.params.apiId);
    await deps.apis.loaded();
    return reply.status(204).send();
  });

  route(app, op.apiPostmanCollection, async (request, reply) => {
    const api = await apiView(svc.db, await findApi(svc.db, actorOf(request).tenantId, request.params.apiId));
    const file = `${api.name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'api'}.postman_collection.json`;
    reply.header('content-disposition', `attachment; filename="${file}"`);
    reply.header('cache-control', 'no-store');
    return buildApiPostmanCollection({
      baseUrl: requestBaseUrl(config, request),
      region: config.sigv4.region,
      service: config.sigv4.service,
      version: deps.version,
      api,
    });
  });
}
