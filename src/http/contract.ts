/**
 * Registers a route from its operation in the contract (src/contract/operations.ts): the method,
 * path, access and schemas come from there, the route file adds only its handler (and finer
 * access rules). Responses are serialised through their schemas, so a view can never leak a field
 * the contract does not name.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyContextConfig,
  onRequestHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
} from 'fastify';
import type { Operation, OperationSchema } from '../contract/operations.js';
import type { App } from './app-types.js';
import { absentBodyIsEmpty } from './validation.js';

type JsonResponses<R> = { [K in keyof R as R[K] extends null ? never : K]: R[K] };
/** What Fastify is given: the operation's schema without the body-less (204) answers. */
export type FastifySchemaOf<S extends OperationSchema> = Omit<S, 'response'> & {
  response: JsonResponses<S['response']>;
};

export type OperationHandler<O extends Operation> = RouteHandlerMethod<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  RouteGenericInterface,
  unknown,
  FastifySchemaOf<O['schema']>,
  TypeBoxTypeProvider,
  FastifyBaseLogger
>;

export interface OperationOptions {
  /** Finer access rules that depend on the target (see FastifyContextConfig.authorize). */
  authorize?: FastifyContextConfig['authorize'];
  /** Requests the route authenticates itself (see FastifyContextConfig.ownAuthentication). */
  ownAuthentication?: FastifyContextConfig['ownAuthentication'];
  onRequest?: onRequestHookHandler;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The contract operation the route serves (for the OpenAPI document and the contract checks). */
    operation?: Operation;
  }
}

export function fastifySchemaOf(schema: OperationSchema): Record<string, unknown> {
  const response: Record<number, unknown> = {};
  for (const [status, body] of Object.entries(schema.response)) {
    if (body !== null) response[Number(status)] = body;
  }
  return { ...schema, response };
}

export function route<O extends Operation>(
  app: App,
  op: O,
  handler: OperationHandler<O>,
  options: OperationOptions = {},
): void {
  app.route({
    method: op.method,
    url: op.url,
    schema: fastifySchemaOf(op.schema),
    config: {
      operation: op,
      ...(op.auth ? { auth: op.auth } : {}),
      ...(op.permission ? { permission: op.permission } : {}),
      ...(options.authorize ? { authorize: options.authorize } : {}),
      ...(options.ownAuthentication ? { ownAuthentication: options.ownAuthentication } : {}),
    },
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    // A body that may be left out entirely means `{}` (Fastify would validate an absent body as null).
    ...(op.bodyOptional ? { preValidation: absentBodyIsEmpty } : {}),
    handler: handler as never,
  });
}
