import { sql } from 'kysely';
import { bearerTokenOf } from '../../auth/login.js';
import { operations as op } from '../../contract/operations.js';
import { sameSecret } from '../../crypto/compare.js';
import { AppError } from '../../errors.js';
import { READY_TIMEOUT_MS } from '../../limits.js';
import { METRICS_CONTENT_TYPE } from '../../observability/metrics.js';
import { withTimeout } from '../../time.js';
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

  route(app, op.readyz, async (_request, reply) => {
    const answers = async (check: () => Promise<unknown>) =>
      withTimeout(check(), READY_TIMEOUT_MS).then(
        () => 'ok' as const,
        () => 'unreachable' as const,
      );
    const [database, redis] = await Promise.all([
      answers(() => sql`select 1`.execute(deps.svc.db)),
      deps.pingRedis ? answers(deps.pingRedis) : undefined,
    ]);
    const { stopping } = deps.svc.lifecycle;
    const ready = database === 'ok' && redis !== 'unreachable' && !stopping;
    if (!ready && !stopping) deps.svc.logger.warn({ database, redis }, 'readyz: not ready');
    return reply.status(ready ? 200 : 503).send({
      status: ready ? ('ready' as const) : ('unavailable' as const),
      ...(stopping ? { stopping: true } : {}),
      database: { status: database },
      ...(redis ? { redis: { status: redis } } : {}),
    });
  });

  // The default signing scope is public: clients (and the console) need it to sign requests.
  route(app, op.version, async () => ({
    name: 'latchkey',
    version: deps.version,
    node: process.version,
    sigv4: deps.svc.config.sigv4,
  }));

  // GET /metrics on the main port: only with LATCHKEY_METRICS_TOKEN set, and only for its bearer.
  const metricsToken = deps.svc.config.metricsToken;
  route(app, op.metrics, async (request, reply) => {
    if (metricsToken === undefined) {
      throw new AppError(
        'NOT_FOUND',
        'metrics are not served on this port: set LATCHKEY_METRICS_TOKEN, or LATCHKEY_METRICS_PORT for a loopback port',
      );
    }
    const given = bearerTokenOf(request.headers.authorization);
    if (!given) {
      throw new AppError(
        'UNAUTHENTICATED',
        'send the metrics token: Authorization: Bearer <LATCHKEY_METRICS_TOKEN>',
      );
    }
    if (!sameSecret(given, metricsToken))
      throw new AppError('INVALID_TOKEN', 'this is not the metrics token');
    return reply.header('content-type', METRICS_CONTENT_TYPE).send(await deps.svc.metrics.expose());
  });

  route(app, op.jwks, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return deps.signingKeys.jwks();
  });
}
