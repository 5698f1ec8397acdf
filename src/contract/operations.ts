/**
 * The admin API's operations: method, path, who may call, request and response schemas and the
 * error codes each can answer. The server registers its routes from these (src/http/routes), the
 * OpenAPI document is generated from the registered routes, and the console's client is typed by
 * them (console/src/api.ts), so a schema change that breaks the console fails `npm run typecheck`.
 * Pure data, like the rest of src/contract.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import type { ErrorCode } from '../errors.js';
import {
  ACCEPTED_SCOPES_MAX,
  API_ROUTES_MAX,
  GRACE_SECONDS_MAX,
  KEY_LIFETIME_DAYS,
  LEAK_REPORT_LIMITS,
  PASSWORD_LENGTH,
  REMINDER_LEAD_DAYS,
  SESSION_DURATION_SECONDS,
  TENANT_HOURLY_MAX_DAYS,
  TOKEN_LIFETIME_SECONDS,
  UNUSED_DAYS,
  UPSTREAM_TIMEOUT_MS,
  USAGE_DEFAULT_DAYS,
  USAGE_INSTANT_PATTERN,
  USAGE_MAX_POINTS,
  USAGE_RETENTION_DAYS,
  USAGE_TOP,
  USER_KEY_LIMIT,
} from '../limits.js';
import {
  Description,
  Email,
  ExpiryFields,
  Id,
  IdList,
  Items,
  Name,
  Nullable,
  Page,
  Paged,
  Password,
  Strict,
  Timestamp,
  TrafficRuleFields,
} from './common.js';
import * as MV from './mfa-views.js';
import * as V from './views.js';
import { EVENT_TYPES } from './webhook-events.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface OperationSchema {
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** JSON answers by status; `null` for an answer without a body (204). */
  response: Readonly<Record<number, TSchema | null>>;
}

export interface Operation {
  method: Method;
  /** Fastify style (`/iam/keys/:accessKeyId`). */
  url: string;
  /** `none`: open to anyone. Otherwise a signature or a Bearer token is needed. */
  auth?: 'none';
  /** The permission the route needs, checked before anything else is read. */
  permission?: string;
  /** Finer rules, in words, checked by the handler's domain code (shown in the OpenAPI document). */
  access?: string;
  /** Also answers `text/html` (for browsers), as the schema `html` says. */
  html?: string;
  /** Answers plain text (its 200), in the format named here; `schema.response` lists no 200. */
  text?: string;
  /** The body is all optional and may be left out entirely (`curl -X POST …` means `{}`). */
  bodyOptional?: true;
  /** The body may also be sent as form fields (`application/x-www-form-urlencoded`). */
  formBody?: true;
  schema: OperationSchema;
  /** The codes this operation answers beyond those of authentication and input validation. */
  errors: readonly ErrorCode[];
}

const define = <const O extends Operation>(op: O): O => op;
const NoContent = null;

// ---- two-factor sign-in (src/auth/mfa)
const MfaCode = Type.String({ minLength: 1, maxLength: 32, description: 'a TOTP code or a recovery code' });
const ChallengeBody = Strict({ challenge: Type.String({ minLength: 1, maxLength: 128 }) });
const ownMfa = 'a user signed in with a password (their own second factors)';
const MFA_OPERATIONS = {
  loginMfaEnrolment: define({
    method: 'POST',
    url: '/iam/login/mfa-enrolment',
    auth: 'none',
    schema: {
      operationId: 'loginMfaEnrolment',
      summary: 'Set up an authenticator app during a sign-in the tenant requires it for',
      description:
        'With the `challenge` of an MFA_ENROLMENT_REQUIRED answer. Then sign in with `{"auth_mode":"mfa","challenge","code"}`: the answer also carries the recovery codes.',
      tags: ['Session'],
      body: ChallengeBody,
      response: { 200: MV.TotpSetup },
    },
    errors: ['MFA_CHALLENGE_INVALID', 'MFA_ALREADY_ACTIVE'],
  }),
  loginWebauthnOptions: define({
    method: 'POST',
    url: '/iam/login/webauthn-options',
    auth: 'none',
    schema: {
      operationId: 'loginWebauthnOptions',
      summary: 'Passkey options for the second step of a sign-in',
      description:
        'With the `challenge` of an MFA_REQUIRED answer; give the options to the browser, then sign in with `{"auth_mode":"mfa","challenge","webauthn":<assertion>}`.',
      tags: ['Session'],
      body: ChallengeBody,
      response: { 200: MV.WebAuthnOptions },
    },
    errors: ['MFA_CHALLENGE_INVALID', 'MFA_NOT_ENABLED'],
  }),
  getMyMfa: define({
    method: 'GET',
    url: '/iam/me/mfa',
    access: ownMfa,
    schema: {
      operationId: 'getMyMfa',
      summary: 'Your two-factor sign-in: authenticator app, recovery codes left, passkeys',
      tags: ['Two-factor sign-in'],
      response: { 200: MV.MfaStatus },
    },
    errors: ['AccessDenied'],
  }),
  startTotp: define({
    method: 'POST',
    url: '/iam/me/mfa/totp',
    access: ownMfa,
    bodyOptional: true,
    schema: {
      operationId: 'startTotp',
      summary: 'Set up an authenticator app (TOTP): a new secret, active once a code confirms it',
      tags: ['Two-factor sign-in'],
      body: Strict({}),
      response: { 200: MV.TotpSetup },
    },
    errors: ['AccessDenied', 'MFA_ALREADY_ACTIVE'],
  }),
  verifyTotp: define({
    method: 'POST',
    url: '/iam/me/mfa/totp/verify',
    access: ownMfa,
    schema: {
      operationId: 'verifyTotp',
      summary:
        'Confirm the authenticator app with a code: it becomes active; the answer holds recovery codes',
      tags: ['Two-factor sign-in'],
      body: Strict({ code: MfaCode }),
      response: { 200: MV.RecoveryCodesAnswer },
    },
    errors: ['AccessDenied', 'MFA_CODE_INVALID', 'MFA_ALREADY_ACTIVE', 'NOT_FOUND', 'TOO_MANY_REQUESTS'],
  }),
  deleteTotp: define({
    method: 'DELETE',
    url: '/iam/me/mfa/totp',
    access: ownMfa,
    schema: {
      operationId: 'deleteTotp',
      summary: 'Remove the authenticator app (with a current code or a recovery code)',
      tags: ['Two-factor sign-in'],
      body: Strict({ code: MfaCode }),
      response: { 204: NoContent },
    },
    errors: ['AccessDenied', 'MFA_CODE_INVALID', 'NOT_FOUND', 'TOO_MANY_REQUESTS'],
  }),
  regenerateRecoveryCodes: define({
    method: 'POST',
    url: '/iam/me/mfa/recovery-codes',
    access: ownMfa,
    schema: {
      operationId: 'regenerateRecoveryCodes',
      summary: 'New recovery codes (the old ones stop working), with a current code',
      tags: ['Two-factor sign-in'],
      body: Strict({ code: MfaCode }),
      response: { 200: MV.RecoveryCodesAnswer },
    },
    errors: ['AccessDenied', 'MFA_CODE_INVALID', 'MFA_NOT_ENABLED', 'TOO_MANY_REQUESTS'],
  }),
  passkeyRegistrationOptions: define({
    method: 'POST',
    url: '/iam/me/mfa/webauthn/registration-options',
    access: ownMfa,
    bodyOptional: true,
    schema: {
      operationId: 'passkeyRegistrationOptions',
      summary: 'Options to register a passkey (for navigator.credentials.create)',
      tags: ['Two-factor sign-in'],
      body: Strict({}),
      response: { 200: MV.WebAuthnOptions },
    },
    errors: ['AccessDenied'],
  }),
  registerPasskey: define({
    method: 'POST',
    url: '/iam/me/mfa/webauthn/registration',
    access: ownMfa,
    schema: {
      operationId: 'registerPasskey',
      summary: 'Register a passkey as a second factor (the first factor comes with recovery codes)',
      tags: ['Two-factor sign-in'],
      body: Strict({
        name: Type.Optional(Type.String({ maxLength: 100 })),
        response: Type.Object(
          {},
          { additionalProperties: true, description: 'the browser’s RegistrationResponseJSON' },
        ),
      }),
      response: { 201: MV.PasskeyRegistered },
    },
    errors: ['AccessDenied', 'WEBAUTHN_FAILED', 'ALREADY_EXISTS'],
  }),
  deletePasskey: define({
    method: 'DELETE',
    url: '/iam/me/mfa/webauthn/:passkeyId',
    access: ownMfa,
    schema: {
      operationId: 'deletePasskey',
      summary: 'Remove a passkey (with a current code or a recovery code)',
      tags: ['Two-factor sign-in'],
      params: Strict({ passkeyId: Id }),
      body: Strict({ code: MfaCode }),
      response: { 204: NoContent },
    },
    errors: ['AccessDenied', 'MFA_CODE_INVALID', 'NOT_FOUND', 'TOO_MANY_REQUESTS'],
  }),
  resetUserMfa: define({
    method: 'DELETE',
    url: '/iam/users/:userId/mfa',
    permission: 'iam:users:manage',
    access: 'the caller must hold every permission the user holds (as for setting their password)',
    schema: {
      operationId: 'resetUserMfa',
      summary:
        'Remove every second factor of a user (who lost theirs); they sign in with the password and enrol again',
      tags: ['Users'],
      params: Strict({ userId: Id }),
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'PRIVILEGE_ESCALATION'],
  }),
} as const;

