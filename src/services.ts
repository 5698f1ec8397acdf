/** createServices(config): the one place that wires the database, clock, ids, crypto and logger. */

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { SecretBox } from './crypto/envelope.js';
import { loadMasterKeyring, type MasterKeyring } from './crypto/master-key.js';
import { PASSWORD_HASH_COST, setPasswordHashCost } from './crypto/password.js';
import { randomBase32 } from './crypto/random.js';
import { Metrics } from './observability/metrics.js';
import { type DatabaseHandle, type Db, type Engine, openDatabase } from './storage/dialect.js';
import type { ModeReporter } from './storage/private-files.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Changes other parts of the process (caches) must hear about. */
export interface ChangeEvents {
  /** A key's state, secret or assignments changed (or it was deleted). */
  'key-changed': [{ tenantId: string; accessKeyId: string }];
  /** Roles, groups, memberships or a principal's status changed: cached permissions are stale. */
  'authz-changed': [{ tenantId: string }];
  /** Changes from other instances may have been missed (the feed reconnected): drop every cache. */
  'feed-reset': [];
  /** A registered API was created, changed or deleted: the gateway's registry reloads. */
  'apis-changed': [{ tenantId: string }];
  /** Mail was queued in the outbox (its transaction committed): wake the mail worker. */
  'mail-queued': [{ tenantId: string }];
  /** An operator lifted failed-authentication blocks (`latchkey throttle clear`): of one address, or all (null). */
  'throttle-cleared': [{ address: string | null }];
}

type Forwarder = <K extends keyof ChangeEvents>(event: K, ...args: ChangeEvents[K]) => void;

/**
 * In-process change events. The change feed (storage/change-feed.ts) forwards every local event to
 * the other processes on the same database (NOTIFY on PostgreSQL, an event table on SQLite) and
 * delivers theirs here with `deliverRemote`, which does not forward.
 */
export class ChangeBus extends EventEmitter<ChangeEvents> {
  private forwarder: Forwarder | undefined;

  setForwarder(forwarder: Forwarder | undefined): void {
    this.forwarder = forwarder;
  }

  override emit<K extends keyof ChangeEvents>(event: K, ...args: ChangeEvents[K]): boolean {
    this.forwarder?.(event, ...args);
    return this.deliverRemote(event, ...args);
  }

  deliverRemote<K extends keyof ChangeEvents>(event: K, ...args: ChangeEvents[K]): boolean {
    // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's typed overloads do not compose with a generic K.
    return (super.emit as any)(event, ...args);
  }
}

export interface Services {
  readonly config: Config;
  readonly db: Db;
  readonly engine: Engine;
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly newId: (prefix: string) => string;
  readonly secrets: SecretBox;
  readonly keyring: MasterKeyring;
  readonly logger: Logger;
  readonly events: ChangeBus;
  /** Prometheus counters and gauges (GET /metrics). */
  readonly metrics: Metrics;
  /** Set once a stop is asked for: GET /readyz then answers 503 (see serve.ts). */
  readonly lifecycle: { stopping: boolean };
  close(): Promise<void>;
}

/** Field paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.currentPassword',
  '*.secretAccessKey',
  '*.secretkey',
  '*.secret',
  'password',
  'secretAccessKey',
];

const MAY_HOLD_CREDENTIAL = /x-amz-|lksk_|key-reveal/i;

/**
 * A URL as it may appear in a log: a presigned URL is a credential until it expires, so its
 * signature never reaches the log; nor does a secret pasted where an ID belongs, or an unused
 * reveal link (it shows a secret to whoever POSTs it).
 */
