/**
 * Finding the key a reported secret belongs to. Secrets are stored sealed (AES-GCM under the master
 * key), which cannot be searched, so each secret also carries a keyed hash: HMAC-SHA256 under a key
 * derived (HKDF) from a master key, for this purpose only. A plain hash would let anyone who reads
 * the database test guesses offline; a keyed one needs the master key too.
 *
 * Master-key rotation: the hash records which derived key made it (`lookup_key`, a fingerprint).
 * A lookup tries every master key in the keyring (a handful of HMACs), so secrets hashed under the
 * previous key are still found during a rotation; `backfillLookupHashes` then re-hashes every row
 * whose hash is missing (secrets from before this feature) or made under a key that is not the
 * current one (after a rotation, or rows imported from another deployment), by opening each secret
 * once. It runs at start-up, in batches.
 */
import { candidateHashes, currentLookupKey, secretLookupHash } from '../crypto/secret-lookup.js';
import { secretContext } from '../keys/secrets.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';

const BATCH = 200;

/**
 * The key holding `secret` as a current secret (or one in its grace period), or undefined.
 * One indexed query; nothing is decrypted.
 */
export async function findKeyBySecret(
  svc: Services,
  db: DbOrTx,
  secret: string,
): Promise<{ accessKeyId: string; tenantId: string; version: number } | undefined> {
  const nowIso = svc.clock.now().toISOString();
  const row = await db
    .selectFrom('key_secrets')
    .innerJoin('access_keys', 'access_keys.id', 'key_secrets.access_key_id')
    .select(['key_secrets.access_key_id', 'key_secrets.version', 'access_keys.tenant_id'])
    .where('key_secrets.lookup_hash', 'in', candidateHashes(svc.secrets, secret))
    .where((eb) => eb.or([eb('key_secrets.not_after', 'is', null), eb('key_secrets.not_after', '>', nowIso)]))
    .executeTakeFirst();
  return row && { accessKeyId: row.access_key_id, tenantId: row.tenant_id, version: row.version };
}

/**
 * Hash every secret without a current lookup hash: opens each such secret once. Returns how many
 * rows were written. Rows whose secret does not open are skipped (and logged by nobody here: the
 * key authority logs them when the key is used).
 */
export async function backfillLookupHashes(svc: Services): Promise<number> {
  svc.secrets.refresh();
  const current = currentLookupKey(svc.secrets);
  let written = 0;
  // Keyset pagination on (access_key_id, version): rows whose secret does not open are not read again.
  let after = { id: '', version: 0 };
  for (;;) {
    const rows = await svc.db
      .selectFrom('key_secrets')
      .innerJoin('access_keys', 'access_keys.id', 'key_secrets.access_key_id')
      .select([
        'key_secrets.access_key_id',
        'key_secrets.version',
        'key_secrets.ciphertext',
        'key_secrets.master_key_version',
        'access_keys.tenant_id',
      ])
      .where((eb) =>
        eb.or([
          eb('key_secrets.lookup_key', 'is', null),
          eb('key_secrets.lookup_key', '!=', current.fingerprint),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb('key_secrets.access_key_id', '>', after.id),
          eb.and([
            eb('key_secrets.access_key_id', '=', after.id),
            eb('key_secrets.version', '>', after.version),
          ]),
        ]),
      )
      .orderBy('key_secrets.access_key_id')
      .orderBy('key_secrets.version')
      .limit(BATCH)
      .execute();
    for (const row of rows) {
      after = { id: row.access_key_id, version: row.version };
      let secret: string;
      try {
        secret = svc.secrets.open(
          { ciphertext: row.ciphertext, masterKeyVersion: row.master_key_version },
          secretContext(row.tenant_id, row.access_key_id, row.version),
        );
      } catch {
        continue;
      }
      await svc.db
        .updateTable('key_secrets')
        .set({ lookup_hash: secretLookupHash(current, secret), lookup_key: current.fingerprint })
        .where('access_key_id', '=', row.access_key_id)
        .where('version', '=', row.version)
        .execute();
      written++;
    }
    if (rows.length < BATCH) break;
  }
  return written;
}
