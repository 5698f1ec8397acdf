/**
 * Failed-authentication throttling with exponential back-off, in memory (one instance).
 *
 * Each throttle key carries its policy (src/auth/throttle-keys.ts names the keys and picks the
 * policies): after `freeFailures` failures, each further failure blocks the key for base·2^n
 * seconds, capped at `maxBlockSeconds`. A key is forgotten `forgetAfterSeconds` after its last
 * failure or the end of its block, whichever is later, so waiting out a block does not buy a fresh
 * set of free failures.
 *
 * A failure against a key that is blocked is not counted: a blocked caller's further attempts
 * neither extend the block nor grow the counter (callers answer them 429 without recording).
 * The map is bounded by `maxEntries`, least recently failed first out; since callers never create
 * keys for subjects an attacker can make up (see throttle-keys.ts), filling it takes real addresses.
 */
export interface ThrottlePolicy {
  freeFailures: number;
  baseBlockSeconds: number;
  maxBlockSeconds: number;
  forgetAfterSeconds: number;
}

/** What failures are counted against (an address, an account, a key) and how. */
export interface ThrottleKey {
  readonly name: string;
  readonly policy: ThrottlePolicy;
  /** What the counter is about, for the 429 message (throttle-keys.ts sets it). */
  readonly subject?: 'address' | 'account' | 'access-key';
}

/** The block in force: the counter that blocked (the longest wait) and how many failures it holds. */
export interface ThrottleBlock {
  readonly key: ThrottleKey;
  /** Failures counted against `key` (those while blocked are not counted). */
  readonly failures: number;
  /** Whole seconds to wait: what `retryAfter` answers and the Retry-After header says. */
  readonly retryAfterSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 5,
  baseBlockSeconds: 1,
  maxBlockSeconds: 900,
  forgetAfterSeconds: 900,
};

export interface FailureThrottle {
  /** Seconds the caller must wait (0 = go ahead): the longest block among `keys`. */
  retryAfter(keys: readonly ThrottleKey[], nowMs: number): Promise<number>;
  /**
   * Count one failure against each key that is not blocked, and return the wait then in force
   * (what `retryAfter` would answer now).
   */
  recordFailure(keys: readonly ThrottleKey[], nowMs: number): Promise<number>;
  /**
   * The block in force among `keys` (the longest; undefined when none is blocked), with the
   * failure count of its counter, so a 429 can say what caused it. Asked only once a caller is
   * blocked, so the request path keeps its one read.
   */
  blocked(keys: readonly ThrottleKey[], nowMs: number): Promise<ThrottleBlock | undefined>;
  /** Forget failures of these keys (after a success, or an operator's `throttle clear --address`). */
  reset(keys: readonly ThrottleKey[]): Promise<void>;
  /** Forget every key (an operator's `throttle clear`); answers how many counters were dropped. */
  clear(): Promise<number>;
}

/** Seconds of the block after `failures` failures under `policy` (0: still free). */
export function blockSeconds(policy: ThrottlePolicy, failures: number): number {
  const over = failures - policy.freeFailures;
  if (over <= 0) return 0;
  return Math.min(policy.maxBlockSeconds, policy.baseBlockSeconds * 2 ** Math.min(over - 1, 30));
}

/** Whole seconds until `blockedUntil` (0 once it has passed): the Retry-After a caller gets. */
export const waitSeconds = (blockedUntil: number, nowMs: number): number =>
  blockedUntil > nowMs ? Math.ceil((blockedUntil - nowMs) / 1000) : 0;

interface Entry {
  failures: number;
  blockedUntil: number;
  /** When the entry is forgotten. */
  forgetAt: number;
}

export class MemoryThrottle implements FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly options: { maxEntries: number } = { maxEntries: 100_000 }) {}

  /** Keys currently remembered (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  async retryAfter(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    let wait = 0;
    for (const key of keys) {
      const entry = this.entries.get(key.name);
      if (entry) wait = Math.max(wait, waitSeconds(entry.blockedUntil, nowMs));
    }
    return wait;
  }

  async blocked(keys: readonly ThrottleKey[], nowMs: number): Promise<ThrottleBlock | undefined> {
    let block: ThrottleBlock | undefined;
    for (const key of keys) {
      const entry = this.entries.get(key.name);
      const wait = entry ? waitSeconds(entry.blockedUntil, nowMs) : 0;
      if (entry && wait > (block?.retryAfterSeconds ?? 0))
        block = { key, failures: entry.failures, retryAfterSeconds: wait };
    }
    return block;
  }

  async recordFailure(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    let wait = 0;
    for (const { name, policy } of keys) {
      let entry = this.entries.get(name);
      if (entry && entry.blockedUntil > nowMs) {
        wait = Math.max(wait, waitSeconds(entry.blockedUntil, nowMs));
        continue;
      }
      if (!entry || nowMs > entry.forgetAt) entry = { failures: 0, blockedUntil: 0, forgetAt: 0 };
      this.entries.delete(name); // re-insert: the Map's order is then least-recently-failed first
      entry.failures += 1;
      const seconds = blockSeconds(policy, entry.failures);
      if (seconds > 0) entry.blockedUntil = nowMs + seconds * 1000;
      entry.forgetAt = nowMs + (seconds + policy.forgetAfterSeconds) * 1000;
      this.entries.set(name, entry);
      wait = Math.max(wait, waitSeconds(entry.blockedUntil, nowMs));
    }
    // Drop forgotten entries from the old end (cheap, and keeps the map small long before the
    // bound), then enforce the bound.
    for (const [name, entry] of this.entries) {
      if (nowMs <= entry.forgetAt && this.entries.size <= this.options.maxEntries) break;
      this.entries.delete(name);
    }
    return wait;
  }

  async reset(keys: readonly ThrottleKey[]): Promise<void> {
    for (const key of keys) this.entries.delete(key.name);
  }

  async clear(): Promise<number> {
    const count = this.entries.size;
    this.entries.clear();
    return count;
  }
}
