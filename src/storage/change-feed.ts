/**
 * Cross-instance change events over PostgreSQL LISTEN/NOTIFY: every event emitted on this
 * instance's ChangeBus is NOTIFYed, and every event from another instance is delivered here, so a
 * key deactivated on one instance stops authenticating on all of them within milliseconds.
 * If the listening connection drops, it reconnects and emits `feed-reset` (caches are cleared,
 * since notifications may have been missed meanwhile).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { ChangeBus, ChangeEvents } from '../services.js';

const CHANNEL = 'latchkey_changes';

export class ChangeFeed {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly origin = randomUUID();
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly bus: ChangeBus,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.bus.setForwarder((event, ...args) => {
      const payload = JSON.stringify({ o: this.origin, e: event, a: args });
      this.pool.query('select pg_notify($1, $2)', [CHANNEL, payload]).catch((error: unknown) => {
        this.logger.error({ err: error }, 'change feed: NOTIFY failed');
      });
    });
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => this.receive(message.payload));
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'change feed: connection lost, reconnecting');
      this.scheduleReconnect();
    });
    client.on('end', () => this.scheduleReconnect());
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
    this.client = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.client = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect()
        .then(() => this.bus.deliverRemote('feed-reset'))
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'change feed: reconnect failed, retrying');
          this.scheduleReconnect();
        });
    }, 500);
    this.reconnectTimer.unref();
  }

  private receive(payload: string | undefined): void {
    if (!payload) return;
    try {
      const { o, e, a } = JSON.parse(payload) as { o: string; e: keyof ChangeEvents; a: unknown[] };
      if (o === this.origin) return;
      // biome-ignore lint/suspicious/noExplicitAny: the payload was produced by the same typed emitter.
      (this.bus.deliverRemote as any)(e, ...a);
    } catch (error) {
      this.logger.warn({ err: error }, 'change feed: ignored a malformed notification');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.bus.setForwarder(undefined);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
