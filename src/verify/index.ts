/**
 * `latchkey/verify`: protect a service that keeps its own front door with latchkey's keys.
 *
 * The service receives a request signed with AWS Signature Version 4 (or carrying a key token from
 * `POST /iam/login`), describes it to latchkey's `POST /v1/verify`, and lets it through only when
 * latchkey says the credentials hold and, when asked, that they carry a permission. The secret
 * never leaves latchkey, and the body never travels: only its SHA-256, computed here.
 *
 * ```ts
 * import { createVerifier, keepRawBody } from 'latchkey/verify';
 *
 * const latchkey = createVerifier({
 *   endpoint: 'http://latchkey:8080',
 *   credentials: { accessKeyId: process.env.LK_KEY_ID!, secretAccessKey: process.env.LK_SECRET! },
 * });
 * // Express: keep the raw body when parsing it, then check every request.
 * app.use(express.json({ verify: keepRawBody }));
 * app.use(latchkey.express({ permission: 'orders:read' }));
 * // Fastify
 * await app.register(latchkey.fastify({ permission: 'orders:read' }));
 * ```
 *
 * The verifier's own key needs the permission `iam:verify`, and only keys of the verifier's tenant
 * verify. This module is client code: it imports nothing of latchkey's server, and neither Express
 * nor Fastify (their requests are described by the few fields used here).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

// ---- what latchkey answers ---------------------------------------------------------------------

/** Who signed a request that verified: what the middlewares put on `req.latchkey`. */
export interface VerifiedIdentity {
  tenantId: string;
  principal: { type: 'user' | 'service_account'; id: string; name: string };
  accessKeyId: string;
  /** `access` keys may also be exchanged for tokens; `api` keys only sign requests. */
  keyType: 'access' | 'api';
  /** The concrete permissions the request carries (a role's `*` is expanded). */
  permissions: string[];
}

/**
 * The answer of `POST /v1/verify`. `valid: false` carries the code latchkey itself would have
 * answered the request with (`SignatureDoesNotMatch`, `UNAUTHENTICATED`, …) and its message.
 */
export type VerifyResult =
  | ({
      valid: true;
      /** `permission` given: whether it is held; otherwise true. */
      allowed: boolean;
      /** The key has rate limits or quotas: the fields to answer with (`RateLimit-Policy`, `RateLimit`). */
      rateLimit?: RateLimitFields;
    } & VerifiedIdentity)
  | {
      valid: false;
      code: string;
      message: string;
      /** `SlowDown`, `RateLimitExceeded`: how long the client should wait (sent on as `Retry-After`). */
      retryAfterSeconds?: number;
      rateLimit?: RateLimitFields;
    };

/** The draft-ietf-httpapi-ratelimit-headers fields of a limited key. */
export interface RateLimitFields {
  policy: string;
  state: string;
}

/** The RateLimit fields as response headers (none when the key has no limits). */
function rateLimitHeaders(fields: RateLimitFields | undefined): Array<[string, string]> {
  return fields
    ? [
        ['ratelimit-policy', fields.policy],
        ['ratelimit', fields.state],
      ]
    : [];
}

/**
 * latchkey could not be asked: the network failed, the call timed out, latchkey answered 5xx or
 * 429, or its answer was not one. Never a verdict on the request: the middlewares answer 503.
 */
