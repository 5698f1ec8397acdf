import { Type } from '@sinclair/typebox';
import { listAudit } from '../../audit/audit.js';
import { AppError } from '../../errors.js';
import { getSettings, updateSettings } from '../../identity/settings.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { Page, Strict } from '../schemas.js';

const Days = Type.Integer({ minimum: 1, maximum: 36_500 });
const ScopePart = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' });
const Timestamp = Type.String({ format: 'date-time' });

/** A date-time the schema accepted but Date cannot represent (a leap second, `+05` offsets) is a 400. */
function instant(name: string, value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new AppError('VALIDATION_FAILED', `querystring.${name} is not a date-time latchkey can read`);
  return new Date(ms).toISOString();
}

export async function settingsAuditRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  app.get('/iam/settings', { config: { permission: 'iam:settings:read' } }, async (request) =>
    getSettings(svc.db, actorOf(request).tenantId),
  );

  app.patch(
    '/iam/settings',
    {
      config: { permission: 'iam:settings:manage' },
      schema: {
        body: Strict({
          defaultKeyLifetimeDays: Type.Optional(Type.Union([Days, Type.Null()])),
          maxKeyLifetimeDays: Type.Optional(Type.Union([Days, Type.Null()])),
          tokenLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
          userKeyLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
          reminderLeadDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 })),
          acceptedScopes: Type.Optional(
            Type.Array(Strict({ region: ScopePart, service: ScopePart }), { maxItems: 20 }),
          ),
          allowUnsignedPayload: Type.Optional(Type.Boolean()),
          emailSecretInline: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request) => updateSettings(svc, actorOf(request), request.body),
  );

  app.get(
    '/iam/audit',
    {
      config: { permission: 'iam:audit:read' },
      schema: {
        querystring: Strict({
          ...Page,
          action: Type.Optional(Type.String({ maxLength: 64 })),
          actorId: Type.Optional(Type.String({ maxLength: 64 })),
          targetType: Type.Optional(Type.String({ maxLength: 64 })),
          targetId: Type.Optional(Type.String({ maxLength: 128 })),
          since: Type.Optional(Timestamp),
          until: Type.Optional(Timestamp),
        }),
      },
    },
    async (request) => {
      const { limit = 50, offset = 0, since, until, ...rest } = request.query;
      const page = await listAudit(svc.db, actorOf(request).tenantId, {
        ...rest,
        since: since && instant('since', since),
        until: until && instant('until', until),
        limit,
        offset,
      });
      return { ...page, limit, offset };
    },
  );
}
