/**
 * Every error leaves as `{"error":{"code","message","requestId"}}`; 5xx details stay in the log.
 * On the data API's routes (config `dataApi: true`, set by src/http/routes/data.ts) the body also
 * carries a top-level `message`, the same text as `error.message`, which SQL Account clients read;
 * this includes the refusals of the auth hook on those routes. Other routes (the admin API
 * `/iam/...`, unknown URLs) keep the plain envelope.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, statusOf } from '../errors.js';
import { isDatabaseUnavailable } from '../storage/unavailable.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A data API route: its error bodies carry a top-level `message` too (see sendError). */
    dataApi?: boolean;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; [extra: string]: unknown };
  /** Data API routes only: `error.message` again, where SQL Account clients look for it. */
  message?: string;
}

/** Is the matched route a data API route? False before routing (a malformed URL) and for unknown URLs. */
export function isDataApiRoute(request: FastifyRequest): boolean {
  try {
    return request.routeOptions?.config?.dataApi === true;
  } catch {
    return false;
  }
}

/** The one way an error leaves the server: its status comes from the code (src/errors.ts). */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  request.errorCode = code;
  const error = { code, message, requestId: request.id, ...extra };
  const body: ErrorBody = isDataApiRoute(request) ? { error, message } : { error };
  return reply.status(statusOf(code)).send(body);
}

/** Fastify's own error codes mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => {
    if (error instanceof AppError) {
      if (typeof error.details?.retryAfterSeconds === 'number' && error.status === 429) {
        reply.header('retry-after', String(error.details.retryAfterSeconds));
      }
      if (error.headers) reply.headers(error.headers);
      return sendError(reply, request, error.code, error.message, error.details ?? {});
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const first = fastifyError.validation[0];
      const where = fastifyError.validationContext ?? 'request';
      const field = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '';
      let message = `${where}${field ? `.${field}` : ''} ${first?.message ?? 'is invalid'}`;
      if (first?.keyword === 'additionalProperties') {
        message = `${where} has an unknown field "${(first.params as { additionalProperty?: string }).additionalProperty}"`;
      }
      return sendError(reply, request, 'VALIDATION_FAILED', message);
    }
    const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
    if (mapped) return sendError(reply, request, mapped, fastifyError.message);
    if (error instanceof SyntaxError)
      return sendError(reply, request, 'MALFORMED_JSON', 'the body is not valid JSON');
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, request, status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', fastifyError.message);
    }
    if (isDatabaseUnavailable(error)) {
      // Not a bug: the database restarted, dropped the connection or is locked. Clients retry.
      request.log.warn({ err: error }, 'the database is unavailable');
      reply.header('retry-after', '1');
      return sendError(
        reply,
        request,
        'SERVICE_UNAVAILABLE',
        'the database is unavailable for a moment; retry the request',
      );
    }
    request.log.error({ err: error }, 'unhandled error');
    if (error.name === 'ContractViolation') {
      // Only with the test suite's contract checks on: say what broke the contract.
      return sendError(reply, request, 'INTERNAL', error.message);
    }
    return sendError(
      reply,
      request,
      'INTERNAL',
      'something went wrong on our side; the request id helps us find it',
    );
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}