export class LatchkeyUnavailableError extends Error {
  override readonly name = 'LatchkeyUnavailableError';
  constructor(
    message: string,
    /** latchkey's HTTP status, when it answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * latchkey refused the verify call itself (4xx other than 429). 401/403: the verifier's own
 * credentials are wrong or lack `iam:verify`; 404: the endpoint is not a latchkey with
 * `/v1/verify`; 400/413: the described request cannot be verified (over 100 credential headers, a
 * header over 16 KiB, a method that is not letters).
 */
export class LatchkeyRequestError extends Error {
  override readonly name = 'LatchkeyRequestError';
  constructor(
    readonly status: number,
    /** latchkey's error code (`VALIDATION_FAILED`, `AccessDenied`, …). */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- the verifier --------------------------------------------------------------------------------

/** The verifier's own credentials: an access key (each call is signed), or a Bearer token. */
export type VerifierCredentials =
  | { accessKeyId: string; secretAccessKey: string }
  | {
      /**
       * A key token from `POST /iam/login` (`auth_mode: apikey`). Tokens expire: pass a function
       * to fetch a fresh one (it is called for every verification; cache in it).
       */
      token: string | (() => string | Promise<string>);
    };

export interface VerifierOptions {
  /** latchkey's base URL, e.g. `http://latchkey:8080` (a path prefix is kept). */
  endpoint: string;
  credentials: VerifierCredentials;
  /** SigV4 region of the verifier's own calls. Default `ap-southeast-5`. */
  region?: string;
  /** SigV4 service of the verifier's own calls. Default `sqlaccount`. */
  service?: string;
  /** The fetch to use (tests, proxies). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Give up on latchkey after this long (a LatchkeyUnavailableError). Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Headers as a service has them: a plain object (Node's `req.headers`, arrays joined with `,`), a
 * Fetch `Headers` or any iterable of `[name, value]`, or Node's flat `req.rawHeaders` list (the most
 * faithful: repeated headers are joined with `,` as SigV4 signs them, where Node's `req.headers`
 * joins some with `, `).
 */
export type HeadersInput =
  | Readonly<Record<string, string | readonly string[] | number | undefined>>
  | Iterable<readonly [string, string]>
  | readonly string[];

/** A request the service received, as it arrived. */
export interface VerifyRequest {
  method: string;
  /** The absolute URL as the client sent it: `https://orders.example.com/v1/orders?x=1`. */
  url: string;
  headers: HeadersInput;
  /** The body exactly as received (a string is taken as UTF-8). Omit both for an empty body. */
  body?: Uint8Array | string;
  /** The body's SHA-256 (lowercase hex) instead of `body`. */
  bodySha256?: string;
  /** Also ask whether the credentials carry this permission (`allowed` in the answer). */
  permission?: string;
  /**
   * The client's address. latchkey counts failed signatures per address (and records the key's
   * last address): without it, every failure would count against the service's own address.
   */
  sourceIp?: string;
}

/** What the middlewares take. */
export interface MiddlewareOptions<Req> {
  /**
   * The permission every request must carry (403 AccessDenied with `missingPermission` when it
   * does not), or a function choosing it per request (undefined: valid credentials suffice).
   */
  permission?: string | ((request: Req) => string | undefined);
  /** The largest body read for hashing (413 beyond it). Default: Fastify's route bodyLimit, or 1 MiB. */
  bodyLimit?: number;
  /** Told of every failure to verify (latchkey down, misconfigured); default: Fastify logs, Express nothing. */
  onError?: (error: unknown, request: Req) => void;
}

/** The few fields of an Express request the middleware uses (Express's own Request has them). */
export interface ExpressRequestLike extends IncomingMessage {
  protocol: string;
  ip?: string;
  originalUrl: string;
  get(name: string): string | undefined;
  body?: unknown;
  /** Set by `express.json({ verify: keepRawBody })`, or by the middleware when it reads the body. */
  rawBody?: Buffer;
  /** Set by the middleware on a request it lets through. */
  latchkey?: VerifiedIdentity;
}

/** An Express middleware (Express's `app.use` and routes take it as it is). */
export type ExpressMiddleware = (
  req: ExpressRequestLike,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** The few fields of a Fastify request the plugin uses. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
  headers: IncomingHttpHeaders;
  method: string;
  protocol: string;
  ip?: string;
  host?: string;
  originalUrl?: string;
  routeOptions?: { bodyLimit?: number; config?: unknown };
  log?: { error(object: object, message: string): void };
  /** The body as received, set by the plugin's preParsing hook. */
  rawBody?: Buffer | null;
  /** Set by the plugin on a request it lets through. */
  latchkey?: VerifiedIdentity | null;
}

interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload: unknown): FastifyReplyLike;
}

interface FastifyInstanceLike {
  hasRequestDecorator(name: string): boolean;
  decorateRequest(name: string, value: null): unknown;
  addHook(
    name: 'preParsing',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, payload: Readable) => Promise<unknown>,
  ): unknown;
}

/**
 * A Fastify plugin (`app.register(plugin)`). It is registered without encapsulation (the
 * `skip-override` symbol, as fastify-plugin does), so it protects the routes of the scope it is
 * registered in and of that scope's children: register it inside `app.register(async (scope) => …)`
 * to protect only some routes.
 */
export type FastifyPluginLike = ((
  // biome-ignore lint/suspicious/noExplicitAny: any Fastify instance; Fastify's own types are not imported
  instance: any,
  options: unknown,
  done: (error?: Error) => void,
) => void) & { readonly [key: symbol]: unknown };

export interface Verifier {
  /**
   * Ask latchkey about one request. Resolves with its verdict (`valid: false` is a verdict, not an
   * error); rejects with LatchkeyUnavailableError when latchkey cannot be asked, and with
   * LatchkeyRequestError when latchkey refuses the call itself.
   */
  verify(request: VerifyRequest): Promise<VerifyResult>;
  /**
   * Express middleware. Refuses with latchkey's own status and `{"error":{"code","message"}}`: 401
   * for missing or bad credentials (UNAUTHENTICATED, INVALID_TOKEN, EXPIRED_TOKEN), 403 for a wrong
   * signature or key (SignatureDoesNotMatch, InvalidAccessKeyId, AccessKeyInactive, …) and for a
   * permission not held (AccessDenied with `missingPermission`), 400 for a malformed signature or a
   * body that does not match its hash, 429 SlowDown; 503 VERIFIER_UNAVAILABLE when latchkey cannot
   * be asked and 500 VERIFIER_MISCONFIGURED when it refuses the verifier's own credentials (400
   * with latchkey's code when it refuses the described request as malformed). Nothing gets through
   * without latchkey's yes. A request let through has `req.latchkey` (VerifiedIdentity) and
   * `req.rawBody` (a Buffer, when the body was read here or kept by `keepRawBody`).
   *
   * The body must be hashed as received, so either parse it before the middleware keeping the
   * bytes (`express.json({ verify: keepRawBody })`, or `express.raw()`), or let the middleware read
   * it into `req.rawBody` (body parsers placed after it then find the stream read and leave
   * `req.body` unset). A body parsed without keeping the bytes cannot be verified: 500
   * RAW_BODY_UNAVAILABLE.
   */
  express(options?: MiddlewareOptions<ExpressRequestLike>): ExpressMiddleware;
  /**
   * Fastify plugin: a `preParsing` hook reads the body (up to the route's bodyLimit), keeps it in
   * `request.rawBody`, asks latchkey and refuses as the Express middleware does, before anything of
   * the request is parsed or validated; the route's parser then reads the same bytes.
   * `request.latchkey` is set on requests let through. For the types, add to your code:
   * `declare module 'fastify' { interface FastifyRequest { latchkey: VerifiedIdentity | null; rawBody: Buffer | null } }`.
   */
  fastify(options?: MiddlewareOptions<FastifyRequestLike>): FastifyPluginLike;
}

const DEFAULT_REGION = 'ap-southeast-5';
const DEFAULT_SERVICE = 'sqlaccount';
const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_BODY_LIMIT = 1_048_576;
const EMPTY = Buffer.alloc(0);

/** Create a verifier bound to one latchkey and the verifier's own credentials. */
export function createVerifier(options: VerifierOptions): Verifier {
  const base = options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`;
  const verifyUrl = new URL('v1/verify', base);
  if (verifyUrl.protocol !== 'http:' && verifyUrl.protocol !== 'https:')
    throw new TypeError(`endpoint must be an http(s) URL: ${options.endpoint}`);
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const credentials = options.credentials;
  const signer =
    'accessKeyId' in credentials
      ? new SignatureV4({
          credentials: {
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
          },
          region: options.region ?? DEFAULT_REGION,
          service: options.service ?? DEFAULT_SERVICE,
          sha256: Sha256,
          uriEscapePath: true,
        })
      : undefined;

  /** The headers of the verify call itself: signed, or with the Bearer token. */
  async function callHeaders(json: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signer) {
      const query: Record<string, string> = {};
      for (const [k, v] of verifyUrl.searchParams) query[k] = v;
      const signed = await signer.sign({
        method: 'POST',
        protocol: verifyUrl.protocol,
        hostname: verifyUrl.hostname,
        ...(verifyUrl.port ? { port: Number(verifyUrl.port) } : {}),
        path: verifyUrl.pathname,
        query,
        headers: { ...headers, host: verifyUrl.host },
        body: json,
      });
      const out = { ...(signed.headers as Record<string, string>) };
      // fetch sets Host itself, to the same value (the URL's host, default port left out).
      delete out.host;
      return out;
    }
    const source = (credentials as { token: string | (() => string | Promise<string>) }).token;
    let token: string;
    try {
      token = typeof source === 'function' ? await source() : source;
    } catch (error) {
      throw new LatchkeyUnavailableError(
        `the verifier's token could not be had: ${messageOf(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    return { ...headers, authorization: `Bearer ${token}` };
  }

  async function verify(request: VerifyRequest): Promise<VerifyResult> {
    if (request.body !== undefined && request.bodySha256 !== undefined)
      throw new TypeError('give the body or its bodySha256, not both');
    const bodySha256 =
      request.body !== undefined
        ? createHash('sha256').update(request.body).digest('hex')
        : request.bodySha256?.toLowerCase();
    const json = JSON.stringify({
      method: request.method,
      url: request.url,
      headers: credentialHeaders(headerMap(request.headers), request.url),
      ...(bodySha256 !== undefined ? { bodySha256 } : {}),
      ...(request.permission !== undefined ? { permission: request.permission } : {}),
      ...(request.sourceIp !== undefined && isIP(request.sourceIp) !== 0
        ? { sourceIp: request.sourceIp }
        : {}),
    });
    const headers = await callHeaders(json);
    let status: number;
    let text: string;
    try {
      const res = await doFetch(verifyUrl, {
        method: 'POST',
        headers,
        body: json,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      throw new LatchkeyUnavailableError(
        `latchkey at ${verifyUrl.origin} could not be asked: ${messageOf(error)}`,
        undefined,
        { cause: error },
      );
    }
    if (status >= 500 || status === 429)
      throw new LatchkeyUnavailableError(`latchkey answered ${status}: ${text.slice(0, 300)}`, status);
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new LatchkeyUnavailableError(
        `latchkey answered ${status} with no JSON: ${text.slice(0, 300)}`,
        status,
      );
    }
    if (status !== 200) {
      const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      throw new LatchkeyRequestError(
        status,
        typeof error?.code === 'string' ? error.code : 'UNKNOWN',
        typeof error?.message === 'string' ? error.message : text.slice(0, 300),
      );
    }
    if (typeof answer !== 'object' || answer === null || typeof (answer as VerifyResult).valid !== 'boolean')
      throw new LatchkeyUnavailableError(
        `latchkey answered something that is no verdict: ${text.slice(0, 300)}`,
        status,
      );
    return answer as VerifyResult;
  }

  /** The verdict for a request the middlewares hold, as an answer to send or the identity to set. */
  async function judge(
    request: VerifyRequest,
    report: (error: unknown) => void,
  ): Promise<
    | { ok: true; identity: VerifiedIdentity; headers: Array<[string, string]> }
    | {
        ok: false;
        status: number;
        body: ErrorBody;
        retryAfterSeconds?: number;
        headers?: Array<[string, string]>;
      }
  > {
    let result: VerifyResult;
    try {
      result = await verify(request);
    } catch (error) {
      if (error instanceof LatchkeyUnavailableError) {
        report(error);
        return {
          ok: false,
          status: 503,
          body: { error: { code: 'VERIFIER_UNAVAILABLE', message: 'the credentials cannot be checked now' } },
        };
      }
      if (error instanceof LatchkeyRequestError) {
        if (error.status === 400 || error.status === 413)
          return { ok: false, status: 400, body: { error: { code: error.code, message: error.message } } };
        report(error);
        return {
          ok: false,
          status: 500,
          body: {
            error: {
              code: 'VERIFIER_MISCONFIGURED',
              message: 'the credentials cannot be checked: see the log',
            },
          },
        };
      }
      throw error;
    }
    if (!result.valid)
      return {
        ok: false,
        status: statusOfCode(result.code),
        body: { error: { code: result.code, message: result.message } },
        ...(result.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.retryAfterSeconds } : {}),
        headers: rateLimitHeaders(result.rateLimit),
      };
    if (!result.allowed) {
      const permission = request.permission as string;
      return {
        ok: false,
        headers: rateLimitHeaders(result.rateLimit),
        status: 403,
        body: {
          error: {
            code: 'AccessDenied',
            message: `This needs the permission ${permission}.`,
            missingPermission: permission,
          },
        },
      };
    }
    const { tenantId, principal, accessKeyId, keyType, permissions } = result;
    return {
      ok: true,
      identity: { tenantId, principal, accessKeyId, keyType, permissions },
      headers: rateLimitHeaders(result.rateLimit),
    };
  }

  /** Pass the error behind a 500/503 answer to onError (or the fallback), never letting it escape. */
  const tell = <Req>(options: MiddlewareOptions<Req>, request: Req, fallback?: (error: unknown) => void) => {
    return (error: unknown) => {
      try {
        if (options.onError) options.onError(error, request);
        else fallback?.(error);
      } catch {
        // A failing logger must not turn a refusal into something else.
      }
    };
  };

  function express(options: MiddlewareOptions<ExpressRequestLike> = {}): ExpressMiddleware {
    return function latchkeyVerify(req, res, next) {
      const report = tell(options, req);
      const run = async () => {
        let body: Buffer;
        try {
          body = await expressBody(req, options.bodyLimit ?? DEFAULT_BODY_LIMIT);
        } catch (error) {
          if (error instanceof BodyTooLargeError) {
            res.setHeader('connection', 'close');
            return sendJson(res, 413, { error: { code: 'PAYLOAD_TOO_LARGE', message: error.message } });
          }
          if (error instanceof RawBodyUnavailableError) {
            report(error);
            return sendJson(res, 500, { error: { code: 'RAW_BODY_UNAVAILABLE', message: error.message } });
          }
          throw error;
        }
        const permission =
          typeof options.permission === 'function' ? options.permission(req) : options.permission;
        const host = req.get('host') ?? 'localhost';
        const target = req.originalUrl;
        const verdict = await judge(
          {
            method: req.method ?? 'GET',
            url: /^https?:\/\//i.test(target) ? target : `${req.protocol}://${host}${target}`,
            headers: req.rawHeaders,
            body,
            ...(permission !== undefined ? { permission } : {}),
            // Express's req.ip honours its own `trust proxy` setting.
            ...(typeof req.ip === 'string' ? { sourceIp: req.ip } : {}),
          },
          report,
        );
        for (const [name, value] of verdict.headers ?? []) res.setHeader(name, value);
        if (!verdict.ok) {
          if (verdict.retryAfterSeconds !== undefined)
            res.setHeader('retry-after', String(verdict.retryAfterSeconds));
          return sendJson(res, verdict.status, verdict.body);
        }
        req.latchkey = verdict.identity;
        next();
      };
      run().catch(next);
    };
  }

  function fastify(options: MiddlewareOptions<FastifyRequestLike> = {}): FastifyPluginLike {
    const plugin = (instance: FastifyInstanceLike, _options: unknown, done: (error?: Error) => void) => {
      try {
        if (!instance.hasRequestDecorator('latchkey')) instance.decorateRequest('latchkey', null);
        if (!instance.hasRequestDecorator('rawBody')) instance.decorateRequest('rawBody', null);
        instance.addHook('preParsing', async (request, reply, payload) => {
          const report = tell(options, request, (error) =>
            request.log?.error({ err: error }, 'latchkey: the request could not be verified'),
          );
          const limit = options.bodyLimit ?? request.routeOptions?.bodyLimit ?? DEFAULT_BODY_LIMIT;
          const withBody = hasBody(request.raw.headers);
          const body = withBody ? await readBody(payload, limit, declaredLength(request.raw.headers)) : EMPTY;
          request.rawBody = body;
          const permission =
            typeof options.permission === 'function' ? options.permission(request) : options.permission;
          const target = request.originalUrl ?? request.raw.url ?? '/';
          const host = request.headers.host ?? request.host ?? 'localhost';
          const verdict = await judge(
            {
              method: request.method,
              url: /^https?:\/\//i.test(target) ? target : `${request.protocol}://${host}${target}`,
              headers: request.raw.rawHeaders,
              body,
              ...(permission !== undefined ? { permission } : {}),
              // Fastify's request.ip honours its own `trustProxy` option.
              ...(typeof request.ip === 'string' ? { sourceIp: request.ip } : {}),
            },
            report,
          );
          for (const [name, value] of verdict.headers ?? []) reply.header(name, value);
          if (!verdict.ok) {
            if (verdict.retryAfterSeconds !== undefined)
              reply.header('retry-after', String(verdict.retryAfterSeconds));
            reply
              .code(verdict.status)
              .header('content-type', 'application/json; charset=utf-8')
              .send(verdict.body);
            // An async hook that answered returns the reply: Fastify waits for it and goes no further.
            return reply;
          }
          request.latchkey = verdict.identity;
          // The parser reads the same bytes (Fastify compares their length to content-length).
          return withBody ? Readable.from([body], { objectMode: false }) : payload;
        });
        done();
      } catch (error) {
        done(error as Error);
      }
    };
    return Object.assign(plugin, {
      [Symbol.for('skip-override')]: true,
      [Symbol.for('fastify.display-name')]: 'latchkey-verify',
    }) as FastifyPluginLike;
  }

  return { verify, express, fastify };
}

// ---- helpers --------------------------------------------------------------------------------------

/**
 * For `express.json({ verify: keepRawBody })` (or `express.text`, `express.urlencoded`): keeps the
 * body's bytes in `req.rawBody`, where the middleware finds them to hash. Body parsers hand over a
 * compressed body (`Content-Encoding: gzip`) decompressed, which is not what the client signed:
 * for such clients let the middleware read the body itself.
 */
export function keepRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

/**
 * The HTTP status latchkey itself answers a request refused with `code`: 401 for missing or bad
 * credentials, 400 for requests that cannot be checked as sent, 429 for throttling, else 403.
 */
export function statusOfCode(code: string): number {
  if (UNAUTHENTICATED_CODES.has(code)) return 401;
  if (BAD_REQUEST_CODES.has(code)) return 400;
  if (
    code === 'SlowDown' ||
    code === 'TOO_MANY_REQUESTS' ||
    code === 'RateLimitExceeded' ||
    code === 'RATE_LIMITED'
  )
    return 429;
  return 403;
}

const UNAUTHENTICATED_CODES = new Set([
  'UNAUTHENTICATED',
  'INVALID_TOKEN',
  'EXPIRED_TOKEN',
  'INVALID_CREDENTIALS',
]);
const BAD_REQUEST_CODES = new Set([
  'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError',
  'XAmzContentSHA256Mismatch',
  'InvalidRequest',
  'InvalidToken',
  'InvalidURI',
  'VALIDATION_FAILED',
  'BAD_REQUEST',
]);

interface ErrorBody {
  error: { code: string; message: string; missingPermission?: string };
}

class BodyTooLargeError extends Error {
  /** Fastify answers a hook's error with its statusCode. */
  readonly statusCode = 413;
  readonly code = 'FST_ERR_CTP_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`the body is larger than ${limit} bytes`);
  }
}

