/**
 * The change feed between processes sharing one SQLite file (servers, workers, the operator CLI).
 *
 * Publishing: every event emitted on this process's ChangeBus becomes a row of `change_events`.
 * Kysely runs one statement at a time on the one connection, so a row is written after the
 * transaction that made the change has committed: a reader never sees the event before the change.
 *
 * Listening: every `pollMs`, `PRAGMA data_version` on this process's connection (a few microseconds,
 * no table read). SQLite changes that number only when another connection committed, so the rows
 * are read only then. Ids come from AUTOINCREMENT (never reused, and with one writer at a time
 * they commit in order), so "the last id seen" is a complete cursor, and a hole right after it
 * means rows were pruned before this process read them (it was paused longer than `retainMs`):
 * the process then emits `feed-reset` and every cache starts over.
 *
 * SQLite has no LISTEN/NOTIFY and no file-change signal that works across platforms and
 * containers, so polling a counter is the cheapest reliable way; nothing here runs per request.
 */
import { sql } from 'kysely';
import type { Services } from '../services.js';
import type { ChangeFeed } from './change-feed.js';
import { deliverPayload, Publisher } from './change-feed-publisher.js';

export interface SqliteChangeFeedOptions {
  /** How often to look for other processes' changes (the 1 s promise needs well under 1000). */
  pollMs: number;
  /** Rows older than this are pruned; a process paused longer than this resets its caches. */
  retainMs: number;
  /** How often a listening process prunes. */
  pruneEveryMs: number;
  /** More unread events than this: reset the caches instead of replaying each one. */
  maxBatch: number;
}

const DEFAULTS: SqliteChangeFeedOptions = {
  pollMs: 250,
  retainMs: 5 * 60_000,
  pruneEveryMs: 60_000,
  maxBatch: 1000,
};

export class SqliteChangeFeed implements ChangeFeed {
  private readonly options: SqliteChangeFeedOptions;
  private readonly publisher: Publisher;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private listening = false;
  private closed = false;
  /** The highest event id this process has read (or skipped as older than its start). */
  private lastId = 0;
  private dataVersion = 0;
  private lastPruneAt = 0;

  constructor(
    private readonly svc: Services,
    options: Partial<SqliteChangeFeedOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.publisher = new Publisher(svc.events, svc.logger);
  }

  publish(): void {
    const { db } = this.svc;
    this.publisher.start(async (event, args) => {
      await db
        .insertInto('change_events')
        .values({
          origin: this.publisher.origin,
          payload: JSON.stringify({ e: event, a: args }),
          // Real time, not svc.clock: retention is about how long processes really take to read a
          // row, and a test clock set in the past or future must not make fresh rows look old.
          created_at: new Date().toISOString(),
        })
        .execute();
    });
  }

  async listen(): Promise<void> {
    if (this.listening || this.closed) return;
    this.listening = true;
    this.dataVersion = await this.readDataVersion();
    // Events from before this start are of no use: nothing is cached yet.
    this.lastId = await this.readSequence();
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .catch((error: unknown) => {
          this.svc.logger.warn({ err: error }, 'change feed: polling failed, retrying');
        })
        .finally(() => {
          this.polling = undefined;
          this.schedule();
        });
    }, this.options.pollMs);
    this.timer.unref();
  }

  /** One look for new events (the timer calls it; tests may too). */
  async poll(): Promise<void> {
    const version = await this.readDataVersion();
    if (version !== this.dataVersion) {
      await this.readNew();
      // Only after a successful read: a failed one is retried on the next poll.
      this.dataVersion = version;
    }
    if (Date.now() - this.lastPruneAt >= this.options.pruneEveryMs) {
      this.lastPruneAt = Date.now();
      await this.prune();
    }
  }

  private async readNew(): Promise<void> {
    const sequence = await this.readSequence();
    if (sequence === this.lastId) return;
    // Fewer ids than we have seen: the table was rebuilt (e.g. a restored backup). Many unread
    // events: replaying them costs more than starting the caches over.
    if (sequence < this.lastId || sequence - this.lastId > this.options.maxBatch) {
      this.lastId = sequence;
      this.reset();
      return;
    }
    const rows = await this.svc.db
      .selectFrom('change_events')
      .select(['id', 'origin', 'payload'])
      .where('id', '>', this.lastId)
      .where('id', '<=', sequence)
      .orderBy('id')
      .execute();
    const first = rows[0];
    if (first === undefined || first.id !== this.lastId + 1) this.reset();
    this.lastId = sequence;
    for (const row of rows) {
      if (row.origin === this.publisher.origin) continue;
      let parsed: { e?: unknown; a?: unknown };
      try {
        parsed = JSON.parse(row.payload) as { e?: unknown; a?: unknown };
      } catch {
        this.svc.logger.warn({ id: row.id }, 'change feed: ignored a malformed event');
        continue;
      }
      deliverPayload(this.svc.events, this.svc.logger, parsed.e, parsed.a);
    }
  }

  private reset(): void {
    this.svc.logger.info('change feed: events may have been missed; dropping every cache');
    deliverPayload(this.svc.events, this.svc.logger, 'feed-reset', []);
  }

  private async prune(): Promise<void> {
    const cutoff = new Date(Date.now() - this.options.retainMs).toISOString();
    await this.svc.db.deleteFrom('change_events').where('created_at', '<', cutoff).execute();
  }

  private async readDataVersion(): Promise<number> {
    const { rows } = await sql<{ data_version: number }>`pragma data_version`.execute(this.svc.db);
    return Number(rows[0]?.data_version ?? 0);
  }

  /** The highest id ever given to an event (AUTOINCREMENT keeps it even when every row is pruned). */
  private async readSequence(): Promise<number> {
    const { rows } = await sql<{ seq: number }>`
      select seq from sqlite_sequence where name = 'change_events'
    `.execute(this.svc.db);
    return Number(rows[0]?.seq ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.publisher.close();
  }
}
