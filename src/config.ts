import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PASSWORD_HASH_COST } from './crypto/password.js';
import { PASSWORD_LENGTH } from './limits.js';

/** Every setting latchkey reads from the environment, parsed once at start-up. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** `sqlite` unless DATABASE_URL is a postgres URL. */
  readonly database:
    | { readonly kind: 'sqlite'; readonly file: string }
    | { readonly kind: 'postgres'; readonly url: string };
  /** Base64 keyring from LATCHKEY_MASTER_KEY, or undefined to use (or create) `<dataDir>/master.key`. */
  readonly masterKey: string | undefined;
  readonly adminEmail: string;
  /** Whether LATCHKEY_ADMIN_EMAIL was set (adminEmail is otherwise the default): start-up says when it is ignored. */
  readonly adminEmailGiven: boolean;
  readonly adminPassword: string | undefined;
  readonly tenantName: string;
  readonly sigv4: { readonly region: string; readonly service: string };
  readonly jobsIntervalSeconds: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimitBytes: number;
  /** LATCHKEY_PASSWORD_HASH_COST: scrypt's cost, log2(N), for passwords set from now on. */
  readonly passwordHashCost: number;
  /**
   * LATCHKEY_TRUST_PROXY: whose X-Forwarded-For is believed when working out a request's source
   * address (sign-in throttling, audit rows, a key's last-used address).
   */
  readonly trustProxy: TrustProxy;
  readonly publicUrl: string | undefined;
  /**
   * LATCHKEY_WEBAUTHN_RP_ID: the domain passkeys are bound to, when it is not the console's own host
   * name: a parent domain (example.com for keys.example.com) lets passkeys outlive a move of the
   * console to another host under it. Unset: the host of LATCHKEY_PUBLIC_URL, else of the request.
   */
  readonly webauthnRpId: string | undefined;
  /** LATCHKEY_DEMO_DATA: fill the first tenant with demo accounting data when it has none. */
  readonly demoData: boolean;
  /** Where mail goes (SMTP_URL); undefined keeps every message in the outbox table. */
  readonly smtp: SmtpConfig | undefined;
  /** The From of every email (LATCHKEY_MAIL_FROM). */
  readonly mailFrom: string;
  /** Redis for state shared by instances (failed-authentication throttling); memory when unset. */
  readonly redisUrl: string | undefined;
  /** LATCHKEY_METRICS_TOKEN: GET /metrics on the main port with `Authorization: Bearer <it>`. */
  readonly metricsToken: string | undefined;
  /** LATCHKEY_METRICS_PORT: GET /metrics without a token on its own port, bound to 127.0.0.1. */
  readonly metricsPort: number | undefined;
  /**
   * LATCHKEY_WEBHOOK_ALLOW_PRIVATE: webhooks may be sent to loopback, private, link-local and other
   * non-public addresses (off by default: an endpoint URL must not reach into the operator's network).
   */
  readonly webhookAllowPrivate: boolean;
  /**
   * LATCHKEY_LEAK_REPORT_KEYS_FILE: GitHub's secret-scanning public keys (its meta format,
   * `{"public_keys":[{"key_identifier","key","is_current"}]}`), which POST /v1/leaked-keys verifies
   * signed reports with. Read at start and again whenever the file changes. Unset: only in-house
   * reporters (iam:leaks:report) can report.
   */
  readonly leakReportKeysFile: string | undefined;
  /**
   * LATCHKEY_SSO_ALLOW_PRIVATE: a tenant's OIDC identity provider may be on a loopback, private or
   * other non-public address, and use http:// (off by default, as for webhooks).
   */
  readonly ssoAllowPrivate: boolean;
  /**
   * LATCHKEY_WORKERS: serving processes on the one port (node:cluster; src/cluster.ts). 1, the
   * default, is one process and no cluster; `auto` is one per core the process may use.
   */
  readonly workers: number;
  /**
   * LATCHKEY_SHUTDOWN_DELAY_SECONDS: on SIGTERM, answer GET /readyz 503 and go on serving this long
   * before stopping, so load balancers take the instance out before its port closes (Kubernetes'
   * preStop pattern). 0, the default, stops at once.
   */
  readonly shutdownDelaySeconds: number;
}

export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  /** smtps://: TLS from the first byte (usually port 465). */
  readonly secure: boolean;
  /** smtp:// with ?starttls=required: refuse to send unless the server upgrades with STARTTLS. */
  readonly requireTLS: boolean;
  /** smtp:// with ?starttls=off: never upgrade, even when the server offers STARTTLS. */
  readonly ignoreTLS: boolean;
  /** ?tls_reject_unauthorized=false accepts a self-signed server certificate. */
  readonly rejectUnauthorized: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | undefined;
}

