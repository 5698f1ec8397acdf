/** First start: create the first tenant and its administrator, exactly once across restarts and instances. */
import { hashPassword } from './crypto/password.js';
import { randomBase62 } from './crypto/random.js';
import { createTenantWithAdministrator } from './identity/tenants.js';
import type { Services } from './services.js';
import { lockForSetup } from './storage/dialect.js';

const BOOTSTRAP_LOCK = 0x1a7c4e1;

export interface BootstrapResult {
  created: boolean;
  tenantId: string;
  adminEmail?: string;
  /** Only when latchkey generated it: shown once, never stored in plain text. */
  generatedPassword?: string;
}

export async function ensureFirstTenant(svc: Services): Promise<BootstrapResult> {
  const { config } = svc;
  const generatedPassword = config.adminPassword === undefined ? randomBase62(20) : undefined;
  const passwordHash = await hashPassword(config.adminPassword ?? (generatedPassword as string));
  return svc.db.transaction().execute(async (trx) => {
    await lockForSetup(trx, svc.engine, BOOTSTRAP_LOCK);
    const existing = await trx
      .selectFrom('tenants')
      .select('id')
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst();
    if (existing) return { created: false, tenantId: existing.id };
    const { tenant } = await createTenantWithAdministrator(svc, trx, {
      name: config.tenantName,
      adminEmail: config.adminEmail,
      passwordHash,
    });
    return { created: true, tenantId: tenant.id, adminEmail: config.adminEmail, generatedPassword };
  });
}
