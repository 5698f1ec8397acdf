/**
 * Building blocks of the API contract (TypeBox, so one declaration is the JSON Schema that
 * validates, the schema that serialises, the OpenAPI document and the TypeScript type).
 * Pure data: no Node or Fastify imports, because the console compiles against it too.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import {
  ALLOWED_CIDRS_MAX,
  KEY_LIFETIME_DAYS,
  NAME_LENGTH_MAX,
  PAGE_SIZE,
  PASSWORD_LENGTH,
  QUOTA_LIMIT,
  RATE_LIMIT,
} from '../limits.js';

/** Objects refuse unknown fields: a typo in a field name is an error, not a silent no-op. */
export const Strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options);

export const Page = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE.max, default: PAGE_SIZE.default })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: PAGE_SIZE.maxOffset, default: 0 })),
};

export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
export const Password = Type.String({ minLength: PASSWORD_LENGTH.min, maxLength: PASSWORD_LENGTH.max });
export const Name = Type.String({ minLength: 1, maxLength: NAME_LENGTH_MAX, pattern: '\\S' });
export const Description = Type.String({ maxLength: 1000 });
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
export const IdList = Type.Array(Id, { maxItems: 100 });
/** A date-time as latchkey writes it (ISO 8601, UTC). */
export const Timestamp = Type.String({ format: 'date-time' });

export const ExpiryFields = {
  validityDays: Type.Optional(
    Type.Integer({ minimum: KEY_LIFETIME_DAYS.min, maximum: KEY_LIFETIME_DAYS.max }),
  ),
  expiresAt: Type.Optional(Type.String({ minLength: 10, maxLength: 40 })),
  neverExpires: Type.Optional(Type.Boolean()),
};

/** A page of a list: `{items,total,limit,offset}`. */
export const Paged = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
  });

/** A whole list (small, never paged): `{items}`. */
export const Items = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });

export const NamedRef = Type.Object({ id: Type.String(), name: Type.String() });

/** Every error: `{"error":{"code","message","requestId",…details}}`. */
export const ErrorBody = Type.Object({
  error: Type.Object(
    { code: Type.String(), message: Type.String(), requestId: Type.String() },
    { additionalProperties: true },
  ),
});

// ---- traffic rules (src/traffic/rules.ts checks the same, and normalises CIDRs)
export const RateLimitRule = Strict({
  limit: Type.Integer({ minimum: RATE_LIMIT.limit.min, maximum: RATE_LIMIT.limit.max }),
  periodSeconds: Type.Integer({
    minimum: RATE_LIMIT.periodSeconds.min,
    maximum: RATE_LIMIT.periodSeconds.max,
  }),
});
export const QuotaRule = Strict({
  limit: Type.Integer({ minimum: QUOTA_LIMIT.min, maximum: QUOTA_LIMIT.max }),
  period: Type.Union([Type.Literal('day'), Type.Literal('month')], {
    description: 'a calendar day or month, UTC',
  }),
});
export const CidrList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: ALLOWED_CIDRS_MAX,
  description: 'CIDRs (203.0.113.0/24, 2001:db8::/32) or single addresses; null: any address',
});

/** The rules a body may set (null clears one); every level that sets one is enforced. */
export const TrafficRuleFields = {
  rateLimit: Type.Optional(
    Nullable(RateLimitRule, {
      description: 'at most `limit` requests per `periodSeconds` (GCRA: a burst of `limit`)',
    }),
  ),
  quota: Type.Optional(
    Nullable(QuotaRule, { description: 'at most `limit` requests per calendar day or month (UTC)' }),
  ),
  allowedCidrs: Type.Optional(Nullable(CidrList)),
};

/** The rules as views show them (null: none set at this level). */
export const TrafficRuleView = {
  rateLimit: Nullable(RateLimitRule),
  quota: Nullable(QuotaRule),
  allowedCidrs: Nullable(Type.Array(Type.String())),
};
