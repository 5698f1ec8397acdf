/** Start-up shared by the server and the CLI: services, migrations, first tenant, token keys. */

import type { AuthDeps } from './auth/login.js';
import { MemoryThrottle } from './auth/throttle.js';
import { SigningKeys } from './auth/tokens/signing-keys.js';
import { type BootstrapResult, ensureFirstTenant } from './bootstrap.js';
import type { Config } from './config.js';
import { createServices, type ServiceOverrides } from './services.js';
import { migrateToLatest } from './storage/migrate.js';

export interface Runtime extends AuthDeps {
  bootstrap: BootstrapResult;
}

export async function startRuntime(config: Config, overrides: ServiceOverrides = {}): Promise<Runtime> {
  const svc = createServices(config, overrides);
  try {
    await migrateToLatest(svc.db);
    const bootstrap = await ensureFirstTenant(svc);
    const signingKeys = new SigningKeys(svc);
    await signingKeys.init();
    return { svc, signingKeys, throttle: new MemoryThrottle(), bootstrap };
  } catch (error) {
    await svc.close();
    throw error;
  }
}
