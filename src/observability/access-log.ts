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
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';
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

/**
 * The onResponse step writing the access line; undefined when `info` is not enabled (no cost at all).
 * `traceIds`: the request span's ids (tracing on), written as `traceId` and `spanId` so a line
 * leads to its trace.
 */
export function accessLogWriter(
  logger: Logger,
  traceIds?: (request: FastifyRequest) => { traceId: string; spanId: string } | undefined,
): ((request: FastifyRequest, reply: FastifyReply) => void) | undefined {
  if (!logger.isLevelEnabled('info')) return undefined;
  // The line holds only fields built here (the URL cleaned of credentials by loggableUrl), so it
  // skips the redaction pass: with its wildcard paths that pass costs
  // about twice as much as writing the whole line (measured with pino 10 on this machine).
  const access = logger.child({}, { redact: { paths: [] } });
  return (request, reply) => {
    const actor = request.actor;
    const ids = traceIds?.(request);
    access.info(
      {
        reqId: request.id,
        method: request.method,
        url: loggableUrl(request.url),
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.ip,
        ...(request.errorCode !== undefined ? { code: request.errorCode } : {}),
        ...(actor
          ? {
              tenant: actor.tenantId,
              principal: actor.id,
              ...(actor.accessKeyId !== undefined ? { accessKey: actor.accessKeyId } : {}),
            }
          : {}),
        ...(ids !== undefined ? { traceId: ids.traceId, spanId: ids.spanId } : {}),
      },
      'request',
    );
  };
}
