/**
 * The gateway: a request under a registered API's base path is authenticated like the data API,
 * authorized against its route's permission (src/gateway/decide.ts) and forwarded to the API's
 * upstream with @fastify/reply-from (undici): query unchanged but for a presigned URL's own
 * parameters, the response streamed back as it comes.
 *
 * One catch-all route serves every base path of every tenant, because APIs are registered at run
 * time (on any instance) and Fastify's routes are fixed once it starts. A path under no registered
 * base path is answered exactly like any unknown path (404). The body is not parsed: a signed
 * payload is read (up to the body limit) and checked before anything is forwarded; an
 * UNSIGNED-PAYLOAD body (only on APIs that allow it) or a key token's body streams through.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { rateLimitHeaderFields } from '../../auth/login.js';
import { isSignedRequest } from '../../auth/signed-request.js';
import { isSigV4QueryAuthParam } from '../../auth/sigv4/query-auth-params.js';
import { AppError } from '../../errors.js';
import { decide, type GatewayDecision, type GatewayDeps, identityHeaders } from '../../gateway/decide.js';
import type { HistogramChild } from '../../observability/bound-metrics.js';
import { propagationHeaderNames } from '../../observability/tracing.js';
import type { App } from '../app-types.js';
import { sourceIp } from '../auth.js';
import { sendError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The gateway's catch-all route (not part of the admin contract or the OpenAPI document). */
    gateway?: boolean;
  }
  interface FastifyRequest {
    /** A forwarded request whose upstream answered: its API's series and the wait for the upstream, in ms. */
    upstreamTiming: UpstreamTiming | null;
  }
}

interface UpstreamTiming {
  series: ApiSeries;
  waitedMs: number;
}

/** A registered API's gateway histograms, found once per API id. */
interface ApiSeries {
  upstream: HistogramChild;
  added: HistogramChild;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Headers a client may never pass to an upstream: its credentials, and latchkey's identity headers. */
function isStrippedHeader(name: string): boolean {
  return name === 'authorization' || name.startsWith('x-amz-') || name.startsWith('x-latchkey-');
}

/** The query as sent, without a presigned URL's authentication parameters (order and spelling kept). */
export function forwardedQuery(url: string): string {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return '';
  const query = url.slice(q + 1);
  if (!/x-amz-/i.test(query)) return query;
  return query
    .split('&')
    .filter((part) => {
      const eq = part.indexOf('=');
      const raw = eq === -1 ? part : part.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        return true;
      }
      return !isSigV4QueryAuthParam(name);
    })
    .join('&');
}

