/**
 * "Send the key by email": the owner gets the access key ID and a one-time link, valid 24 hours,
 * to a page whose "Show the secret" button (a POST) reveals the secret once; opening the link
 * (GET, HEAD) uses nothing up. Or, when the tenant setting emailSecretInline is on, the secret
 * itself. The link token is random (256 bits); only its SHA-256 is stored, next to the secret
 * sealed under its own context. The email body (which holds the link or the secret) is stored
 * sealed in the outbox and blanked once delivered.
 */
import { createHash } from 'node:crypto';
import { publicBaseUrl } from '../config.js';
import type { Actor } from '../context.js';
import { randomBase62 } from '../crypto/random.js';
import { AppError } from '../errors.js';
import { principalContact } from '../identity/principals.js';
import { getSettings } from '../identity/settings.js';
import type { Owner } from '../keys/key-rows.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { AccessKey } from '../storage/tables.js';
import { addMs, iso } from '../time.js';
import { actorLabel } from './notifications.js';
import { enqueueMail } from './outbox.js';
import { tenantName } from './reminders.js';
import { keyCreatedEmail } from './templates.js';

export const REVEAL_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const TOKEN = /^[0-9A-Za-z]{43}$/;

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
export const revealContext = (tenantId: string, accessKeyId: string, tokenHash: string) =>
  `key-reveal:${tenantId}:${accessKeyId}:${tokenHash}`;

/** The owner's email address, or EMAIL_REQUIRED (checked before the key is created). */
export async function keyEmailAddress(db: DbOrTx, tenantId: string, owner: Owner): Promise<string> {
  const found = await principalContact(db, tenantId, owner.type, owner.id);
  // A user always has an address: only a service account can lack one.
  if (found?.email) return found.email;
  if (found) {
    throw new AppError(
      'EMAIL_REQUIRED',
      `the service account ${found.name} has no email address: set one (PATCH /iam/service-accounts/${owner.id} {"email": …}) or create the key without sendEmail`,
    );
  }
  // A missing owner is reported by the key creation itself (NOT_FOUND).
  throw new AppError('NOT_FOUND', `${owner.type.replace('_', ' ')} not found`);
}

/** Queue the key email inside the key's creation transaction. */
export async function queueKeyEmail(
  svc: Services,
  trx: DbOrTx,
  actor: Actor,
  key: AccessKey,
  ownerLabel: string,
  to: string,
  secretAccessKey: string,
): Promise<void> {
  const now = svc.clock.now();
  const settings = await getSettings(trx, key.tenant_id);
  let delivery: Parameters<typeof keyCreatedEmail>[0]['delivery'];
  if (settings.emailSecretInline) {
    delivery = { kind: 'inline', secretAccessKey };
  } else {
    const token = randomBase62(43);
    const tokenHash = hashToken(token);
    const sealed = svc.secrets.seal(secretAccessKey, revealContext(key.tenant_id, key.id, tokenHash));
    const expiresAt = iso(addMs(now, REVEAL_LINK_TTL_MS));
    await trx
      .insertInto('key_reveal_links')
      .values({
        token_hash: tokenHash,
        tenant_id: key.tenant_id,
        access_key_id: key.id,
        secret_version: key.secret_version,
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        expires_at: expiresAt,
        used_at: null,
        created_at: iso(now),
      })
      .execute();
    delivery = {
      kind: 'link',
      url: `${publicBaseUrl(svc.config)}/iam/key-reveal/${token}`,
      validUntil: expiresAt,
    };
  }
  const email = keyCreatedEmail({
    tenantName: await tenantName(trx, key.tenant_id),
    tenantId: key.tenant_id,
    keyName: key.name,
    accessKeyId: key.id,
    ownerLabel,
    expiresAt: key.expires_at,
    createdBy: await actorLabel(trx, actor),
    delivery,
  });
  await enqueueMail(svc, trx, {
    tenantId: key.tenant_id,
    kind: 'key_created',
    to,
    ...email,
    sealed: true,
    // Checked again at delivery: dropped if the key was deleted or got a new secret by then.
    about: { accessKeyId: key.id, secretVersion: key.secret_version },
  });
}