// ---- shared inputs
// Not validated by pattern: the route checks the format and checksum and answers INVALID_ACCESS_KEY_ID.
const AccessKeyParams = Strict({ accessKeyId: Type.String({ minLength: 1, maxLength: 128 }) });
const UserParams = Strict({ userId: Id });
const ServiceAccountParams = Strict({ serviceAccountId: Id });
const GroupParams = Strict({ groupId: Id });
const RoleParams = Strict({ roleId: Id });
const ApiParams = Strict({ apiId: Id });
const WebhookParams = Strict({ webhookId: Id });
const WebhookUrl = Type.String({
  minLength: 8,
  maxLength: 2000,
  description:
    'http(s); its host must resolve to public addresses only (unless LATCHKEY_WEBHOOK_ALLOW_PRIVATE=1)',
});
const WebhookEvents = Type.Array(Type.String({ enum: [...EVENT_TYPES] }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description:
    'access_key.created, .rotated, .deactivated, .deleted, .expiring, .expired, .throttled, .quarantined; audit.<action> or audit.* for audit entries',
});
const WebhookSecretInput = Type.String({
  minLength: 38,
  maxLength: 200,
  description: '`whsec_` and the base64 of 24 to 64 random bytes; left out, latchkey generates one',
});
const webhookAccess =
  'receiving audit events needs iam:audit:read, key events iam:keys:read (subscribing is reading)';
const AssignmentsBody = Strict({ groupIds: Type.Optional(IdList), roleIds: Type.Optional(IdList) });
const NullableEmail = Nullable(Email);
const Search = Type.Optional(Type.String({ maxLength: 100 }));
const PermissionList = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200 });
const Days = Type.Integer({ minimum: KEY_LIFETIME_DAYS.min, maximum: KEY_LIFETIME_DAYS.max });
const ScopePart = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' });

export const KeyListQuery = Strict({
  ...Page,
  type: Type.Optional(V.KeyType),
  status: Type.Optional(V.KeyState),
  search: Search,
  unusedDays: Type.Optional(
    Type.Integer({
      minimum: UNUSED_DAYS.min,
      maximum: UNUSED_DAYS.max,
      description: 'only keys not used in the last N days (never used: created more than N days ago)',
    }),
  ),
});

/** `from` and `to` of usage reads. */
const UsageInstant = Type.String({
  maxLength: 40,
  pattern: USAGE_INSTANT_PATTERN,
  description: 'a UTC day (`2026-12-01`) or an ISO date-time with a time zone (`2026-12-01T10:00:00Z`)',
});
const UsageRangeQuery = { from: Type.Optional(UsageInstant), to: Type.Optional(UsageInstant) };

export const NewKeyBody = Strict({
  name: Type.Optional(Name),
  type: Type.Optional(V.KeyType),
  ...ExpiryFields,
  groupIds: Type.Optional(IdList),
  roleIds: Type.Optional(IdList),
  apiUser: Type.Optional(Type.Boolean()),
  sendEmail: Type.Optional(
    Type.Boolean({
      description:
        'email the owner the key ID and a one-time link to the secret (or the secret, when the tenant sets emailSecretInline)',
    }),
  ),
  ...TrafficRuleFields,
});

const keyWrites: ErrorCode[] = ['INVALID_EXPIRY', 'EXPIRY_BEYOND_MAXIMUM', 'PRIVILEGE_ESCALATION'];
const oneKey: ErrorCode[] = ['INVALID_ACCESS_KEY_ID', 'NOT_FOUND', 'AccessDenied'];
const assignmentErrors: ErrorCode[] = ['NOT_FOUND', 'PRIVILEGE_ESCALATION', 'LAST_ADMINISTRATOR'];
const newKeyErrors: ErrorCode[] = [
  'INVALID_CIDR',
  'NOT_FOUND',
  'AccessDenied',
  'KEY_LIMIT_REACHED',
  'EMAIL_REQUIRED',
  'CONFLICT',
  'LAST_ADMINISTRATOR',
  ...keyWrites,
];

const Curl = {
  accessKeyId: Type.String({ minLength: 1, maxLength: 128 }),
  path: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, pattern: '^/' })),
  method: Type.Optional(
    Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('DELETE')]),
  ),
};

