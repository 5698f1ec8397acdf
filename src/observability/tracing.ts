/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Spans: one server span per request, a `verify` span around
 * signature and token verification, `db.query` spans for every statement, and a client span for
 * each gateway call to an upstream (which gets a `traceparent` header).
 *
 * Why these spans are made here by hand rather than by the auto-instrumentations: latchkey is ESM,
 * and the `http`, `pg` and `fastify` instrumentations patch modules through require hooks, which
 * ESM imports bypass unless the process starts with an `--import` loader hook (and even then the
 * SQLite driver has no instrumentation). A Fastify hook pair, one wrapper around the Kysely driver
 * (both engines) and the diagnostics_channel-based undici instrumentation need no loader, cover
 * exactly what an operator asks about, and cost nothing when tracing is off.
 *
 * Off means off: only `@opentelemetry/api` is imported; the SDK, the exporter and the undici
 * instrumentation are loaded by startTracing() alone. Nothing on the request path creates a span,
 * a closure or a hook when tracing is off: app.ts registers the hooks only when requestTracing()
 * returns them, openDatabase wraps its driver only when tracingEnabled(), and the verification
 * wrappers test one boolean.
 *
 * The SDK reads the standard variables itself: OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is
 * appended), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given), OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_*,
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (default here: `latchkey`). They are read from
 * the environment, not through config.ts, because the SDK's own parsing is the reference for them.
 */
