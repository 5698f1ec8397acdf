/**
 * Secret access keys at rest: sealed under the master key with a context naming the tenant, the
 * key and the secret's version (so a ciphertext moved to another row does not open), and opened
 * for the authentication path.
 */
import { lookupColumns } from '../crypto/secret-lookup.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { AccessKey } from '../storage/tables.js';

export const secretContext = (tenantId: string, accessKeyId: string, version: number) =>
  `key-secret:${tenantId}:${accessKeyId}:${version}`;

/** Seal `secret` and store it as version `version` of the key's secrets (no grace period). */
export async function storeSecret(
  svc: Services,
  trx: DbOrTx,
  key: { tenantId: string; accessKeyId: string },
  version: number,
  secret: string,
  createdAt: string,
): Promise<void> {
  const sealed = svc.secrets.seal(secret, secretContext(key.tenantId, key.accessKeyId, version));
  await trx
    .insertInto('key_secrets')
    .values({
      access_key_id: key.accessKeyId,
      version,
      ciphertext: sealed.ciphertext,
      master_key_version: sealed.masterKeyVersion,
      created_at: createdAt,
      not_after: null,
      // A keyed hash, so a leak report of this secret finds the key (src/leaks).
      ...lookupColumns(svc.secrets, secret),
    })
    .execute();
}

export interface StoredSecret {
  version: number;
  ciphertext: string;
  master_key_version: number;
  not_after: string | null;
}

export interface UsableSecret {
  secret: string;
  version: number;
  /** End of the secret's grace period in epoch ms (Infinity when it has none): compared on every signed request. */
  notAfterMs: number;
}

/** Decrypt stored secrets, newest first; one that does not open is logged and left out. */
export function openSecrets(
  svc: Services,
  key: Pick<AccessKey, 'id' | 'tenant_id'>,
  rows: readonly StoredSecret[],
): UsableSecret[] {
  const usable: UsableSecret[] = [];
  for (const r of rows) {
    try {
      const secret = svc.secrets.open(
        { ciphertext: r.ciphertext, masterKeyVersion: r.master_key_version },
        secretContext(key.tenant_id, key.id, r.version),
      );
      usable.push({
        secret,
        version: r.version,
        notAfterMs: r.not_after === null ? Number.POSITIVE_INFINITY : Date.parse(r.not_after),
      });
    } catch (error) {
      // A ciphertext that does not open (tampered, moved from another row, or sealed under a master
      // key this instance lacks) authenticates nothing; the key's other secrets still may.
      svc.logger.error(
        { accessKeyId: key.id, secretVersion: r.version, err: error },
        'a stored secret could not be decrypted; it is ignored',
      );
    }
  }
  return usable.sort((a, b) => b.version - a.version);
}
