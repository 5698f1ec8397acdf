/**
 * The console's only way to the server: the public admin API with a Bearer token from
 * POST /iam/login. The token lives in memory and sessionStorage (so a reload keeps the session);
 * secrets never go to any storage.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    /** The error's other fields (e.g. `missingPermissions`, `tenants`). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'latchkey.console.token';
let token: string | null = null;
const authLostListeners = new Set<(code: string) => void>();

export const session = {
  load(): string | null {
    token = token ?? sessionStorage.getItem(TOKEN_KEY);
    return token;
  },
  set(value: string): void {
    token = value;
    sessionStorage.setItem(TOKEN_KEY, value);
  },
  clear(): void {
    token = null;
    sessionStorage.clear();
    localStorage.clear();
  },
  onAuthLost(listener: (code: string) => void): () => void {
    authLostListeners.add(listener);
    return () => authLostListeners.delete(listener);
  },
};

const SESSION_ENDED = new Set(['INVALID_TOKEN', 'EXPIRED_TOKEN', 'UNAUTHENTICATED']);

export async function errorFrom(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || 'request failed';
  let requestId = response.headers.get('x-request-id') ?? undefined;
  let details: Record<string, unknown> = {};
  try {
    const body = (await response.json()) as {
      error?: { code?: string; message?: string; requestId?: string; [extra: string]: unknown } | string;
      code?: string;
      message?: string;
    };
    if (body && typeof body.error === 'object' && body.error !== null) {
      const { code: c, message: m, requestId: r, ...rest } = body.error;
      code = c ?? code;
      message = m ?? message;
      requestId = r ?? requestId;
      details = rest;
    } else if (body && typeof body.code === 'string') {
      code = body.code;
      message = body.message ?? message;
    }
  } catch {
    // not JSON: keep the HTTP status
  }
  return new ApiError(response.status, code, message, requestId, details);
}

export interface RequestOptions {
  /** Send without the session token (sign-in, public routes). */
  anonymous?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const current = session.load();
  if (!options.anonymous && current) headers.authorization = `Bearer ${current}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK_ERROR', 'the server could not be reached; check that latchkey is running');
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    // Only the session in use ends the console: a request sent with a token that was replaced
    // meanwhile (a password change issues a new one) fails alone.
    if (
      response.status === 401 &&
      !options.anonymous &&
      current &&
      current === session.load() &&
      SESSION_ENDED.has(error.code)
    ) {
      for (const listener of authLostListeners) listener(error.code);
    }
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('POST', path, body ?? {}, options),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: (path: string) => request<void>('DELETE', path),
};

export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** The permissions a PRIVILEGE_ESCALATION refusal names: what the caller would need and lacks. */
export function missingPermissions(error: unknown): string[] {
  return error instanceof ApiError && error.code === 'PRIVILEGE_ESCALATION'
    ? stringList(error.details.missingPermissions)
    : [];
}

export interface TenantChoice {
  id: string;
  name: string;
}

/** The tenants a TENANT_REQUIRED sign-in answer offers (empty for any other error). */
export function tenantChoices(error: unknown): TenantChoice[] {
  if (!(error instanceof ApiError) || error.code !== 'TENANT_REQUIRED') return [];
  const tenants = error.details.tenants;
  if (!Array.isArray(tenants)) return [];
  return tenants.filter(
    (t): t is TenantChoice =>
      typeof t === 'object' && t !== null && typeof t.id === 'string' && typeof t.name === 'string',
  );
}

/** Human words for an error, always with its code. */
export function describeError(error: unknown): {
  title: string;
  message: string;
  code: string;
  requestId?: string;
  /** For PRIVILEGE_ESCALATION: the permissions the signed-in person lacks. */
  missingPermissions: string[];
} {
  if (error instanceof ApiError) {
    return {
      title: TITLES[error.code] ?? 'The request failed',
      message: error.message,
      code: error.code,
      requestId: error.requestId,
      missingPermissions: missingPermissions(error),
    };
  }
  return {
    title: 'Something went wrong',
    message: String((error as Error)?.message ?? error),
    code: 'CLIENT_ERROR',
    missingPermissions: [],
  };
}

const TITLES: Record<string, string> = {
  VALIDATION_FAILED: 'Check the form',
  AccessDenied: 'You do not have permission for this',
  PRIVILEGE_ESCALATION: 'Beyond your own permissions',
  TENANT_REQUIRED: 'Choose a tenant',
  NOT_FOUND: 'Not found',
  KEY_LIMIT_REACHED: 'Key limit reached',
  LAST_ADMINISTRATOR: 'The last administrator must stay',
  BUILTIN_PROTECTED: 'Built-in items cannot be changed this way',
  ALREADY_EXISTS: 'That already exists',
  EXPIRY_BEYOND_MAXIMUM: 'The expiry is beyond the maximum key lifetime',
  INVALID_EXPIRY: 'The expiry date is not valid',
  EMAIL_REQUIRED: 'An email address is needed',
  INVALID_CREDENTIALS: 'Wrong email or password',
  API_USER_PASSWORD_LOGIN: 'This is an API user',
  USER_DISABLED: 'This account is disabled',
  TOO_MANY_REQUESTS: 'Too many attempts',
  NETWORK_ERROR: 'No connection',
  INVALID_TOKEN: 'Your session has ended',
  EXPIRED_TOKEN: 'Your session has expired',
};

// ---- shapes of the admin API (see src/keys/keys.ts, src/identity/*.ts) ----

export interface NamedRef {
  id: string;
  name: string;
}

export type KeyState = 'active' | 'inactive' | 'expired' | 'expiring_soon';

export interface KeyView {
  accessKeyId: string;
  tenantId: string;
  name: string;
  type: 'access' | 'api';
  status: 'active' | 'inactive';
  state: KeyState;
  expiresAt: string | null;
  daysLeft: number | null;
  owner: { type: 'user' | 'service_account'; id: string; label: string };
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  secretVersion: number;
  groups: NamedRef[];
  roles: NamedRef[];
  /**
   * Deactivated by someone holding iam:keys:manage: only such a person can activate it again
   * (its owner alone cannot).
   */
  deactivatedByManager: boolean;
}

export interface CreatedKey extends KeyView {
  secretAccessKey: string;
}

export interface Me {
  id: string;
  tenantId: string;
  email?: string;
  name: string;
  principalType: string;
  /** How this session was obtained: `password` for console sign-ins. */
  authenticatedWith?: string;
  isAdministrator?: boolean;
  /** The concrete permissions the signed-in person holds (the catalogue, expanded). */
  permissions: string[];
  groups: NamedRef[];
  roles: NamedRef[];
}

export interface UserView {
  id: string;
  tenantId: string;
  email: string;
  name: string;
  status: 'active' | 'disabled';
  apiUser: boolean;
  isAdministrator: boolean;
  hasPassword: boolean;
  createdAt: string;
  /** The signed-in person holds all this user holds: may create its keys, set its password or email. */
  withinYourPermissions: boolean;
}

/** PATCH /iam/me with a new password: every earlier session ended, this is the new one. */
export interface PasswordChanged extends UserView {
  session: { token: string; token_type: 'Bearer'; expires_in: number };
}

export interface ServiceAccountView {
  id: string;
  name: string;
  email: string | null;
  description: string;
  status: 'active' | 'disabled';
  createdAt: string;
  /** The signed-in person holds all this account holds: may create its keys and change its email. */
  withinYourPermissions: boolean;
}

export interface RoleView {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  builtin: boolean;
  /** The signed-in person holds every permission of the role, so may give it. */
  grantable: boolean;
}

export interface GroupView {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  roles: NamedRef[];
  memberCount: number;
  /** The signed-in person holds all the group gives (`*` for Administrators), so may give it. */
  grantable: boolean;
}

export interface GroupMember {
  type: 'user' | 'service_account' | 'key';
  id: string;
  label: string;
}

export interface IamSettings {
  defaultKeyLifetimeDays: number | null;
  maxKeyLifetimeDays: number | null;
  tokenLifetimeSeconds: number;
  userKeyLimit: number;
  reminderLeadDays: number;
  acceptedScopes: Array<{ region: string; service: string }>;
  allowUnsignedPayload: boolean;
  emailSecretInline: boolean;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  sourceIp: string | null;
  requestId: string | null;
  before: unknown;
  after: unknown;
}
