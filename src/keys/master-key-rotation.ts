/**
 * `latchkey master-key rotate`: re-encrypt every sealed secret (access-key secrets and token
 * signing keys) under the current master key version, in small transactions.
 */
import { signingKeyContext } from '../auth/tokens/signing-keys.js';
import type { Services } from '../services.js';
import { secretContext } from './keys.js';

const BATCH = 500;

export async function reencryptAll(svc: Services): Promise<{ keySecrets: number; signingKeys: number }> {
  const current = svc.secrets.currentVersion;
  let keySecrets = 0;
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
      .where('key_secrets.master_key_version', '!=', current)
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    await svc.db.transaction().execute(async (trx) => {
      for (const row of rows) {
        const context = secretContext(row.tenant_id, row.access_key_id, row.version);
        const plain = svc.secrets.open(
          { ciphertext: row.ciphertext, masterKeyVersion: row.master_key_version },
          context,
        );
        const sealed = svc.secrets.seal(plain, context);
        await trx
          .updateTable('key_secrets')
          .set({ ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
          .where('access_key_id', '=', row.access_key_id)
          .where('version', '=', row.version)
          .execute();
      }
    });
    keySecrets += rows.length;
  }
  const signing = await svc.db
    .selectFrom('signing_keys')
    .selectAll()
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const row of signing) {
      const context = signingKeyContext(row.kid);
      const plain = svc.secrets.open(
        { ciphertext: row.private_jwk_ciphertext, masterKeyVersion: row.master_key_version },
        context,
      );
      const sealed = svc.secrets.seal(plain, context);
      await trx
        .updateTable('signing_keys')
        .set({ private_jwk_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('kid', '=', row.kid)
        .execute();
    }
  });
  return { keySecrets, signingKeys: signing.length };
}