class RawBodyUnavailableError extends Error {
  constructor() {
    super(
      'the body was parsed before latchkey could hash it: parse it with express.json({ verify: keepRawBody }) (or express.raw()), or put the latchkey middleware before the body parser',
    );
  }
}

const messageOf = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const own = error instanceof Error ? error.message : String(error);
  const why = cause?.code ?? cause?.message;
  return why ? `${own} (${why})` : own;
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(json));
  res.end(json);
}

/** Header names (lowercase) → value, repeated names joined with `,` (as SigV4 signs them). */
function headerMap(input: HeadersInput): Map<string, string> {
  const out = new Map<string, string>();
  const add = (name: string, value: string) => {
    const lower = name.toLowerCase();
    const prior = out.get(lower);
    out.set(lower, prior === undefined ? value : `${prior},${value}`);
  };
  if (Array.isArray(input) && (input.length === 0 || typeof input[0] === 'string')) {
    const flat = input as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) add(flat[i] as string, flat[i + 1] as string);
  } else if (Symbol.iterator in (input as object)) {
    for (const [name, value] of input as Iterable<readonly [string, string]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) add(name, String(v));
      else add(name, String(value));
    }
  }
  return out;
}

/**
 * Only the headers latchkey needs: `host`, `authorization`, `date`, every `x-amz-*` header and every
 * header the signature covers (its SignedHeaders). Nothing else can change the verdict, and cookies
 * and the like stay with the service.
 */
