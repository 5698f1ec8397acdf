import { listAudit } from '../../audit/audit.js';
import { operations as op } from '../../contract/operations.js';
import { AppError } from '../../errors.js';
import { getSettings, updateSettings } from '../../identity/settings.js';
import { PAGE_SIZE } from '../../limits.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';

/** A date-time the schema accepted but Date cannot represent (a leap second, `+05` offsets) is a 400. */
function instant(name: string, value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new AppError('VALIDATION_FAILED', `querystring.${name} is not a date-time latchkey can read`);
  return new Date(ms).toISOString();
}

export async function settingsAuditRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  route(app, op.getSettings, async (request) => getSettings(svc.db, actorOf(request).tenantId));

  route(app, op.updateSettings, async (request) => updateSettings(svc, actorOf(request), request.body));

  route(app, op.listAudit, async (request) => {
    const { limit = PAGE_SIZE.default, offset = 0, since, until, ...rest } = request.query;
    const page = await listAudit(svc.db, actorOf(request).tenantId, {
      ...rest,
      since: since && instant('since', since),
      until: until && instant('until', until),
      limit,
      offset,
    });
    return { ...page, limit, offset };
  });
}
