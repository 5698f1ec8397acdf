/**
 * Authentication and permission checks for every route. A route declares in its `config`
 * whether it is open (`auth: 'none'`) and which permission it needs; everything else needs
 * credentials. Domain code then applies finer rules (self-service on one's own keys).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyEntry } from '../auth/key-authority.js';
import {
  type AuthDeps,
  actorFromToken,
  bearerTokenOf,
  rateLimitHeaderFields,
  type TokenActor,
} from '../auth/login.js';
import { authenticateSigned, isSignedRequest, type SignedAuthResult } from '../auth/signed-request.js';
import type { TokenClaims } from '../auth/tokens/tokens.js';
import type { Actor } from '../context.js';
import { AppError } from '../errors.js';
import type { UsageKey } from '../traffic/usage.js';
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
    /**
     * A route that authenticates some requests itself (GitHub-signed leak reports): true when it
     * did (the request then has no actor), false to require the usual credentials. Runs before the
     * body is validated, synchronously; throws AppError to refuse.
     */
    ownAuthentication?: (request: FastifyRequest) => boolean;
  }
  interface FastifyRequest {
    actor: Actor | null;
    /** The key cache entry of a request signed with SigV4 (null for token requests). */
    signedKey: KeyEntry | null;
    /** The version of the key's secret a signed request was signed with (null for token requests). */
    signedSecretVersion: number | null;
    /** A token request's verified claims (null for signed requests). */
    tokenClaims: (TokenClaims & { exp: number }) | null;
  }
}

/** Is the matched route an IAM route (`/iam` and below)? Decided on the route, not the URL sent. */
export function isIamRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && (route === '/iam' || route.startsWith('/iam/'));
}

export function sourceIp(request: FastifyRequest): string {
  return request.ip;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const token = bearerTokenOf(request.headers.authorization);
  if (token === null) {
    throw new AppError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
  }
  return token;
}

/**
 * The address a caller's own tools (sample cURL, Postman collections) should name: the configured
 * public URL, else the one the caller reached us at.
 */
export function requestBaseUrl(config: { publicUrl?: string | undefined }, request: FastifyRequest): string {
  return (config.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('signedKey', null);
  app.decorateRequest('signedSecretVersion', null);
  app.decorateRequest('tokenClaims', null);

  /** After authentication: the route's permission, then its finer rules. Throws AppError to refuse. */
  const authorize = (request: FastifyRequest, actor: Actor): Promise<void> | undefined => {
    const config = request.routeOptions.config;
    if (config.permission && !actor.permissions.allows(config.permission)) {
      throw new AppError('AccessDenied', `This needs the permission ${config.permission}.`, {
        missingPermission: config.permission,
      });
    }
    return config.authorize?.(request, actor) ?? undefined;
  };

  /**
   * `authorize`, counting a key's request in its usage: `denied` when refused for want of
   * permission, `ok` otherwise (what the route then answers is the route's business).
   */
  const authorizeKey = (request: FastifyRequest, actor: Actor, key: UsageKey): Promise<void> | undefined => {
    const nowMs = deps.svc.clock.now().getTime();
    const counted = (error: unknown) => {
      const denied =
        error instanceof AppError && (error.code === 'AccessDenied' || error.code === 'PRIVILEGE_ESCALATION');
      deps.usage.count(key, null, denied ? 'denied' : 'ok', nowMs);
      throw error;
    };
    let pending: Promise<void> | undefined;
    try {
      pending = authorize(request, actor);
    } catch (error) {
      counted(error);
    }
    if (pending === undefined) {
      deps.usage.count(key, null, 'ok', nowMs);
      return undefined;
    }
    return pending.then(() => deps.usage.count(key, null, 'ok', nowMs), counted);
  };

  /** `null` when the request is refused: the answer is sent and the route must not run. */
  const signed = (
    request: FastifyRequest,
    reply: FastifyReply,
    result: SignedAuthResult,
  ): Promise<void> | undefined | null => {
    if (!result.ok) {
      if (result.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(result.retryAfterSeconds));
      if (result.rateLimit) reply.headers(rateLimitHeaderFields(result.rateLimit));
      sendError(reply, request, result.code, result.message, result.details ?? {});
      return null;
    }
    if (result.rateLimit) reply.headers(rateLimitHeaderFields(result.rateLimit));
    // The matched route, never the raw URL: `/%69am/me` is routed to /iam/me too.
    if (result.entry.key.type === 'api' && isIamRoute(request)) {
      deps.usage.count(result.entry.key, null, 'denied', deps.svc.clock.now().getTime());
      sendError(reply, request, 'AccessDenied', 'API-type keys sign data requests only, not /iam requests.');
      return null;
    }
    request.actor = result.actor;
    request.signedKey = result.entry;
    request.signedSecretVersion = result.secretVersion;
    return authorizeKey(request, result.actor, result.entry.key);
  };

  /** Like `signed`: no promise when the token was verified before and its key is cached. */
  const bearer = (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined => {
    const token = bearerToken(request);
    if (token === undefined) {
      throw new AppError(
        'UNAUTHENTICATED',
        'credentials required: sign the request with AWS Signature Version 4, or send "Authorization: Bearer <token>" from POST /iam/login',
      );
    }
    const result = actorFromToken(deps, token, {
      sourceIp: sourceIp(request),
      requestId: request.id,
      method: request.method,
    });
    return result instanceof Promise
      ? result.then((r) => withToken(request, reply, r))
      : withToken(request, reply, result);
  };

  const withToken = (
    request: FastifyRequest,
    reply: FastifyReply,
    { actor, claims, entry, rateLimit }: TokenActor,
  ): Promise<void> | undefined => {
    request.actor = actor;
    request.tokenClaims = claims;
    if (rateLimit) reply.headers(rateLimitHeaderFields(rateLimit));
    return entry ? authorizeKey(request, actor, entry.key) : authorize(request, actor);
  };

  // preValidation: credentials are checked before the body and parameters are validated, so an
  // unauthenticated caller learns nothing about a route's inputs. Written with a callback, not as
  // an async function: a signed request whose key is cached is then checked without a promise
  // (bench/auth.ts measures this path). A refused request is answered here and `done` is not called.
  app.addHook('preValidation', (request, reply, done) => {
    if (request.routeOptions.config.auth === 'none') return done();
    let outcome: Promise<unknown> | undefined | null;
    try {
      if (request.routeOptions.config.ownAuthentication?.(request)) return done();
      if (isSignedRequest(request.headers.authorization, request.raw.url ?? '')) {
        const result = authenticateSigned(deps, {
          method: request.raw.method ?? request.method,
          url: request.raw.url ?? request.url,
          rawHeaders: request.raw.rawHeaders,
          body: request.rawBody,
          ip: sourceIp(request),
          requestId: request.id,
        });
        outcome =
          result instanceof Promise
            ? result.then((r) => signed(request, reply, r))
            : signed(request, reply, result);
      } else {
        outcome = bearer(request, reply);
      }
    } catch (error) {
      return done(error as Error);
    }
    if (outcome === null) return;
    if (outcome === undefined) return done();
    outcome.then((o) => {
      if (o !== null) done();
    }, done);
  });
}

/** The authenticated actor of a route that requires credentials. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'credentials required');
  return request.actor;
}
