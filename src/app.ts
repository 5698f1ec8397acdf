/** buildApp(services): the Fastify instance with plugins and routes. It never listens (see main.ts). */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AuthDeps } from './auth/login.js';
import type { App, RouteDeps } from './http/app-types.js';
import { registerAuth } from './http/auth.js';
import { registerErrorHandling } from './http/errors.js';
import { groupRoleRoutes } from './http/routes/groups-roles.js';
import { keyRoutes } from './http/routes/keys.js';
import { serviceAccountRoutes } from './http/routes/service-accounts.js';
import { sessionRoutes } from './http/routes/session.js';
import { settingsAuditRoutes } from './http/routes/settings-audit.js';
import { systemRoutes } from './http/routes/system.js';
import { userRoutes } from './http/routes/users.js';
import { validatorCompiler } from './http/validation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received (request signatures are computed over it). */
    rawBody?: Buffer;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export async function buildApp(deps: AuthDeps): Promise<App> {
  const { svc } = deps;
  const app = Fastify({
    loggerInstance: svc.logger as FastifyBaseLogger,
    bodyLimit: svc.config.bodyLimitBytes,
    trustProxy: svc.config.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(
    ['application/json', 'application/*+json'],
    { parseAs: 'buffer' },
    (request, body, done) => {
      const raw = body as Buffer;
      request.rawBody = raw;
      if (raw.length === 0) return done(null, undefined);
      jsonParser(request, raw.toString('utf8'), done);
    },
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (request, body, done) => {
      const raw = body as Buffer;
      request.rawBody = raw;
      done(null, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
    },
  );

  registerErrorHandling(app as unknown as FastifyInstance);
  registerAuth(app as unknown as FastifyInstance, deps);

  const routeDeps: RouteDeps = { ...deps, version: VERSION };
  for (const routes of [
    systemRoutes,
    sessionRoutes,
    userRoutes,
    serviceAccountRoutes,
    keyRoutes,
    groupRoleRoutes,
    settingsAuditRoutes,
  ]) {
    await app.register(async (scope) => routes(scope as App, routeDeps));
  }
  return app as App;
}
