/**
 * The error catalogue: every code the server can send, with its HTTP status and what it means.
 * Routes never invent status codes (the status comes from the code), `sendError` and `AppError`
 * take only these codes, the OpenAPI document lists them per operation, and the README's error
 * table is generated from this list (`npm run docs:errors`; a test fails when the README drifts).
 *
 * Admin and console errors are UPPER_SNAKE. Signed requests answer with the codes AWS clients
 * already understand (PascalCase, as AWS spells them).
 */
export const ERRORS = {
  // ---- 400: the request itself is wrong
  VALIDATION_FAILED: {
    status: 400,
    meaning: 'a field is missing, has the wrong type or range, or is unknown; the message names it',
  },
  MALFORMED_JSON: { status: 400, meaning: 'the body is not valid JSON' },
  BAD_REQUEST: { status: 400, meaning: 'the request could not be read (headers, length, encoding)' },
  INVALID_URL: { status: 400, meaning: 'the URL is malformed (bad percent-encoding)' },
  UNKNOWN_PERMISSION: { status: 400, meaning: 'a role names a permission that does not exist' },
  INVALID_EXPIRY: { status: 400, meaning: 'the expiry date is not a real date, or is in the past' },
  EXPIRY_BEYOND_MAXIMUM: { status: 400, meaning: "the expiry is beyond the tenant's maximum key lifetime" },
  INVALID_ACCESS_KEY_ID: {
    status: 400,
    meaning: 'an /iam route was given something that is not an access key ID (format or checksum)',
  },
  INVALID_API: {
    status: 400,
    meaning:
      'a registered API is wrong: its base path, upstream URL, a route or a permission (the message names it)',
  },
  INVALID_PATH: {
    status: 400,
    meaning:
      'gateway: the path has a dot segment, an empty segment or an encoded slash, which upstreams may read differently',
  },
  INVALID_CIDR: {
    status: 400,
    meaning: 'allowedCidrs: an entry is not a CIDR or an address, or has bits set beyond its prefix',
  },
  INVALID_WEBHOOK: {
    status: 400,
    meaning:
      'a webhook endpoint is wrong: its URL (http or https only), an event type, or its secret (`whsec_` and base64); the message names it',
  },
  WEBHOOK_ADDRESS_REFUSED: {
    status: 400,
    meaning:
      "the webhook URL's host is or resolves to a loopback, private, link-local or other non-public address (`LATCHKEY_WEBHOOK_ALLOW_PRIVATE=1` allows them)",
  },
  WEBAUTHN_FAILED: {
    status: 400,
    meaning:
      'a passkey registration did not verify (its challenge, origin, RP ID or attestation); the message says why',
  },
  EMAIL_REQUIRED: { status: 400, meaning: 'emailing the credentials needs an email address on the owner' },
  INVALID_SSO_CONFIG: {
    status: 400,
    meaning:
      'single sign-on settings are wrong: the issuer URL, the client id or secret, or an email domain (the message names it)',
  },
  SSO_DISCOVERY_FAILED: {
    status: 400,
    meaning:
      'the issuer did not answer OpenID Connect discovery (`/.well-known/openid-configuration`) as that issuer',
  },
  SSO_ADDRESS_REFUSED: {
    status: 400,
    meaning:
      'the identity provider is not https://, or is or resolves to a non-public address (`LATCHKEY_SSO_ALLOW_PRIVATE=1` allows them)',
  },
  SSO_STATE_INVALID: {
    status: 400,
    meaning:
      'single sign-on callback: the sign-in is unknown, used, expired, or was started in another browser',
  },
  // ---- 401: who are you?
  UNAUTHENTICATED: { status: 401, meaning: 'no credentials: sign the request or send a Bearer token' },
  INVALID_CREDENTIALS: { status: 401, meaning: 'wrong email, password, access key or secret' },
  INVALID_TOKEN: {
    status: 401,
    meaning: 'the Bearer token is not valid, or no longer is (its key or session changed)',
  },
  EXPIRED_TOKEN: { status: 401, meaning: 'the Bearer token has expired: sign in again' },
  MFA_REQUIRED: {
    status: 401,
    meaning:
      'the password is right; finish with `{"auth_mode":"mfa","challenge","code"}` (`challenge`, `methods`, `expiresAt` in the body)',
  },
  MFA_ENROLMENT_REQUIRED: {
    status: 401,
    meaning:
      'the tenant requires a second factor and the user has none: set one up with the `challenge` (POST /iam/login/mfa-enrolment)',
  },
  MFA_CODE_INVALID: {
    status: 401,
    meaning:
      'the TOTP code, recovery code or passkey is wrong or was already used (counts toward throttling)',
  },
  MFA_CHALLENGE_INVALID: {
    status: 401,
    meaning:
      'the MFA challenge is unknown, used, expired or ended by wrong codes: sign in with the password again',
  },
  LEAK_REPORT_KEY_UNKNOWN: {
    status: 401,
    meaning:
      'leak report: `Github-Public-Key-Identifier` names no key in `LATCHKEY_LEAK_REPORT_KEYS_FILE` (or none is configured)',
  },
  LEAK_REPORT_SIGNATURE_INVALID: {
    status: 401,
    meaning:
      'leak report: `Github-Public-Key-Signature` is missing, malformed, or does not verify over the body (ECDSA P-256, SHA-256)',
  },
  // ---- 403: you may not
  AccessDenied: {
    status: 403,
    meaning:
      'the credentials lack the permission (`missingPermission` names it), or a presigned URL has expired',
  },
  PRIVILEGE_ESCALATION: {
    status: 403,
    meaning: 'the change would give more than the caller holds (`missingPermissions` lists it)',
  },
  NO_MATCHING_ROUTE: {
    status: 403,
    meaning: "gateway: the path is under a registered API's base path but none of its routes matches it",
  },
  SourceIpNotAllowed: {
    status: 403,
    meaning:
      "the request came from an address outside the key's allowedCidrs (or its owner's, or the tenant's)",
  },
  CROSS_SITE_REQUEST: { status: 403, meaning: "a one-time link's form was posted from another site" },
  API_USER_PASSWORD_LOGIN: { status: 403, meaning: 'an API user signs requests with keys, not a password' },
  USER_DISABLED: { status: 403, meaning: 'the account is disabled' },
  SSO_FAILED: {
    status: 403,
    meaning:
      'single sign-on: the identity provider refused the sign-in or did not confirm it (code exchange, ID token checks)',
  },
  SSO_EMAIL_NOT_VERIFIED: {
    status: 403,
    meaning:
      'single sign-on: the identity provider gave no verified email, so the identity cannot be matched to a user',
  },
  SSO_NO_ACCOUNT: {
    status: 403,
    meaning:
      'single sign-on: no user has this email in the tenant (and just-in-time creation is off), or its domain is not accepted',
  },
  SESSION_CREDENTIALS_CHAINED: {
    status: 403,
    meaning: 'temporary credentials cannot issue more temporary credentials',
  },
  KEY_TYPE_NOT_ALLOWED: { status: 403, meaning: 'an `api`-type key cannot be exchanged for a token' },
  KEY_INACTIVE: { status: 403, meaning: 'the key (or its owner) is deactivated' },
  KEY_EXPIRED: { status: 403, meaning: 'the key has expired' },
  KEY_QUARANTINED: {
    status: 403,
    meaning:
      'a leak report named the key: it is refused (or read-only) until an administrator releases it or generates a new secret',
  },
  // ---- signed requests (AWS codes)
  SignatureDoesNotMatch: {
    status: 403,
    meaning:
      'the signature is wrong; the answer includes the `canonicalRequest` and `stringToSign` the server computed (never the secret)',
  },
  InvalidAccessKeyId: { status: 403, meaning: 'no such key (malformed, mistyped, deleted)' },
  AccessKeyInactive: { status: 403, meaning: 'the key (or its owner) is deactivated' },
  ExpiredToken: { status: 403, meaning: 'the key has expired' },
  AccessKeyQuarantined: {
    status: 403,
    meaning:
      "a leak report named the key: every request is refused, or every one but GET and HEAD (the tenant's `leakedKeyAction`)",
  },
  RequestTimeTooSkewed: { status: 403, meaning: '`X-Amz-Date` is more than 15 minutes off the server clock' },
  MissingAuthenticationToken: { status: 403, meaning: 'no Authorization header and no presigned parameters' },
  AuthorizationHeaderMalformed: {
    status: 400,
    meaning: 'the credential, scope or signed headers of the Authorization header cannot be used',
  },
  AuthorizationQueryParametersError: {
    status: 400,
    meaning: "a presigned URL's `X-Amz-*` parameters cannot be used",
  },
  XAmzContentSHA256Mismatch: { status: 400, meaning: 'the body does not match `x-amz-content-sha256`' },
  InvalidRequest: {
    status: 400,
    meaning: 'refused by policy: streaming or (where not allowed) unsigned payloads, bad header bytes',
  },
  InvalidToken: {
    status: 400,
    meaning:
      '`X-Amz-Security-Token` wrong, missing (temporary `LKSA…` credentials need it), sent with a long-term key, or its credentials have ended',
  },
  InvalidURI: { status: 400, meaning: 'the request target is not a valid path' },
  SlowDown: {
    status: 429,
    meaning:
      'too many failed signatures from this address or for this key; wait `Retry-After` seconds (`failures`, `retryAfterSeconds` in the body)',
  },
  RateLimitExceeded: {
    status: 429,
    meaning:
      "signed request over the key's rate limit or quota; wait `Retry-After` seconds (`RateLimit` and `RateLimit-Policy` headers)",
  },
  SSO_BUSY: {
    status: 429,
    meaning:
      'single sign-on: the tenant already has as many sign-ins under way as it may (each is kept 10 minutes); try again in a few minutes',
  },
  RATE_LIMITED: {
    status: 429,
    meaning:
      "token request over the key's rate limit or quota; wait `Retry-After` seconds (`RateLimit` and `RateLimit-Policy` headers)",
  },
  // ---- 404 to 422
  NOT_FOUND: { status: 404, meaning: 'no such route, or no such object in your tenant' },
  CONFLICT: { status: 409, meaning: 'the change conflicts with the current state (the message says how)' },
  ALREADY_EXISTS: { status: 409, meaning: 'a name, email, code or docno that must be unique is taken' },
  KEY_LIMIT_REACHED: { status: 409, meaning: "the owner already has the tenant's per-user number of keys" },
  MFA_ALREADY_ACTIVE: {
    status: 409,
    meaning:
      'an authenticator app is already active: remove it (with a current code) before setting up another',
  },
  MFA_NOT_ENABLED: { status: 409, meaning: 'the user has no second factor (of that kind) to use for this' },
  LAST_ADMINISTRATOR: { status: 409, meaning: 'the change would leave the tenant without an administrator' },
  SSO_LINK_CONFLICT: {
    status: 409,
    meaning:
      'single sign-on: the user with this email is linked to another identity at the same identity provider',
  },
  BASE_PATH_TAKEN: {
    status: 409,
    meaning: "another of the tenant's APIs has this base path, or one containing it or inside it",
  },
  BUILTIN_PROTECTED: { status: 409, meaning: 'built-in groups and roles cannot be renamed or deleted' },
  TENANT_REQUIRED: {
    status: 409,
    meaning:
      'the email and password match accounts in several tenants (`tenants` lists them); send `tenantId`',
  },
  RECORD_CHANGED: {
    status: 409,
    meaning: 'data API: a stale `updatecount` (SQL Account\'s "Record has been changed by other users.")',
  },
  SSO_NOT_CONFIGURED: {
    status: 404,
    meaning:
      'single sign-on is not set up, or is turned off, for this tenant (or no tenant accepts the email domain)',
  },
  REVEAL_LINK_USED: { status: 410, meaning: 'the one-time link to a secret was already used' },
  REVEAL_LINK_EXPIRED: { status: 410, meaning: 'the one-time link to a secret has expired' },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the body is larger than `LATCHKEY_BODY_LIMIT_BYTES`' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'send JSON (or form fields where a route says so)' },
  UNKNOWN_REFERENCE: {
    status: 422,
    meaning: 'data API: a referenced code (customer, agent, item, …) does not exist (`missing` lists them)',
  },
  TOO_MANY_REQUESTS: {
    status: 429,
    meaning:
      'too many failed sign-ins; wait `Retry-After` seconds (`failures`, `retryAfterSeconds` in the body), or `npx latchkey throttle clear`',
  },
  // ---- 5xx: our side
  INTERNAL: { status: 500, meaning: 'a bug: the request id finds it in the log' },
  UPSTREAM_UNAVAILABLE: {
    status: 502,
    meaning: "gateway: the API's upstream could not be reached or broke the connection",
  },
  UPSTREAM_TIMEOUT: { status: 504, meaning: "gateway: the API's upstream did not answer within its timeout" },
  CONSOLE_NOT_BUILT: { status: 503, meaning: 'the web console is not built: run `npm run build`' },
  SERVICE_UNAVAILABLE: { status: 503, meaning: 'shutting down, or the database is unreachable' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const statusOf = (code: ErrorCode): number => ERRORS[code].status;

export class AppError extends Error {
  readonly status: number;
  /** Response headers that go with the error (RateLimit fields of a limited key), never in the body. */
  headers?: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
