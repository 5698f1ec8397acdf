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

export function createLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'latchkey' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      // A presigned URL is a credential until it expires: its signature never reaches the log.
      req: (req: { method: string; url: string; id: string }) => ({
        method: req.method,
        url: req.url
          .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&]*/gi, '$1[redacted]')
          // A secret pasted where an ID belongs must not reach the log either.
          .replace(/lksk_[0-9A-Za-z]{40}/g, 'lksk_[redacted]')
          // An unused reveal link shows a secret to whoever POSTs it.
          .replace(/(\/key-reveal\/)[^/?#]+/gi, '$1[redacted]'),
        id: req.id,
      }),
    },
  });
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
    metrics: new Metrics(),
    close: () => database.close(),
  };
}
