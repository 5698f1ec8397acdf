/** What the admin API answers: one schema per view, the server's serialiser and the console's type. */
import { Type } from '@sinclair/typebox';
import { Items, NamedRef, Nullable, Paged, TrafficRuleView } from './common.js';

export const PrincipalType = Type.Union([Type.Literal('user'), Type.Literal('service_account')]);
export const KeyType = Type.Union([Type.Literal('access'), Type.Literal('api')]);
export const KeyState = Type.Union([
  Type.Literal('active'),
  Type.Literal('inactive'),
  Type.Literal('expired'),
  Type.Literal('expiring_soon'),
]);
export const ActiveOrDisabled = Type.Union([Type.Literal('active'), Type.Literal('disabled')]);
const Ref = Type.Object({ type: Type.String(), id: Type.String() });

export const KeyView = Type.Object({
  accessKeyId: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  type: KeyType,
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')], {
    description: 'what a manager or the owner set',
  }),
  state: Type.Union([KeyState], { description: 'what the key can do now: status combined with expiry' }),
  deactivatedByManager: Type.Boolean({
    description: 'deactivated by a key manager: its owner alone cannot activate it again',
  }),
  expiresAt: Nullable(Type.String()),
  daysLeft: Nullable(Type.Integer()),
  owner: Type.Object({ type: PrincipalType, id: Type.String(), label: Type.String() }),
  createdAt: Type.String(),
  createdBy: Ref,
  updatedAt: Type.String(),
  updatedBy: Ref,
  lastUsedAt: Nullable(Type.String()),
  lastUsedIp: Nullable(Type.String()),
  lastUsedApiId: Nullable(Type.String(), {
    description: 'the registered API of the last use through the gateway (null: latchkey’s own routes)',
  }),
  lastUsedDecision: Nullable(
    Type.Union([Type.Literal('allowed'), Type.Literal('denied')], {
      description: 'what the gateway decided on the last use (null: latchkey’s own routes)',
    }),
  ),
  secretVersion: Type.Integer(),
  quarantine: Nullable(
    Type.Object({ at: Type.String(), reason: Type.String(), url: Nullable(Type.String()) }),
    {
      description:
        'set when a leak report named the key (POST /v1/leaked-keys): refused, or read-only, until released or given a new secret',
    },
  ),
  groups: Type.Array(NamedRef),
  roles: Type.Array(NamedRef),
  ...TrafficRuleView,
  quotas: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String({ description: '`key-day`, `key-month`, `principal-day`, …' }),
        limit: Type.Integer(),
        period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
        used: Type.Integer(),
        remaining: Type.Integer(),
        resetsAt: Type.String(),
      }),
      {
        description:
          'GET /iam/keys/{id}: every quota that applies to the key (its own, its owner’s, the tenant’s) and what remains',
      },
    ),
  ),
});

export const CreatedKey = Type.Composite([
  KeyView,
  Type.Object({
    secretAccessKey: Type.String({ description: 'shown this once; only its sealed form is stored' }),
  }),
]);

export const KeyPage = Paged(KeyView);

export const EffectivePermissions = Type.Object({
  accessKeyId: Type.String(),
  permissions: Type.Array(Type.String(), { description: 'the concrete permissions the key has now' }),
  source: Type.Union([Type.Literal('key'), Type.Literal('owner')], {
    description: '`key`: the key has groups or roles of its own; `owner`: it inherits its owner’s',
  }),
  ownerPermissions: Type.Array(Type.String()),
});

export const Assignments = Type.Object({ groups: Type.Array(NamedRef), roles: Type.Array(NamedRef) });

export const UserView = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  email: Type.String(),
  name: Type.String(),
  status: ActiveOrDisabled,
  apiUser: Type.Boolean({ description: 'signs requests with keys only; password sign-in is refused' }),
  isAdministrator: Type.Boolean(),
  hasPassword: Type.Boolean(),
  ...TrafficRuleView,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** A user as a manager sees it: may the caller create its keys, set its password or email? */
