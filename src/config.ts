import path from 'node:path';

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
  readonly adminPassword: string | undefined;
  readonly tenantName: string;
  readonly sigv4: { readonly region: string; readonly service: string };
  readonly jobsIntervalSeconds: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimitBytes: number;
  /** Trust X-Forwarded-For from a proxy in front of latchkey (for source addresses in audit rows). */
  readonly trustProxy: boolean;
  readonly publicUrl: string | undefined;
  /** LATCHKEY_DEMO_DATA: fill the first tenant with demo accounting data when it has none. */
  readonly demoData: boolean;
  /** Where mail goes (SMTP_URL); undefined keeps every message in the outbox table. */
  readonly smtp: SmtpConfig | undefined;
  /** The From of every email (LATCHKEY_MAIL_FROM). */
  readonly mailFrom: string;
  /** Redis for state shared by instances (failed-authentication throttling); memory when unset. */
  readonly redisUrl: string | undefined;
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
  if (adminPassword !== undefined && adminPassword.length < 12) {
    throw new ConfigError('LATCHKEY_ADMIN_PASSWORD', 'must be at least 12 characters');
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

  return Object.freeze({
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST', '127.0.0.1'),
    dataDir,
    database: Object.freeze(database),
    masterKey: env.LATCHKEY_MASTER_KEY || undefined,
    adminEmail,
    adminPassword,
    tenantName: str(env, 'LATCHKEY_TENANT_NAME', 'Default'),
    sigv4: Object.freeze({ region, service }),
    jobsIntervalSeconds: int(env, 'LATCHKEY_JOBS_INTERVAL_SECONDS', 60, 1, 86_400),
    logLevel: logLevel as Config['logLevel'],
    bodyLimitBytes: int(env, 'LATCHKEY_BODY_LIMIT_BYTES', 1_048_576, 1024, 104_857_600),
    trustProxy: bool(env, 'LATCHKEY_TRUST_PROXY', false),
    publicUrl,
    demoData: bool(env, 'LATCHKEY_DEMO_DATA', false),
    smtp,
    mailFrom,
    redisUrl,
  });
}
