import { type TSchema, Type } from '@sinclair/typebox';

/** Objects refuse unknown fields: a typo in a field name is an error, not a silent no-op. */
export const Strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

export const Page = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
};

export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
export const Password = Type.String({ minLength: 12, maxLength: 256 });
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
export const Description = Type.String({ maxLength: 1000 });
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
export const IdList = Type.Array(Id, { maxItems: 100 });

export const ExpiryFields = {
  validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
  expiresAt: Type.Optional(Type.String({ minLength: 10, maxLength: 40 })),
  neverExpires: Type.Optional(Type.Boolean()),
};

export const Paged = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
  });