import {
  type Attributes,
  context,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';

const TRACER_NAME = 'latchkey';
const DEFAULT_SERVICE_NAME = 'latchkey';
/** Statements longer than this are cut in `db.query.text` (a bulk insert's placeholder list adds nothing). */
const MAX_STATEMENT_LENGTH = 2_000;

let tracer: Tracer | undefined;
let running: TracingHandle | undefined;

/** Is tracing on in this process (startTracing has run with an endpoint set)? */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

export interface TracingHandle {
  /** Flush the spans not yet exported, then stop (graceful shutdown). */
  shutdown(): Promise<void>;
}

/** Is an OTLP traces endpoint configured (and the SDK not switched off the standard ways)? */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Start the SDK when an OTLP endpoint is configured (undefined otherwise: nothing is loaded).
 * Called by the serving process (serve.ts) before the database opens and the app is built; the
 * CLI never calls it. The environment is process.env, where the SDK reads its settings.
 */
export async function startTracing(): Promise<TracingHandle | undefined> {
  if (tracer !== undefined) throw new Error('tracing is already started');
  const env = process.env;
  if (!tracingConfigured(env)) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, resources, core, { UndiciInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  // The SDK's own problems (an unreachable collector, a rejected batch) on stderr, at
  // OTEL_LOG_LEVEL (default: warnings and errors), never on the request path.
  const level = core.diagLogLevelFromString(env.OTEL_LOG_LEVEL) ?? DiagLogLevel.WARN;
  const write = (message: string, args: unknown[]) =>
    process.stderr.write(`latchkey: tracing: ${[message, ...args.map(String)].join(' ')}\n`);
  diag.setLogger(
    {
      error: (m, ...a) => write(m, a),
      warn: (m, ...a) => write(m, a),
      info: (m, ...a) => write(m, a),
      debug: (m, ...a) => write(m, a),
      verbose: (m, ...a) => write(m, a),
    },
    { logLevel: level, suppressOverrideMessage: true },
  );
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over latchkey's default name.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME }))
    .merge(resources.detectResources({ detectors: [resources.envDetector, resources.hostDetector] }));
  // OTLP over HTTP with the JSON encoding; endpoint, headers and timeout from the environment.
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const exporter = new OTLPTraceExporter();
  // The sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on) and the batch settings
  // (OTEL_BSP_*) are read from the environment by the provider and the processor themselves.
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Registers W3C trace context + baggage propagation and the AsyncLocalStorage context manager,
  // which carries the request's span into database calls and the upstream call.
  provider.register();
  // Upstream calls go through undici (@fastify/reply-from), which reports them on
  // diagnostics_channel: this instrumentation needs no module hook, so it works under ESM. Only
  // calls made inside a traced request get a span (a background job's calls are not traced).
  const undici = new UndiciInstrumentation({ requireParentforSpans: true });
  undici.setTracerProvider(provider);
  undici.enable();
  tracer = trace.getTracer(TRACER_NAME);
  const handle: TracingHandle = {
    async shutdown() {
      if (running === handle) running = undefined;
      undici.disable();
      tracer = undefined;
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
  running = handle;
  return handle;
}

/** Flush and stop the tracing startTracing() started, if any (graceful shutdown). */
export async function stopTracing(): Promise<void> {
  await running?.shutdown();
}

// ----------------------------------------------------------------------------------------------
// Requests: one server span per request (Fastify hooks)
// ----------------------------------------------------------------------------------------------

const SPAN = Symbol('latchkey.span');
/** Set once the span has ended (an aborted request may still reach onResponse). */
const ENDED = Symbol('latchkey.span-ended');
type TracedRequest = FastifyRequest & { [SPAN]?: Span; [ENDED]?: true };

/** Headers read by W3C trace-context extraction (Node gives them lower-cased). */
const headerGetter = {
  keys: (carrier: FastifyRequest['headers']) => Object.keys(carrier),
  get: (carrier: FastifyRequest['headers'], key: string) => carrier[key],
};

export interface RequestTracing {
  /** onRequest: start the request's span (continuing an incoming `traceparent`) and make it current. */
  onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /** onResponse: the answer's status and error code, then end the span. */
  onResponse(request: FastifyRequest, reply: FastifyReply): void;
  /** onRequestAbort: the client went away before the answer; end the span as such. */
  onRequestAbort(request: FastifyRequest, done: HookHandlerDoneFunction): void;
  /** The request span's ids, for the access log. */
  ids(request: FastifyRequest): SpanContext | undefined;
}

/** The Fastify hooks tracing requests; undefined when tracing is off (then no hook is added). */
export function requestTracing(): RequestTracing | undefined {
  const t = tracer;
  if (t === undefined) return undefined;
  return {
    onRequest(request, _reply, done) {
      const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
      const route = request.routeOptions.url;
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        // The path only: the query may carry a presigned URL's signature.
        [ATTR_URL_PATH]: pathOf(request.url),
        [ATTR_URL_SCHEME]: request.protocol,
        [ATTR_CLIENT_ADDRESS]: request.ip,
        'latchkey.request_id': request.id,
      };
      if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
      const userAgent = request.headers['user-agent'];
      if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
      const span = t.startSpan(
        route !== undefined ? `${request.method} ${route}` : request.method,
        { kind: SpanKind.SERVER, attributes },
        parent,
      );
      (request as TracedRequest)[SPAN] = span;
      // The rest of the request runs inside this call, so the span is current for it (the verify
      // span's parent, the database's and the upstream call's). Also after a body that arrives
      // later: Fastify's content parser keeps the async context (an AsyncResource per request), and
      // the gateway reads its body with awaits inside the handler.
      context.with(trace.setSpan(parent, span), done);
    },
    onResponse(request, reply) {
      const traced = request as TracedRequest;
      const span = traced[SPAN];
      if (span === undefined || traced[ENDED]) return;
      traced[ENDED] = true;
      const status = reply.statusCode;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      const code = request.errorCode;
      if (code !== undefined) span.setAttribute('latchkey.error_code', code);
      const actor = request.actor;
      if (actor) span.setAttribute('latchkey.tenant_id', actor.tenantId);
      // Server spans: a 4xx is the client's mistake, not a failure of this service (semantic conventions).
      if (status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, code ?? String(status));
        span.setStatus({ code: SpanStatusCode.ERROR, ...(code !== undefined ? { message: code } : {}) });
      }
      span.end();
    },
    onRequestAbort(request, done) {
      const traced = request as TracedRequest;
      const span = traced[SPAN];
      if (span !== undefined && !traced[ENDED]) {
        traced[ENDED] = true;
        span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection' });
        span.end();
      }
      done();
    },
    ids(request) {
      const span = (request as TracedRequest)[SPAN];
      return span?.spanContext();
    },
  };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

// ----------------------------------------------------------------------------------------------
// Verification
// ----------------------------------------------------------------------------------------------

/**
 * Run a verification in a `verify` span. `outcome` names the result (`ok` or its error code);
 * a thrown error is recorded by its code. Attributes are the method and the access key ID, which
 * is not a secret (it appears in logs and URLs); never a secret key, a signature or a token.
 */
export function traceVerification<R>(
  method: 'sigv4' | 'token',
  accessKeyId: string | undefined,
  run: () => R | Promise<R>,
  outcome: (result: R) => { code: string; accessKeyId?: string },
): R | Promise<R> {
  const t = tracer;
  if (t === undefined) return run();
  const attributes: Attributes = { 'latchkey.auth.method': method };
  if (accessKeyId !== undefined) attributes['latchkey.access_key_id'] = accessKeyId;
  const parent = context.active();
  const span = t.startSpan('verify', { kind: SpanKind.INTERNAL, attributes }, parent);
  const finish = (result: R): R => {
    const o = outcome(result);
    span.setAttribute('latchkey.auth.outcome', o.code);
    if (o.accessKeyId !== undefined) span.setAttribute('latchkey.access_key_id', o.accessKeyId);
    span.end();
    return result;
  };
  const fail = (error: unknown): never => {
    const code = errorCodeOf(error);
    span.setAttribute('latchkey.auth.outcome', code);
    // A refusal (an error with a stable code: INVALID_TOKEN, …) is an answer, not a failure of
    // the verification; anything else is.
    if (typeof (error as { code?: unknown } | null)?.code !== 'string')
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    span.end();
    throw error;
  };
  let result: R | Promise<R>;
  try {
    result = context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    return fail(error);
  }
  return result instanceof Promise ? result.then(finish, fail) : finish(result);
}

/** An error's stable code (AppError's `code`), or its class name: never its message. */
function errorCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (error instanceof Error) return error.name;
  }
  return 'Error';
}

// ----------------------------------------------------------------------------------------------
// Database
// ----------------------------------------------------------------------------------------------

export type DbSystem = 'sqlite' | 'postgresql';

/**
 * A `db.query` span around `run`, with the statement's text (placeholders, never the parameter
 * values). Only inside a traced request: the background jobs' polling would otherwise fill the
 * collector with one-span traces every few seconds.
 */
export function traceQuery<T>(system: DbSystem, text: string, run: () => Promise<T>): Promise<T> {
  const t = tracer;
  if (t === undefined) return run();
  const parent = context.active();
  if (trace.getSpan(parent) === undefined) return run();
  const statement = text.length > MAX_STATEMENT_LENGTH ? `${text.slice(0, MAX_STATEMENT_LENGTH)}…` : text;
  const span = t.startSpan(
    'db.query',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': system,
        // The older attribute names, which many backends still show.
        'db.system': system,
        'db.query.text': statement,
        'db.statement': statement,
        'db.operation.name': operationOf(text),
      },
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span), run).then(
    (result) => {
      span.end();
      return result;
    },
    (error: unknown) => {
      span.setAttribute(ATTR_ERROR_TYPE, errorCodeOf(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      throw error;
    },
  );
}

function operationOf(text: string): string {
  const match = /^\s*(?:with\b[\s\S]*?\)\s*)?([a-z]+)/i.exec(text);
  return match?.[1]?.toUpperCase() ?? 'QUERY';
}

