import { issueSessionCredentials, revokeSessionCredentials } from '../../auth/session-credentials.js';
import { operations as op } from '../../contract/operations.js';
import { AppError } from '../../errors.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';

/** Temporary SigV4 credentials (src/auth/session-credentials.ts). */
export async function sessionCredentialRoutes(app: App, deps: RouteDeps): Promise<void> {
  route(app, op.createSessionCredentials, async (request, reply) => {
    const actor = actorOf(request);
    const entry = request.signedKey;
    const claims = request.tokenClaims;
    let source: Parameters<typeof issueSessionCredentials>[2];
    if (entry !== null && request.signedSecretVersion !== null) {
      source = { kind: 'signed', entry, secretVersion: request.signedSecretVersion };
    } else if (claims !== null) {
      const keyEntry = claims.via === 'key' && claims.akid ? await deps.keys.get(claims.akid) : undefined;
      source = { kind: 'token', claims, ...(keyEntry ? { entry: keyEntry } : {}) };
    } else {
      throw new AppError('UNAUTHENTICATED', 'credentials required');
    }
    const body = request.body ?? {};
    const issued = await issueSessionCredentials(
      deps.svc,
      actor,
      source,
      { durationSeconds: body.durationSeconds, permissions: body.permissions },
      (set) => deps.apis.expanded(set, actor.tenantId),
    );
    reply.header('cache-control', 'no-store');
    return reply.code(201).send(issued);
  });

  route(app, op.revokeSessionCredentials, async (request, reply) => {
    await revokeSessionCredentials(deps.svc, actorOf(request), request.params.accessKeyId);
    return reply.code(204).send();
  });
}
