/**
 * One error type for every expected failure, with a stable UPPER_SNAKE code.
 * Routes never invent status codes: the map below is the only place they come from.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNKNOWN_PERMISSION: 400,
  INVALID_EXPIRY: 400,
  EXPIRY_BEYOND_MAXIMUM: 400,
  INVALID_ACCESS_KEY_ID: 400,
  EMAIL_REQUIRED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_TOKEN: 401,
  EXPIRED_TOKEN: 401,
  AccessDenied: 403,
  /** A grant, binding or change that would give a principal or key more than the caller holds. */
  PRIVILEGE_ESCALATION: 403,
  /** A one-time link's POST sent by a page of another site (it would use the link up). */
  CROSS_SITE_REQUEST: 403,
  API_USER_PASSWORD_LOGIN: 403,
  USER_DISABLED: 403,
  KEY_TYPE_NOT_ALLOWED: 403,
  KEY_INACTIVE: 403,
  KEY_EXPIRED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  KEY_LIMIT_REACHED: 409,
  LAST_ADMINISTRATOR: 409,
  BUILTIN_PROTECTED: 409,
  TENANT_REQUIRED: 409,
  /** Data API: PUT carried a stale updatecount (SQL Account's "Record has been changed by other users."). */
  RECORD_CHANGED: 409,
  REVEAL_LINK_USED: 410,
  REVEAL_LINK_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Data API: a referenced code (customer, agent, item, …) does not exist in the tenant. */
  UNKNOWN_REFERENCE: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