export const ManagedUser = Type.Composite([
  UserView,
  Type.Object({
    withinYourPermissions: Type.Boolean({
      description: 'the caller holds all this user holds: may create its keys, set its password or email',
    }),
  }),
]);

export const TokenAnswer = Type.Object({
  token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds' }),
});

/** PATCH /iam/me: the user, and with a new password the new session (every other one ended). */
export const MeUpdated = Type.Composite([UserView, Type.Object({ session: Type.Optional(TokenAnswer) })]);

export const ServiceAccountView = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  email: Nullable(Type.String()),
  description: Type.String(),
  status: ActiveOrDisabled,
  ...TrafficRuleView,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const ManagedServiceAccount = Type.Composite([
  ServiceAccountView,
  Type.Object({
    withinYourPermissions: Type.Boolean({
      description: 'the caller holds all this account holds: may create its keys and change its email',
    }),
  }),
]);

export const Me = Type.Object(
  {
    id: Type.String(),
    tenantId: Type.String(),
    name: Type.String(),
    email: Type.Optional(Nullable(Type.String())),
    principalType: Type.Union([PrincipalType, Type.Literal('system')]),
    authenticatedWith: Type.String({ description: 'password, key (a key token) or sigv4' }),
    accessKeyId: Nullable(Type.String()),
    isAdministrator: Type.Optional(Type.Boolean()),
    permissions: Type.Array(Type.String(), { description: 'the concrete permissions held (expanded)' }),
    groups: Type.Array(NamedRef),
    roles: Type.Array(NamedRef),
  },
  { additionalProperties: true },
);

export const Profile = Type.Object({
  tenantId: Type.String(),
  principal: Type.Object({
    type: Type.String(),
    id: Type.String(),
    name: Type.String(),
    email: Nullable(Type.String()),
  }),
  accessKeyId: Nullable(Type.String()),
  credential: Type.String({ description: '`sigv4` or `token`' }),
  tokenSource: Nullable(Type.String()),
  permissions: Type.Array(Type.String()),
});

export const SessionCredentials = Type.Object({
  accessKeyId: Type.String({ description: '`LKSA…`: temporary credentials' }),
  secretAccessKey: Type.String({ description: 'shown this once' }),
  sessionToken: Type.String({ description: 'send as `X-Amz-Security-Token`; shown this once' }),
  expiration: Type.String({ format: 'date-time' }),
  tenantId: Type.String(),
  source: Type.Union([Type.Literal('key'), Type.Literal('password')], {
    description:
      'what they follow: the key that asked for them, or the console sign-in (password or SSO) session',
  }),
  permissions: Type.Array(Type.String(), { description: 'what they may do now' }),
});

export const RoleView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  permissions: Type.Array(Type.String()),
  builtin: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** A role as the caller sees it: may the caller give it to someone? */
export const GrantableRole = Type.Composite([
  RoleView,
  Type.Object({
    grantable: Type.Boolean({ description: 'the caller holds every permission of the role, so may give it' }),
  }),
]);

export const MemberType = Type.Union([
  Type.Literal('user'),
  Type.Literal('service_account'),
  Type.Literal('key'),
]);

export const GroupMember = Type.Object({
  type: MemberType,
  id: Type.String(),
  label: Type.String({ description: 'email for users, name for service accounts and keys' }),
});

export const GroupView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  builtin: Type.Boolean(),
  roles: Type.Array(NamedRef),
  memberCount: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** A group as the caller sees it: may the caller give it to someone? */
export const GrantableGroup = Type.Composite([
  GroupView,
  Type.Object({
    grantable: Type.Boolean({
      description: 'the caller holds all the group gives (`*` for Administrators), so may give it',
    }),
  }),
]);

export const GroupDetail = Type.Composite([
  GrantableGroup,
  Type.Object({ members: Type.Array(GroupMember) }),
]);

export const SigningScope = Type.Object({ region: Type.String(), service: Type.String() });

/** Who must sign in with a second factor (src/auth/mfa). */
export const MfaRequiredSetting = Type.Union(
  [Type.Literal('off'), Type.Literal('administrators'), Type.Literal('everyone')],
  {
    description:
      'who must complete a second factor after the password: nobody, members of the Administrators group, or everyone',
  },
);

