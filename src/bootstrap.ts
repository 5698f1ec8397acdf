/** First start: create the first tenant and its administrator, exactly once across restarts and instances. */
import { hashPassword } from './crypto/password.js';
import { randomBase62 } from './crypto/random.js';
import { createTenant } from './identity/tenants.js';
import { normalizeEmail } from './identity/users.js';
import type { Services } from './services.js';
import { lockForSetup } from './storage/dialect.js';
import { iso } from './time.js';

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
    const tenant = await createTenant(svc, trx, config.tenantName);
    const now = iso(svc.clock.now());
    const userId = svc.newId('usr');
    await trx
      .insertInto('users')
      .values({
        id: userId,
        tenant_id: tenant.id,
        email: config.adminEmail,
        email_normalized: normalizeEmail(config.adminEmail),
        name: 'Administrator',
        password_hash: passwordHash,
        status: 'active',
        api_user: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const group = await trx
      .selectFrom('groups')
      .select('id')
      .where('tenant_id', '=', tenant.id)
      .where('builtin', '=', 'administrators')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('group_members')
      .values({
        tenant_id: tenant.id,
        group_id: group.id,
        member_type: 'user',
        member_id: userId,
        created_at: now,
      })
      .execute();
    return { created: true, tenantId: tenant.id, adminEmail: config.adminEmail, generatedPassword };
  });
}