/**
 * `none`: the peer address is the source address, X-Forwarded-For is ignored.
 * `addresses`: proxies by address (IPs, CIDRs, or proxy-addr's names `loopback`, `linklocal`,
 * `uniquelocal`); X-Forwarded-For is read from the right while each hop is one of them.
 * `hops`: the nearest `count` hops are proxies whatever their address; the entry just past them
 * is the client (anyone who can reach latchkey directly can then choose that address).
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'addresses'; readonly addresses: readonly string[] }
  | { readonly kind: 'hops'; readonly count: number };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

const TRUST_PROXY = 'LATCHKEY_TRUST_PROXY';
/** The named ranges proxy-addr (Fastify's trustProxy) knows. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const MAX_PROXY_HOPS = 32;

/**
 * LATCHKEY_TRUST_PROXY: a comma-separated list of proxy addresses and CIDRs, or a hop count.
 * `true`/`yes`/`on` are refused: believing every sender's X-Forwarded-For lets anyone choose the
 * address their requests are throttled and audited under. `false`/`no`/`off`/`0`/empty: no proxy.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  const lower = value.toLowerCase();
  if (['', '0', 'false', 'no', 'off'].includes(lower)) return Object.freeze({ kind: 'none' });
  if (['true', 'yes', 'on'].includes(lower)) {
    throw new ConfigError(
      TRUST_PROXY,
      `"${value}" would believe X-Forwarded-For from anyone; list the proxy addresses or CIDRs ` +
        '(e.g. 10.0.0.0/8,127.0.0.1 or loopback) or give the number of proxies in front of latchkey (e.g. 1)',
    );
  }
  if (/^\d+$/.test(value)) {
    const count = Number(value);
    if (count > MAX_PROXY_HOPS) {
      throw new ConfigError(TRUST_PROXY, `a hop count must be between 0 and ${MAX_PROXY_HOPS}, got ${count}`);
    }
    return Object.freeze(count === 0 ? { kind: 'none' } : { kind: 'hops', count });
  }
  const addresses: string[] = [];
  for (const entry of value.split(',')) {
    const item = entry.trim();
    if (item === '') continue;
    const name = item.toLowerCase();
    if (PROXY_RANGE_NAMES.has(name)) addresses.push(name);
    else addresses.push(checkedProxyAddress(item));
  }
  if (addresses.length === 0) throw new ConfigError(TRUST_PROXY, 'lists no address');
  return Object.freeze({ kind: 'addresses', addresses: Object.freeze(addresses) });
}

/**
 * One IP address or CIDR, checked here so a typo stops start-up with the variable's name rather
 * than deep inside Fastify (whose proxy-addr throws on it when the app is built). node:net does
 * the parsing: `isIP` for the address, BlockList for the prefix range of its family.
 */
function checkedProxyAddress(item: string): string {
  const slash = item.indexOf('/');
  const address = slash === -1 ? item : item.slice(0, slash);
  const prefix = slash === -1 ? undefined : item.slice(slash + 1);
  const family = net.isIP(address);
  const fail = (why: string) =>
    new ConfigError(
      TRUST_PROXY,
      `"${item}" ${why}; give IP addresses, CIDRs (10.0.0.0/8, fd00::/8), loopback, linklocal or uniquelocal, or a hop count`,
    );
  if (family === 0 || address.includes('%')) throw fail('is not an IP address');
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix)) throw fail('has a prefix length that is not a number');
    try {
      new net.BlockList().addSubnet(address, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
    } catch {
      throw fail(`has a prefix length beyond ${family === 4 ? 32 : 128}`);
    }
  }
  return item;
}

/**
 * Fastify's `trustProxy` for the setting. Addresses go to proxy-addr as they are. A hop count
 * becomes a function because Fastify (5.12.8 and later) deliberately trusts nothing for a bare
 * number; latchkey keeps the hop count for deployments that can only be reached through their
 * proxies, and says so in the README.
 */
export function fastifyTrustProxy(
  trust: TrustProxy,
): false | string[] | ((address: string, hop: number) => boolean) {
  if (trust.kind === 'none') return false;
  if (trust.kind === 'addresses') return [...trust.addresses];
  const { count } = trust;
  return (_address, hop) => hop < count;
}

/**
 * Where users reach the service: LATCHKEY_PUBLIC_URL, else the listen address. Links in mail and the
 * OpenAPI document's server come from here, never from a request's Host header, which whoever sends
 * the request chooses.
 */