export const IamSettings = Type.Object({
  defaultKeyLifetimeDays: Nullable(Type.Integer()),
  maxKeyLifetimeDays: Nullable(Type.Integer()),
  tokenLifetimeSeconds: Type.Integer(),
  userKeyLimit: Type.Integer(),
  reminderLeadDays: Type.Integer(),
  acceptedScopes: Type.Array(SigningScope),
  allowUnsignedPayload: Type.Boolean(),
  emailSecretInline: Type.Boolean(),
  ...TrafficRuleView,
  usageRetentionDays: Type.Integer({ description: 'days hourly usage is kept' }),
  leakedKeyAction: Type.Union([Type.Literal('disable'), Type.Literal('read-only')], {
    description:
      'what a leak report does to a key (POST /v1/leaked-keys): `disable` refuses it, `read-only` lets only GET and HEAD through',
  }),
  maxSessionDurationSeconds: Type.Integer({
    description: 'longest life of temporary credentials (POST /iam/session-credentials), seconds',
  }),
  mfaRequired: MfaRequiredSetting,
});

const AuditParty = Type.Object({
  type: Type.String(),
  id: Type.String(),
  name: Nullable(Type.String({ description: 'its current name; null when it no longer exists' })),
});

export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actor: AuditParty,
  action: Type.String(),
  target: AuditParty,
  sourceIp: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
  before: Type.Unknown(),
  after: Type.Unknown(),
});

export const NotificationView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  title: Type.String(),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  actor: Nullable(Ref),
  createdAt: Type.String(),
  read: Type.Boolean(),
  readAt: Nullable(Type.String()),
});

export const NotificationPage = Type.Composite([
  Paged(NotificationView),
  Type.Object({ unreadCount: Type.Integer({ description: 'unread notifications in all pages' }) }),
]);

export const OutboxStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('failed'),
  Type.Literal('dropped'),
]);

export const OutboxView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  to: Type.String(),
  subject: Type.String(),
  status: OutboxStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastError: Nullable(Type.String()),
  messageId: Type.String(),
  createdAt: Type.String(),
  sentAt: Nullable(Type.String()),
  accessKeyId: Nullable(Type.String()),
  text: Nullable(Type.String({ description: 'null when the body holds a credential (sealed)' })),
  html: Nullable(Type.String()),
  sealed: Type.Boolean(),
});

export const OutboxPage = Type.Composite([
  Paged(OutboxView),
  Type.Object({ delivery: Type.Union([Type.Literal('smtp'), Type.Literal('outbox-only')]) }),
]);

export const RevealedSecret = Type.Object({
  accessKeyId: Type.String(),
  tenantId: Type.String(),
  secretAccessKey: Type.String(),
});

export const SampleCurl = Type.Object({
  sigv4: Type.String({ description: 'runs as-is with curl 7.75 or newer' }),
  precomputed: Type.Optional(Type.String({ description: 'for older curl: headers signed at signedAt' })),
  signedAt: Type.Optional(Type.String()),
});

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  database: Type.Object({
    status: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
    engine: Type.String(),
    latencyMs: Type.Optional(Type.Integer()),
  }),
});

const DependencyStatus = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
});

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  stopping: Type.Optional(
    Type.Boolean({ description: 'true once the instance was asked to stop: take it out of rotation' }),
  ),
  database: DependencyStatus,
  redis: Type.Optional(DependencyStatus),
});

export const Version = Type.Object({
  name: Type.String(),
  version: Type.String(),
  node: Type.String(),
  sigv4: Type.Object({
    region: Type.String({ description: 'the default signing scope’s region' }),
    service: Type.String(),
  }),
});

