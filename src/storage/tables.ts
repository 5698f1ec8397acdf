/**
 * Row types of every table. Times are ISO-8601 UTC strings with milliseconds
 * (`2026-11-23T10:00:00.000Z`) and flags are 0/1 integers on both engines, so the
 * same queries and comparisons work on SQLite and PostgreSQL.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export type PrincipalType = 'user' | 'service_account';
export type Flag = 0 | 1;

export interface TenantTable {
  id: string;
  name: string;
  created_at: string;
}

export interface TenantSettingsTable {
  tenant_id: string;
  default_key_lifetime_days: number | null;
  max_key_lifetime_days: number | null;
  token_lifetime_seconds: number;
  user_key_limit: number;
  reminder_lead_days: number;
  /** JSON array of {region, service} accepted besides the configured default scope. */
  accepted_scopes: string;
  allow_unsigned_payload: number;
  email_secret_inline: number;
  /** JSON traffic rules set at this level (src/traffic/rules.ts); null: none. */
  traffic: ColumnType<string | null, string | null | undefined, string | null>;
  usage_retention_days: ColumnType<number, number | undefined, number>;
  /** What a leak report does to a key: `disable` (refuse it) or `read-only` (GET and HEAD only). */
  leaked_key_action: ColumnType<
    'disable' | 'read-only',
    'disable' | 'read-only' | undefined,
    'disable' | 'read-only'
  >;
  /** Longest life of temporary credentials (POST /iam/session-credentials), seconds. */
  max_session_duration_seconds: ColumnType<number, number | undefined, number>;
  /** Who must sign in with a second factor (src/auth/mfa): `off`, `administrators`, `everyone`. */
  mfa_required: ColumnType<MfaRequired, MfaRequired | undefined, MfaRequired>;
  updated_at: string;
}

export type MfaRequired = 'off' | 'administrators' | 'everyone';

export interface UserTable {
  id: string;
  tenant_id: string;
  email: string;
  email_normalized: string;
  name: string;
  password_hash: string | null;
  status: 'active' | 'disabled';
  api_user: number;
  /** Bumped when the password changes or the user is disabled or made an API user: ends earlier sessions. */
  session_epoch: Generated<number>;
  /** JSON traffic rules set at this level (src/traffic/rules.ts); null: none. */
  traffic: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface ServiceAccountTable {
  id: string;
  tenant_id: string;
  name: string;
  email: string | null;
  description: string;
  status: 'active' | 'disabled';
  /** JSON traffic rules set at this level (src/traffic/rules.ts); null: none. */
  traffic: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface GroupTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  builtin: string | null;
  created_at: string;
  updated_at: string;
}

export type MemberType = PrincipalType | 'key';
export interface GroupMemberTable {
  tenant_id: string;
  group_id: string;
  member_type: MemberType;
  member_id: string;
  created_at: string;
}

export interface RoleTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  /** JSON array of permission patterns. */
  permissions: string;
  builtin: string | null;
  created_at: string;
  updated_at: string;
}

export type RoleSubjectType = PrincipalType | 'group' | 'key';
export interface RoleAssignmentTable {
  tenant_id: string;
  role_id: string;
  subject_type: RoleSubjectType;
  subject_id: string;
  created_at: string;
}

export interface AccessKeyTable {
  id: string;
  tenant_id: string;
  owner_type: PrincipalType;
  owner_id: string;
  name: string;
  type: 'access' | 'api';
  status: 'active' | 'inactive';
  expires_at: string | null;
  secret_version: number;
  created_at: string;
  created_by_type: string;
  created_by_id: string;
  updated_at: string;
  updated_by_type: string;
  updated_by_id: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  /** 1: deactivated by a key manager (or the operator); self-service cannot activate it again. */
  manager_disabled: Generated<number>;
  /** The registered API of the gateway's last decision for this key (null: latchkey's own routes). */
  last_used_api_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** `allowed` | `denied`: the gateway's last decision (null: latchkey's own routes). */
  last_used_decision: ColumnType<
    'allowed' | 'denied' | null,
    'allowed' | 'denied' | null | undefined,
    'allowed' | 'denied' | null
  >;
  /** JSON traffic rules set at this level (src/traffic/rules.ts); null: none. */
  traffic: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set when a leak report named the key (src/leaks): refused, or read-only, until released. */
  quarantined_at: ColumnType<string | null, string | null | undefined, string | null>;
  quarantine_reason: ColumnType<string | null, string | null | undefined, string | null>;
  quarantine_url: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A registered API (src/gateway): requests under its base path are verified and forwarded upstream. */
