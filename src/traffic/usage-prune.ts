/**
 * Pruning usage: hourly `key_usage` rows older than their tenant's `usage_retention_days`, and
 * `quota_usage` windows that started more than QUOTA_WINDOW_KEEP_DAYS ago (the longest quota
 * window is a month, so such a window is long over), and temporary credentials a day past their
 * expiry (src/auth/session-credentials.ts). Part of a serving instance's background
 * work (runtime.ts); every instance may run it, the deletes are idempotent. Tests call runOnce().
 */

import { USAGE_RETENTION_DAYS } from '../limits.js';
import type { Services } from '../services.js';
import { DAY_MS } from '../time.js';

export const QUOTA_WINDOW_KEEP_DAYS = 62;
const HOUR_MS = 3_600_000;

export interface UsagePruneResult {
  keyUsage: number;
  quotaUsage: number;
  sessionCredentials: number;
}

export class UsagePruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;
  private busy = false;

  constructor(
    private readonly svc: Services,
    private readonly intervalMs = HOUR_MS,
  ) {}

  /** Delete what is past its retention at `nowMs`; returns how many rows went. */
  async runOnce(nowMs: number = this.svc.clock.now().getTime()): Promise<UsagePruneResult> {
    const { db } = this.svc;
    const cutoff = (days: number) => new Date(nowMs - days * DAY_MS).toISOString();
    const settings = await db
      .selectFrom('tenant_settings')
      .select(['tenant_id', 'usage_retention_days'])
      .execute();
    // One delete per distinct retention (most tenants keep the default).
    const byDays = new Map<number, string[]>();
    for (const s of settings) {
      const tenants = byDays.get(s.usage_retention_days) ?? [];
      tenants.push(s.tenant_id);
      byDays.set(s.usage_retention_days, tenants);
    }
    let keyUsage = 0;
    for (const [days, tenants] of byDays) {
      for (let i = 0; i < tenants.length; i += 500) {
        const result = await db
          .deleteFrom('key_usage')
          .where('tenant_id', 'in', tenants.slice(i, i + 500))
          .where('hour', '<', cutoff(days))
          .executeTakeFirst();
        keyUsage += Number(result.numDeletedRows);
      }
    }
    // Rows of a tenant without settings (deleted since): the default retention.
    const orphans = await db
      .deleteFrom('key_usage')
      .where('tenant_id', 'not in', (eb) => eb.selectFrom('tenant_settings').select('tenant_id'))
      .where('hour', '<', cutoff(USAGE_RETENTION_DAYS.default))
      .executeTakeFirst();
    keyUsage += Number(orphans.numDeletedRows);
    const quota = await db
      .deleteFrom('quota_usage')
      .where('window_start', '<', cutoff(QUOTA_WINDOW_KEEP_DAYS))
      .executeTakeFirst();
    const sessions = await db
      .deleteFrom('session_credentials')
      .where('expires_at', '<', cutoff(1))
      .executeTakeFirst();
    return {
      keyUsage,
      quotaUsage: Number(quota.numDeletedRows),
      sessionCredentials: Number(sessions.numDeletedRows),
    };
  }

  /** A first pass now (catching up after a time with no instance running), then every interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    if (this.stopped || this.busy) return;
    this.busy = true;
    this.running = this.svc.metrics
      .job('usage_prune', () => this.runOnce())
      .then((result) => {
        if (result.keyUsage + result.quotaUsage + result.sessionCredentials > 0)
          this.svc.logger.info(result, 'usage pruned');
      })
      .catch((error: unknown) => this.svc.logger.warn({ err: error }, 'usage pruning failed'))
      .finally(() => {
        this.busy = false;
      });
  }

  /** Stop the timer and wait for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