export function publicBaseUrl(config: Pick<Config, 'publicUrl' | 'host' | 'port'>): string {
  const base =
    config.publicUrl ??
    `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  return base.replace(/\/+$/, '');
}

/** A DNS name: dot-separated labels of lowercase letters, digits and inner hyphens. */
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * LATCHKEY_WEBAUTHN_RP_ID: a host name (no scheme, port or path), and, with LATCHKEY_PUBLIC_URL,
 * that URL's host or a parent domain of it: WebAuthn lets a page use only its own host name or a
 * domain above it, so any other value would make every passkey ceremony fail in the browser.
 * (Browsers also refuse a public suffix such as `com`; that list is theirs to know, not checked here.)
 */
export function parseWebauthnRpId(
  raw: string | undefined,
  publicUrl: string | undefined,
): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const rpId = raw.trim();
  if (!DNS_NAME.test(rpId) || /^[0-9.]+$/.test(rpId)) {
    throw new ConfigError(
      'LATCHKEY_WEBAUTHN_RP_ID',
      `must be a lowercase domain name such as example.com (no scheme, port or path), got "${raw}"`,
    );
  }
  if (publicUrl !== undefined) {
    const host = new URL(publicUrl).hostname;
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      throw new ConfigError(
        'LATCHKEY_WEBAUTHN_RP_ID',
        `must be LATCHKEY_PUBLIC_URL's host (${host}) or a domain above it, got "${rpId}"`,
      );
    }
  }
  return rpId;
}

/** Parse SMTP_URL: smtp[s]://[user:pass@]host[:port][?starttls=required|off&tls_reject_unauthorized=false]. */
export function parseSmtpUrl(raw: string): SmtpConfig {
  const fail = (why: string) => new ConfigError('SMTP_URL', why);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fail('is not a URL (expected smtp://host:port or smtps://user:password@host:port)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw fail(`must start with smtp:// or smtps://, got ${url.protocol}//`);
  if (url.hostname === '') throw fail('names no host');
  const secure = url.protocol === 'smtps:';
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  let requireTLS = false;
  let ignoreTLS = false;
  let rejectUnauthorized = true;
  for (const [name, value] of url.searchParams) {
    if (name === 'starttls') {
      if (secure) throw fail('starttls applies to smtp:// only (smtps:// is TLS from the start)');
      if (value === 'required') requireTLS = true;
      else if (value === 'off') ignoreTLS = true;
      else if (value !== 'auto') throw fail('starttls must be auto, required or off');
    } else if (name === 'tls_reject_unauthorized') {
      if (value !== 'true' && value !== 'false') throw fail('tls_reject_unauthorized must be true or false');
      rejectUnauthorized = value === 'true';
    } else {
      throw fail(`unknown option ${name} (known: starttls, tls_reject_unauthorized)`);
    }
  }
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (pass !== '' && user === '') throw fail('has a password but no user name');
  return Object.freeze({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    secure,
    requireTLS,
    ignoreTLS,
    rejectUnauthorized,
    auth: user === '' ? undefined : Object.freeze({ user, pass }),
  });
}

/** More workers than this is a typo, not a machine: each holds its own database connections and caches. */
export const MAX_WORKERS = 64;

/** LATCHKEY_WORKERS: a whole number from 1 to MAX_WORKERS, or `auto` (the cores this process may use). */
export function parseWorkers(raw: string | undefined, cores = os.availableParallelism()): number {
  const value = (raw ?? '').trim().toLowerCase();
  if (value === '') return 1;
  if (value === 'auto') return Math.max(1, Math.min(MAX_WORKERS, cores));
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new ConfigError(
      'LATCHKEY_WORKERS',
      `must be a whole number from 1 to ${MAX_WORKERS}, or auto (one per core), got "${raw}"`,
    );
  }
  return Number(value);
}