/** The request body, read whole, or a 413 once it passes `limit` bytes. */
async function readBody(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      stream.destroy();
      throw new AppError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Is the payload declared unsigned (header or presigned query)? Then the body is not read. */
function declaresUnsignedPayload(request: FastifyRequest): boolean {
  if (request.headers['x-amz-content-sha256'] === 'UNSIGNED-PAYLOAD') return true;
  const url = request.raw.url ?? '';
  return /[?&]x-amz-content-sha256=UNSIGNED-PAYLOAD(&|$)/i.test(url);
}

function upstreamError(reply: FastifyReply, request: FastifyRequest, error: Error & { statusCode?: number }) {
  if (error.statusCode === 504) {
    return sendError(reply, request, 'UPSTREAM_TIMEOUT', 'the upstream did not answer in time');
  }
  return sendError(reply, request, 'UPSTREAM_UNAVAILABLE', 'the upstream could not be reached');
}

export async function gatewayRoutes(app: App, deps: GatewayDeps): Promise<void> {
  // Bodies stay streams here; the handler decides whether to read one (see above).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  await app.register(replyFrom, {
    disableRequestLogging: true,
    // An https upstream's certificate is verified (undici's default, stated because reply-from
    // sets its own `tls.rejectUnauthorized` option to false when none is given).
    undici: { connections: 128, pipelining: 1, connect: { rejectUnauthorized: true } },
  });
  const bodyLimit = deps.svc.config.bodyLimitBytes;
  const { upstreamDuration, gatewayAdded } = deps.svc.metrics;
  const seriesById = new Map<string, ApiSeries>();
  const seriesOf = (apiId: string): ApiSeries => {
    let series = seriesById.get(apiId);
    if (series === undefined) {
      series = {
        upstream: upstreamDuration.child({ api: apiId }),
        added: gatewayAdded.child({ api: apiId }),
      };
      seriesById.set(apiId, series);
    }
    return series;
  };
  app.decorateRequest('upstreamTiming', null);
  // With tracing on, the upstream gets latchkey's own trace headers (src/observability/tracing.ts).
  const traceHeaders = propagationHeaderNames();

  /** Forward an allowed request (its body, if it was read, is sent as read). */
  const forward = (
    request: FastifyRequest,
    reply: FastifyReply,
    decision: Extract<GatewayDecision, { kind: 'allowed' }>,
    identity: Record<string, string>,
    body: Buffer | undefined,
  ): FastifyReply => {
    if (body !== undefined) request.body = Readable.from([body]);
    const { api } = decision;
    const query = forwardedQuery(request.raw.url ?? '');
    const limits = decision.rateLimit ? rateLimitHeaderFields(decision.rateLimit) : undefined;
    const forwardedAt = performance.now();
    return reply.from(`${api.origin}${api.upstreamPath}${decision.restPath}`, {
      timeout: api.timeoutMs,
      // Called when the upstream's response headers arrive: its latency, and a limited key's
      // RateLimit fields, which are latchkey's whatever the upstream says.
      rewriteHeaders: (headers: IncomingHttpHeaders) => {
        const waitedMs = performance.now() - forwardedAt;
        const series = seriesOf(api.id);
        series.upstream.observe(waitedMs / 1000);
        request.upstreamTiming = { series, waitedMs };
        return limits ? { ...headers, ...limits } : headers;
      },
      queryString: () => query,
      // A new object rather than reply-from's copy with names set to undefined and the identity
      // assigned onto it: that object leaves V8's fast properties, and building it, then undici
      // reading it, cost several times more (measured: 0.45 against 12 µs in a loop).
      rewriteRequestHeaders: (_req, headers) => {
        const sent: Record<string, unknown> = {};
        for (const name in headers) {
          if (isStrippedHeader(name) || (traceHeaders.length > 0 && traceHeaders.includes(name))) continue;
          sent[name] = headers[name];
        }
        for (const name in identity) sent[name] = identity[name];
        return sent as typeof headers;
      },
      onError: (failed, { error }) => upstreamError(failed as FastifyReply, request, error as Error),
    });
  };

  /** Answer a decision: forwarded, refused, or not ours (404 like any unknown path). */
  const answer = (
    request: FastifyRequest,
    reply: FastifyReply,
    decision: GatewayDecision,
    body: Buffer | undefined,
  ): FastifyReply | Promise<FastifyReply> => {
    if (decision.kind === 'not-ours') return reply.callNotFound() as unknown as FastifyReply;
    // Who called, for the access log, once the signature or token has named them.
    const { caller } = decision;
    if (caller) request.actor = caller.actor;
    if (decision.kind === 'refused') {
      if (decision.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(decision.retryAfterSeconds));
      if (decision.rateLimit) reply.headers(rateLimitHeaderFields(decision.rateLimit));
      return sendError(reply, request, decision.code, decision.message, decision.details ?? {});
    }
    const identity = identityHeaders(deps, decision, request.id);
    return identity instanceof Promise
      ? identity.then((headers) => forward(request, reply, decision, headers, body))
      : forward(request, reply, decision, identity, body);
  };

  app.route({
    method: METHODS,
    url: '/*',
    exposeHeadRoute: false,
    config: { auth: 'none', gateway: true },
    // What latchkey added to an answered request: all of its time but the wait for the upstream.
    onResponse: (request, reply, done) => {
      const timing = request.upstreamTiming;
      if (timing !== null) timing.series.added.observe((reply.elapsedTime - timing.waitedMs) / 1000);
      done();
    },
    // Not an async function: a signed request whose key is cached is decided and forwarded without
    // a promise (as the data API's requests are authenticated; bench/gateway.ts measures it).
    handler: (request, reply) => {
      if (deps.apis.empty) return reply.callNotFound();
      const raw = request.raw;
      const stream = request.body instanceof Readable ? request.body : undefined;
      const authorization = request.headers.authorization;
      const signed = isSignedRequest(authorization, raw.url ?? '');
      let body: Buffer | undefined;
      const decision = decide(deps, {
        method: raw.method ?? request.method,
        url: raw.url ?? request.url,
        rawHeaders: raw.rawHeaders,
        ...(authorization !== undefined ? { authorization } : {}),
        body: undefined,
        ip: sourceIp(request),
        requestId: request.id,
        loadBody:
          signed && stream && !declaresUnsignedPayload(request)
            ? async () => {
                body = await readBody(stream, bodyLimit);
                return body;
              }
            : undefined,
      });
      // A promise must settle with the reply (a thenable: Fastify then waits for the response to
      // end); a synchronous handler that has answered returns nothing.
      if (decision instanceof Promise) return decision.then((d) => answer(request, reply, d, body));
      const answered = answer(request, reply, decision, body);
      return answered instanceof Promise ? answered : undefined;
    },
  });
}
