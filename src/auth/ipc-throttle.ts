/**
 * The failed-authentication throttle of a worker (LATCHKEY_WORKERS > 1, no REDIS_URL): the
 * primary process holds one MemoryThrottle for every worker, so an attacker spreading attempts
 * over the workers' connections gets the attempts of one process, not N times as many.
 * Failures are rare next to requests, so each call is a round trip of its own on the batched
 * cluster channel (cluster/channel.ts); a successful request never asks.
 */
import type { PrimaryChannel } from '../cluster/channel.js';
import type { FailureThrottle, MemoryThrottle, ThrottleBlock, ThrottleKey } from './throttle.js';

export class IpcThrottle implements FailureThrottle {
  constructor(private readonly channel: PrimaryChannel) {}

  async retryAfter(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    return this.channel.call<number>('throttle.retryAfter', [keys, nowMs]);
  }

  async recordFailure(keys: readonly ThrottleKey[], nowMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    return this.channel.call<number>('throttle.recordFailure', [keys, nowMs]);
  }

  async blocked(keys: readonly ThrottleKey[], nowMs: number): Promise<ThrottleBlock | undefined> {
    if (keys.length === 0) return undefined;
    const block = await this.channel.call<{
      name: string;
      failures: number;
      retryAfterSeconds: number;
    } | null>('throttle.blocked', [keys, nowMs]);
    if (block === null) return undefined;
    // The caller's own key object (its subject names the 429's message).
    const key = keys.find((k) => k.name === block.name);
    return key === undefined
      ? undefined
      : { key, failures: block.failures, retryAfterSeconds: block.retryAfterSeconds };
  }

  async reset(keys: readonly ThrottleKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.channel.call('throttle.reset', [keys]);
  }

  async clear(): Promise<number> {
    return this.channel.call<number>('throttle.clear', []);
  }
}

/** The primary's handlers for IpcThrottle's calls, on its one MemoryThrottle. */
export function throttleHandlers(throttle: MemoryThrottle) {
  return {
    'throttle.retryAfter': (keys: ThrottleKey[], nowMs: number) => throttle.retryAfter(keys, nowMs),
    'throttle.recordFailure': (keys: ThrottleKey[], nowMs: number) => throttle.recordFailure(keys, nowMs),
    'throttle.blocked': async (keys: ThrottleKey[], nowMs: number) => {
      const block = await throttle.blocked(keys, nowMs);
      // JSON on the wire: undefined would vanish from the answer, null does not.
      return block === undefined
        ? null
        : { name: block.key.name, failures: block.failures, retryAfterSeconds: block.retryAfterSeconds };
    },
    'throttle.reset': (keys: ThrottleKey[]) => throttle.reset(keys),
    'throttle.clear': () => throttle.clear(),
  };
}
