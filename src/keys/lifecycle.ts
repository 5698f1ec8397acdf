/**
 * The access-key lifecycle: create (within limits), edit, rotate the secret (with an optional
 * grace period) and delete.
 *
 * Secrets are generated here, returned once, and stored only sealed under the master key.
 */
import { writeAudit } from '../audit/audit.js';
import { type Actor, can } from '../context.js';
import { generateAccessKeyId, generateSecretAccessKey } from '../crypto/access-key-id.js';
import { AppError } from '../errors.js';
import { replaceAssignments } from '../identity/assignments.js';
import { assertNotLastAdministrator, isAdministrator } from '../identity/authorization.js';
import { assertMayActAs } from '../identity/escalation.js';
import { findServiceAccount } from '../identity/service-accounts.js';
import { getSettings } from '../identity/settings.js';
import { findUser } from '../identity/users.js';
import { GRACE_SECONDS_MAX } from '../limits.js';
import { keyEmailAddress, queueKeyEmail } from '../notify/key-email.js';
import { notifyAssignmentChange } from '../notify/notifications.js';
import { mailQueued } from '../notify/outbox.js';
import { remindIfDue } from '../notify/reminders.js';
import type { Services } from '../services.js';
import { type DbOrTx, forUpdate } from '../storage/dialect.js';
import type { AccessKey } from '../storage/tables.js';
import { addMs, iso } from '../time.js';
import {
  NO_RULES,
  patchRules,
  type RulesPatch,
  rulesFromJson,
  rulesToJson,
  touchesRules,
} from '../traffic/rules.js';
import { assertMayManageKeysOf } from './access.js';
import { type ExpiryInput, hasExpiryInput, resolveExpiry } from './expiry.js';
import { deleteKeyRows, findKey, type KeyType, type Owner } from './key-rows.js';
import { storeSecret } from './secrets.js';
import { type KeyView, keyViewOf } from './views.js';

export interface CreatedKey {
  key: KeyView;
  /** Returned this once; only its sealed form is stored. */
  secretAccessKey: string;
}

const keySubject = (accessKeyId: string) => ({ type: 'key' as const, id: accessKeyId });
const ownerNoun = (owner: Owner) => (owner.type === 'user' ? 'user' : 'service account');

/** The name of a key created without one: `Access key 2026-12-04` (the UTC date of creation). */
export const defaultKeyName = (now: Date): string => `Access key ${iso(now).slice(0, 10)}`;

async function assertOwner(
  db: DbOrTx,
  tenantId: string,
  owner: Owner,
): Promise<{ label: string; status: string }> {
  if (owner.type === 'user') {
    const user = await findUser(db, tenantId, owner.id);
    return { label: user.email, status: user.status };
  }
  const sa = await findServiceAccount(db, tenantId, owner.id);
  return { label: sa.name, status: sa.status };
}

export interface NewKeyInput extends ExpiryInput, RulesPatch {
  /** Default: `defaultKeyName` of the creation date. */
  name?: string;
  type?: KeyType;
  groupIds?: string[];
  roleIds?: string[];
  /**
   * SQL Account's "Generate API Secret Key": the owner becomes an API user who can no longer
   * sign in with a password. Administrators only (iam:users:manage).
   */
  apiUser?: boolean;
  /** Email the owner the access key ID and a one-time link to the secret (seed 004). */
  sendEmail?: boolean;
}