function credentialHeaders(headers: Map<string, string>, url: string): Record<string, string> {
  const keep = new Set(['host', 'authorization', 'date']);
  const authorization = headers.get('authorization');
  const listed = authorization?.startsWith('AWS4-')
    ? /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1]
    : undefined;
  for (const name of (listed ?? presignedHeaders(url) ?? '').split(';'))
    if (name) keep.add(name.toLowerCase());
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (keep.has(name) || name.startsWith('x-amz-')) out[name] = value;
  return out;
}

/** `X-Amz-SignedHeaders` of a presigned URL, if any. */
function presignedHeaders(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  for (const [name, value] of new URLSearchParams(url.slice(q + 1).split('#')[0]))
    if (name.toLowerCase() === 'x-amz-signedheaders') return value;
  return undefined;
}

function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined || headers['transfer-encoding'] !== undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Whether a request has a body to read (as Node and body parsers decide: by its headers). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** The raw body of an Express request, from a body parser that kept it or from the stream. */
async function expressBody(req: ExpressRequestLike, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) return req.rawBody;
  if (Buffer.isBuffer(req.body)) return req.body;
  if (!hasBody(req.headers)) return EMPTY;
  if (req.readableEnded) throw new RawBodyUnavailableError();
  const body = await readBody(req, limit, declaredLength(req.headers));
  req.rawBody = body;
  return body;
}

/** Read a stream whole, refusing (and pausing it) beyond `limit` bytes. */
function readBody(stream: Readable, limit: number, declared: number | undefined): Promise<Buffer> {
  if (declared !== undefined && declared > limit) {
    stream.pause();
    return Promise.reject(new BodyTooLargeError(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the request was closed before its body ended'));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}
