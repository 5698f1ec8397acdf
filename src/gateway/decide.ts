/**
 * The one decision behind the gateway, nginx's `/v1/authz` and the verify API: who signed the
 * request (or whose key token it carries), which registered API and route it is for, and whether
 * the caller holds the route's permission. Authentication is the data API's own
 * (`authenticateSigned`, `actorFromToken`: the same cache, scopes, key states and failure
 * throttle), so a rule added there applies to all of them.
 *
 * Expected failures are values: `refused` carries the code and message latchkey answers with.
 */

import type { KeyEntry } from '../auth/key-authority.js';
import { type AuthDeps, actorFromToken, bearerTokenOf } from '../auth/login.js';
import { authenticateSigned, isSignedRequest, type SignedAuthResult } from '../auth/signed-request.js';
import type { Actor } from '../context.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { RateLimitHeaders } from '../traffic/control.js';
import type { AssertionSigner } from './assertion.js';
import type { DenialAudit } from './denials.js';
import { type CompiledRoute, matchRoute, type SplitPath, splitRequestPath } from './paths.js';
import type { ApiEntry, ApiRegistry } from './registry.js';

export interface GatewayDeps extends AuthDeps {
  apis: ApiRegistry;
  denials: DenialAudit;
  assertions: AssertionSigner;
}

/** A request to decide on, as it arrived (or, for the verify API, as described). */
export interface GatewayInput {
  method: string;
  /** The request target (`/path?query`) as Node gives it (latin1-decoded). */
  url: string;
  rawHeaders: readonly string[];
  /** The body, when it is signed and was read; undefined when it is not read (UNSIGNED-PAYLOAD). */
  body: Uint8Array | undefined;
  bodySha256?: string;
  /** The Authorization header when the caller has it at hand (saves a scan of the raw headers). */
  authorization?: string;
  /** Reads the body once the request is known to be for a registered API (the gateway's signed payloads). */
  loadBody?: () => Promise<Uint8Array>;
  ip: string;
  requestId: string;
}

/** Who a request is from, as the gateway tells upstreams and the verify API tells callers. */
export interface Caller {
  actor: Actor;
  accessKeyId: string;
  keyType: 'access' | 'api';
  principal: { type: 'user' | 'service_account'; id: string; name: string };
  entry: KeyEntry;
}

export type Refusal = {
  ok: false;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
  /** Set once the caller is known (the refusal came after authentication). */
  caller?: Caller;
  /** RateLimitExceeded / RATE_LIMITED: the RateLimit header fields. */
  rateLimit?: RateLimitHeaders;
};

/** `rateLimit`: the RateLimit header fields every answer to the caller carries (null: no limits). */
export type Authenticated = { ok: true; caller: Caller; rateLimit: RateLimitHeaders | null };

const refusal = (code: ErrorCode, message: string, extra: Partial<Refusal> = {}): Refusal => ({
  ok: false,
  code,
  message,
  ...extra,
});

function headerValue(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if ((rawHeaders[i] as string).toLowerCase() === name) return rawHeaders[i + 1];
  return undefined;
}

function callerOf(actor: Actor, entry: KeyEntry): Caller {
  return {
    actor,
    accessKeyId: entry.key.id,
    keyType: entry.key.type,
    principal: { type: entry.key.owner_type, id: entry.key.owner_id, name: entry.owner.name },
    entry,
  };
}

/**
 * Authenticate a request: SigV4 (header or presigned URL) or a key token. Console sessions
 * (password tokens) are refused: what the gateway forwards always names an access key.
 * Synchronous for a signed request whose key is cached (the common case, kept free of promises as
 * the data API's is); a promise otherwise.
 */
export function authenticate(
  deps: AuthDeps,
  input: GatewayInput,
  allowUnsignedPayload?: (entry: KeyEntry) => boolean,
  /** `false`: the caller records the key's use (with its decision) itself. */
  recordUse = true,
  /** The registered API a refusal's usage is counted under (default: latchkey's own routes). */
  usageApi?: (entry: KeyEntry) => string | null,
): Authenticated | Refusal | Promise<Authenticated | Refusal> {
  const authorization = input.authorization ?? headerValue(input.rawHeaders, 'authorization');
  if (isSignedRequest(authorization, input.url)) {
    const result = authenticateSigned(deps, {
      method: input.method,
      url: input.url,
      rawHeaders: input.rawHeaders,
      body: input.body,
      ...(input.bodySha256 !== undefined ? { bodySha256: input.bodySha256 } : {}),
      ip: input.ip,
      requestId: input.requestId,
      ...(allowUnsignedPayload ? { allowUnsignedPayload } : {}),
      ...(usageApi ? { usageApi } : {}),
      recordUse,
    });
    return result instanceof Promise ? result.then(fromSigned) : fromSigned(result);
  }
  return fromToken(deps, input, authorization);
}

