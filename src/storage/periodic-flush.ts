/**
 * What is counted in memory and written in batches (last-used times, quota counts, usage counts):
 * a timer that flushes every `flushMs` without keeping the process alive, one flush at a time, and
 * a last flush on stop. A flush asked for while one runs waits for it and then writes what was
 * counted since: the running one took its batch before, so joining it would return with those
 * counts still in memory (lost, when the caller was stop()).
 */
import type { Metrics } from '../observability/metrics.js';

export abstract class PeriodicFlush {
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  /**
   * `job`: the name its writes are counted under (latchkey_job_runs_total); `metrics`: where
   * (none in unit tests that build a flusher alone).
   */
  constructor(
    private readonly flushMs: number,
    private readonly job: string,
    private readonly metrics?: Metrics,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  flush(): Promise<void> {
    if (this.flushing) {
      // Callers that asked at the same time share the next flush (the first to get here starts it).
      return this.flushing.then(
        () => this.flush(),
        () => this.flush(),
      );
    }
    const written = this.write();
    if (written === undefined) return Promise.resolve();
    const run = this.metrics ? this.metrics.job(this.job, () => written) : written;
    this.flushing = run.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Write what has collected; undefined when there is nothing to write. */
  protected abstract write(): Promise<void> | undefined;
}
