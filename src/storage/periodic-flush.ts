/**
 * What is counted in memory and written in batches (last-used times, quota counts, usage counts):
 * a timer that flushes every `flushMs` without keeping the process alive, one flush at a time
 * (a flush asked for while one runs joins it), and a last flush on stop.
 */
export abstract class PeriodicFlush {
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly flushMs: number) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const run = this.write();
    if (run === undefined) return Promise.resolve();
    this.flushing = run.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Write what has collected; undefined when there is nothing to write. */
  protected abstract write(): Promise<void> | undefined;
}
