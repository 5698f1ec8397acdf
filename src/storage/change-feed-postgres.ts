/**
 * The change feed between instances sharing PostgreSQL, over LISTEN/NOTIFY: every event emitted
 * on this process's ChangeBus is NOTIFYed (by every runtime, the operator CLI included), and a
 * listening instance delivers the others' events here, so a key deactivated anywhere stops
 * authenticating on all of them within milliseconds. PostgreSQL delivers a NOTIFY to its sender's
 * LISTEN too: the origin in the payload lets a process skip its own.
 * If the listening connection drops, it reconnects and emits `feed-reset` (caches are cleared,
 * since notifications may have been missed meanwhile).
 */
import pg from 'pg';
import type { Services } from '../services.js';
import type { ChangeFeed } from './change-feed.js';
import { deliverPayload, Publisher } from './change-feed-publisher.js';

const CHANNEL = 'latchkey_changes';
const RECONNECT_DELAY_MS = 500;

export class PostgresChangeFeed implements ChangeFeed {
  private client: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private readonly publisher: Publisher;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly svc: Services,
    private readonly url: string,
    private readonly pool: pg.Pool,
  ) {
    this.publisher = new Publisher(svc.events, svc.logger);
  }

  publish(): void {
    this.publisher.start(async (event, args) => {
      const payload = JSON.stringify({ o: this.publisher.origin, e: event, a: args });
      await this.pool.query('select pg_notify($1, $2)', [CHANNEL, payload]);
    });
  }

  async listen(): Promise<void> {
    if (this.listening || this.closed) return;
    this.listening = true;
    await this.connect();
  }

  private async connect(): Promise<void> {
    // keepAlive: a connection cut without a FIN (a NAT or firewall timeout) is noticed and replaced.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('notification', (message) => this.receive(message.payload));
    client.on('error', (error) => {
      this.svc.logger.warn({ err: error }, 'change feed: connection lost, reconnecting');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
  }

  private scheduleReconnect(lost: pg.Client): void {
    // Only the current connection's loss counts (a failed attempt's client ends too).
    if (this.closed || this.reconnectTimer || this.client !== lost) return;
    this.client = undefined;
    lost.end().catch(() => {});
    const attempt = () => {
      this.reconnectTimer = setTimeout(() => {
        this.connect()
          .then(() => {
            this.reconnectTimer = undefined;
            this.svc.metrics.changeFeedReconnects.inc();
            if (!this.closed) deliverPayload(this.svc.events, this.svc.logger, 'feed-reset', []);
          })
          .catch((error: unknown) => {
            this.svc.logger.warn({ err: error }, 'change feed: reconnect failed, retrying');
            if (!this.closed) attempt();
          });
      }, RECONNECT_DELAY_MS);
      this.reconnectTimer.unref();
    };
    attempt();
  }

  private receive(payload: string | undefined): void {
    if (!payload) return;
    let parsed: { o?: unknown; e?: unknown; a?: unknown };
    try {
      parsed = JSON.parse(payload) as { o?: unknown; e?: unknown; a?: unknown };
    } catch {
      this.svc.logger.warn('change feed: ignored a malformed notification');
      return;
    }
    if (parsed.o === this.publisher.origin) return;
    deliverPayload(this.svc.events, this.svc.logger, parsed.e, parsed.a);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
    await this.publisher.close();
  }
}