export interface RevealedKey {
  accessKeyId: string;
  tenantId: string;
  secretAccessKey: string;
}

/** What the reveal page shows besides the secret itself. */
export interface RevealedSecret extends RevealedKey {
  keyName: string;
  tenantName: string;
}

const linkUsed = () =>
  new AppError('REVEAL_LINK_USED', 'this link was already used: the secret key is shown only once');

/**
 * The link's row when it can still reveal its secret, else the AppError that says why
 * (NOT_FOUND, REVEAL_LINK_USED, REVEAL_LINK_EXPIRED). Reads only: nothing is changed.
 */
async function usableLink(svc: Services, token: string) {
  const unknown = () => new AppError('NOT_FOUND', 'this link is not valid');
  if (!TOKEN.test(token)) throw unknown();
  const tokenHash = hashToken(token);
  const row = await svc.db
    .selectFrom('key_reveal_links')
    .innerJoin('access_keys', 'access_keys.id', 'key_reveal_links.access_key_id')
    .leftJoin('tenants', 'tenants.id', 'key_reveal_links.tenant_id')
    .select([
      'key_reveal_links.tenant_id',
      'key_reveal_links.access_key_id',
      'key_reveal_links.secret_version',
      'key_reveal_links.ciphertext',
      'key_reveal_links.master_key_version',
      'key_reveal_links.expires_at',
      'key_reveal_links.used_at',
      'access_keys.secret_version as current_version',
      'access_keys.name as key_name',
      'tenants.name as tenant_name',
    ])
    .where('key_reveal_links.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row) throw unknown();
  if (row.used_at !== null) throw linkUsed();
  const now = svc.clock.now();
  if (Date.parse(row.expires_at) <= now.getTime() || row.ciphertext === null) {
    throw new AppError(
      'REVEAL_LINK_EXPIRED',
      'this link expired (links are valid for 24 hours): ask for a new secret key',
    );
  }
  if (row.secret_version !== row.current_version) {
    throw new AppError('REVEAL_LINK_EXPIRED', 'a new secret key was generated since this link was sent');
  }
  return { ...row, ciphertext: row.ciphertext, tokenHash, now };
}

/**
 * Whether a link can still reveal its secret, for the page a GET shows: the link's own expiry
 * and nothing about the key. Throws like revealKeySecret; changes nothing, so a mail scanner
 * (or a HEAD) that fetches the link leaves it usable.
 */
export async function revealLinkStatus(svc: Services, token: string): Promise<{ expiresAt: string }> {
  const link = await usableLink(svc, token);
  return { expiresAt: link.expires_at };
}

/** Use a one-time link up: the secret the first time, 410 after that or after 24 hours. */
export async function revealKeySecret(svc: Services, token: string): Promise<RevealedSecret> {
  const row = await usableLink(svc, token);
  let secretAccessKey: string;
  try {
    secretAccessKey = svc.secrets.open(
      { ciphertext: row.ciphertext, masterKeyVersion: row.master_key_version },
      revealContext(row.tenant_id, row.access_key_id, row.tokenHash),
    );
  } catch (error) {
    // Its master key was pruned from the keyring since (master-key rotate --prune).
    svc.logger.warn({ err: error, accessKeyId: row.access_key_id }, 'a key reveal link cannot be opened');
    throw new AppError('REVEAL_LINK_EXPIRED', 'this link can no longer be opened: ask for a new secret key');
  }
  // Only the request that flips used_at gets the secret, however many arrive at once.
  const used = await svc.db
    .updateTable('key_reveal_links')
    .set({ used_at: iso(row.now), ciphertext: null })
    .where('token_hash', '=', row.tokenHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  if (Number(used.numUpdatedRows) !== 1) throw linkUsed();
  return {
    accessKeyId: row.access_key_id,
    tenantId: row.tenant_id,
    secretAccessKey,
    keyName: row.key_name,
    tenantName: row.tenant_name ?? row.tenant_id,
  };
}
