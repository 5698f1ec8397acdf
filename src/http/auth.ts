/**
 * Authentication and permission checks for every route. A route declares in its `config`
 * whether it is open (`auth: 'none'`) and which permission it needs; everything else needs
 * credentials. Domain code then applies finer rules (self-service on one's own keys).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { KeyEntry } from '../auth/key-authority.js';
import { type AuthDeps, actorFromToken } from '../auth/login.js';
import { authenticateSigned, isSignedRequest } from '../auth/signed-request.js';
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';
import { sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `none`: open route. Default: credentials required. */
    auth?: 'none';
    /** The permission this route needs (checked after authentication). */
    permission?: string;
    /**
     * Finer access rules that depend on the target (e.g. "the key's owner, or iam:keys:manage"),
     * run after authentication and before the body is validated. Throws AppError to refuse.
     */
    authorize?: (request: FastifyRequest, actor: Actor) => Promise<void> | void;
  }
  interface FastifyRequest {
    actor: Actor | null;
    /** The key cache entry of a request signed with SigV4 (null for token requests). */
    signedKey: KeyEntry | null;
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
  app.decorateRequest('signedKey', null);
  // preValidation: credentials are checked before the body and parameters are validated, so an
  // unauthenticated caller learns nothing about a route's inputs.
  app.addHook('preValidation', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.auth === 'none') return;
    if (isSignedRequest(request.headers.authorization, request.raw.url ?? '')) {
      const result = await authenticateSigned(deps, {
        method: request.raw.method ?? request.method,
        url: request.raw.url ?? request.url,
        rawHeaders: request.raw.rawHeaders,
        body: request.rawBody,
        ip: sourceIp(request),
        requestId: request.id,
      });
      if (!result.ok) {
        if (result.retryAfterSeconds !== undefined)
          reply.header('retry-after', String(result.retryAfterSeconds));
        return sendError(reply, request, result.status, result.code, result.message, result.details ?? {});
      }
      if (result.entry.key.type === 'api' && request.url.startsWith('/iam/')) {
        return sendError(
          reply,
          request,
          403,
          'AccessDenied',
          'API-type keys sign data requests only, not /iam requests.',
        );
      }
      request.actor = result.actor;
      request.signedKey = result.entry;
      if (config.permission && !result.actor.permissions.allows(config.permission)) {
        return sendError(
          reply,
          request,
          403,
          'AccessDenied',
          `This needs the permission ${config.permission}.`,
          {
            missingPermission: config.permission,
          },
        );
      }
      await config.authorize?.(request, result.actor);
      return;
    }
    const token = bearerToken(request);
    if (token === undefined) {
      throw new AppError(
        'UNAUTHENTICATED',
        'credentials required: sign the request with AWS Signature Version 4, or send "Authorization: Bearer <token>" from POST /iam/login',
      );
    }
    const { actor } = await actorFromToken(deps, token, {
      sourceIp: sourceIp(request),
      requestId: request.id,
    });
    request.actor = actor;
    if (config.permission && !actor.permissions.allows(config.permission)) {
      throw new AppError('AccessDenied', `this needs the permission ${config.permission}`, {
        missingPermission: config.permission,
      });
    }
    await config.authorize?.(request, actor);
  });
}

/** The authenticated actor of a route that requires credentials. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'credentials required');
  return request.actor;
}
