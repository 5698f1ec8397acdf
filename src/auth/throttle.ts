/**
 * Failed-authentication throttling with exponential back-off, in memory (one instance).
 * After `freeFailures` failures for a key (a source address, an email+address pair, an access
 * key ID), each further failure blocks that key for base·2^n seconds, capped at `maxBlockSeconds`.
 * State for a key is forgotten `forgetAfterSeconds` after its last failure, and the map is bounded.
 */
export interface ThrottleOptions {
  freeFailures: number;
  baseBlockSeconds: number;
  maxBlockSeconds: number;
  forgetAfterSeconds: number;
  maxEntries: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  baseBlockSeconds: 1,
  maxBlockSeconds: 900,
  forgetAfterSeconds: 900,
  maxEntries: 100_000,
};

interface Entry {
  failures: number;
  blockedUntil: number;
  lastFailure: number;
}

export interface FailureThrottle {
  /** Seconds the caller must wait (0 = go ahead): the longest block among `keys`. */
  retryAfter(keys: readonly string[], nowMs: number): Promise<number>;
  recordFailure(keys: readonly string[], nowMs: number): Promise<void>;
  /** Forget failures of these keys (after a success). */
  reset(keys: readonly string[]): Promise<void>;
}

export class MemoryThrottle implements FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly options: ThrottleOptions = DEFAULT_THROTTLE) {}

  async retryAfter(keys: readonly string[], nowMs: number): Promise<number> {
    let wait = 0;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry && entry.blockedUntil > nowMs)
        wait = Math.max(wait, Math.ceil((entry.blockedUntil - nowMs) / 1000));
    }
    return wait;
  }

  async recordFailure(keys: readonly string[], nowMs: number): Promise<void> {
    const { freeFailures, baseBlockSeconds, maxBlockSeconds, forgetAfterSeconds, maxEntries } = this.options;
    for (const key of keys) {
      let entry = this.entries.get(key);
      if (!entry || nowMs - entry.lastFailure > forgetAfterSeconds * 1000) {
        entry = { failures: 0, blockedUntil: 0, lastFailure: nowMs };
      }
      this.entries.delete(key); // re-insert: the Map's order is then least-recently-failed first
      entry.failures += 1;
      entry.lastFailure = nowMs;
      const over = entry.failures - freeFailures;
      if (over > 0) {
        const seconds = Math.min(maxBlockSeconds, baseBlockSeconds * 2 ** Math.min(over - 1, 30));
        entry.blockedUntil = nowMs + seconds * 1000;
      }
      this.entries.set(key, entry);
    }
    while (this.entries.size > maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  async reset(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}
