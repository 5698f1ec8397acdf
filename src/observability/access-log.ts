/**
 * One access-log line per request, written when the answer is sent (Fastify's own request logging,
 * two lines per request, is off), and a per-request logger that costs nothing until it is used.
 *
 * The line is a pino record at `info` (so `LOG_LEVEL=warn` turns it off) with what an operator
 * looks for: request id, method, URL (credentials redacted: loggableUrl), matched route,
 * status, duration, the error code when it failed, and who called (tenant, principal, access key)
 * when that is known. It goes through the service logger, whose destination writes asynchronously
 * in batches (stdoutDestination in services.ts), never blocking the event loop on a slow stdout.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { type Bindings, type ChildLoggerOptions, type Level, type Logger, pino } from 'pino';
import { loggableUrl } from '../services.js';

/**
 * Fastify's `childLoggerFactory`: the request's logger (`request.log`), created only when something
 * is logged through it at an enabled level. Fastify's default makes a pino child per request, and a
 * pino child runs the redaction over its bindings: measured at about 4.5 µs per request (bench
 * profiles), for a logger that nearly every request never uses now that the access line is written
 * by the parent. pino has no lazy child, so this small class is hand-written (its methods live on
 * the prototype: nothing is allocated per request but the object itself).
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChild(logger, bindings, options) as unknown as FastifyBaseLogger;
}

class LazyChild {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  private write(level: Level, args: unknown[]): void {
    if (this.made === undefined && !(this.parent as unknown as Logger).isLevelEnabled(level)) return;
    (this.real()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }

  debug(...args: unknown[]): void {
    this.write('debug', args);
  }

  info(...args: unknown[]): void {
    this.write('info', args);
  }

  warn(...args: unknown[]): void {
    this.write('warn', args);
  }

  error(...args: unknown[]): void {
    this.write('error', args);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
}

/** The access line's fields after pino's own (level, time, bindings), in the order written. */
export interface AccessFields {
  reqId: string;
  method: string;
  url: string;
  route: string | null;
  status: number;
  ms: number;
  ip: string;
  code?: string;
  tenant?: string;
  principal?: string;
  accessKey?: string;
  traceId?: string;
  spanId?: string;
}

/** The access line's fields for one answered request (the URL cleaned of credentials). */
function accessFields(
  request: FastifyRequest,
  reply: FastifyReply,
  route: string | undefined,
  traceIds: ((request: FastifyRequest) => { traceId: string; spanId: string } | undefined) | undefined,
): AccessFields {
  const actor = request.actor;
  const ids = traceIds?.(request);
  const fields: AccessFields = {
    reqId: request.id,
    method: request.method,
    url: loggableUrl(request.url),
    route: route ?? null,
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 100) / 100,
    ip: request.ip,
  };
  if (request.errorCode !== undefined) fields.code = request.errorCode;
  if (actor) {
    fields.tenant = actor.tenantId;
    fields.principal = actor.id;
    if (actor.accessKeyId !== undefined) fields.accessKey = actor.accessKeyId;
  }
  if (ids !== undefined) {
    fields.traceId = ids.traceId;
    fields.spanId = ids.spanId;
  }
  return fields;
}

const INFO = 30;
type PinoInternals = Record<symbol, unknown>;

/**
 * The access line as pino writes it (`{"level":30,"time":…,<bindings>,<fields>,"msg":"request"}`),
 * built here as one string: every request writes one, and pino's general path (a loop over the
 * object's keys asking for serializers, stringifiers and formatters for each) took 2.7–3.4 µs to
 * build and hand over this line where this takes 2.0 µs (measured on this project's machines). It
 * reads the logger's own level prefix, time function, bindings and stream through `pino.symbols`,
 * pino's documented integration point, so a child logger's bindings (a worker's id) and the
 * timestamp format are pino's. For a logger whose output pino would shape further (a mixin, a log
 * formatter, hooks, a stream that wants metadata, another message key) it returns undefined and the
 * line goes through pino.
 * test/access-log.test.ts holds it to pino's output byte for byte (a lone surrogate, which pino may
 * write raw, is escaped here as JSON.stringify does: the same value once parsed).
 */
export function fastAccessLine(logger: Logger): ((fields: AccessFields) => void) | undefined {
  const internals = logger as unknown as PinoInternals;
  const { symbols } = pino;
  const stream = internals[symbols.streamSym] as { write(line: string): unknown } & Record<symbol, unknown>;
  const formatters = internals[symbols.formattersSym] as { log?: unknown } | undefined;
  const hooks = internals[symbols.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const levelPrefix = (internals[symbols.lsCacheSym] as Record<number, string> | undefined)?.[INFO];
  const time = internals[symbols.timeSym] as (() => string) | undefined;
  const chindings = internals[symbols.chindingsSym];
  if (
    internals[symbols.mixinSym] ||
    formatters?.log ||
    hooks?.logMethod ||
    hooks?.streamWrite ||
    stream?.[symbols.needsMetadataGsym] === true ||
    internals[symbols.messageKeySym] !== 'msg' ||
    internals[symbols.nestedKeySym] ||
    typeof levelPrefix !== 'string' ||
    typeof time !== 'function' ||
    typeof chindings !== 'string' ||
    typeof stream?.write !== 'function'
  )
    return undefined;
  const str = JSON.stringify;
  return (f) => {
    let line = `${levelPrefix}${time.call(logger)}${chindings},"reqId":${str(f.reqId)},"method":${str(f.method)},"url":${str(f.url)},"route":${f.route === null ? 'null' : str(f.route)},"status":${f.status},"ms":${Number.isFinite(f.ms) ? f.ms : 'null'},"ip":${str(f.ip)}`;
    if (f.code !== undefined) line += `,"code":${str(f.code)}`;
    if (f.tenant !== undefined) line += `,"tenant":${str(f.tenant)},"principal":${str(f.principal)}`;
    if (f.accessKey !== undefined) line += `,"accessKey":${str(f.accessKey)}`;
    if (f.traceId !== undefined) line += `,"traceId":${str(f.traceId)},"spanId":${str(f.spanId)}`;
    stream.write(`${line},"msg":"request"}\n`);
  };
}

/**
 * The onResponse step writing the access line (`route`: the matched route's pattern, undefined when
 * none matched); undefined when `info` is not enabled (no cost at all).
 * `traceIds`: the request span's ids (tracing on), written as `traceId` and `spanId` so a line
 * leads to its trace.
 */
export function accessLogWriter(
  logger: Logger,
  traceIds?: (request: FastifyRequest) => { traceId: string; spanId: string } | undefined,
): ((request: FastifyRequest, reply: FastifyReply, route: string | undefined) => void) | undefined {
  if (!logger.isLevelEnabled('info')) return undefined;
  // The line holds only fields built here (the URL cleaned of credentials by loggableUrl), so it
  // skips the redaction pass: with its wildcard paths that pass costs about twice as much as writing
  // the whole line (measured with pino 10 on this machine).
  const access = logger.child({}, { redact: { paths: [] } });
  const fast = fastAccessLine(access);
  if (fast) return (request, reply, route) => fast(accessFields(request, reply, route, traceIds));
  return (request, reply, route) => access.info(accessFields(request, reply, route, traceIds), 'request');
}
