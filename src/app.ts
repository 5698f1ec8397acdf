/** buildApp(services): the Fastify instance with plugins and routes. It never listens (see main.ts). */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { fastifyTrustProxy } from './config.js';
import { AppError } from './errors.js';
import type { GatewayDeps } from './gateway/decide.js';
import type { App, RouteDeps } from './http/app-types.js';
import { registerAuth } from './http/auth.js';
import { registerContractChecks } from './http/contract-checks.js';
import { registerErrorHandling, sendError } from './http/errors.js';
import { apiRoutes } from './http/routes/apis.js';
import { consoleRoutes } from './http/routes/console.js';
import { dataRoutes } from './http/routes/data.js';
import { devtoolsRoutes } from './http/routes/devtools.js';
import { gatewayRoutes } from './http/routes/gateway.js';
import { groupRoleRoutes } from './http/routes/groups-roles.js';
import { keyRoutes } from './http/routes/keys.js';
import { leakRoutes } from './http/routes/leaks.js';
import { mfaRoutes } from './http/routes/mfa.js';
import { notificationRoutes } from './http/routes/notifications.js';
import { serviceAccountRoutes } from './http/routes/service-accounts.js';
import { sessionRoutes } from './http/routes/session.js';
import { sessionCredentialRoutes } from './http/routes/session-credentials.js';
import { settingsAuditRoutes } from './http/routes/settings-audit.js';
import { ssoRoutes } from './http/routes/sso.js';
import { systemRoutes } from './http/routes/system.js';
import { usageRoutes } from './http/routes/usage.js';
import { userRoutes } from './http/routes/users.js';
import { verifyRoutes } from './http/routes/verify.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { validatorCompiler } from './http/validation.js';
import { accessLogWriter, lazyChildLogger } from './observability/access-log.js';
import { answerCounter } from './observability/http-metrics.js';
import { requestTracing } from './observability/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received (request signatures are computed over it). */
    rawBody?: Buffer;
    /** The stable code of the error this request was answered with (counted in /metrics). */
    errorCode?: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface BuildOptions {
  /** Check every answer of a contract route against the contract (the test suite turns this on). */
  checkContract?: boolean;
}

export async function buildApp(
  deps: GatewayDeps & Pick<RouteDeps, 'pingRedis'>,
  options: BuildOptions = {},
): Promise<App> {
  const { svc } = deps;
  const app = Fastify({
    loggerInstance: svc.logger as FastifyBaseLogger,
    // One access line per request, written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    bodyLimit: svc.config.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(svc.config.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // Errors Fastify raises before routing (a malformed URL) get the same JSON error shape.
    frameworkErrors: (error, request, reply) => {
      const malformedUrl = error.code === 'FST_ERR_BAD_URL';
      reply.header('x-request-id', request.id);
      return sendError(
        reply,
        request,
        malformedUrl ? 'INVALID_URL' : 'BAD_REQUEST',
        malformedUrl
          ? 'the request URL is malformed (bad percent-encoding)'
          : 'the request could not be read',
      );
    },
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): a span per request, current for everything after this
  // first hook. Off: no hook at all.
  const tracing = requestTracing();
  if (tracing) {
    app.addHook('onRequest', tracing.onRequest);
    app.addHook('onRequestAbort', tracing.onRequestAbort);
  }
  // A callback, not an async function: no promise per request (every request runs it).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // NUL cannot be stored in PostgreSQL text and is never meaningful in latchkey's inputs:
    // refuse it up front, for every route, the same way on both engines.
    if (/%00/i.test(request.url) || request.url.includes('\u0000')) {
      return done(new AppError('VALIDATION_FAILED', 'the request URL contains a NUL character (%00)'));
    }
    done();
  });

  // Every answer is counted once it is written (GET /metrics): by route pattern and status, and by
  // error code when it is an error (sendError notes the code on the request).
  app.decorateRequest('errorCode', undefined);
  const countAnswer = answerCounter(svc.metrics);
  const writeAccessLine = accessLogWriter(svc.logger, tracing?.ids);
  app.addHook('onResponse', (request, reply, done) => {
    // The matched route pattern, read once: Fastify builds a new routeOptions object per read.
    const route = request.routeOptions.url;
    countAnswer(request, reply, route);
    writeAccessLine?.(request, reply, route);
    tracing?.onResponse(request, reply);
    done();
  });

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(
    ['application/json', 'application/*+json'],
    { parseAs: 'buffer' },
    (request, body, done) => {
      const raw = body as Buffer;
      request.rawBody = raw;
      if (raw.length === 0) return done(null, undefined);
      const text = raw.toString('utf8');
      jsonParser(request, text, (error, value) => {
        if (error) return done(error, undefined);
        // Valid JSON can carry NUL only as the \u0000 escape.
        if (/\\u0000/i.test(text)) {
          return done(
            new AppError('VALIDATION_FAILED', 'the body contains a NUL character (\\u0000)'),
            undefined,
          );
        }
        done(null, value);
      });
    },
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (request, body, done) => {
      const raw = body as Buffer;
      request.rawBody = raw;
      const fields = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      if (Object.entries(fields).some(([k, v]) => `${k}${v}`.includes('\u0000'))) {
        return done(new AppError('VALIDATION_FAILED', 'the body contains a NUL character'), undefined);
      }
      done(null, fields);
    },
  );

  registerErrorHandling(app as unknown as FastifyInstance);
  registerAuth(app as unknown as FastifyInstance, deps);
  if (options.checkContract) registerContractChecks(app as unknown as FastifyInstance);

  const routeDeps: RouteDeps = { ...deps, version: VERSION };
  for (const routes of [
    systemRoutes,
    sessionRoutes,
    mfaRoutes,
    sessionCredentialRoutes,
    userRoutes,
    serviceAccountRoutes,
    keyRoutes,
    groupRoleRoutes,
    settingsAuditRoutes,
    usageRoutes,
    notificationRoutes,
    apiRoutes,
    webhookRoutes,
    leakRoutes,
    ssoRoutes,
    verifyRoutes,
    // The data API's paths are one static prefix per registry resource (/agent/…), so they never
    // shadow /iam, /healthcheck, /version, /profile, /openapi.json, /docs or /console.
    dataRoutes,
    devtoolsRoutes,
    consoleRoutes,
    // Last: the catch-all under which registered APIs' base paths are served (src/gateway). Static
    // routes always win over it in Fastify's router; base paths may not use their first segments.
    gatewayRoutes,
  ]) {
    await app.register(async (scope) => routes(scope as App, routeDeps));
  }
  return app as App;
}