export const operations = {
  // ---- system
  healthcheck: define({
    method: 'GET',
    url: '/healthcheck',
    auth: 'none',
    schema: {
      operationId: 'healthcheck',
      summary: 'Health, with the database’s reachability',
      tags: ['System'],
      response: { 200: V.Health, 503: V.Health },
    },
    errors: [],
  }),
  readyz: define({
    method: 'GET',
    url: '/readyz',
    auth: 'none',
    schema: {
      operationId: 'readyz',
      summary:
        'Readiness: 503 while the database or a configured Redis does not answer (and while shutting down)',
      description:
        'For a load balancer or an orchestrator: send traffic only on 200. Once shutdown begins the port accepts no new connection, so a probe fails. `/healthcheck` stays the liveness check.',
      tags: ['System'],
      response: { 200: V.Readiness, 503: V.Readiness },
    },
    errors: [],
  }),
  version: define({
    method: 'GET',
    url: '/version',
    auth: 'none',
    schema: {
      operationId: 'version',
      summary: 'Name, version and the default signing scope',
      tags: ['System'],
      response: { 200: V.Version },
    },
    errors: [],
  }),
  jwks: define({
    method: 'GET',
    url: '/.well-known/jwks.json',
    auth: 'none',
    schema: {
      operationId: 'jwks',
      summary:
        'The public keys that verify tokens from POST /iam/login and the gateway’s x-latchkey-assertion',
      tags: ['System'],
      response: { 200: V.Jwks },
    },
    errors: [],
  }),
  metrics: define({
    method: 'GET',
    url: '/metrics',
    auth: 'none',
    text: 'the metrics in the Prometheus text format 0.0.4',
    access:
      'with `Authorization: Bearer` and the token set in LATCHKEY_METRICS_TOKEN (not an IAM credential); without that setting the main port does not offer it (404), and LATCHKEY_METRICS_PORT serves it on loopback instead',
    schema: {
      operationId: 'metrics',
      summary:
        'Prometheus metrics: requests, latency, errors by code, traffic control, the mail outbox, the process',
      tags: ['System'],
      response: {},
    },
    errors: ['UNAUTHENTICATED', 'INVALID_TOKEN', 'NOT_FOUND'],
  }),
  openapi: define({
    method: 'GET',
    url: '/openapi.json',
    auth: 'none',
    schema: {
      operationId: 'openapi',
      summary: 'This document',
      tags: ['System'],
      response: { 200: V.JsonDocument },
    },
    errors: [],
  }),
  docs: define({
    method: 'GET',
    url: '/docs',
    auth: 'none',
    html: 'the API reference, as a page',
    schema: { operationId: 'docs', summary: 'The API reference (HTML)', tags: ['System'], response: {} },
    errors: [],
  }),

  // ---- the web console (pages, not API: documented so the document covers every route)
  home: define({
    method: 'GET',
    url: '/',
    auth: 'none',
    schema: {
      operationId: 'home',
      summary: 'Redirects (302) to the web console at /console/',
      tags: ['Console'],
      response: { 302: null },
    },
    errors: [],
  }),
  consoleRedirect: define({
    method: 'GET',
    url: '/console',
    auth: 'none',
    schema: {
      operationId: 'consoleRedirect',
      summary: 'Redirects (302) to /console/',
      tags: ['Console'],
      response: { 302: null },
    },
    errors: [],
  }),
  console: define({
    method: 'GET',
    url: '/console/*',
    auth: 'none',
    html: 'the web console (a single-page app; its built files under /console/assets/)',
    schema: {
      operationId: 'console',
      summary: 'The web console',
      tags: ['Console'],
      response: {},
    },
    errors: ['NOT_FOUND', 'CONSOLE_NOT_BUILT'],
  }),

  // ---- session
  login: define({
    method: 'POST',
    url: '/iam/login',
    auth: 'none',
    formBody: true,
    schema: {
      operationId: 'login',
      summary: 'Sign in with a password or exchange an access key for a token',
      description:
        'JSON or form fields. `auth_mode` `password` needs `email` and `password` (and `tenantId` when the pair matches in several tenants); `apikey` needs `apikey` and `secretkey`; `sso` needs the one-time `code` a single sign-on callback gave the console.',
      tags: ['Session'],
      body: Strict({
        auth_mode: Type.Union([
          Type.Literal('password'),
          Type.Literal('apikey'),
          Type.Literal('sso'),
          Type.Literal('mfa'),
        ]),
        email: Type.Optional(Type.String({ maxLength: 254 })),
        password: Type.Optional(Type.String({ maxLength: PASSWORD_LENGTH.max })),
        tenantId: Type.Optional(Type.String({ maxLength: 64 })),
        apikey: Type.Optional(Type.String({ maxLength: 128 })),
        secretkey: Type.Optional(Type.String({ maxLength: 256 })),
        code: Type.Optional(
          Type.String({
            maxLength: 128,
            description: 'auth_mode sso: the one-time code; auth_mode mfa: a TOTP code or a recovery code',
          }),
        ),
        challenge: Type.Optional(
          Type.String({
            maxLength: 128,
            description: 'auth_mode mfa: the challenge of the MFA_REQUIRED answer',
          }),
        ),
        webauthn: Type.Optional(
          Type.Object(
            {},
            {
              additionalProperties: true,
              description:
                'auth_mode mfa: a passkey assertion (JSON only), after POST /iam/login/webauthn-options',
            },
          ),
        ),
      }),
      response: { 200: MV.LoginAnswer },
    },
    errors: [
      'INVALID_CREDENTIALS',
      'TENANT_REQUIRED',
      'API_USER_PASSWORD_LOGIN',
      'USER_DISABLED',
      'KEY_TYPE_NOT_ALLOWED',
      'KEY_INACTIVE',
      'KEY_EXPIRED',
      'KEY_QUARANTINED',
      'TOO_MANY_REQUESTS',
      'SourceIpNotAllowed',
      'RATE_LIMITED',
      'MFA_REQUIRED',
      'MFA_ENROLMENT_REQUIRED',
      'MFA_CODE_INVALID',
      'MFA_CHALLENGE_INVALID',
      'MFA_ALREADY_ACTIVE',
      'NOT_FOUND',
    ],
  }),
  ...MFA_OPERATIONS,
  getMe: define({
    method: 'GET',
    url: '/iam/me',
    schema: {
      operationId: 'getMe',
      summary: 'Who am I: the caller, how it authenticated and its effective permissions',
      tags: ['Session'],
      response: { 200: V.Me },
    },
    errors: ['NOT_FOUND'],
  }),
  updateMe: define({
    method: 'PATCH',
    url: '/iam/me',
    access: 'a user signed in with a password',
    schema: {
      operationId: 'updateMe',
      summary: 'Change your own name or password',
      description:
        'A new password needs `currentPassword`; it ends every session, and the answer carries the new one in `session`.',
      tags: ['Session'],
      body: Strict({
        name: Type.Optional(Name),
        password: Type.Optional(Password),
        currentPassword: Type.Optional(Type.String({ maxLength: PASSWORD_LENGTH.max })),
      }),
      response: { 200: V.MeUpdated },
    },
    errors: ['AccessDenied', 'INVALID_CREDENTIALS', 'VALIDATION_FAILED'],
  }),
  profile: define({
    method: 'GET',
    url: '/profile',
    schema: {
      operationId: 'profile',
      summary: 'Who signed this request (like AWS STS GetCallerIdentity)',
      tags: ['Session'],
      response: { 200: V.Profile },
    },
    errors: [],
  }),
  createSessionCredentials: define({
    method: 'POST',
    url: '/iam/session-credentials',
    access:
      'any caller with valid credentials (a password session, a key token or a signed request), except temporary credentials themselves',
    bodyOptional: true,
    schema: {
      operationId: 'createSessionCredentials',
      summary: 'Temporary SigV4 credentials (like AWS STS GetSessionToken)',
      description:
        "Returns an `LKSA…` access key ID, a secret and a session token to send as `X-Amz-Security-Token`. They last `durationSeconds` (default 3600, at most the tenant's `maxSessionDurationSeconds`, never past the source key's expiry), may do what the caller may do narrowed to `permissions` when given, and end when their source key or password session ends. The secret and token are shown this once.",
      tags: ['Session'],
      body: Strict({
        durationSeconds: Type.Optional(
          Type.Integer({ minimum: SESSION_DURATION_SECONDS.min, maximum: SESSION_DURATION_SECONDS.max }),
        ),
        permissions: Type.Optional(PermissionList),
      }),
      response: { 201: V.SessionCredentials },
    },
    errors: [
      'SESSION_CREDENTIALS_CHAINED',
      'KEY_TYPE_NOT_ALLOWED',
      'UNKNOWN_PERMISSION',
      'VALIDATION_FAILED',
    ],
  }),
  revokeSessionCredentials: define({
    method: 'DELETE',
    url: '/iam/session-credentials/:accessKeyId',
    access: "the credentials' own principal, or iam:keys:manage",
    schema: {
      operationId: 'revokeSessionCredentials',
      summary: 'End temporary credentials before they expire',
      tags: ['Session'],
      params: AccessKeyParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'AccessDenied'],
  }),

  // ---- users
  listUsers: define({
    method: 'GET',
    url: '/iam/users',
    permission: 'iam:users:read',
    schema: {
      operationId: 'listUsers',
      summary: 'List users',
      tags: ['Users'],
      querystring: Strict({
        ...Page,
        search: Search,
        status: Type.Optional(V.ActiveOrDisabled),
        apiUser: Type.Optional(Type.Boolean()),
      }),
      response: { 200: Paged(V.ManagedUser) },
    },
    errors: [],
  }),
  createUser: define({
    method: 'POST',
    url: '/iam/users',
    permission: 'iam:users:manage',
    schema: {
      operationId: 'createUser',
      summary: 'Create a user',
      tags: ['Users'],
      body: Strict({ email: Email, name: Name, password: Type.Optional(Password) }),
      response: { 201: V.ManagedUser },
    },
    errors: ['ALREADY_EXISTS'],
  }),
  getUser: define({
    method: 'GET',
    url: '/iam/users/:userId',
    permission: 'iam:users:read',
    schema: {
      operationId: 'getUser',
      summary: 'One user',
      tags: ['Users'],
      params: UserParams,
      response: { 200: V.ManagedUser },
    },
    errors: ['NOT_FOUND'],
  }),
  updateUser: define({
    method: 'PATCH',
    url: '/iam/users/:userId',
    permission: 'iam:users:manage',
    schema: {
      operationId: 'updateUser',
      summary: 'Rename, disable or enable a user, change its email or password, make it an API user',
      description:
        'A new password, disabling or making an API user ends the user’s sessions. Setting the password or email of someone holding more than you is refused.',
      tags: ['Users'],
      params: UserParams,
      body: Strict({
        name: Type.Optional(Name),
        email: Type.Optional(Email),
        status: Type.Optional(V.ActiveOrDisabled),
        apiUser: Type.Optional(Type.Boolean()),
        password: Type.Optional(Password),
        ...TrafficRuleFields,
      }),
      response: { 200: V.ManagedUser },
    },
    errors: [
      'NOT_FOUND',
      'ALREADY_EXISTS',
      'LAST_ADMINISTRATOR',
      'PRIVILEGE_ESCALATION',
      'CONFLICT',
      'INVALID_CIDR',
    ],
  }),
  deleteUser: define({
    method: 'DELETE',
    url: '/iam/users/:userId',
    permission: 'iam:users:manage',
    schema: {
      operationId: 'deleteUser',
      summary: 'Delete a user and its keys',
      tags: ['Users'],
      params: UserParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'LAST_ADMINISTRATOR', 'PRIVILEGE_ESCALATION', 'CONFLICT'],
  }),
  getUserAssignments: define({
    method: 'GET',
    url: '/iam/users/:userId/assignments',
    permission: 'iam:users:read',
    schema: {
      operationId: 'getUserAssignments',
      summary: 'A user’s groups and roles',
      tags: ['Users'],
      params: UserParams,
      response: { 200: V.Assignments },
    },
    errors: ['NOT_FOUND'],
  }),
  setUserAssignments: define({
    method: 'PUT',
    url: '/iam/users/:userId/assignments',
    permission: 'iam:users:manage',
    schema: {
      operationId: 'setUserAssignments',
      summary: 'Replace a user’s groups and/or roles',
      tags: ['Users'],
      params: UserParams,
      body: AssignmentsBody,
      response: { 200: V.Assignments },
    },
    errors: assignmentErrors,
  }),
  getUserPermissions: define({
    method: 'GET',
    url: '/iam/users/:userId/permissions',
    permission: 'iam:users:read',
    schema: {
      operationId: 'getUserPermissions',
      summary: 'What a user may do (and so the most its keys may do)',
      tags: ['Users'],
      params: UserParams,
      response: { 200: V.PrincipalPermissions },
    },
    errors: ['NOT_FOUND'],
  }),
  listUserKeys: define({
    method: 'GET',
    url: '/iam/users/:userId/keys',
    access: 'the user (signed in with a password), or iam:keys:read',
    schema: {
      operationId: 'listUserKeys',
      summary: 'A user’s access keys',
      tags: ['Access keys'],
      params: UserParams,
      querystring: KeyListQuery,
      response: { 200: V.KeyPage },
    },
    errors: ['NOT_FOUND', 'AccessDenied'],
  }),
  createUserKey: define({
    method: 'POST',
    url: '/iam/users/:userId/keys',
    access: 'the user (signed in with a password), or iam:keys:manage',
    schema: {
      operationId: 'createUserKey',
      summary: 'Create an access key for a user (the secret is in this answer only)',
      description:
        'No `validityDays`, `expiresAt` or `neverExpires` means the tenant’s default lifetime. A user who is not an administrator holds at most the tenant’s `userKeyLimit` keys.',
      tags: ['Access keys'],
      params: UserParams,
      body: NewKeyBody,
      response: { 201: V.CreatedKey },
    },
    errors: newKeyErrors,
  }),

  // ---- service accounts
  listServiceAccounts: define({
    method: 'GET',
    url: '/iam/service-accounts',
    permission: 'iam:service-accounts:read',
    schema: {
      operationId: 'listServiceAccounts',
      summary: 'List service accounts',
      tags: ['Service accounts'],
      querystring: Strict({ ...Page, search: Search }),
      response: { 200: Paged(V.ManagedServiceAccount) },
    },
    errors: [],
  }),
  createServiceAccount: define({
    method: 'POST',
    url: '/iam/service-accounts',
    permission: 'iam:service-accounts:manage',
    schema: {
      operationId: 'createServiceAccount',
      summary: 'Create a service account',
      tags: ['Service accounts'],
      body: Strict({
        name: Name,
        email: Type.Optional(NullableEmail),
        description: Type.Optional(Description),
      }),
      response: { 201: V.ManagedServiceAccount },
    },
    errors: ['ALREADY_EXISTS'],
  }),
  getServiceAccount: define({
    method: 'GET',
    url: '/iam/service-accounts/:serviceAccountId',
    permission: 'iam:service-accounts:read',
    schema: {
      operationId: 'getServiceAccount',
      summary: 'One service account',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      response: { 200: V.ManagedServiceAccount },
    },
    errors: ['NOT_FOUND'],
  }),
  updateServiceAccount: define({
    method: 'PATCH',
    url: '/iam/service-accounts/:serviceAccountId',
    permission: 'iam:service-accounts:manage',
    schema: {
      operationId: 'updateServiceAccount',
      summary: 'Rename, describe, disable or enable a service account, or change its email',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      body: Strict({
        name: Type.Optional(Name),
        email: Type.Optional(NullableEmail),
        description: Type.Optional(Description),
        status: Type.Optional(V.ActiveOrDisabled),
        ...TrafficRuleFields,
      }),
      response: { 200: V.ManagedServiceAccount },
    },
    errors: ['NOT_FOUND', 'ALREADY_EXISTS', 'PRIVILEGE_ESCALATION', 'INVALID_CIDR'],
  }),
  deleteServiceAccount: define({
    method: 'DELETE',
    url: '/iam/service-accounts/:serviceAccountId',
    permission: 'iam:service-accounts:manage',
    schema: {
      operationId: 'deleteServiceAccount',
      summary: 'Delete a service account and its keys',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'PRIVILEGE_ESCALATION', 'LAST_ADMINISTRATOR'],
  }),
  getServiceAccountAssignments: define({
    method: 'GET',
    url: '/iam/service-accounts/:serviceAccountId/assignments',
    permission: 'iam:service-accounts:read',
    schema: {
      operationId: 'getServiceAccountAssignments',
      summary: 'A service account’s groups and roles',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      response: { 200: V.Assignments },
    },
    errors: ['NOT_FOUND'],
  }),
  setServiceAccountAssignments: define({
    method: 'PUT',
    url: '/iam/service-accounts/:serviceAccountId/assignments',
    permission: 'iam:service-accounts:manage',
    schema: {
      operationId: 'setServiceAccountAssignments',
      summary: 'Replace a service account’s groups and/or roles',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      body: AssignmentsBody,
      response: { 200: V.Assignments },
    },
    errors: assignmentErrors,
  }),
  getServiceAccountPermissions: define({
    method: 'GET',
    url: '/iam/service-accounts/:serviceAccountId/permissions',
    permission: 'iam:service-accounts:read',
    schema: {
      operationId: 'getServiceAccountPermissions',
      summary: 'What a service account may do (and so the most its keys may do)',
      tags: ['Service accounts'],
      params: ServiceAccountParams,
      response: { 200: V.PrincipalPermissions },
    },
    errors: ['NOT_FOUND'],
  }),
  listServiceAccountKeys: define({
    method: 'GET',
    url: '/iam/service-accounts/:serviceAccountId/keys',
    access: 'iam:keys:read or iam:keys:manage',
    schema: {
      operationId: 'listServiceAccountKeys',
      summary: 'A service account’s access keys',
      tags: ['Access keys'],
      params: ServiceAccountParams,
      querystring: KeyListQuery,
      response: { 200: V.KeyPage },
    },
    errors: ['NOT_FOUND'],
  }),
  createServiceAccountKey: define({
    method: 'POST',
    url: '/iam/service-accounts/:serviceAccountId/keys',
    permission: 'iam:keys:manage',
    schema: {
      operationId: 'createServiceAccountKey',
      summary: 'Create an access key for a service account (the secret is in this answer only)',
      tags: ['Access keys'],
      params: ServiceAccountParams,
      body: NewKeyBody,
      response: { 201: V.CreatedKey },
    },
    errors: newKeyErrors,
  }),

  // ---- keys
  listKeys: define({
    method: 'GET',
    url: '/iam/keys',
    access: 'iam:keys:read for everyone’s keys; otherwise your own',
    schema: {
      operationId: 'listKeys',
      summary: 'List access keys',
      tags: ['Access keys'],
      querystring: Strict({
        ...KeyListQuery.properties,
        ownerType: Type.Optional(V.PrincipalType),
        ownerId: Type.Optional(Id),
      }),
      response: { 200: V.KeyPage },
    },
    errors: ['AccessDenied'],
  }),
  getKey: define({
    method: 'GET',
    url: '/iam/keys/:accessKeyId',
    access: 'the key’s owner, or iam:keys:read',
    schema: {
      operationId: 'getKey',
      summary: 'One access key (never its secret)',
      tags: ['Access keys'],
      params: AccessKeyParams,
      response: { 200: V.KeyView },
    },
    errors: oneKey,
  }),
  updateKey: define({
    method: 'PATCH',
    url: '/iam/keys/:accessKeyId',
    access: 'the key’s owner, or iam:keys:manage',
    schema: {
      operationId: 'updateKey',
      summary: 'Rename, activate or deactivate a key, or change its expiry',
      description:
        'A key deactivated by a key manager (`deactivatedByManager`) can be activated again only by a key manager.',
      tags: ['Access keys'],
      params: AccessKeyParams,
      body: Strict({
        name: Type.Optional(Name),
        active: Type.Optional(Type.Boolean()),
        ...ExpiryFields,
        ...TrafficRuleFields,
      }),
      response: { 200: V.KeyView },
    },
    errors: [...oneKey, ...keyWrites, 'INVALID_CIDR'],
  }),
  deleteKey: define({
    method: 'DELETE',
    url: '/iam/keys/:accessKeyId',
    access: 'the key’s owner, or iam:keys:manage',
    schema: {
      operationId: 'deleteKey',
      summary: 'Delete a key: it stops working at once, everywhere',
      tags: ['Access keys'],
      params: AccessKeyParams,
      response: { 204: NoContent },
    },
    errors: oneKey,
  }),
  rotateKeySecret: define({
    method: 'POST',
    url: '/iam/keys/:accessKeyId/secret',
    access: 'the key’s owner, or iam:keys:manage',
    bodyOptional: true,
    schema: {
      operationId: 'rotateKeySecret',
      summary: 'Generate a new secret key (shown in this answer only)',
      description:
        'The old secret stops working at once, or after `graceSeconds` so running clients can switch. No body means no grace period.',
      tags: ['Access keys'],
      params: AccessKeyParams,
      body: Strict({
        graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: GRACE_SECONDS_MAX })),
      }),
      response: { 200: V.CreatedKey },
    },
    errors: [...oneKey, 'PRIVILEGE_ESCALATION'],
  }),
  getKeyPermissions: define({
    method: 'GET',
    url: '/iam/keys/:accessKeyId/permissions',
    access: 'the key’s owner, or iam:keys:read',
    schema: {
      operationId: 'getKeyPermissions',
      summary: 'What a key may do now, and where that comes from',
      tags: ['Access keys'],
      params: AccessKeyParams,
      response: { 200: V.EffectivePermissions },
    },
    errors: oneKey,
  }),
  getKeyUsage: define({
    method: 'GET',
    url: '/iam/keys/:accessKeyId/usage',
    access: 'the key’s owner, or iam:keys:read',
    schema: {
      operationId: 'getKeyUsage',
      summary: 'A key’s requests over time, by outcome (summed over the APIs it called)',
      description: `\`granularity\` defaults to \`hour\`. \`to\` defaults to now, \`from\` to ${USAGE_DEFAULT_DAYS.hour} days before \`to\` by hour, ${USAGE_DEFAULT_DAYS.day} by day. \`from\` is rounded down to its bucket (UTC hours or days); \`to\` is exclusive. At most ${USAGE_MAX_POINTS} buckets per answer.`,
      tags: ['Access keys'],
      params: AccessKeyParams,
      querystring: Strict({
        ...UsageRangeQuery,
        granularity: Type.Optional(V.UsageGranularity),
      }),
      response: { 200: V.KeyUsage },
    },
    errors: oneKey,
  }),
  getKeyAssignments: define({
    method: 'GET',
    url: '/iam/keys/:accessKeyId/assignments',
    access: 'the key’s owner, or iam:keys:read',
    schema: {
      operationId: 'getKeyAssignments',
      summary: 'A key’s own groups and roles (none: it has its owner’s permissions)',
      tags: ['Access keys'],
      params: AccessKeyParams,
      response: { 200: V.Assignments },
    },
    errors: oneKey,
  }),
  setKeyAssignments: define({
    method: 'PUT',
    url: '/iam/keys/:accessKeyId/assignments',
    access: 'the key’s owner, or iam:keys:manage',
    schema: {
      operationId: 'setKeyAssignments',
      summary: 'Replace a key’s groups and/or roles (a key never exceeds its owner)',
      tags: ['Access keys'],
      params: AccessKeyParams,
      body: AssignmentsBody,
      response: { 200: V.Assignments },
    },
    errors: [...oneKey, 'PRIVILEGE_ESCALATION'],
  }),

  // ---- groups and roles
  listGroups: define({
    method: 'GET',
    url: '/iam/groups',
    permission: 'iam:groups:read',
    schema: {
      operationId: 'listGroups',
      summary: 'List groups',
      tags: ['Groups and roles'],
      response: { 200: Items(V.GrantableGroup) },
    },
    errors: [],
  }),
  createGroup: define({
    method: 'POST',
    url: '/iam/groups',
    permission: 'iam:groups:manage',
    schema: {
      operationId: 'createGroup',
      summary: 'Create a group',
      tags: ['Groups and roles'],
      body: Strict({ name: Name, description: Type.Optional(Description), roleIds: Type.Optional(IdList) }),
      response: { 201: V.GrantableGroup },
    },
    errors: ['ALREADY_EXISTS', 'NOT_FOUND', 'PRIVILEGE_ESCALATION'],
  }),
  getGroup: define({
    method: 'GET',
    url: '/iam/groups/:groupId',
    permission: 'iam:groups:read',
    schema: {
      operationId: 'getGroup',
      summary: 'One group with its members',
      tags: ['Groups and roles'],
      params: GroupParams,
      response: { 200: V.GroupDetail },
    },
    errors: ['NOT_FOUND'],
  }),
  updateGroup: define({
    method: 'PATCH',
    url: '/iam/groups/:groupId',
    permission: 'iam:groups:manage',
    schema: {
      operationId: 'updateGroup',
      summary: 'Rename or describe a group, or replace its roles',
      tags: ['Groups and roles'],
      params: GroupParams,
      body: Strict({
        name: Type.Optional(Name),
        description: Type.Optional(Description),
        roleIds: Type.Optional(IdList),
      }),
      response: { 200: V.GrantableGroup },
    },
    errors: ['NOT_FOUND', 'ALREADY_EXISTS', 'BUILTIN_PROTECTED', 'PRIVILEGE_ESCALATION'],
  }),
  deleteGroup: define({
    method: 'DELETE',
    url: '/iam/groups/:groupId',
    permission: 'iam:groups:manage',
    schema: {
      operationId: 'deleteGroup',
      summary: 'Delete a group',
      tags: ['Groups and roles'],
      params: GroupParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'BUILTIN_PROTECTED', 'PRIVILEGE_ESCALATION'],
  }),
  addGroupMember: define({
    method: 'POST',
    url: '/iam/groups/:groupId/members',
    permission: 'iam:groups:manage',
    schema: {
      operationId: 'addGroupMember',
      summary: 'Add a user, service account or key to a group',
      tags: ['Groups and roles'],
      params: GroupParams,
      body: Strict({ type: V.MemberType, id: Type.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: Items(V.GroupMember) },
    },
    errors: ['NOT_FOUND', 'INVALID_ACCESS_KEY_ID', 'PRIVILEGE_ESCALATION'],
  }),
  removeGroupMember: define({
    method: 'DELETE',
    url: '/iam/groups/:groupId/members/:memberType/:memberId',
    permission: 'iam:groups:manage',
    schema: {
      operationId: 'removeGroupMember',
      summary: 'Remove a member from a group',
      tags: ['Groups and roles'],
      params: Strict({
        groupId: Id,
        memberType: V.MemberType,
        memberId: Type.String({ minLength: 1, maxLength: 64 }),
      }),
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'LAST_ADMINISTRATOR', 'PRIVILEGE_ESCALATION'],
  }),
  listRoles: define({
    method: 'GET',
    url: '/iam/roles',
    permission: 'iam:roles:read',
    schema: {
      operationId: 'listRoles',
      summary: 'List roles',
      tags: ['Groups and roles'],
      response: { 200: Items(V.GrantableRole) },
    },
    errors: [],
  }),
  listPermissions: define({
    method: 'GET',
    url: '/iam/permissions',
    schema: {
      operationId: 'listPermissions',
      summary: 'Every permission a role can hold',
      tags: ['Groups and roles'],
      response: { 200: Items(Type.String()) },
    },
    errors: [],
  }),
  createRole: define({
    method: 'POST',
    url: '/iam/roles',
    permission: 'iam:roles:manage',
    schema: {
      operationId: 'createRole',
      summary: 'Create a role',
      description: 'Permissions are names or patterns (`agent:*`, `*:read`, `*`).',
      tags: ['Groups and roles'],
      body: Strict({ name: Name, description: Type.Optional(Description), permissions: PermissionList }),
      response: { 201: V.GrantableRole },
    },
    errors: ['ALREADY_EXISTS', 'UNKNOWN_PERMISSION', 'PRIVILEGE_ESCALATION'],
  }),
  getRole: define({
    method: 'GET',
    url: '/iam/roles/:roleId',
    permission: 'iam:roles:read',
    schema: {
      operationId: 'getRole',
      summary: 'One role',
      tags: ['Groups and roles'],
      params: RoleParams,
      response: { 200: V.GrantableRole },
    },
    errors: ['NOT_FOUND'],
  }),
  updateRole: define({
    method: 'PATCH',
    url: '/iam/roles/:roleId',
    permission: 'iam:roles:manage',
    schema: {
      operationId: 'updateRole',
      summary: 'Rename or describe a role, or replace its permissions',
      tags: ['Groups and roles'],
      params: RoleParams,
      body: Strict({
        name: Type.Optional(Name),
        description: Type.Optional(Description),
        permissions: Type.Optional(PermissionList),
      }),
      response: { 200: V.GrantableRole },
    },
    errors: [
      'NOT_FOUND',
      'ALREADY_EXISTS',
      'UNKNOWN_PERMISSION',
      'BUILTIN_PROTECTED',
      'PRIVILEGE_ESCALATION',
    ],
  }),
  deleteRole: define({
    method: 'DELETE',
    url: '/iam/roles/:roleId',
    permission: 'iam:roles:manage',
    schema: {
      operationId: 'deleteRole',
      summary: 'Delete a role',
      tags: ['Groups and roles'],
      params: RoleParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'BUILTIN_PROTECTED', 'PRIVILEGE_ESCALATION'],
  }),

  // ---- usage
  getUsage: define({
    method: 'GET',
    url: '/iam/usage',
    access: 'iam:keys:read or iam:keys:manage',
    schema: {
      operationId: 'getUsage',
      summary: 'The tenant’s requests by key, principal or registered API, and by outcome over time',
      description: `\`groupBy\` defaults to \`key\`. \`items\`: the \`limit\` most used (default ${USAGE_TOP.default}), most first; \`api\` lists latchkey’s own routes (the data API and /iam) with \`id\` null. \`to\` defaults to now, \`from\` to ${USAGE_DEFAULT_DAYS.tenant} days before \`to\`; \`series\` is by hour for ranges up to ${TENANT_HOURLY_MAX_DAYS} days, by UTC day beyond.`,
      tags: ['Usage'],
      querystring: Strict({
        groupBy: Type.Optional(V.UsageGroupBy),
        ...UsageRangeQuery,
        limit: Type.Optional(
          Type.Integer({ minimum: USAGE_TOP.min, maximum: USAGE_TOP.max, default: USAGE_TOP.default }),
        ),
      }),
      response: { 200: V.TenantUsage },
    },
    errors: ['AccessDenied'],
  }),

  // ---- settings and audit
  getSettings: define({
    method: 'GET',
    url: '/iam/settings',
    permission: 'iam:settings:read',
    schema: {
      operationId: 'getSettings',
      summary: 'The tenant’s IAM settings',
      tags: ['Settings and audit'],
      response: { 200: V.IamSettings },
    },
    errors: [],
  }),
  updateSettings: define({
    method: 'PATCH',
    url: '/iam/settings',
    permission: 'iam:settings:manage',
    schema: {
      operationId: 'updateSettings',
      summary: 'Change the tenant’s IAM settings',
      tags: ['Settings and audit'],
      body: Strict({
        defaultKeyLifetimeDays: Type.Optional(Nullable(Days)),
        maxKeyLifetimeDays: Type.Optional(Nullable(Days)),
        tokenLifetimeSeconds: Type.Optional(
          Type.Integer({ minimum: TOKEN_LIFETIME_SECONDS.min, maximum: TOKEN_LIFETIME_SECONDS.max }),
        ),
        userKeyLimit: Type.Optional(
          Type.Integer({ minimum: USER_KEY_LIMIT.min, maximum: USER_KEY_LIMIT.max }),
        ),
        reminderLeadDays: Type.Optional(
          Type.Integer({ minimum: REMINDER_LEAD_DAYS.min, maximum: REMINDER_LEAD_DAYS.max }),
        ),
        acceptedScopes: Type.Optional(
          Type.Array(Strict({ region: ScopePart, service: ScopePart }), { maxItems: ACCEPTED_SCOPES_MAX }),
        ),
        allowUnsignedPayload: Type.Optional(Type.Boolean()),
        emailSecretInline: Type.Optional(Type.Boolean()),
        ...TrafficRuleFields,
        usageRetentionDays: Type.Optional(
          Type.Integer({ minimum: USAGE_RETENTION_DAYS.min, maximum: USAGE_RETENTION_DAYS.max }),
        ),
        leakedKeyAction: Type.Optional(Type.Union([Type.Literal('disable'), Type.Literal('read-only')])),
        maxSessionDurationSeconds: Type.Optional(
          Type.Integer({ minimum: SESSION_DURATION_SECONDS.min, maximum: SESSION_DURATION_SECONDS.max }),
        ),
        mfaRequired: Type.Optional(V.MfaRequiredSetting),
      }),
      response: { 200: V.IamSettings },
    },
    errors: ['INVALID_CIDR'],
  }),
  listAudit: define({
    method: 'GET',
    url: '/iam/audit',
    permission: 'iam:audit:read',
    schema: {
      operationId: 'listAudit',
      summary: 'The audit log, newest first',
      description: '`action` ending in `.` is a prefix (`access_key.`).',
      tags: ['Settings and audit'],
      querystring: Strict({
        ...Page,
        action: Type.Optional(Type.String({ maxLength: 64 })),
        actorId: Type.Optional(Type.String({ maxLength: 64 })),
        targetType: Type.Optional(Type.String({ maxLength: 64 })),
        targetId: Type.Optional(Type.String({ maxLength: 128 })),
        since: Type.Optional(Timestamp),
        until: Type.Optional(Timestamp),
      }),
      response: { 200: Paged(V.AuditEntry) },
    },
    errors: [],
  }),

  // ---- notifications and mail
  listNotifications: define({
    method: 'GET',
    url: '/iam/notifications',
    schema: {
      operationId: 'listNotifications',
      summary: 'Your notifications (the bell), unread first',
      tags: ['Notifications'],
      querystring: Strict({ ...Page, unread: Type.Optional(Type.Boolean()) }),
      response: { 200: V.NotificationPage },
    },
    errors: [],
  }),
  markAllNotificationsRead: define({
    method: 'POST',
    url: '/iam/notifications/read-all',
    schema: {
      operationId: 'markAllNotificationsRead',
      summary: 'Mark all your notifications read',
      tags: ['Notifications'],
      response: { 200: Type.Object({ marked: Type.Integer() }) },
    },
    errors: [],
  }),
  markNotificationRead: define({
    method: 'POST',
    url: '/iam/notifications/:notificationId/read',
    schema: {
      operationId: 'markNotificationRead',
      summary: 'Mark one of your notifications read',
      tags: ['Notifications'],
      params: Strict({ notificationId: Id }),
      response: { 200: V.NotificationView },
    },
    errors: ['NOT_FOUND'],
  }),
  listOutbox: define({
    method: 'GET',
    url: '/iam/outbox',
    permission: 'iam:outbox:read',
    schema: {
      operationId: 'listOutbox',
      summary: 'Mail latchkey sent or will send',
      tags: ['Notifications'],
      querystring: Strict({ ...Page, status: Type.Optional(V.OutboxStatus) }),
      response: { 200: V.OutboxPage },
    },
    errors: [],
  }),
  keyRevealPage: define({
    method: 'GET',
    url: '/iam/key-reveal/:token',
    auth: 'none',
    html: 'a page with a “Show the secret” button; the link is used only by its POST',
    schema: {
      operationId: 'keyRevealPage',
      summary: 'The page of a one-time link to a key’s secret',
      tags: ['Notifications'],
      params: Strict({ token: Type.String({ minLength: 1, maxLength: 100 }) }),
      response: {},
    },
    errors: ['NOT_FOUND', 'REVEAL_LINK_USED', 'REVEAL_LINK_EXPIRED'],
  }),
  revealKeySecret: define({
    method: 'POST',
    url: '/iam/key-reveal/:token',
    auth: 'none',
    bodyOptional: true,
    html: 'the secret as a page, for a browser (`Accept: text/html`)',
    schema: {
      operationId: 'revealKeySecret',
      summary: 'Use a one-time link: the key’s secret, once',
      description: 'Send no body or `{}`. A post from a page of another site is refused.',
      tags: ['Notifications'],
      params: Strict({ token: Type.String({ minLength: 1, maxLength: 100 }) }),
      body: Strict({}),
      response: { 200: V.RevealedSecret },
    },
    errors: ['NOT_FOUND', 'REVEAL_LINK_USED', 'REVEAL_LINK_EXPIRED', 'CROSS_SITE_REQUEST'],
  }),

  // ---- registered APIs and the gateway
  listApis: define({
    method: 'GET',
    url: '/iam/apis',
    permission: 'iam:apis:read',
    schema: {
      operationId: 'listApis',
      summary: 'The APIs registered behind the gateway',
      tags: ['Registered APIs'],
      response: { 200: Items(V.ApiView) },
    },
    errors: [],
  }),
  createApi: define({
    method: 'POST',
    url: '/iam/apis',
    permission: 'iam:apis:manage',
    access: 'you must hold every permission its routes declare',
    schema: {
      operationId: 'createApi',
      summary: 'Register an API: requests under its base path are verified and forwarded to its upstream',
      description:
        'Routes are matched in order, the first match wins: literal segments, `*` for one segment, a final `/*` for the rest; method `*` is any method. A request under the base path that matches no route is refused (403 NO_MATCHING_ROUTE) and never reaches the upstream.',
      tags: ['Registered APIs'],
      body: Strict({
        name: Name,
        basePath: Type.String({ minLength: 2, maxLength: 200, description: 'like `/api/orders`' }),
        upstream: Type.String({
          minLength: 8,
          maxLength: 500,
          description: 'http(s) URL; a path is a prefix',
        }),
        routes: Type.Array(V.ApiRoute, { minItems: 1, maxItems: API_ROUTES_MAX }),
        allowUnsignedPayload: Type.Optional(
          Type.Boolean({
            description: 'accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (the body streams through)',
          }),
        ),
        timeoutMs: Type.Optional(
          Type.Integer({ minimum: UPSTREAM_TIMEOUT_MS.min, maximum: UPSTREAM_TIMEOUT_MS.max }),
        ),
      }),
      response: { 201: V.ApiView },
    },
    errors: ['INVALID_API', 'ALREADY_EXISTS', 'BASE_PATH_TAKEN', 'PRIVILEGE_ESCALATION'],
  }),
  getApi: define({
    method: 'GET',
    url: '/iam/apis/:apiId',
    permission: 'iam:apis:read',
    schema: {
      operationId: 'getApi',
      summary: 'One registered API, with the roles that grant each of its permissions',
      tags: ['Registered APIs'],
      params: ApiParams,
      response: { 200: V.ApiView },
    },
    errors: ['NOT_FOUND'],
  }),
  updateApi: define({
    method: 'PATCH',
    url: '/iam/apis/:apiId',
    permission: 'iam:apis:manage',
    access: 'you must hold every permission its routes declare, before and after',
    schema: {
      operationId: 'updateApi',
      summary: 'Change a registered API (routes are replaced as a whole)',
      tags: ['Registered APIs'],
      params: ApiParams,
      body: Strict({
        name: Type.Optional(Name),
        basePath: Type.Optional(Type.String({ minLength: 2, maxLength: 200 })),
        upstream: Type.Optional(Type.String({ minLength: 8, maxLength: 500 })),
        routes: Type.Optional(Type.Array(V.ApiRoute, { minItems: 1, maxItems: API_ROUTES_MAX })),
        allowUnsignedPayload: Type.Optional(Type.Boolean()),
        timeoutMs: Type.Optional(
          Type.Integer({ minimum: UPSTREAM_TIMEOUT_MS.min, maximum: UPSTREAM_TIMEOUT_MS.max }),
        ),
      }),
      response: { 200: V.ApiView },
    },
    errors: ['NOT_FOUND', 'INVALID_API', 'ALREADY_EXISTS', 'BASE_PATH_TAKEN', 'PRIVILEGE_ESCALATION'],
  }),
  deleteApi: define({
    method: 'DELETE',
    url: '/iam/apis/:apiId',
    permission: 'iam:apis:manage',
    access: 'you must hold every permission its routes declare',
    schema: {
      operationId: 'deleteApi',
      summary: 'Remove a registered API (its base path answers 404 again)',
      tags: ['Registered APIs'],
      params: ApiParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'PRIVILEGE_ESCALATION'],
  }),
  apiPostmanCollection: define({
    method: 'GET',
    url: '/iam/apis/:apiId/postman-collection',
    permission: 'iam:apis:read',
    schema: {
      operationId: 'apiPostmanCollection',
      summary: 'A Postman v2.1 collection for a registered API: one request per route (awsv4 auth)',
      tags: ['Registered APIs'],
      params: ApiParams,
      response: { 200: V.JsonDocument },
    },
    errors: ['NOT_FOUND'],
  }),
  // ---- event webhooks
  listWebhooks: define({
    method: 'GET',
    url: '/iam/webhooks',
    permission: 'iam:webhooks:read',
    schema: {
      operationId: 'listWebhooks',
      summary: 'The endpoints events are sent to',
      tags: ['Webhooks'],
      response: { 200: Items(V.WebhookView) },
    },
    errors: [],
  }),
  createWebhook: define({
    method: 'POST',
    url: '/iam/webhooks',
    permission: 'iam:webhooks:manage',
    access: webhookAccess,
    schema: {
      operationId: 'createWebhook',
      summary:
        'Register an endpoint: the events it subscribes to are POSTed to it, signed (Standard Webhooks)',
      description:
        'Each event is sent at least once, retried with back-off, with the same `webhook-id` on every attempt. The answer holds the signing secret, this once.',
      tags: ['Webhooks'],
      body: Strict({
        url: WebhookUrl,
        events: WebhookEvents,
        description: Type.Optional(Description),
        secret: Type.Optional(WebhookSecretInput),
      }),
      response: { 201: V.WebhookCreated },
    },
    errors: ['INVALID_WEBHOOK', 'WEBHOOK_ADDRESS_REFUSED', 'PRIVILEGE_ESCALATION'],
  }),
  getWebhook: define({
    method: 'GET',
    url: '/iam/webhooks/:webhookId',
    permission: 'iam:webhooks:read',
    schema: {
      operationId: 'getWebhook',
      summary: 'One webhook endpoint',
      tags: ['Webhooks'],
      params: WebhookParams,
      response: { 200: V.WebhookView },
    },
    errors: ['NOT_FOUND'],
  }),
  updateWebhook: define({
    method: 'PATCH',
    url: '/iam/webhooks/:webhookId',
    permission: 'iam:webhooks:manage',
    access: webhookAccess,
    schema: {
      operationId: 'updateWebhook',
      summary: 'Change an endpoint; `enabled: true` turns on again one that was disabled after failures',
      tags: ['Webhooks'],
      params: WebhookParams,
      body: Strict({
        url: Type.Optional(WebhookUrl),
        events: Type.Optional(WebhookEvents),
        description: Type.Optional(Description),
        enabled: Type.Optional(Type.Boolean()),
      }),
      response: { 200: V.WebhookView },
    },
    errors: ['NOT_FOUND', 'INVALID_WEBHOOK', 'WEBHOOK_ADDRESS_REFUSED', 'PRIVILEGE_ESCALATION'],
  }),
  deleteWebhook: define({
    method: 'DELETE',
    url: '/iam/webhooks/:webhookId',
    permission: 'iam:webhooks:manage',
    schema: {
      operationId: 'deleteWebhook',
      summary: 'Remove an endpoint and its delivery log (events not yet delivered are not sent)',
      tags: ['Webhooks'],
      params: WebhookParams,
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND'],
  }),
  rotateWebhookSecret: define({
    method: 'POST',
    url: '/iam/webhooks/:webhookId/secret',
    permission: 'iam:webhooks:manage',
    bodyOptional: true,
    schema: {
      operationId: 'rotateWebhookSecret',
      summary: 'A new signing secret (yours, or generated), shown this once; the old one stops at once',
      tags: ['Webhooks'],
      params: WebhookParams,
      body: Strict({ secret: Type.Optional(WebhookSecretInput) }),
      response: { 200: V.WebhookSecret },
    },
    errors: ['NOT_FOUND', 'INVALID_WEBHOOK'],
  }),
  testWebhook: define({
    method: 'POST',
    url: '/iam/webhooks/:webhookId/test',
    permission: 'iam:webhooks:manage',
    bodyOptional: true,
    schema: {
      operationId: 'testWebhook',
      summary: 'Queue a `webhook.test` event for this endpoint; its delivery appears in the log',
      tags: ['Webhooks'],
      params: WebhookParams,
      body: Strict({}),
      response: { 202: V.WebhookDeliveryView },
    },
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  listWebhookDeliveries: define({
    method: 'GET',
    url: '/iam/webhooks/:webhookId/deliveries',
    permission: 'iam:webhooks:read',
    schema: {
      operationId: 'listWebhookDeliveries',
      summary: "An endpoint's delivery log, newest first",
      tags: ['Webhooks'],
      params: WebhookParams,
      querystring: Strict({ ...Page, status: Type.Optional(V.WebhookDeliveryStatus) }),
      response: { 200: Paged(V.WebhookDeliveryView) },
    },
    errors: ['NOT_FOUND'],
  }),
  // ---- single sign-on (OIDC)
  getSso: define({
    method: 'GET',
    url: '/iam/sso',
    permission: 'iam:settings:read',
    schema: {
      operationId: 'getSso',
      summary: 'The tenant’s single sign-on (OIDC) settings; the client secret is never returned',
      tags: ['Single sign-on'],
      response: { 200: V.SsoConfigView },
    },
    errors: [],
  }),
  putSso: define({
    method: 'PUT',
    url: '/iam/sso',
    permission: 'iam:settings:manage',
    access:
      'choosing the identity provider (issuer, client, secret), turning sign-in on or accepting more email domains needs `*` (the IdP can sign in as any user); the just-in-time group must give no more than the caller holds',
    schema: {
      operationId: 'putSso',
      summary: 'Set up single sign-on: the identity provider, and how its identities map to users',
      description:
        'The issuer is checked by OpenID Connect discovery before anything is stored. `clientSecret` is needed the first time; left out later, the stored one stays. Register `redirectUri` (from the answer) at the IdP.',
      tags: ['Single sign-on'],
      body: Strict({
        issuer: Type.String({
          minLength: 8,
          maxLength: 2000,
          description: 'https://; the IdP’s issuer identifier',
        }),
        clientId: Type.String({ minLength: 1, maxLength: 255 }),
        clientSecret: Type.Optional(
          Type.String({ minLength: 1, maxLength: 1000, description: 'write-only' }),
        ),
        enabled: Type.Optional(Type.Boolean({ default: true })),
        jitEnabled: Type.Optional(Type.Boolean({ default: false })),
        jitGroupId: Type.Optional(Nullable(Id)),
        allowedDomains: Type.Optional(
          Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 50, uniqueItems: true }),
        ),
      }),
      response: { 200: V.SsoConfigView },
    },
    errors: [
      'INVALID_SSO_CONFIG',
      'SSO_DISCOVERY_FAILED',
      'SSO_ADDRESS_REFUSED',
      'PRIVILEGE_ESCALATION',
      'NOT_FOUND',
    ],
  }),
  deleteSso: define({
    method: 'DELETE',
    url: '/iam/sso',
    permission: 'iam:settings:manage',
    schema: {
      operationId: 'deleteSso',
      summary: 'Remove single sign-on (users linked to IdP identities keep their links for a later set-up)',
      tags: ['Single sign-on'],
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND'],
  }),
  disableSsoSubject: define({
    method: 'POST',
    url: '/iam/sso/disable-subject',
    permission: 'iam:users:manage',
    access: 'as `PATCH /iam/users/{id}` with `status: disabled` (never the last administrator)',
    schema: {
      operationId: 'disableSsoSubject',
      summary:
        'Disable the user linked to an IdP subject: their keys and sessions stop everywhere within a second',
      tags: ['Single sign-on'],
      body: Strict({
        subject: Type.String({ minLength: 1, maxLength: 255, description: 'the ID token’s `sub`' }),
      }),
      response: { 200: V.SsoDisabledUser },
    },
    errors: ['NOT_FOUND', 'SSO_NOT_CONFIGURED', 'LAST_ADMINISTRATOR'],
  }),
  unlinkSsoSubject: define({
    method: 'POST',
    url: '/iam/sso/unlink-subject',
    permission: 'iam:users:manage',
    access:
      'the caller must hold all the linked user holds (the next sign-in with that email becomes the user)',
    schema: {
      operationId: 'unlinkSsoSubject',
      summary: 'Forget which user an IdP subject is: its next sign-in maps by verified email again',
      tags: ['Single sign-on'],
      body: Strict({
        subject: Type.String({ minLength: 1, maxLength: 255, description: 'the ID token’s `sub`' }),
      }),
      response: { 204: NoContent },
    },
    errors: ['NOT_FOUND', 'SSO_NOT_CONFIGURED', 'PRIVILEGE_ESCALATION'],
  }),
  startSso: define({
    method: 'GET',
    url: '/iam/sso/start',
    auth: 'none',
    schema: {
      operationId: 'startSso',
      summary: 'Start a console sign-in: redirects (302) to the tenant’s identity provider',
      description:
        'By `tenantId`, or by `email` (its domain must be in one tenant’s `allowedDomains`). Authorization code flow with PKCE, state and nonce. A failure redirects to `/console/#sso_error=<code>`.',
      tags: ['Single sign-on'],
      querystring: Strict({
        tenantId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })),
      }),
      response: { 302: NoContent },
    },
    errors: ['SSO_NOT_CONFIGURED', 'SSO_DISCOVERY_FAILED', 'SSO_ADDRESS_REFUSED'],
  }),
  ssoCallback: define({
    method: 'GET',
    url: '/iam/sso/callback',
    auth: 'none',
    schema: {
      operationId: 'ssoCallback',
      summary: 'Where the identity provider sends the browser back; redirects (302) to the console',
      description:
        'Success: `/console/#sso_code=<one-time code>` (exchange it within 60 s with `POST /iam/login` `{"auth_mode":"sso","code"}`). Failure: `/console/#sso_error=<code>&sso_message=<text>`.',
      tags: ['Single sign-on'],
      querystring: Type.Record(Type.String(), Type.String({ maxLength: 4096 })),
      response: { 302: NoContent },
    },
    errors: [
      'SSO_STATE_INVALID',
      'SSO_FAILED',
      'SSO_EMAIL_NOT_VERIFIED',
      'SSO_NO_ACCOUNT',
      'SSO_LINK_CONFLICT',
      'SSO_NOT_CONFIGURED',
      'SSO_ADDRESS_REFUSED',
      'SSO_DISCOVERY_FAILED',
      'USER_DISABLED',
      'API_USER_PASSWORD_LOGIN',
      'CONFLICT',
    ],
  }),
  // ---- leaked-key intake (src/leaks)
  reportLeakedKeys: define({
    method: 'POST',
    url: '/v1/leaked-keys',
    permission: 'iam:leaks:report',
    access:
      'a report signed by GitHub secret scanning (`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`; keys from LATCHKEY_LEAK_REPORT_KEYS_FILE), which reaches every tenant; or latchkey credentials holding iam:leaks:report, which reach keys of your own tenant only',
    schema: {
      operationId: 'reportLeakedKeys',
      summary:
        'Report leaked credentials (GitHub secret-scanning partner format): each live one is quarantined at once',
      description:
        'A JSON array of `{token, type, url, source}`; `token` is a secret access key (`lksk_…`) or an access key ID (`LKIA…`). The answer has one `{token_raw, token_type, label}` per token: `true_positive` when it is a credential of a key this reporter may report (the key is now quarantined; a key already quarantined is not notified about again), `false_positive` otherwise.',
      tags: ['Leaked keys'],
      body: Type.Array(
        Type.Object({
          token: Type.String({ minLength: 1, maxLength: LEAK_REPORT_LIMITS.tokenLength }),
          type: Type.String({ maxLength: LEAK_REPORT_LIMITS.fieldLength }),
          url: Type.Optional(Nullable(Type.String({ maxLength: LEAK_REPORT_LIMITS.urlLength }))),
          source: Type.Optional(Nullable(Type.String({ maxLength: LEAK_REPORT_LIMITS.fieldLength }))),
        }),
        { minItems: 1, maxItems: LEAK_REPORT_LIMITS.tokens },
      ),
      response: { 200: V.LeakFeedback },
    },
    errors: ['LEAK_REPORT_KEY_UNKNOWN', 'LEAK_REPORT_SIGNATURE_INVALID'],
  }),
  releaseKeyQuarantine: define({
    method: 'POST',
    url: '/iam/keys/:accessKeyId/quarantine/release',
    permission: 'iam:keys:manage',
    access: 'you must hold everything the key may do (releasing gives its holder that back)',
    bodyOptional: true,
    schema: {
      operationId: 'releaseKeyQuarantine',
      summary: 'Lift a leak report’s quarantine without a new secret (the report was wrong)',
      description:
        'Generating a new secret (POST /iam/keys/{id}/secret) also lifts it, and ends the reported secret at once.',
      tags: ['Access keys'],
      params: AccessKeyParams,
      body: Strict({}),
      response: { 200: V.KeyView },
    },
    errors: [...oneKey, 'CONFLICT', 'PRIVILEGE_ESCALATION'],
  }),
  verifyRequest: define({
    method: 'POST',
    url: '/v1/verify',
    permission: 'iam:verify',
    schema: {
      operationId: 'verifyRequest',
      summary: 'Verify a request a service received: its signature or key token, and optionally a permission',
      description:
        'For services that keep their own front door. Send the request as received: `method`, the absolute `url`, its `headers`, and its `body` (base64) or `bodySha256`. Only keys of your own tenant verify. The answer is 200 either way: `valid` says whether the credentials hold.',
      tags: ['Gateway'],
      body: Strict({
        method: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z]+$' }),
        url: Type.String({
          minLength: 8,
          maxLength: 8192,
          description: 'absolute: `https://orders.example.com/v1/orders?x=1`',
        }),
        headers: Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 16384 }), {
          maxProperties: 100,
        }),
        body: Type.Optional(Type.String({ maxLength: 1_500_000, description: 'the body, base64' })),
        bodySha256: Type.Optional(
          Type.String({ pattern: '^[0-9a-f]{64}$', description: 'instead of `body`' }),
        ),
        permission: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        sourceIp: Type.Optional(
          Type.Union([Type.String({ format: 'ipv4' }), Type.String({ format: 'ipv6' })], {
            description:
              'the client’s address: failed signatures are counted per address (default: yours), and it is the key’s last-used address',
          }),
        ),
      }),
      response: { 200: V.VerifyResult },
    },
    errors: [],
  }),
  authorizeForNginx: define({
    method: 'GET',
    url: '/v1/authz',
    auth: 'none',
    access: 'the credentials checked are the original request’s (nginx forwards its headers)',
    schema: {
      operationId: 'authorizeForNginx',
      summary:
        'For nginx auth_request: verify and authorize the original request (X-Original-Method, X-Original-URI)',
      description:
        'Answers 200 with the `x-latchkey-*` identity headers (for `auth_request_set`), 401 or 403. nginx passes no body to auth_request, so only requests with an empty body (or `x-amz-content-sha256: UNSIGNED-PAYLOAD` on APIs that allow it) can be authorized.',
      tags: ['Gateway'],
      response: {
        200: Type.Object({ allowed: Type.Literal(true), apiId: Type.String(), permission: Type.String() }),
      },
    },
    // Every refusal is sent as 401 or 403, whatever the code's usual status (nginx understands no other).
    errors: [
      'NO_MATCHING_ROUTE',
      'INVALID_PATH',
      'VALIDATION_FAILED',
      'AccessDenied',
      'UNAUTHENTICATED',
      'INVALID_TOKEN',
      'EXPIRED_TOKEN',
      'SignatureDoesNotMatch',
      'InvalidAccessKeyId',
      'AccessKeyInactive',
      'ExpiredToken',
      'AccessKeyQuarantined',
      'RequestTimeTooSkewed',
      'AuthorizationHeaderMalformed',
      'AuthorizationQueryParametersError',
      'XAmzContentSHA256Mismatch',
      'InvalidRequest',
      'InvalidURI',
      'SlowDown',
      'SourceIpNotAllowed',
      'RateLimitExceeded',
      'RATE_LIMITED',
    ],
  }),

  // ---- developer tools
  postmanCollection: define({
    method: 'GET',
    url: '/iam/postman-collection',
    schema: {
      operationId: 'postmanCollection',
      summary: 'A Postman v2.1 collection of the data API (awsv4 auth; your_access_key, your_secret_key)',
      tags: ['Developer tools'],
      response: { 200: V.JsonDocument },
    },
    errors: [],
  }),
  sampleCurl: define({
    method: 'GET',
    url: '/iam/sample-curl',
    schema: {
      operationId: 'sampleCurl',
      summary: 'A signed curl command for a key, with $LATCHKEY_SECRET_KEY in place of the secret',
      tags: ['Developer tools'],
      querystring: Strict(Curl),
      response: { 200: V.SampleCurl },
    },
    errors: [],
  }),
  sampleCurlWithSecret: define({
    method: 'POST',
    url: '/iam/sample-curl',
    schema: {
      operationId: 'sampleCurlWithSecret',
      summary: 'A signed curl command with the secret in it (never stored or logged), also for old curl',
      tags: ['Developer tools'],
      body: Strict({
        ...Curl,
        secretAccessKey: Type.String({ minLength: 1, maxLength: 256 }),
        body: Type.Optional(Type.String({ maxLength: 100_000 })),
      }),
      response: { 200: V.SampleCurl },
    },
    errors: [],
  }),
} as const;

