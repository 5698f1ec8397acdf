/**
 * The webhook event types (src/webhooks/events.ts raises them). Pure data: the console offers them
 * and the contract refuses any other.
 */

/** Key lifecycle events. */
export const KEY_EVENTS = [
  'access_key.created',
  'access_key.rotated',
  'access_key.deactivated',
  'access_key.deleted',
  'access_key.expiring',
  'access_key.expired',
  'access_key.throttled',
  'access_key.quarantined',
] as const;

/**
 * The audit actions latchkey writes (`audit.<action>` subscribes to one). An action missing here
 * still reaches `audit.*` subscribers.
 */
export const AUDIT_ACTIONS = [
  'tenant.create',
  'settings.update',
  'user.create',
  'user.update',
  'user.password',
  'user.delete',
  'user.api_user',
  'user.assignments',
  'user.mfa_enable',
  'user.mfa_disable',
  'user.mfa_recovery_codes',
  'user.mfa_reset',
  'user.passkey_add',
  'user.passkey_delete',
  'service_account.create',
  'service_account.update',
  'service_account.delete',
  'service_account.assignments',
  'access_key.create',
  'access_key.update',
  'access_key.rotate_secret',
  'access_key.delete',
  'access_key.assignments',
  'access_key.quarantine',
  'access_key.quarantine_release',
  'group.create',
  'group.update',
  'group.delete',
  'group.member_add',
  'group.member_remove',
  'role.create',
  'role.update',
  'role.delete',
  'api.create',
  'api.update',
  'api.delete',
  'gateway.deny',
  'webhook.create',
  'webhook.update',
  'webhook.delete',
  'webhook.disable',
  'webhook.secret',
  'sso.configure',
  'sso.delete',
  'sso.sign_in',
  'sso.link',
  'sso.disable_subject',
  'sso.unlink',
] as const;

/** Every audit entry. */
export const ALL_AUDIT_EVENTS = 'audit.*';

/** Every event type an endpoint may subscribe to. */
export const EVENT_TYPES: readonly string[] = [
  ...KEY_EVENTS,
  ALL_AUDIT_EVENTS,
  ...AUDIT_ACTIONS.map((a) => `audit.${a}`),
];

/** Sent by `POST /iam/webhooks/{id}/test` to that endpoint only; not subscribable. */
export const TEST_EVENT = 'webhook.test';