export const Jwks = Type.Object({
  keys: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

/** A document the server builds (an OpenAPI document, a Postman collection). */
export const JsonDocument = Type.Record(Type.String(), Type.Unknown());

export { Items };

/** What a user or service account may do: its roles', direct and through its groups. */
export const PrincipalPermissions = Type.Object({
  permissions: Type.Array(Type.String(), { description: 'the concrete permissions held (expanded)' }),
  readsData: Type.Boolean({
    description: 'holds a permission outside the admin API (`iam:`): its keys can read something',
  }),
});

// ---- registered APIs and the gateway
export const ApiRouteMethod = Type.Union(
  [
    Type.Literal('GET'),
    Type.Literal('HEAD'),
    Type.Literal('POST'),
    Type.Literal('PUT'),
    Type.Literal('PATCH'),
    Type.Literal('DELETE'),
    Type.Literal('OPTIONS'),
    Type.Literal('*'),
  ],
  { description: '`*`: any method; `GET` also matches `HEAD`' },
);

export const ApiRoute = Type.Object(
  {
    method: ApiRouteMethod,
    path: Type.String({
      minLength: 1,
      maxLength: 300,
      description:
        'relative to the base path: literal segments, `*` for one segment, a final `/*` for the rest',
    }),
    permission: Type.String({ minLength: 3, maxLength: 100, description: 'like `orders:read`' }),
  },
  { additionalProperties: false },
);

export const ApiView = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  basePath: Type.String(),
  upstream: Type.String(),
  routes: Type.Array(ApiRoute),
  allowUnsignedPayload: Type.Boolean(),
  timeoutMs: Type.Integer(),
  permissions: Type.Array(Type.Object({ permission: Type.String(), grantedBy: Type.Array(NamedRef) }), {
    description: 'each permission the routes declare, with the roles that grant it',
  }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const VerifyPrincipal = Type.Object({ type: PrincipalType, id: Type.String(), name: Type.String() });

/** A limited key's draft-ietf-httpapi-ratelimit-headers fields, to answer the client with. */
export const RateLimitFields = Type.Object(
  {
    policy: Type.String({
      description: 'the `RateLimit-Policy` field: `"key";q=10;w=1, "key-day";q=1000;w=86400`',
    }),
    state: Type.String({ description: 'the `RateLimit` field: `"key";r=9;t=1, "key-day";r=999;t=41234`' }),
  },
  { description: 'set when the key has a rate limit or quota: answer the client with these headers' },
);

export const VerifiedRequest = Type.Object({
  valid: Type.Literal(true),
  tenantId: Type.String(),
  principal: VerifyPrincipal,
  accessKeyId: Type.String(),
  keyType: KeyType,
  permissions: Type.Array(Type.String(), { description: 'the concrete permissions the request carries' }),
  allowed: Type.Boolean({ description: '`permission` given: whether it is held; otherwise true' }),
  rateLimit: Type.Optional(RateLimitFields),
});

export const RefusedRequest = Type.Object({
  valid: Type.Literal(false),
  code: Type.String({ description: 'the code latchkey itself would answer (SignatureDoesNotMatch, …)' }),
  message: Type.String(),
  retryAfterSeconds: Type.Optional(
    Type.Integer({ description: '`SlowDown`, `RateLimitExceeded`: the wait, as `Retry-After`' }),
  ),
  rateLimit: Type.Optional(RateLimitFields),
});

export const VerifyResult = Type.Union([VerifiedRequest, RefusedRequest]);

// ---- usage
export const UsageGranularity = Type.Union([Type.Literal('hour'), Type.Literal('day')]);
export const UsageGroupBy = Type.Union([Type.Literal('key'), Type.Literal('principal'), Type.Literal('api')]);

const usageCounts = {
  ok: Type.Integer({ description: 'admitted' }),
  denied: Type.Integer({ description: 'refused for a missing permission, route or address' }),
  throttled: Type.Integer({ description: 'refused by a rate limit or quota (429)' }),
  invalid_signature: Type.Integer({ description: 'a wrong signature or secret' }),
  expired: Type.Integer({ description: 'the key had expired' }),
  inactive: Type.Integer({ description: 'the key was deactivated' }),
};

export const UsagePoint = Type.Object({
  t: Type.String({ description: 'the bucket’s start, UTC (`2026-12-01T10:00:00Z`)' }),
  ...usageCounts,
});

const usageRange = {
  granularity: UsageGranularity,
  from: Type.String({ description: 'the first bucket’s start' }),
  to: Type.String({ description: 'the end of the range (exclusive)' }),
  series: Type.Array(UsagePoint, {
    description: 'every bucket of the range, oldest first, zeros included',
  }),
};

export const KeyUsage = Type.Object({ accessKeyId: Type.String(), ...usageRange });

export const UsageItem = Type.Object({
  id: Nullable(Type.String(), {
    description: 'the key ID, principal ID or registered API ID; null: latchkey’s own routes',
  }),
  name: Nullable(Type.String(), {
    description:
      'the key’s name, the user’s email or service account’s name, the API’s name; null once deleted',
  }),
  type: Type.Optional(PrincipalType),
  owner: Type.Optional(
    Type.Object({ type: PrincipalType, id: Type.String(), label: Nullable(Type.String()) }),
  ),
  ...usageCounts,
  total: Type.Integer(),
});

export const TenantUsage = Type.Object({
  groupBy: UsageGroupBy,
  ...usageRange,
  totals: Type.Object({ ...usageCounts, total: Type.Integer() }),
  items: Type.Array(UsageItem, { description: 'the most used first' }),
});

/** What the tenant usage's `api` grouping calls latchkey's own routes (`api_id` ''). */
export const OWN_ROUTES_NAME = 'latchkey (data API and /iam)';

// ---- leaked-key intake
export const LeakFeedback = Type.Array(
  Type.Object({
    token_raw: Type.String(),
    token_type: Type.String(),
    label: Type.Union([Type.Literal('true_positive'), Type.Literal('false_positive')]),
  }),
  { description: "GitHub's secret-scanning feedback shape, one entry per reported token, in order" },
);

// ---- event webhooks
export const WebhookView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabledReason: Nullable(Type.String(), {
    description: 'why it is disabled: by an administrator, or after repeated failed deliveries',
  }),
  consecutiveFailures: Type.Integer({ description: 'failed attempts since the last delivered one' }),
  failingSince: Nullable(Type.String()),
  lastSuccessAt: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const WebhookSecret = Type.Object({
  secret: Type.String({
    description:
      'the signing secret (`whsec_…`): shown this once, stored encrypted; verify `webhook-signature` with it',
  }),
});

export const WebhookCreated = Type.Composite([WebhookView, WebhookSecret]);

export const WebhookDeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('sending'),
  Type.Literal('delivered'),
  Type.Literal('failed'),
  Type.Literal('dropped'),
]);

export const WebhookDeliveryView = Type.Object({
  id: Type.String({ description: 'the `webhook-id` header: the same on every attempt' }),
  eventId: Type.String(),
  eventType: Type.String(),
  status: WebhookDeliveryStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastStatusCode: Nullable(Type.Integer({ description: "the receiver's last HTTP status" })),
  lastError: Nullable(Type.String()),
  createdAt: Type.String(),
  deliveredAt: Nullable(Type.String()),
});

export const SsoConfigView = Type.Object({
  configured: Type.Boolean({
    description: 'false: no identity provider is set up (the other fields are empty)',
  }),
  issuer: Nullable(Type.String({ description: "the IdP's issuer URL, as its discovery document names it" })),
  clientId: Nullable(Type.String()),
  clientSecretSet: Type.Boolean({ description: 'the client secret is write-only: never returned' }),
  enabled: Type.Boolean(),
  jitEnabled: Type.Boolean({
    description: 'create a user on the first sign-in of an unknown verified email',
  }),
  jitGroupId: Nullable(Type.String({ description: 'the group just-in-time users join (null: none)' })),
  allowedDomains: Type.Array(Type.String(), {
    description: 'email domains accepted (empty: any); also how `GET /iam/sso/start?email=` finds the tenant',
  }),
  redirectUri: Type.String({ description: 'register this redirect URI at the identity provider' }),
  signInUrl: Type.String({ description: 'a link that starts a sign-in to this tenant' }),
  updatedAt: Nullable(Type.String()),
});

export const SsoDisabledUser = Type.Object({
  id: Type.String(),
  email: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
});
