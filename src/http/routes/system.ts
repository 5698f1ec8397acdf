import { sql } from 'kysely';
import { operations as op } from '../../contract/operations.js';
import type { App, RouteDeps } from '../app-types.js';
import { route } from '../contract.js';

export async function systemRoutes(app: App, deps: RouteDeps): Promise<void> {
  route(app, op.healthcheck, async (_request, reply) => {
    const started = performance.now();
    try {
      await sql`select 1`.execute(deps.svc.db);
      return {
        status: 'ok' as const,
        database: {
          status: 'ok' as const,
          engine: deps.svc.engine,
          latencyMs: Math.round(performance.now() - started),
        },
      };
    } catch (error) {
      deps.svc.logger.error({ err: error }, 'healthcheck: database unreachable');
      return reply
        .status(503)
        .send({ status: 'unavailable', database: { status: 'unreachable', engine: deps.svc.engine } });
    }
  });

  // The default signing scope is public: clients (and the console) need it to sign requests.
  route(app, op.version, async () => ({
    name: 'latchkey',
    version: deps.version,
    node: process.version,
    sigv4: deps.svc.config.sigv4,
  }));

  route(app, op.jwks, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return deps.signingKeys.jwks();
  });
}
