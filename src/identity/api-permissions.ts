/**
 * The permissions a tenant's registered APIs declare (src/gateway): part of the tenant's catalogue,
 * so roles may hold them and effective-permission lists show them. Read from the `apis` table here,
 * so identity code needs nothing from the gateway.
 */
import type { DbOrTx } from '../storage/dialect.js';

export async function tenantApiPermissions(db: DbOrTx, tenantId: string): Promise<string[]> {
  const rows = await db.selectFrom('apis').select('routes').where('tenant_id', '=', tenantId).execute();
  const permissions = new Set<string>();
  for (const row of rows)
    for (const route of JSON.parse(row.routes) as Array<{ permission: string }>)
      permissions.add(route.permission);
  return [...permissions].sort();
}