function fromSigned(result: SignedAuthResult): Authenticated | Refusal {
  if (!result.ok) {
    return refusal(result.code, result.message, {
      ...(result.details ? { details: result.details } : {}),
      ...(result.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.retryAfterSeconds } : {}),
      ...(result.rateLimit ? { rateLimit: result.rateLimit } : {}),
    });
  }
  return { ok: true, caller: callerOf(result.actor, result.entry), rateLimit: result.rateLimit };
}

async function fromToken(
  deps: AuthDeps,
  input: GatewayInput,
  authorization: string | undefined,
): Promise<Authenticated | Refusal> {
  const token = bearerTokenOf(authorization);
  if (!token) {
    return refusal(
      'UNAUTHENTICATED',
      'credentials required: sign the request with AWS Signature Version 4, or send "Authorization: Bearer <token>" from POST /iam/login with an access key',
    );
  }
  try {
    const { actor, rateLimit } = await actorFromToken(deps, token, {
      sourceIp: input.ip,
      requestId: input.requestId,
      method: input.method,
    });
    const entry = actor.accessKeyId === undefined ? undefined : await deps.keys.get(actor.accessKeyId);
    if (actor.via !== 'key' || entry === undefined) {
      return refusal(
        'INVALID_TOKEN',
        'this needs an access key: sign the request, or exchange the key for a token (POST /iam/login with auth_mode apikey); console sessions are not accepted',
      );
    }
    return { ok: true, caller: callerOf(actor, entry), rateLimit };
  } catch (error) {
    if (error instanceof AppError) {
      const retry = error.details?.retryAfterSeconds;
      return refusal(error.code, error.message, {
        ...(error.details ? { details: error.details } : {}),
        ...(typeof retry === 'number' ? { retryAfterSeconds: retry } : {}),
        ...(error.headers
          ? {
              rateLimit: {
                policy: error.headers['ratelimit-policy'] ?? '',
                state: error.headers.ratelimit ?? '',
              },
            }
          : {}),
      });
    }
    throw error;
  }
}

export type GatewayDecision =
  /** No registered API's base path contains the path: not a gateway request at all. */
  | { kind: 'not-ours' }
  | ({ kind: 'refused'; api?: ApiEntry } & Refusal)
  | {
      kind: 'allowed';
      api: ApiEntry;
      route: CompiledRoute;
      caller: Caller;
      /** The path after the base path, as sent (`/items/1`, or `/` at the base path itself). */
      restPath: string;
      rateLimit: RateLimitHeaders | null;
    };

/** Segments of a path that cannot be split cleanly, as far as they can be read (to name its API). */
function looseSegments(path: string): string[] {
  return path
    .slice(1)
    .split('/')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
}

/**
 * Decide on a request under a registered API: not ours, refused (with the code latchkey answers),
 * or allowed with the API, route and caller. Every decision after authentication is recorded as
 * the key's last use; denials after authentication also go to the audit log (rate-limited).
 * Synchronous when nothing needs waiting for (no body to read, the key cached).
 */
export function decide(deps: GatewayDeps, input: GatewayInput): GatewayDecision | Promise<GatewayDecision> {
  const q = input.url.indexOf('?');
  const path = q === -1 ? input.url : input.url.slice(0, q);
  const split = splitRequestPath(path);
  const found = deps.apis.find(split.ok ? split.segments : looseSegments(path));
  if (found === undefined) return NOT_OURS;
  if (!split.ok)
    return {
      kind: 'refused',
      ...refusal('INVALID_PATH', `${split.message}; send the path as the upstream should see it`),
    };
  const located: Located = { path, split, tenants: found.tenants, depth: found.depth };
  if (input.loadBody)
    return input.loadBody().then((body) => authenticated(deps, { ...input, body }, located));
  return authenticated(deps, input, located);
}

const NOT_OURS: GatewayDecision = { kind: 'not-ours' };

interface Located {
  path: string;
  split: Extract<SplitPath, { ok: true }>;
  tenants: ReadonlyMap<string, ApiEntry>;
  depth: number;
}