/**
 * The dialect with every statement traced: the driver's connections get a traced executeQuery.
 * Patched in place, not wrapped, because the drivers call private members of their own connection
 * objects (PostgreSQL's release) and must get them back unchanged.
 */
export function tracedDialect(dialect: Dialect, system: DbSystem): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => tracedDriver(dialect.createDriver(), system),
  };
}

function tracedDriver(driver: Driver, system: DbSystem): Driver {
  const patched = new WeakSet<DatabaseConnection>();
  const traced: Driver = {
    init: () => driver.init(),
    acquireConnection: async () => {
      const connection = await driver.acquireConnection();
      if (!patched.has(connection)) {
        const execute = connection.executeQuery.bind(connection);
        connection.executeQuery = <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
          traceQuery(system, query.sql, () => execute<R>(query));
        patched.add(connection);
      }
      return connection;
    },
    beginTransaction: (connection, settings) => driver.beginTransaction(connection, settings),
    commitTransaction: (connection) => driver.commitTransaction(connection),
    rollbackTransaction: (connection) => driver.rollbackTransaction(connection),
    releaseConnection: (connection) => driver.releaseConnection(connection),
    destroy: () => driver.destroy(),
  };
  // Savepoints only where the driver has them (Kysely checks for the methods).
  const { savepoint, rollbackToSavepoint, releaseSavepoint } = driver;
  if (savepoint) traced.savepoint = savepoint.bind(driver);
  if (rollbackToSavepoint) traced.rollbackToSavepoint = rollbackToSavepoint.bind(driver);
  if (releaseSavepoint) traced.releaseSavepoint = releaseSavepoint.bind(driver);
  return traced;
}

// ----------------------------------------------------------------------------------------------
// Upstream calls
// ----------------------------------------------------------------------------------------------

/**
 * Request headers the gateway must not pass from the client to the upstream while tracing is on:
 * the undici instrumentation adds its own `traceparent` (and `tracestate`, `baggage`), and a
 * client's copy beside it would make two. Empty when tracing is off: then a client's trace
 * headers pass through unchanged, as through any proxy that does not trace.
 */
export function propagationHeaderNames(): readonly string[] {
  return tracer === undefined ? [] : propagation.fields();
}
