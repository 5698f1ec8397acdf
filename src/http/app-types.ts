import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { GatewayDeps } from '../gateway/decide.js';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export type RouteDeps = GatewayDeps & {
  version: string;
  /** Ping every Redis connection (rejects when one does not answer in time); unset without REDIS_URL. */
  pingRedis?: () => Promise<void>;
};