const MAIL_FROM = /^(?:[^<>@\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SCOPE_PART = /^[a-z0-9-]{1,64}$/;

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(str(env, 'LATCHKEY_DATA_DIR', './data'));
  const databaseUrl = env.DATABASE_URL;
  let database: Config['database'];
  if (databaseUrl === undefined || databaseUrl === '') {
    database = { kind: 'sqlite', file: path.join(dataDir, 'latchkey.sqlite') };
  } else if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    database = { kind: 'postgres', url: databaseUrl };
  } else if (databaseUrl.startsWith('sqlite:')) {
    database = { kind: 'sqlite', file: path.resolve(databaseUrl.slice('sqlite:'.length)) };
  } else {
    throw new ConfigError('DATABASE_URL', 'must start with postgres://, postgresql:// or sqlite:');
  }

  const logLevel = str(env, 'LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const adminEmail = str(env, 'LATCHKEY_ADMIN_EMAIL', 'admin@example.com');
  if (!/^[^@\s]+@[^@\s]+$/.test(adminEmail))
    throw new ConfigError('LATCHKEY_ADMIN_EMAIL', 'is not an email address');
  const adminPassword = env.LATCHKEY_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && adminPassword.length < PASSWORD_LENGTH.min) {
    throw new ConfigError('LATCHKEY_ADMIN_PASSWORD', `must be at least ${PASSWORD_LENGTH.min} characters`);
  }
  const region = str(env, 'LATCHKEY_SIGV4_REGION', 'ap-southeast-5');
  const service = str(env, 'LATCHKEY_SIGV4_SERVICE', 'sqlaccount');
  if (!SCOPE_PART.test(region))
    throw new ConfigError('LATCHKEY_SIGV4_REGION', 'must be lowercase letters, digits and -');
  if (!SCOPE_PART.test(service))
    throw new ConfigError('LATCHKEY_SIGV4_SERVICE', 'must be lowercase letters, digits and -');
  const publicUrl = env.LATCHKEY_PUBLIC_URL || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(publicUrl)) {
    throw new ConfigError('LATCHKEY_PUBLIC_URL', 'must be an http(s) URL');
  }
  const webauthnRpId = parseWebauthnRpId(env.LATCHKEY_WEBAUTHN_RP_ID, publicUrl);

  const smtpUrl = env.SMTP_URL || undefined;
  const smtp = smtpUrl === undefined ? undefined : parseSmtpUrl(smtpUrl);
  const mailFrom = str(env, 'LATCHKEY_MAIL_FROM', 'latchkey <latchkey@localhost>').trim();
  if (!MAIL_FROM.test(mailFrom)) {
    throw new ConfigError(
      'LATCHKEY_MAIL_FROM',
      `must be an address (keys@example.com) or a name and address (Latchkey <keys@example.com>), got "${mailFrom}"`,
    );
  }

  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  }

  const metricsToken = env.LATCHKEY_METRICS_TOKEN || undefined;
  // A bearer credential a scraper keeps in its configuration: long and plain enough to be both.
  if (metricsToken !== undefined && !/^[A-Za-z0-9._~+/=-]{32,256}$/.test(metricsToken)) {
    throw new ConfigError(
      'LATCHKEY_METRICS_TOKEN',
      'must be 32 to 256 characters of letters, digits and ._~+/=- (openssl rand -hex 32 makes one)',
    );
  }
  const metricsPortRaw = int(env, 'LATCHKEY_METRICS_PORT', -1, 1, 65535);

  return Object.freeze({
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST', '127.0.0.1'),
    dataDir,
    database: Object.freeze(database),
    masterKey: env.LATCHKEY_MASTER_KEY || undefined,
    adminEmail,
    adminEmailGiven: (env.LATCHKEY_ADMIN_EMAIL ?? '') !== '',
    adminPassword,
    tenantName: str(env, 'LATCHKEY_TENANT_NAME', 'Default'),
    sigv4: Object.freeze({ region, service }),
    jobsIntervalSeconds: int(env, 'LATCHKEY_JOBS_INTERVAL_SECONDS', 60, 1, 86_400),
    logLevel: logLevel as Config['logLevel'],
    bodyLimitBytes: int(env, 'LATCHKEY_BODY_LIMIT_BYTES', 1_048_576, 1024, 104_857_600),
    passwordHashCost: int(
      env,
      'LATCHKEY_PASSWORD_HASH_COST',
      PASSWORD_HASH_COST.default,
      PASSWORD_HASH_COST.min,
      PASSWORD_HASH_COST.max,
    ),
    trustProxy: parseTrustProxy(env.LATCHKEY_TRUST_PROXY),
    publicUrl,
    webauthnRpId,
    demoData: bool(env, 'LATCHKEY_DEMO_DATA', false),
    smtp,
    mailFrom,
    redisUrl,
    metricsToken,
    metricsPort: metricsPortRaw === -1 ? undefined : metricsPortRaw,
    webhookAllowPrivate: bool(env, 'LATCHKEY_WEBHOOK_ALLOW_PRIVATE', false),
    leakReportKeysFile: env.LATCHKEY_LEAK_REPORT_KEYS_FILE
      ? path.resolve(env.LATCHKEY_LEAK_REPORT_KEYS_FILE)
      : undefined,
    ssoAllowPrivate: bool(env, 'LATCHKEY_SSO_ALLOW_PRIVATE', false),
    workers: parseWorkers(env.LATCHKEY_WORKERS),
    shutdownDelaySeconds: int(env, 'LATCHKEY_SHUTDOWN_DELAY_SECONDS', 0, 0, 120),
  });
}
