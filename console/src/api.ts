import type { Static, TSchema } from '@sinclair/typebox';
import type * as C from '../../src/contract/common';
import { type OperationId, operations } from '../../src/contract/operations';
import type * as V from '../../src/contract/views';

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
  INVALID_API: 'Check the API',
  BASE_PATH_TAKEN: 'That base path is taken',
  INVALID_WEBHOOK: 'Check the webhook',
  WEBHOOK_ADDRESS_REFUSED: 'That address is not allowed',
  MFA_CODE_INVALID: 'That code is not right',
  MFA_CHALLENGE_INVALID: 'Sign in again',
  MFA_ALREADY_ACTIVE: 'An authenticator app is already on',
  MFA_NOT_ENABLED: 'No second factor for this',
  WEBAUTHN_FAILED: 'The passkey was not accepted',
};

// ---- the admin API's shapes and operations, from the server's contract (src/contract) ----

export type NamedRef = Static<typeof C.NamedRef>;
export type KeyState = Static<typeof V.KeyState>;
export type KeyType = Static<typeof V.KeyType>;
export type KeyView = Static<typeof V.KeyView>;
export type CreatedKey = Static<typeof V.CreatedKey>;
export type EffectivePermissions = Static<typeof V.EffectivePermissions>;
export type Me = Static<typeof V.Me>;
/** A user as the signed-in person sees it (with `withinYourPermissions`). */
export type UserView = Static<typeof V.ManagedUser>;
export type ServiceAccountView = Static<typeof V.ManagedServiceAccount>;
export type RoleView = Static<typeof V.GrantableRole>;
export type GroupView = Static<typeof V.GrantableGroup>;
export type GroupMember = Static<typeof V.GroupMember>;
export type IamSettings = Static<typeof V.IamSettings>;
export type AuditEntry = Static<typeof V.AuditEntry>;
export type NotificationView = Static<typeof V.NotificationView>;
export type SampleCurl = Static<typeof V.SampleCurl>;
/** An API registered behind the gateway, with the roles that grant each of its permissions. */
export type ApiView = Static<typeof V.ApiView>;
export type ApiRoute = Static<typeof V.ApiRoute>;
export type ApiRouteMethod = Static<typeof V.ApiRouteMethod>;
/** A webhook endpoint (its secret is shown once, in the create answer only). */
export type WebhookView = Static<typeof V.WebhookView>;
export type WebhookDeliveryView = Static<typeof V.WebhookDeliveryView>;

type Ops = typeof operations;
type SchemaOf<K extends OperationId> = Ops[K]['schema'];
type PartOf<K extends OperationId, P extends string> =
  SchemaOf<K> extends { [Q in P]: infer T extends TSchema } ? Static<T> : never;
type Field<K extends OperationId, P extends string, Name extends string, Required extends boolean> = [
  PartOf<K, P>,
] extends [never]
  ? unknown
  : Required extends true
    ? { [N in Name]: PartOf<K, P> }
    : { [N in Name]?: PartOf<K, P> };

/** What an operation takes: its path parameters, query and body, each only where it has one. */
export type OperationInput<K extends OperationId> = Field<K, 'params', 'params', true> &
  Field<K, 'querystring', 'query', false> &
  Field<K, 'body', 'body', true>;

type Responses<K extends OperationId> = SchemaOf<K>['response'];
/** What an operation answers on success (`undefined` for 204). */
export type OperationOutput<K extends OperationId> =
  Responses<K> extends { 200: infer T extends TSchema }
    ? Static<T>
    : Responses<K> extends { 201: infer T extends TSchema }
      ? Static<T>
      : undefined;

function urlOf(
  url: string,
  params: Record<string, unknown> = {},
  search: Record<string, unknown> = {},
): string {
  const path = url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) =>
    encodeURIComponent(String(params[name])),
  );
  return `${path}${query(search as Record<string, string | number | boolean | undefined>)}`;
}

/** Run one operation of the admin API by its id, typed by the contract. */
export function call<K extends OperationId>(
  id: K,
  input: OperationInput<K>,
  options?: RequestOptions,
): Promise<OperationOutput<K>> {
  const op = operations[id];
  const {
    params,
    query: search,
    body,
  } = input as { params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown };
  const hasBody = 'body' in op.schema;
  return request<OperationOutput<K>>(
    op.method,
    urlOf(op.url, params, search),
    hasBody ? (body ?? {}) : undefined,
    options,
  );
}

/** The typed client: one function per operation of the contract (`client.getKey({ params })`). */
export const client = Object.fromEntries(
  (Object.keys(operations) as OperationId[]).map((id) => [
    id,
    (input: unknown = {}, options?: RequestOptions) => call(id, input as never, options),
  ]),
) as unknown as {
  [K in OperationId]: Record<never, never> extends OperationInput<K>
    ? (input?: OperationInput<K>, options?: RequestOptions) => Promise<OperationOutput<K>>
    : (input: OperationInput<K>, options?: RequestOptions) => Promise<OperationOutput<K>>;
};
