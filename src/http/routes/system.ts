import { sql } from 'kysely';
import type { App, RouteDeps } from '../app-types.js';

export async function systemRoutes(app: App, deps: RouteDeps): Promise<void> {
  const open = { config: { auth: 'none' as const } };

  app.get('/healthcheck', open, async (_request, reply) => {
    const started = performance.now();
    try {
      await sql`select 1`.execute(deps.svc.db);
      return {
        status: 'ok',
        database: {
          status: 'ok',
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
  app.get('/version', open, async () => ({
    name: 'latchkey',
    version: deps.version,
    node: process.version,
    sigv4: deps.svc.config.sigv4,
  }));

  app.get('/.well-known/jwks.json', open, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return deps.signingKeys.jwks();
  });
}