export function loggableUrl(url: string): string {
  // Most URLs hold none of them: one test instead of three replacements (every request is logged).
  if (!MAY_HOLD_CREDENTIAL.test(url)) return url;
  return url
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&]*/gi, '$1[redacted]')
    .replace(/lksk_[0-9A-Za-z]{40}/g, 'lksk_[redacted]')
    .replace(/(\/key-reveal\/)[^/?#]+/gi, '$1[redacted]');
}

/**
 * Where the service logger writes: stdout, asynchronously and in batches. Lines are queued and
 * written once 4 KiB have gathered, or after 250 ms at the latest, so a busy server makes one
 * write per dozen access lines instead of one per line (measured: the per-line write was about half
 * of what an access line cost) and a slow or blocked stdout never stalls a request. What is queued
 * is written when the process exits (pino's exit hook); a SIGKILL loses at most the last 250 ms.
 * `maxWrite`: no write longer than that (a pipe several processes share writes up to PIPE_BUF
 * atomically: cluster/*.ts); a line is never split between writes.
 */
export function stdoutDestination(maxWrite?: number): pino.DestinationStream {
  const minLength = maxWrite === undefined ? 4096 : Math.floor(maxWrite / 2);
  const fd = 1;
  const sonic = pino.destination({
    dest: fd,
    sync: false,
    minLength,
    periodicFlush: 250,
    ...(maxWrite === undefined ? {} : { maxWrite }),
  });
  return new LineBatcher(sonic, fd, maxWrite ?? SONIC_BOOM_MAX_WRITE);
}

/** sonic-boom's default largest write (16 KiB). */
const SONIC_BOOM_MAX_WRITE = 16 * 1024;

type SonicBoomLike = pino.DestinationStream & {
  flush(cb?: (error?: Error) => void): void;
  flushSync(): void;
  end(): void;
  destroyed?: boolean;
};

/**
 * Hands a sonic-boom destination the lines of one turn of the event loop joined, in one write,
 * instead of one write per line. sonic-boom (4.x and 5.x) measures the UTF-8 length of its whole
 * pending buffer on every write, which flattens and scans up to 4 KiB per line: measured with
 * 300-byte lines into a file, one write per line cost about 3 µs of CPU, one per turn about 1.3 µs.
 * No library does this in front of sonic-boom, hence this class. Batches never exceed `maxBatch` bytes
 * (the destination's largest write, so cluster workers' writes stay atomic) and never split a line.
 * Lines still here when the process exits are written synchronously, as sonic-boom's own are.
 */
export class LineBatcher implements pino.DestinationStream {
  #lines: string[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(
    private readonly sink: SonicBoomLike,
    /** The file descriptor `sink` writes to. */
    private readonly fd: number,
    private readonly maxBatch: number,
  ) {
    process.once('exit', () => this.flushSync());
  }

  write(line: string): boolean {
    const bytes = Buffer.byteLength(line);
    if (this.#bytes + bytes > this.maxBatch) this.#drain();
    this.#lines.push(line);
    this.#bytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drainSoon);
    }
    return true;
  }

  readonly #drainSoon = (): void => {
    this.#scheduled = false;
    this.#drain();
  };

  /** The lines held, joined, and none held any more; undefined when there were none. */
  #take(): string | undefined {
    if (this.#lines.length === 0) return undefined;
    const batch = this.#lines.length === 1 ? (this.#lines[0] as string) : this.#lines.join('');
    this.#lines = [];
    this.#bytes = 0;
    return batch;
  }

  #drain(): void {
    const batch = this.#take();
    if (batch !== undefined && !this.sink.destroyed) this.sink.write(batch);
  }

  /** What pino's `logger.flush()` calls. */
  flush(cb?: (error?: Error) => void): void {
    this.#drain();
    this.sink.flush(cb);
  }

  /**
   * Everything written, synchronously (at exit: pino's hook and this class's). The destination's
   * queue goes first and this batch after it, in one write, so a batch is not handed to the
   * destination only to start an asynchronous write that would never finish. A write sonic-boom
   * had already started asynchronously may still land after these (its own exit flush has the same
   * race), so at exit lines arrive whole and once, not always in order.
   */
  flushSync(): void {
    if (this.sink.destroyed) return;
    this.sink.flushSync();
    const batch = this.#take();
    if (batch === undefined) return;
    let rest = Buffer.from(batch);
    // A pipe may take part of it, or none for now (EAGAIN: wait briefly, as sonic-boom does); a
    // closed one (EPIPE) or any other failure ends the writing, never the process.
    for (let waits = 0; rest.length > 0; ) {
      try {
        rest = rest.subarray(fs.writeSync(this.fd, rest));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++waits > 100) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }

  end(): void {
    this.#drain();
    this.sink.end();
  }
}

/** The service logger (stdoutDestination by default; tests pass their own destination). */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  destination: pino.DestinationStream = stdoutDestination(),
): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'latchkey' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({
          method: req.method,
          url: loggableUrl(req.url),
          id: req.id,
        }),
      },
    },
    destination,
  );
}

export interface ServiceOverrides {
  clock?: Clock;
  logger?: Logger;
}

export function createServices(config: Config, overrides: ServiceOverrides = {}): Services {
  const logger = overrides.logger ?? createLogger(config);
  setPasswordHashCost(config.passwordHashCost);
  if (config.passwordHashCost < PASSWORD_HASH_COST.default) {
    logger.warn(
      { cost: config.passwordHashCost, default: PASSWORD_HASH_COST.default },
      'LATCHKEY_PASSWORD_HASH_COST is below the default: new password hashes are cheaper to guess. Use it for tests, not in production.',
    );
  }
  const reportMode: ModeReporter = (note) =>
    logger.warn({ path: note.path, mode: note.from.toString(8), wanted: note.to.toString(8) }, note.message);
  const { keyring, generated } = loadMasterKeyring(config.masterKey, config.dataDir, reportMode);
  if (generated && keyring.source.kind === 'file') {
    logger.warn(
      { path: keyring.source.path },
      'generated a new master key; back it up: without it no stored secret can be decrypted. ' +
        'With several instances set LATCHKEY_MASTER_KEY to the same value on each.',
    );
  }
  const database = openDatabase(config.database, { dataDir: config.dataDir, report: reportMode });
  const events = new ChangeBus();
  events.setMaxListeners(100);
  const metrics = new Metrics();
  const { pool } = database;
  if (pool) {
    metrics.gauges(
      [
        { name: 'latchkey_db_pool_connections', help: 'PostgreSQL connections open in the pool' },
        { name: 'latchkey_db_pool_connections_idle', help: 'PostgreSQL connections open and idle' },
        {
          name: 'latchkey_db_pool_waiting',
          help: 'Queries waiting for a PostgreSQL connection (the pool is at its maximum)',
        },
      ],
      () => [pool.totalCount, pool.idleCount, pool.waitingCount],
    );
  }
  return {
    config,
    db: database.db,
    engine: database.engine,
    database,
    clock: overrides.clock ?? systemClock,
    newId: (prefix) => `${prefix}_${randomBase32(16).toLowerCase()}`,
    secrets: new SecretBox(keyring, () => loadMasterKeyring(config.masterKey, config.dataDir).keyring),
    keyring,
    logger,
    events,
    metrics,
    lifecycle: { stopping: false },
    close: () => database.close(),
  };
}