export async function createKey(
  svc: Services,
  actor: Actor,
  owner: Owner,
  input: NewKeyInput,
): Promise<CreatedKey> {
  const name = input.name ?? defaultKeyName(svc.clock.now());
  assertMayManageKeysOf(actor, owner);
  // Self-service may set rules at creation: they only tighten what the owner and tenant allow.
  const traffic = rulesToJson(patchRules(NO_RULES, input));
  if (input.apiUser) {
    if (owner.type !== 'user') throw new AppError('VALIDATION_FAILED', 'only users can be made API users');
    if (!can(actor, 'iam:users:manage')) {
      throw new AppError('AccessDenied', 'making a user an API user needs iam:users:manage', {
        missingPermission: 'iam:users:manage',
      });
    }
  }
  const secret = generateSecretAccessKey();
  const accessKeyId = generateAccessKeyId();
  const created = await svc.db.transaction().execute(async (trx) => {
    const now = svc.clock.now();
    const settings = await getSettings(trx, actor.tenantId);
    // Lock the owner row so two concurrent creations cannot both pass the limit check.
    const ownerTable = owner.type === 'user' ? 'users' : 'service_accounts';
    await forUpdate(trx.selectFrom(ownerTable).select('id').where('id', '=', owner.id), svc.engine).execute();
    const ownerInfo = await assertOwner(trx, actor.tenantId, owner);
    if (ownerInfo.status !== 'active')
      throw new AppError('CONFLICT', `the ${owner.type.replace('_', ' ')} is disabled`);
    // Before anything is written: a service account without an address gets EMAIL_REQUIRED.
    const emailTo = input.sendEmail ? await keyEmailAddress(trx, actor.tenantId, owner) : null;
    const expiresAt = resolveExpiry(input, settings, now);
    if (owner.type === 'user' && !(await isAdministrator(trx, actor.tenantId, owner.id))) {
      const count = await trx
        .selectFrom('access_keys')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('owner_type', '=', 'user')
        .where('owner_id', '=', owner.id)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= settings.userKeyLimit) {
        throw new AppError(
          'KEY_LIMIT_REACHED',
          `a user may hold at most ${settings.userKeyLimit} access keys; delete one first`,
          { limit: settings.userKeyLimit },
        );
      }
    }
    if (input.apiUser) {
      await assertNotLastAdministrator(trx, actor.tenantId, owner.id);
      await trx
        .updateTable('users')
        .set({ api_user: 1, updated_at: iso(now) })
        .where('id', '=', owner.id)
        .execute();
      await writeAudit(
        trx,
        svc.clock,
        actor,
        'user.api_user',
        { type: 'user', id: owner.id },
        { apiUser: false },
        { apiUser: true },
      );
    }
    const at = iso(now);
    const row: AccessKey = {
      id: accessKeyId,
      tenant_id: actor.tenantId,
      owner_type: owner.type,
      owner_id: owner.id,
      name: name.trim(),
      type: input.type ?? 'access',
      status: 'active',
      expires_at: expiresAt,
      secret_version: 1,
      created_at: at,
      created_by_type: actor.type,
      created_by_id: actor.id,
      updated_at: at,
      updated_by_type: actor.type,
      updated_by_id: actor.id,
      last_used_at: null,
      last_used_api_id: null,
      last_used_decision: null,
      last_used_ip: null,
      manager_disabled: 0,
      traffic,
      quarantined_at: null,
      quarantine_reason: null,
      quarantine_url: null,
    };
    await trx.insertInto('access_keys').values(row).execute();
    await storeSecret(svc, trx, { tenantId: actor.tenantId, accessKeyId }, 1, secret, at);
    if (input.groupIds || input.roleIds) {
      const subject = { type: 'key' as const, id: accessKeyId };
      const change = await replaceAssignments(trx, actor, now, subject, input);
      await notifyAssignmentChange(svc, trx, actor, subject, change.before, change.after);
    }
    // The caller receives the secret: the key may hold nothing the caller does not.
    await assertMayActAs(trx, actor, keySubject(accessKeyId), `creating a key for this ${ownerNoun(owner)}`);
    if (emailTo !== null) await queueKeyEmail(svc, trx, actor, row, ownerInfo.label, emailTo, secret);
    const keyView = await keyViewOf(svc, trx, { ...row, owner_label: ownerInfo.label });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.create',
      { type: 'access_key', id: accessKeyId },
      null,
      keyView,
    );
    return keyView;
  });
  if (input.apiUser) svc.events.emit('authz-changed', { tenantId: actor.tenantId });
  // Clears a cached "no such key" left by a request that raced the creation.
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  if (input.sendEmail) mailQueued(svc, actor.tenantId);
  // A key created inside its reminder lead window is reminded now, not at the next job run.
  await remindIfDue(svc, actor.tenantId, accessKeyId);
  return { key: created, secretAccessKey: secret };
}

export interface KeyPatch extends ExpiryInput, RulesPatch {
  name?: string;
  active?: boolean;
}

