/**
 * The gateway's decision without the proxy: `POST /v1/verify` for services that keep their own
 * front door (the `latchkey/verify` middleware calls it), and `GET /v1/authz` for nginx's
 * `auth_request`. Both run the same checks as the gateway (src/gateway/decide.ts).
 */
import fastJsonStringify from 'fast-json-stringify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { rateLimitHeaderFields } from '../../auth/login.js';
import { EMPTY_SHA256, UNSIGNED_PAYLOAD } from '../../auth/sigv4/canonical.js';
import { operations as op } from '../../contract/operations.js';
import { RefusedRequest, VerifiedRequest } from '../../contract/views.js';
import { type ErrorCode, statusOf } from '../../errors.js';
import { authenticate, decide, identityHeaders } from '../../gateway/decide.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, sourceIp } from '../auth.js';
import { route } from '../contract.js';

/** `https://host:port/path?query#fragment` → `/path?query`, exactly as written (no normalising). */
function requestTarget(url: string): { target: string; authority: string } | undefined {
  const match = /^https?:\/\/([^/?#]+)([^#]*)/i.exec(url);
  if (!match) return undefined;
  const rest = match[2] as string;
  return { authority: match[1] as string, target: rest.startsWith('/') ? rest : `/${rest}` };
}

/** nginx passes no body to auth_request: a signature over a body cannot be checked there. */
const BODY_NOT_PASSED =
  'nginx does not pass the body to auth_request, so /v1/authz can check only requests without a body, or with x-amz-content-sha256: UNSIGNED-PAYLOAD on an API registered with allowUnsignedPayload';

/**
 * The answer's two shapes, serialised each by its own schema: the route's union schema would make
 * the generic serialiser test every answer against both branches first.
 */
const serializeVerified = fastJsonStringify(VerifiedRequest);
const serializeRefused = fastJsonStringify(RefusedRequest);
const serializeVerdict = (payload: unknown) =>
  (payload as { valid: boolean }).valid ? serializeVerified(payload) : serializeRefused(payload);

export async function verifyRoutes(app: App, deps: RouteDeps): Promise<void> {
  route(app, op.verifyRequest, async (request, reply) => {
    const verifier = actorOf(request);
    const b = request.body;
    const invalid = (code: string, message: string) => ({ valid: false as const, code, message });
    const parts = requestTarget(b.url);
    if (!parts) return invalid('InvalidURI', 'url must be an absolute http(s) URL');
    const rawHeaders: string[] = [];
    let hasHost = false;
    for (const [name, value] of Object.entries(b.headers)) {
      if (name.toLowerCase() === 'host') hasHost = true;
      rawHeaders.push(name, value);
    }
    if (!hasHost) rawHeaders.push('host', parts.authority);
    const auth = await authenticate(deps, {
      method: b.method.toUpperCase(),
      url: parts.target,
      rawHeaders,
      body: b.body === undefined ? undefined : Buffer.from(b.body, 'base64'),
      ...(b.bodySha256 !== undefined && b.body === undefined ? { bodySha256: b.bodySha256 } : {}),
      // The client's address when the caller says it: failures are throttled per client, never
      // against the verifying service's own address.
      ip: b.sourceIp ?? sourceIp(request),
      requestId: request.id,
    });
    // Set once nothing can throw any more: an error's answer is not a verdict.
    reply.serializer(serializeVerdict);
    if (!auth.ok) {
      return {
        ...invalid(auth.code, auth.message),
        ...(auth.retryAfterSeconds !== undefined ? { retryAfterSeconds: auth.retryAfterSeconds } : {}),
        ...(auth.rateLimit ? { rateLimit: auth.rateLimit } : {}),
      };
    }
    const { caller } = auth;
    // Another tenant's key is answered as if it did not exist: the verifier learns nothing of it.
    if (caller.actor.tenantId !== verifier.tenantId) {
      return invalid('InvalidAccessKeyId', 'The access key ID you provided does not exist in our records.');
    }
    const allowed = b.permission === undefined ? true : caller.actor.permissions.allows(b.permission);
    deps.usage.count(caller.entry.key, null, allowed ? 'ok' : 'denied', deps.svc.clock.now().getTime());
    return {
      valid: true as const,
      ...(auth.rateLimit ? { rateLimit: auth.rateLimit } : {}),
      tenantId: caller.actor.tenantId,
      principal: caller.principal,
      accessKeyId: caller.accessKeyId,
      keyType: caller.keyType,
      permissions: deps.apis.expanded(caller.actor.permissions, caller.actor.tenantId),
      allowed,
    };
  });

  // nginx understands only 2xx, 401 and 403 from auth_request (anything else is a 500 to the
  // client), so every refusal is one of those two; the body's code says what it was.
  const refuse = (
    reply: FastifyReply,
    request: FastifyRequest,
    code: ErrorCode,
    message: string,
    details = {},
  ) => {
    const status = statusOf(code) === 401 ? 401 : 403;
    request.errorCode = code;
    return reply.status(status).send({ error: { code, message, requestId: request.id, ...details } });
  };

  route(app, op.authorizeForNginx, async (request, reply) => {
    const method = request.headers['x-original-method'];
    const uri = request.headers['x-original-uri'];
    if (typeof method !== 'string' || typeof uri !== 'string' || !uri.startsWith('/')) {
      return refuse(
        reply,
        request,
        'VALIDATION_FAILED',
        'send X-Original-Method and X-Original-URI (proxy_set_header X-Original-URI $request_uri)',
      );
    }
    const claim = request.headers['x-amz-content-sha256'];
    if (typeof claim === 'string' && claim !== EMPTY_SHA256 && claim !== UNSIGNED_PAYLOAD) {
      return refuse(reply, request, 'InvalidRequest', BODY_NOT_PASSED);
    }
    // nginx must not send a length without a body, so the original length (which AWS SDKs sign)
    // comes as X-Original-Content-Length and is checked in its place.
    const rawHeaders: string[] = [];
    const raw = request.raw.rawHeaders;
    let originalLength: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (name.startsWith('x-latchkey-')) {
        // nginx can override the identity headers it knows but cannot drop others by prefix.
        return refuse(
          reply,
          request,
          'InvalidRequest',
          `${raw[i]}: x-latchkey-* headers are latchkey's; a client may not send them`,
        );
      }
      if (name === 'x-original-content-length') originalLength = raw[i + 1];
      else if (name !== 'content-length') rawHeaders.push(raw[i] as string, raw[i + 1] as string);
    }
    if (originalLength !== undefined && originalLength !== '')
      rawHeaders.push('content-length', originalLength);
    const decision = await decide(deps, {
      method,
      url: uri,
      rawHeaders,
      body: undefined,
      ip: sourceIp(request),
      requestId: request.id,
    });
    if (decision.kind === 'not-ours') {
      return refuse(
        reply,
        request,
        'NO_MATCHING_ROUTE',
        `no registered API has a base path containing ${uri.split('?')[0]}`,
      );
    }
    if (decision.kind === 'refused') {
      const hint =
        decision.code === 'SignatureDoesNotMatch' || decision.message.includes('UNSIGNED-PAYLOAD')
          ? ` (${BODY_NOT_PASSED})`
          : '';
      if (decision.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(decision.retryAfterSeconds));
      if (decision.rateLimit) reply.headers(rateLimitHeaderFields(decision.rateLimit));
      const code = decision.code === 'NOT_FOUND' ? 'NO_MATCHING_ROUTE' : decision.code;
      return refuse(reply, request, code, `${decision.message}${hint}`, decision.details ?? {});
    }
    for (const [name, value] of Object.entries(await identityHeaders(deps, decision, request.id)))
      reply.header(name, value);
    if (decision.rateLimit) reply.headers(rateLimitHeaderFields(decision.rateLimit));
    return { allowed: true as const, apiId: decision.api.id, permission: decision.route.permission };
  });
}