export interface ApiTable {
  id: string;
  tenant_id: string;
  name: string;
  base_path: string;
  upstream: string;
  /** JSON array of `{method, path, permission}`, matched in order. */
  routes: string;
  allow_unsigned_payload: number;
  timeout_ms: number;
  created_at: string;
  updated_at: string;
}

export interface KeySecretTable {
  access_key_id: string;
  version: number;
  /** AES-256-GCM envelope (see crypto/envelope.ts); never the plaintext. */
  ciphertext: string;
  master_key_version: number;
  created_at: string;
  /** Set when a newer secret replaced this one: valid until then (grace period). */
  not_after: string | null;
  /** HMAC-SHA256 of the secret under a key derived from the master key (src/leaks/lookup.ts). */
  lookup_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** Fingerprint of the derived key that made lookup_hash. */
  lookup_key: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk_ciphertext: string;
  master_key_version: number;
  created_at: string;
  retired_at: string | null;
}

export interface AuditLogTable {
  id: string;
  tenant_id: string;
  at: string;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  source_ip: string | null;
  request_id: string | null;
  before: string | null;
  after: string | null;
}

export interface Database {
  tenants: TenantTable;
  tenant_settings: TenantSettingsTable;
  users: UserTable;
  service_accounts: ServiceAccountTable;
  groups: GroupTable;
  group_members: GroupMemberTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  access_keys: AccessKeyTable;
  apis: ApiTable;
  key_secrets: KeySecretTable;
  signing_keys: SigningKeyTable;
  audit_log: AuditLogTable;
  mail_outbox: MailOutboxTable;
  key_reminders: KeyReminderTable;
  key_reveal_links: KeyRevealLinkTable;
  notifications: NotificationTable;
  quota_usage: QuotaUsageTable;
  key_usage: KeyUsageTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_deliveries: WebhookDeliveryTable;
  sso_configs: SsoConfigTable;
  sso_identities: SsoIdentityTable;
  sso_flows: SsoFlowTable;
  sso_codes: SsoCodeTable;
  session_credentials: SessionCredentialTable;
  mfa_factors: MfaFactorTable;
  mfa_recovery_codes: MfaRecoveryCodeTable;
  mfa_challenges: MfaChallengeTable;
  /** SQLite only: the cross-process change feed (storage/change-feed). */
  change_events: ChangeEventTable;
}

export interface ChangeEventTable {
  id: Generated<number>;
  /** The process that wrote it (it skips its own events). */
  origin: string;
  /** JSON `{"e": event name, "a": arguments}`. */
  payload: string;
  created_at: string;
}

export type Tenant = Selectable<TenantTable>;
export type TenantSettingsRow = Selectable<TenantSettingsTable>;
export type User = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
export type ServiceAccount = Selectable<ServiceAccountTable>;
export type Group = Selectable<GroupTable>;
export type Role = Selectable<RoleTable>;
export type AccessKey = Selectable<AccessKeyTable>;
export type KeySecret = Selectable<KeySecretTable>;
export type AuditEntry = Selectable<AuditLogTable>;
export type ApiRow = Selectable<ApiTable>;

/**
 * `pending` → `sending` (claimed under a lease) → `sent` | `failed` | `dropped` (a key email that
 * was no longer true when its turn came); a failed attempt that may be retried goes back to
 * `pending` with a later `next_attempt_at`.
 */
export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'dropped';