function authenticated(
  deps: GatewayDeps,
  input: GatewayInput,
  located: Located,
): GatewayDecision | Promise<GatewayDecision> {
  const { tenants } = located;
  const auth = authenticate(
    deps,
    input,
    (entry) => tenants.get(entry.key.tenant_id)?.allowUnsignedPayload ?? false,
    false,
    (entry) => tenants.get(entry.key.tenant_id)?.id ?? null,
  );
  return auth instanceof Promise
    ? auth.then((a) => authorized(deps, input, located, a))
    : authorized(deps, input, located, auth);
}

/** A refusal after authentication: the key's last use, and a (rate-limited) audit row. */
function deny(
  deps: GatewayDeps,
  input: GatewayInput,
  caller: Caller,
  api: ApiEntry,
  nowMs: number,
  path: string,
  code: ErrorCode,
  what: { message: string; details?: Record<string, unknown>; permission?: string },
  rateLimit: RateLimitHeaders | null,
): GatewayDecision {
  deps.lastUsed.record(caller.accessKeyId, input.ip, nowMs, { apiId: api.id, decision: 'denied' });
  deps.usage.count(caller.entry.key, api.id, 'denied', nowMs);
  deps.denials.record({
    actor: caller.actor,
    apiId: api.id,
    code,
    method: input.method,
    path,
    ...(what.permission ? { permission: what.permission } : {}),
  });
  return {
    kind: 'refused',
    api,
    ...refusal(code, what.message, { details: what.details ?? {}, caller }),
    ...(rateLimit ? { rateLimit } : {}),
  };
}

function authorized(
  deps: GatewayDeps,
  input: GatewayInput,
  { path, split, tenants, depth }: Located,
  auth: Authenticated | Refusal,
): GatewayDecision {
  if (!auth.ok) return { kind: 'refused', ...auth };
  const { caller } = auth;
  const api = tenants.get(caller.actor.tenantId);
  // Another tenant's API at this base path is none of the caller's business: as if there were none.
  if (api === undefined)
    return { kind: 'refused', ...refusal('NOT_FOUND', `no route ${input.method} ${path}`, { caller }) };

  const nowMs = deps.svc.clock.now().getTime();
  const route = matchRoute(api.routes, input.method, split.segments, depth);
  if (route === undefined) {
    return deny(
      deps,
      input,
      caller,
      api,
      nowMs,
      path,
      'NO_MATCHING_ROUTE',
      { message: `No route of the API ${api.name} matches ${input.method} ${path}.` },
      auth.rateLimit,
    );
  }
  if (!caller.actor.permissions.allows(route.permission)) {
    return deny(
      deps,
      input,
      caller,
      api,
      nowMs,
      path,
      'AccessDenied',
      {
        message: `This needs the permission ${route.permission}.`,
        details: { missingPermission: route.permission },
        permission: route.permission,
      },
      auth.rateLimit,
    );
  }
  deps.lastUsed.record(caller.accessKeyId, input.ip, nowMs, { apiId: api.id, decision: 'allowed' });
  deps.usage.count(caller.entry.key, api.id, 'ok', nowMs);
  const restRaw = split.raw.slice(depth);
  const restPath = `/${restRaw.join('/')}${split.trailingSlash && restRaw.length > 0 ? '/' : ''}`;
  return { kind: 'allowed', api, route, caller, restPath, rateLimit: auth.rateLimit };
}

/**
 * The identity headers an upstream (or nginx, through `auth_request_set`) receives. Synchronous
 * while the caller's assertion is cached (nearly always), a promise when one must be signed.
 */
export function identityHeaders(
  deps: GatewayDeps,
  decision: Extract<GatewayDecision, { kind: 'allowed' }>,
  requestId: string,
): Record<string, string> | Promise<Record<string, string>> {
  const { caller, api, route } = decision;
  const assertion = deps.assertions.sign({
    tenantId: caller.actor.tenantId,
    principalType: caller.principal.type,
    principalId: caller.principal.id,
    accessKeyId: caller.accessKeyId,
    apiId: api.id,
    permission: route.permission,
  });
  return typeof assertion === 'string'
    ? headersOf(decision, requestId, assertion)
    : assertion.then((signed) => headersOf(decision, requestId, signed));
}

function headersOf(
  { caller, route }: Extract<GatewayDecision, { kind: 'allowed' }>,
  requestId: string,
  assertion: string,
): Record<string, string> {
  return {
    'x-latchkey-tenant': caller.actor.tenantId,
    'x-latchkey-principal-type': caller.principal.type,
    'x-latchkey-principal-id': caller.principal.id,
    'x-latchkey-access-key': caller.accessKeyId,
    'x-latchkey-permission': route.permission,
    'x-latchkey-request-id': requestId,
    'x-latchkey-assertion': assertion,
  };
}
