import { operations as op } from '../../contract/operations.js';
import { assertMayReadKeysOf } from '../../keys/access.js';
import { findKey } from '../../keys/key-rows.js';
import { USAGE_DEFAULT_DAYS, USAGE_TOP } from '../../limits.js';
import { keyUsageSeries, tenantUsage, tenantUsageRange, usageRange } from '../../traffic/usage-queries.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';

/** Reading usage (traffic/usage-queries.ts): one key's, and the tenant's. */
export async function usageRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  // As GET /iam/keys/{id}: the key's owner or iam:keys:read; another tenant's key is NOT_FOUND.
  route(
    app,
    op.getKeyUsage,
    async (request) => {
      const { granularity = 'hour', ...query } = request.query;
      const range = usageRange(
        query,
        granularity,
        svc.clock.now().getTime(),
        USAGE_DEFAULT_DAYS[granularity],
      );
      return keyUsageSeries(svc.db, actorOf(request).tenantId, request.params.accessKeyId, range);
    },
    {
      authorize: async (request, actor) => {
        const id = String((request.params as { accessKeyId?: unknown }).accessKeyId);
        const key = await findKey(svc.db, actor.tenantId, id);
        assertMayReadKeysOf(actor, { type: key.owner_type, id: key.owner_id });
      },
    },
  );

  route(
    app,
    op.getUsage,
    async (request) => {
      const { groupBy = 'key', limit = USAGE_TOP.default, ...range } = request.query;
      const nowMs = svc.clock.now().getTime();
      return tenantUsage(svc.db, actorOf(request).tenantId, groupBy, tenantUsageRange(range, nowMs), limit);
    },
    // Whoever may read every key of the tenant (iam:keys:read, or iam:keys:manage) may read their use.
    { authorize: (_request, actor) => assertMayReadKeysOf(actor, { type: 'service_account', id: '' }) },
  );
}