export interface MailOutboxTable {
  id: string;
  tenant_id: string;
  kind: string;
  to_address: string;
  subject: string;
  /** Plain text, or (when `sealed` = 1) an envelope that only the delivering worker opens. */
  text_body: string;
  html_body: string;
  sealed: number;
  master_key_version: number | null;
  /** Stable per row: a resend after a crash carries the same Message-ID. */
  message_id: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  /** The key a key email is about (re-checked at delivery: a stale one is `dropped`). */
  access_key_id: string | null;
  /** A reminder's expiry time: dropped when the key's expiry has changed since. */
  key_expires_at: string | null;
  /** A credentials email's secret version: dropped when a new secret was generated since. */
  key_secret_version: number | null;
}

export interface KeyReminderTable {
  access_key_id: string;
  /** The expiry time the reminder was for: a new expiry re-arms the reminder. */
  expires_at: string;
  kind: 'expiring' | 'expired';
  tenant_id: string;
  created_at: string;
}

export interface KeyRevealLinkTable {
  /** SHA-256 (hex) of the link token; the token itself is only in the email. */
  token_hash: string;
  tenant_id: string;
  access_key_id: string;
  secret_version: number;
  /** The sealed secret; cleared when the link is used. */
  ciphertext: string | null;
  master_key_version: number;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

export interface NotificationTable {
  id: string;
  tenant_id: string;
  user_id: string;
  kind: string;
  title: string;
  body: string;
  /** JSON object with the ids the notification is about. */
  data: string;
  actor_type: string | null;
  actor_id: string | null;
  created_at: string;
  read_at: string | null;
}

export type OutboxRow = Selectable<MailOutboxTable>;
export type NotificationRow = Selectable<NotificationTable>;

/** Requests admitted per quota counter and calendar window (src/traffic/quota-ledger.ts). */
export interface QuotaUsageTable {
  counter: string;
  /** ISO time the window (UTC day or month) starts. */
  window_start: string;
  used: ColumnType<number, number, number>;
  updated_at: string;
}

/** Requests per key, registered API ('' = latchkey's own routes) and hour, by outcome (src/traffic/usage.ts). */
export interface KeyUsageTable {
  tenant_id: string;
  access_key_id: string;
  owner_type: PrincipalType;
  owner_id: string;
  api_id: string;
  /** ISO time the hour starts (`2026-12-01T10:00:00.000Z`). */
  hour: string;
  ok: ColumnType<number, number | undefined, number>;
  denied: ColumnType<number, number | undefined, number>;
  throttled: ColumnType<number, number | undefined, number>;
  invalid_signature: ColumnType<number, number | undefined, number>;
  expired: ColumnType<number, number | undefined, number>;
  inactive: ColumnType<number, number | undefined, number>;
}

/** Temporary SigV4 credentials (src/auth/session-credentials.ts). */
export interface SessionCredentialTable {
  /** `LKSA…`: the access key ID clients sign with. */
  id: string;
  tenant_id: string;
  principal_type: PrincipalType;
  principal_id: string;
  /** What they were issued from and follow: a long-term key (`key`) or a password session. */
  source: 'key' | 'password';
  source_key_id: string | null;
  source_secret_version: number | null;
  /** JSON patterns a key token already narrowed its key to (null: none). */
  source_permissions: string | null;
  session_epoch: number | null;
  /** JSON patterns the request narrowed to (null: everything the source may do). */
  permissions: string | null;
  secret_ciphertext: string;
  master_key_version: number;
  token_sha256: string;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
}
export type SessionCredential = Selectable<SessionCredentialTable>;

/** Where a tenant wants events sent (src/webhooks/endpoints.ts). */
export interface WebhookEndpointTable {
  id: string;
  tenant_id: string;
  url: string;
  description: string;
  /** JSON array of event types (`access_key.created`, `audit.*`, …). */
  events: string;
  /** The signing secret (`whsec_…`), sealed under the master key. */
  secret_ciphertext: string;
  master_key_version: number;
  enabled: Flag;
  /** Why it was disabled (by an administrator, or after repeated failures); null while enabled. */
  disabled_reason: string | null;
  /** Failed attempts since the last success, and when that run of failures began. */
  consecutive_failures: ColumnType<number, number | undefined, number>;
  failing_since: string | null;
  last_success_at: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * One event for one endpoint, delivered like mail (src/notify/leases.ts): `pending` → `sending`
 * (claimed under a lease) → `delivered`, or back to `pending` with a later `next_attempt_at`, or
 * `failed` (gave up), or `dropped` (its endpoint was disabled before its turn came).
 */
export type WebhookDeliveryStatus = 'pending' | 'sending' | 'delivered' | 'failed' | 'dropped';

export interface WebhookDeliveryTable {
  /** Also the `webhook-id` header: the same on every attempt, for the receiver to de-duplicate. */
  id: string;
  tenant_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** The JSON body exactly as it is signed and sent. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  locked_by: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;

/** A tenant's OIDC identity provider (src/auth/sso/config.ts). */
export interface SsoConfigTable {
  tenant_id: string;
  issuer: string;
  client_id: string;
  /** The client secret, sealed under the master key (context `sso-client-secret:<tenant>`). */
  secret_ciphertext: string;
  master_key_version: number;
  enabled: Flag;
  /** Create a user on the first sign-in of a verified email that matches nobody. */
  jit_enabled: Flag;
  jit_group_id: string | null;
  /** JSON array of lower-case email domains accepted (empty: any). */
  allowed_domains: string;
  created_at: string;
  updated_at: string;
}
export type SsoConfigRow = Selectable<SsoConfigTable>;

/** An IdP subject linked to a latchkey user. */
export interface SsoIdentityTable {
  tenant_id: string;
  issuer: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: string;
  last_sign_in_at: string | null;
}
export type SsoIdentityRow = Selectable<SsoIdentityTable>;

/** A sign-in between its redirect to the IdP and the callback. */
export interface SsoFlowTable {
  state_hash: string;
  tenant_id: string;
  issuer: string;
  verifier_ciphertext: string;
  master_key_version: number;
  nonce: string;
  expires_at: string;
}

/** A one-time code the console exchanges for a session token. */
export interface SsoCodeTable {
  code_hash: string;
  tenant_id: string;
  user_id: string;
  expires_at: string;
}

/** A user's second factor: a TOTP authenticator or a passkey (src/auth/mfa). */
export interface MfaFactorTable {
  id: string;
  tenant_id: string;
  user_id: string;
  type: 'totp' | 'webauthn';
  /** A TOTP factor is `pending` until a first code confirms it; a passkey is `active` once registered. */
  status: 'pending' | 'active';
  name: string;
  /** TOTP: the base32 secret sealed under the master key (context `mfa-totp:<tenant>:<user>:<id>`). */
  secret_ciphertext: string | null;
  master_key_version: number | null;
  /** TOTP: the 30 s time step of the last code accepted (an older or equal step is refused). */
  last_used_step: number | null;
  /** Passkey: credential ID and COSE public key (base64url), counter and transports (JSON array). */
  credential_id: string | null;
  public_key: string | null;
  sign_count: number | null;
  transports: string | null;
  created_at: string;
  last_used_at: string | null;
}
export type MfaFactorRow = Selectable<MfaFactorTable>;

/** A one-time recovery code (SHA-256 of it). */
export interface MfaRecoveryCodeTable {
  code_hash: string;
  tenant_id: string;
  user_id: string;
  created_at: string;
  used_at: string | null;
}

/** The second step of a sign-in, an enrolment the tenant requires, or a passkey registration. */
export interface MfaChallengeTable {
  /** SHA-256 (hex) of the challenge value (or, for a passkey registration, of its WebAuthn challenge). */
  challenge_hash: string;
  tenant_id: string;
  user_id: string;
  purpose: 'sign-in' | 'enrol' | 'webauthn-registration';
  session_epoch: number;
  /** The WebAuthn challenge (base64url) issued for this sign-in, when one was asked for. */
  webauthn_challenge: string | null;
  failures: ColumnType<number, number | undefined, number>;
  expires_at: string;
}
export type MfaChallengeRow = Selectable<MfaChallengeTable>;
