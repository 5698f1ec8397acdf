/**
 * Records when and from where each key was last used without a database write per request:
 * uses are collected in memory and written in one transaction every `flushMs` (and on shutdown).
 */
import type { Services } from '../services.js';

export class LastUsedRecorder {
  private pending = new Map<string, { at: string; ip: string }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly svc: Services,
    private readonly flushMs = 5_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  record(accessKeyId: string, ip: string): void {
    this.pending.set(accessKeyId, { at: this.svc.clock.now().toISOString(), ip });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.svc.db
      .transaction()
      .execute(async (trx) => {
        for (const [id, use] of batch) {
          await trx
            .updateTable('access_keys')
            .set({ last_used_at: use.at, last_used_ip: use.ip })
            .where('id', '=', id)
            // Never move the time backwards (another instance may have written a later use).
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', use.at)]))
            .execute();
        }
      })
      .catch((error: unknown) => {
        this.svc.logger.warn(
          { err: error, keys: batch.size },
          'could not record last-used times; will retry',
        );
        for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