export type Operations = typeof operations;
export type OperationId = keyof Operations;

/** What any signed or token-bearing request can be refused with, before the route runs. */
export const AUTHENTICATION_ERRORS: readonly ErrorCode[] = [
  'UNAUTHENTICATED',
  'INVALID_TOKEN',
  'EXPIRED_TOKEN',
  'AccessDenied',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'AccessKeyInactive',
  'ExpiredToken',
  'AccessKeyQuarantined',
  'RequestTimeTooSkewed',
  'MissingAuthenticationToken',
  'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError',
  'XAmzContentSHA256Mismatch',
  'InvalidRequest',
  'InvalidToken',
  'InvalidURI',
  'SlowDown',
  // A key's traffic rules (src/traffic): its allowed networks, rate limits and quotas.
  'SourceIpNotAllowed',
  'RateLimitExceeded',
  'RATE_LIMITED',
];

/**
 * What any request can be refused with before its route runs: a URL or body that cannot be read
 * (bodies are parsed for every method), a NUL in the URL.
 */
export const REQUEST_ERRORS: readonly ErrorCode[] = [
  'BAD_REQUEST',
  'INVALID_URL',
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
];

/** Every code an operation can answer: its own, and those of reading the request and authentication. */
export function errorsOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>([...REQUEST_ERRORS, ...op.errors]);
  if (op.auth !== 'none') for (const c of AUTHENTICATION_ERRORS) codes.add(c);
  return [...codes];
}