export async function updateKey(
  svc: Services,
  actor: Actor,
  accessKeyId: string,
  patch: KeyPatch,
): Promise<KeyView> {
  const result = await svc.db.transaction().execute(async (trx) => {
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    const now = svc.clock.now();
    const values: Partial<AccessKey> = {
      updated_at: iso(now),
      updated_by_type: actor.type,
      updated_by_id: actor.id,
    };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.active !== undefined) {
      const manager = can(actor, 'iam:keys:manage');
      if (patch.active && before.status === 'inactive' && before.manager_disabled === 1 && !manager) {
        // Self-service must not undo an administrator's decision to stop a key.
        throw new AppError(
          'AccessDenied',
          'an administrator deactivated this key: only someone with iam:keys:manage can activate it again',
          { missingPermission: 'iam:keys:manage' },
        );
      }
      values.status = patch.active ? 'active' : 'inactive';
      values.manager_disabled = patch.active ? 0 : manager ? 1 : 0;
    }
    if (hasExpiryInput(patch))
      values.expires_at = resolveExpiry(patch, await getSettings(trx, actor.tenantId), now);
    if (touchesRules(patch)) {
      // A key manager's limits bind the key's owner: self-service could otherwise lift them.
      if (!can(actor, 'iam:keys:manage'))
        throw new AppError(
          'AccessDenied',
          'changing a key’s rate limit, quota or allowed networks needs iam:keys:manage',
          { missingPermission: 'iam:keys:manage' },
        );
      values.traffic = rulesToJson(patchRules(rulesFromJson(before.traffic), patch));
    }
    await trx.updateTable('access_keys').set(values).where('id', '=', accessKeyId).execute();
    const beforeView = await keyViewOf(svc, trx, before);
    const afterView = await keyViewOf(svc, trx, { ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.update',
      { type: 'access_key', id: accessKeyId },
      beforeView,
      afterView,
    );
    return afterView;
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  // A new expiry re-arms the reminder; if it is already inside the lead window, remind now.
  if (hasExpiryInput(patch) || patch.active) await remindIfDue(svc, actor.tenantId, accessKeyId);
  return result;
}

/**
 * Generate a new secret key. The previous secret stops working at once, or after `graceSeconds`
 * (at most GRACE_SECONDS_MAX) during which both work; any older secret still in its grace period ends now.
 * A quarantined key (reported leaked: src/leaks) is released, and its old secret ends at once
 * whatever `graceSeconds` says: the leaked secret must not keep working.
 */
export async function rotateSecret(
  svc: Services,
  actor: Actor,
  accessKeyId: string,
  graceSeconds = 0,
): Promise<CreatedKey> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > GRACE_SECONDS_MAX) {
    throw new AppError(
      'VALIDATION_FAILED',
      `graceSeconds must be a whole number from 0 to ${GRACE_SECONDS_MAX}`,
    );
  }
  const secret = generateSecretAccessKey();
  const result = await svc.db.transaction().execute(async (trx) => {
    // Lock the key row: two concurrent rotations must not both become version n+1.
    await forUpdate(
      trx.selectFrom('access_keys').select('id').where('id', '=', accessKeyId),
      svc.engine,
    ).execute();
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    // The caller receives the new secret: the key may hold nothing the caller does not.
    await assertMayActAs(trx, actor, keySubject(accessKeyId), 'generating a new secret for this key');
    const now = svc.clock.now();
    const version = before.secret_version + 1;
    const releasing = before.quarantined_at !== null;
    await trx
      .deleteFrom('key_secrets')
      .where('access_key_id', '=', accessKeyId)
      .where('version', '<', before.secret_version)
      .execute();
    if (graceSeconds === 0 || releasing) {
      await trx.deleteFrom('key_secrets').where('access_key_id', '=', accessKeyId).execute();
    } else {
      await trx
        .updateTable('key_secrets')
        .set({ not_after: iso(addMs(now, graceSeconds * 1000)) })
        .where('access_key_id', '=', accessKeyId)
        .where('version', '=', before.secret_version)
        .execute();
    }
    await storeSecret(svc, trx, { tenantId: actor.tenantId, accessKeyId }, version, secret, iso(now));
    const values = {
      secret_version: version,
      updated_at: iso(now),
      updated_by_type: actor.type,
      updated_by_id: actor.id,
      ...(releasing ? { quarantined_at: null, quarantine_reason: null, quarantine_url: null } : {}),
    };
    await trx.updateTable('access_keys').set(values).where('id', '=', accessKeyId).execute();
    const afterView = await keyViewOf(svc, trx, { ...before, ...values });
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.rotate_secret',
      { type: 'access_key', id: accessKeyId },
      { secretVersion: before.secret_version },
      releasing
        ? { secretVersion: version, graceSeconds: 0, quarantineReleased: true }
        : { secretVersion: version, graceSeconds },
    );
    return afterView;
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
  return { key: result, secretAccessKey: secret };
}

export async function deleteKey(svc: Services, actor: Actor, accessKeyId: string): Promise<void> {
  await svc.db.transaction().execute(async (trx) => {
    const before = await findKey(trx, actor.tenantId, accessKeyId);
    assertMayManageKeysOf(actor, { type: before.owner_type, id: before.owner_id });
    const beforeView = await keyViewOf(svc, trx, before);
    await deleteKeyRows(trx, [accessKeyId]);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'access_key.delete',
      { type: 'access_key', id: accessKeyId },
      beforeView,
      null,
    );
  });
  svc.events.emit('key-changed', { tenantId: actor.tenantId, accessKeyId });
}
