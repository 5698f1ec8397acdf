import { describe, expect, it } from 'vitest';
import { PeriodicFlush } from './periodic-flush.js';

/** Counts in memory; each write takes the batch at once and lands when the test says so. */
class Counter extends PeriodicFlush {
  pending = 0;
  written = 0;
  writes = 0;
  private release: Array<() => void> = [];
  constructor() {
    super(60_000, 'test');
  }
  land(): void {
    for (const r of this.release.splice(0)) r();
  }
  protected write(): Promise<void> | undefined {
    if (this.pending === 0) return undefined;
    const batch = this.pending;
    this.pending = 0;
    this.writes++;
    return new Promise<void>((resolve) => {
      this.release.push(() => {
        this.written += batch;
        resolve();
      });
    });
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('PeriodicFlush', () => {
  it('a flush asked for during another writes what was counted after that one took its batch', async () => {
    const c = new Counter();
    c.pending = 2;
    const first = c.flush(); // the timer's flush: takes 2
    c.pending += 1; // counted while it writes
    let done = false;
    const second = c.flush().then(() => {
      done = true;
    });
    c.land();
    await first;
    await tick();
    expect(done).toBe(false); // not before the count made after the first batch is written
    c.land();
    await second;
    expect(c.written).toBe(3);
    expect(c.writes).toBe(2);
  });

  it('callers that ask during one flush share the next; with nothing new, none is started', async () => {
    const c = new Counter();
    c.pending = 1;
    const first = c.flush();
    c.pending = 1;
    const waiting = [c.flush(), c.flush(), c.flush()];
    c.land();
    await first;
    await tick();
    c.land();
    await Promise.all(waiting);
    expect(c.writes).toBe(2);
    expect(c.written).toBe(2);
    await c.flush();
    expect(c.writes).toBe(2);
  });

  it('stop() after a running flush leaves nothing in memory', async () => {
    const c = new Counter();
    c.pending = 5;
    const running = c.flush();
    c.pending += 2;
    const stopped = c.stop();
    c.land();
    await running;
    await tick();
    c.land();
    await stopped;
    expect(c.pending).toBe(0);
    expect(c.written).toBe(7);
  });
});
