import { type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Db } from './dialect.js';
import * as core from './migrations/2026-11-23-0001-core.js';
import * as accounting from './migrations/2026-11-23-0002-accounting.js';
import * as notify from './migrations/2026-11-23-0003-notify.js';
import * as security from './migrations/2026-12-04-0004-security.js';
import * as fidelity from './migrations/2026-12-04-0005-fidelity.js';
import * as gateway from './migrations/2026-12-04-0006-gateway.js';
import * as traffic from './migrations/2026-12-04-0007-traffic.js';
import * as webhooks from './migrations/2026-12-05-0008-webhooks.js';
import * as mfa from './migrations/2026-12-05-0009-mfa.js';
import * as sso from './migrations/2026-12-05-0010-sso.js';
import * as leaks from './migrations/2026-12-05-0011-leaks.js';
import * as sessionCredentials from './migrations/2026-12-05-0012-session-credentials.js';
import * as ssoFlowTenant from './migrations/2026-12-05-0013-sso-flow-tenant.js';

/** Migrations are listed here (not read from disk) so they work from src/ and dist/ alike. */
const MIGRATIONS: Record<string, Migration> = {
  '2026-11-23-0001-core': core,
  '2026-11-23-0002-accounting': accounting,
  '2026-11-23-0003-notify': notify,
  '2026-12-04-0004-security': security,
  '2026-12-04-0005-fidelity': fidelity,
  '2026-12-04-0006-gateway': gateway,
  '2026-12-04-0007-traffic': traffic,
  '2026-12-05-0008-webhooks': webhooks,
  '2026-12-05-0009-mfa': mfa,
  '2026-12-05-0010-sso': sso,
  '2026-12-05-0011-leaks': leaks,
  '2026-12-05-0012-session-credentials': sessionCredentials,
  '2026-12-05-0013-sso-flow-tenant': ssoFlowTenant,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
