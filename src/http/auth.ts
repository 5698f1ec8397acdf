/**
 * Authentication and permission checks for every route. A route declares in its `config`
 * whether it is open (`auth: 'none'`) and which permission it needs; everything else needs
 * credentials. Domain code then applies finer rules (self-service on one's own keys).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AuthDeps, actorFromToken } from '../auth/login.js';
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `none`: open route. Default: credentials required. */
    auth?: 'none';
    /** The permission this route needs (checked after authentication). */
    permission?: string;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

export function sourceIp(request: FastifyRequest): string {
  return request.ip;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new AppError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
  }
  return match[1];
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('actor', null);
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    if (config.auth === 'none') return;
    const token = bearerToken(request);
    if (token === undefined) {
      throw new AppError(
        'UNAUTHENTICATED',
        'sign in first: send "Authorization: Bearer <token>" from POST /iam/login',
      );
    }
    const { actor } = await actorFromToken(deps, token, {
      sourceIp: sourceIp(request),
      requestId: request.id,
    });
    request.actor = actor;
    if (config.permission && !actor.permissions.allows(config.permission)) {
      throw new AppError('ACCESS_DENIED', `this needs the permission ${config.permission}`, {
        missingPermission: config.permission,
      });
    }
  });
}

/** The authenticated actor of a route that requires credentials. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'credentials required');
  return request.actor;
}
