/**
 * What both change feeds share: forwarding this process's ChangeBus events (tracked, so closing
 * waits for them), and turning another process's payload back into a local event.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChangeBus, ChangeEvents } from '../services.js';

type EventName = keyof ChangeEvents;

/** The events a feed delivers; anything else in a payload (e.g. from a newer version) is ignored. */
const KNOWN_EVENTS: ReadonlySet<string> = new Set<EventName>([
  'key-changed',
  'authz-changed',
  'apis-changed',
  'feed-reset',
  'mail-queued',
  'throttle-cleared',
] satisfies EventName[]);

/** Delays before each retry of a failed publish. */
const RETRY_DELAYS_MS = [100, 400];

export type Send = (event: EventName, args: unknown[]) => Promise<void>;

export class Publisher {
  /** This process's id: a feed skips the events it finds with its own origin. */
  readonly origin = randomUUID();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly bus: ChangeBus,
    private readonly logger: Logger,
  ) {}

  start(send: Send): void {
    this.bus.setForwarder((event, ...args) => {
      const done = this.sendWithRetry(send, event, args).finally(() => this.pending.delete(done));
      this.pending.add(done);
    });
  }

  /**
   * Retried because a lost publish leaves a revoked key working on the other instances until their
   * cache entries expire; a database busy for a moment should not cost that.
   */
  private async sendWithRetry(send: Send, event: EventName, args: unknown[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await send(event, args);
        return;
      } catch (error) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          this.logger.error(
            { err: error, event },
            'change feed: could not publish a change; other instances see it when their caches expire',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Wait until every event emitted so far (and any emitted meanwhile) is published, then stop forwarding. */
  async close(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.bus.setForwarder(undefined);
  }
}

/** Deliver another process's event here (never forwarded again); malformed payloads are logged and skipped. */
export function deliverPayload(bus: ChangeBus, logger: Logger, event: unknown, args: unknown): void {
  if (typeof event !== 'string' || !KNOWN_EVENTS.has(event) || !Array.isArray(args)) {
    logger.warn({ event }, 'change feed: ignored an unknown or malformed event');
    return;
  }
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the payload was produced by the same typed emitter.
    (bus.deliverRemote as any)(event, ...args);
  } catch (error) {
    // A listener that throws must not stop the feed from delivering the events after this one.
    logger.error({ err: error, event }, 'change feed: a listener failed on a delivered event');
  }
}
