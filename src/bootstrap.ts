/** First start: create the first tenant and its administrator, exactly once across restarts and instances. */
import path from 'node:path';
import type { Config } from './config.js';
import { hashPassword, verifyPassword } from './crypto/password.js';
import { randomBase62 } from './crypto/random.js';
import { createTenantWithAdministrator } from './identity/tenants.js';
import { normalizeEmail } from './identity/users.js';
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
  const result = await svc.db.transaction().execute(async (trx): Promise<BootstrapResult> => {
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
  if (!result.created) await warnIfFirstStartSettingsIgnored(svc, result.tenantId);
  return result;
}

/**
 * LATCHKEY_ADMIN_EMAIL / LATCHKEY_ADMIN_PASSWORD only matter on the first start. Set on a database
 * that already has a tenant (a reused ./data, a shared PostgreSQL), they change nothing, and the
 * password someone is about to type may not work: say so, where that database is, and how to start
 * over or set the password. Quiet when they agree with the database (an instance restarted with
 * the environment it was set up with, or several instances started together): nothing was lost.
 * Never the password itself, nor credentials in DATABASE_URL.
 */
async function warnIfFirstStartSettingsIgnored(svc: Services, tenantId: string): Promise<void> {
  const { config } = svc;
  if (!config.adminEmailGiven && config.adminPassword === undefined) return;
  const administrators = await svc.db
    .selectFrom('users')
    .innerJoin('group_members', (join) =>
      join
        .onRef('group_members.member_id', '=', 'users.id')
        .on('group_members.member_type', '=', 'user')
        .onRef('group_members.tenant_id', '=', 'users.tenant_id'),
    )
    .innerJoin('groups', 'groups.id', 'group_members.group_id')
    .select(['users.email', 'users.email_normalized', 'users.password_hash'])
    .where('users.tenant_id', '=', tenantId)
    .where('groups.builtin', '=', 'administrators')
    .orderBy('users.created_at')
    .orderBy('users.id')
    .execute();
  const given = config.adminEmailGiven
    ? administrators.find((a) => a.email_normalized === normalizeEmail(config.adminEmail))
    : undefined;
  const admin = given ?? administrators[0];
  const ignored: string[] = [];
  if (config.adminEmailGiven && !given) ignored.push('LATCHKEY_ADMIN_EMAIL');
  if (
    config.adminPassword !== undefined &&
    !(admin?.password_hash && (await verifyPassword(config.adminPassword, admin.password_hash)))
  ) {
    ignored.push('LATCHKEY_ADMIN_PASSWORD');
  }
  if (ignored.length === 0) return;
  const database = databaseLocation(config);
  const startOver =
    config.database.kind === 'postgres'
      ? 'point DATABASE_URL at an empty database'
      : path.dirname(config.database.file) === config.dataDir
        ? `remove the data directory ${config.dataDir} (or set LATCHKEY_DATA_DIR to another directory)`
        : `remove ${config.database.file} (or point DATABASE_URL at another file)`;
  const email = admin?.email ?? '<email>';
  svc.logger.warn(
    { ignored, tenantId, database },
    `${ignored.join(' and ')} ${ignored.length === 1 ? 'was' : 'were'} ignored: they are read on the first start only, ` +
      `and the database (${database}) already has a tenant (${tenantId}, administrator ${email}). ` +
      `To start over, stop latchkey and ${startOver}, then start again. ` +
      `To keep the data, set the administrator's password with \`npx latchkey admin reset-password --email ${email}\` ` +
      '(in the same environment; without --password it prints a new one once).',
  );
}

/** Where the database is, for people: the SQLite file, or PostgreSQL's host and database name (no credentials). */
function databaseLocation(config: Config): string {
  if (config.database.kind === 'sqlite') return `SQLite ${config.database.file}`;
  try {
    const url = new URL(config.database.url);
    return `PostgreSQL ${url.host}${url.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}
