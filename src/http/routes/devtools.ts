/**
 * Developer tools: the Postman collection, sample cURL commands, the OpenAPI document and a
 * readable API reference, all generated from the accounting resource registry.
 */
import { publicBaseUrl } from '../../config.js';
import { operations as op } from '../../contract/operations.js';
import { buildOpenApi } from '../../devtools/api-document.js';
import { buildPostmanCollection } from '../../devtools/postman.js';
import { renderReferencePage } from '../../devtools/reference-page.js';
import { buildSampleCurl } from '../../devtools/sample-curl.js';
import type { App, RouteDeps } from '../app-types.js';
import { requestBaseUrl } from '../auth.js';
import { route } from '../contract.js';

export async function devtoolsRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { config } = deps.svc;

  // Any valid credentials (no permission): the collection holds no data and no secret.
  route(app, op.postmanCollection, async (request, reply) => {
    reply.header('content-disposition', 'attachment; filename="postman_collection.json"');
    reply.header('cache-control', 'no-store');
    return buildPostmanCollection({
      baseUrl: requestBaseUrl(config, request),
      region: config.sigv4.region,
      service: config.sigv4.service,
      version: deps.version,
    });
  });

  // The command with a $LATCHKEY_SECRET_KEY placeholder: the server never shows a stored secret again.
  route(app, op.sampleCurl, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const q = request.query;
    return buildSampleCurl({
      baseUrl: requestBaseUrl(config, request),
      path: q.path ?? '/agent/',
      method: q.method,
      accessKeyId: q.accessKeyId,
      region: config.sigv4.region,
      service: config.sigv4.service,
    });
  });

  // With the secret in the body (never stored or logged): also the precomputed variant for old curl.
  route(app, op.sampleCurlWithSecret, async (request, reply) => {
    const b = request.body;
    reply.header('cache-control', 'no-store');
    return buildSampleCurl(
      {
        baseUrl: requestBaseUrl(config, request),
        path: b.path ?? '/agent/',
        method: b.method,
        body: b.body,
        accessKeyId: b.accessKeyId,
        secretAccessKey: b.secretAccessKey,
        region: config.sigv4.region,
        service: config.sigv4.service,
      },
      deps.svc.clock.now(),
    );
  });

  // Anyone may fetch this document (and a cache may keep it): its server URL comes from
  // configuration, so a request's Host header cannot point readers and generated clients elsewhere.
  // Both documents depend on configuration alone: each is built once, on its first request, and
  // sent as the same bytes after that.
  const documentOptions = {
    version: deps.version,
    serverUrl: publicBaseUrl(config),
    region: config.sigv4.region,
    service: config.sigv4.service,
  };
  let openApiJson: string | undefined;
  route(app, op.openapi, async (_request, reply) => {
    openApiJson ??= JSON.stringify(buildOpenApi(documentOptions));
    // Already JSON: sent as is, so the schema serialiser is skipped (the type provider cannot know).
    return reply.type('application/json; charset=utf-8').send(openApiJson as never);
  });

  let referencePage: string | undefined;
  route(app, op.docs, async (_request, reply) => {
    referencePage ??= renderReferencePage(documentOptions);
    return reply.type('text/html; charset=utf-8').send(referencePage);
  });
}
