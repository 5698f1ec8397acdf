/** createServices(config): the one place that wires the database, clock, ids, crypto and logger. */

import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { SecretBox } from './crypto/envelope.js';
import { loadMasterKeyring, type MasterKeyring } from './crypto/master-key.js';
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
  return pino.destination({
    dest: 1,
    sync: false,
    minLength,
    periodicFlush: 250,
    ...(maxWrite === undefined ? {} : { maxWrite }),
  });
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
