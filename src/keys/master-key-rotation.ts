/**
 * `latchkey master-key rotate`: re-encrypt every sealed secret (access-key secrets, token signing
 * keys, sealed key emails waiting in the outbox, unused reveal links, webhook signing secrets, single
 * sign-on client secrets, authenticator secrets of two-factor sign-in) under the current master key.
 */

import { totpSecretContext } from '../auth/mfa/factors.js';
import { sessionSecretContext } from '../auth/session-credentials.js';
import { ssoSecretContext } from '../auth/sso/config.js';
import { signingKeyContext } from '../auth/tokens/signing-keys.js';
import type { Sealed } from '../crypto/envelope.js';
import { lookupColumns } from '../crypto/secret-lookup.js';
import { revealContext } from '../notify/key-email.js';
import { bodyContext } from '../notify/outbox.js';
import type { Services } from '../services.js';
import { webhookSecretContext } from '../webhooks/endpoints.js';
import { secretContext } from './secrets.js';

const BATCH = 500;

/** Open a secret sealed under any master key in the keyring and seal it again under the current one. */
function reseal(svc: Services, sealed: Sealed, context: string): Sealed {
  return svc.secrets.seal(svc.secrets.open(sealed, context), context);
}

/** The columns `key_secrets` and `key_reveal_links` keep a sealed secret in. */
const sealedColumns = (sealed: Sealed) => ({
  ciphertext: sealed.ciphertext,
  master_key_version: sealed.masterKeyVersion,
});

export async function reencryptAll(svc: Services): Promise<{
  keySecrets: number;
  signingKeys: number;
  mailBodies: number;
  revealLinks: number;
  webhookSecrets: number;
  totpSecrets: number;
  ssoSecrets: number;
  sessionSecrets: number;
}> {
  svc.secrets.refresh();
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
        const secret = svc.secrets.open(
          { ciphertext: row.ciphertext, masterKeyVersion: row.master_key_version },
          context,
        );
        const sealed = svc.secrets.seal(secret, context);
        await trx
          .updateTable('key_secrets')
          // The leak-report lookup hash moves to the new master key with the secret (src/leaks/lookup.ts).
          .set({ ...sealedColumns(sealed), ...lookupColumns(svc.secrets, secret) })
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
      const sealed = reseal(
        svc,
        { ciphertext: row.private_jwk_ciphertext, masterKeyVersion: row.master_key_version },
        signingKeyContext(row.kid),
      );
      await trx
        .updateTable('signing_keys')
        .set({ private_jwk_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('kid', '=', row.kid)
        .execute();
    }
  });
  // Sealed mail bodies waiting in the outbox (key emails) and unused one-time reveal links.
  const mails = await svc.db
    .selectFrom('mail_outbox')
    .select(['id', 'text_body', 'html_body', 'master_key_version'])
    .where('master_key_version', 'is not', null)
    .where('master_key_version', '!=', current)
    .execute();
  const links = await svc.db
    .selectFrom('key_reveal_links')
    .select(['token_hash', 'tenant_id', 'access_key_id', 'ciphertext', 'master_key_version'])
    .where('ciphertext', 'is not', null)
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const m of mails) {
      const resealBody = (body: string, part: 'text' | 'html') =>
        reseal(
          svc,
          { ciphertext: body, masterKeyVersion: m.master_key_version as number },
          bodyContext(m.id, part),
        );
      const text = resealBody(m.text_body, 'text');
      const html = resealBody(m.html_body, 'html');
      await trx
        .updateTable('mail_outbox')
        .set({
          text_body: text.ciphertext,
          html_body: html.ciphertext,
          master_key_version: text.masterKeyVersion,
        })
        .where('id', '=', m.id)
        .execute();
    }
    for (const l of links) {
      const sealed = reseal(
        svc,
        { ciphertext: l.ciphertext as string, masterKeyVersion: l.master_key_version },
        revealContext(l.tenant_id, l.access_key_id, l.token_hash),
      );
      await trx
        .updateTable('key_reveal_links')
        .set(sealedColumns(sealed))
        .where('token_hash', '=', l.token_hash)
        .execute();
    }
  });
  // Webhook endpoints' signing secrets.
  const webhooks = await svc.db
    .selectFrom('webhook_endpoints')
    .select(['id', 'tenant_id', 'secret_ciphertext', 'master_key_version'])
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const w of webhooks) {
      const sealed = reseal(
        svc,
        { ciphertext: w.secret_ciphertext, masterKeyVersion: w.master_key_version },
        webhookSecretContext(w.tenant_id, w.id),
      );
      await trx
        .updateTable('webhook_endpoints')
        .set({ secret_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('id', '=', w.id)
        .execute();
    }
  });
  // Authenticator (TOTP) secrets of two-factor sign-in.
  const totps = await svc.db
    .selectFrom('mfa_factors')
    .select(['id', 'tenant_id', 'user_id', 'secret_ciphertext', 'master_key_version'])
    .where('secret_ciphertext', 'is not', null)
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const f of totps) {
      const sealed = reseal(
        svc,
        { ciphertext: f.secret_ciphertext as string, masterKeyVersion: f.master_key_version as number },
        totpSecretContext(f.tenant_id, f.user_id, f.id),
      );
      await trx
        .updateTable('mfa_factors')
        .set({ secret_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('id', '=', f.id)
        .execute();
    }
  });
  // Single sign-on client secrets.
  const ssoConfigs = await svc.db
    .selectFrom('sso_configs')
    .select(['tenant_id', 'secret_ciphertext', 'master_key_version'])
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const c of ssoConfigs) {
      const sealed = reseal(
        svc,
        { ciphertext: c.secret_ciphertext, masterKeyVersion: c.master_key_version },
        ssoSecretContext(c.tenant_id),
      );
      await trx
        .updateTable('sso_configs')
        .set({ secret_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('tenant_id', '=', c.tenant_id)
        .execute();
    }
  });
  // Temporary credentials' secrets (unexpired or not: they are deleted a day after expiry).
  const sessions = await svc.db
    .selectFrom('session_credentials')
    .select(['id', 'tenant_id', 'secret_ciphertext', 'master_key_version'])
    .where('master_key_version', '!=', current)
    .execute();
  await svc.db.transaction().execute(async (trx) => {
    for (const c of sessions) {
      const sealed = reseal(
        svc,
        { ciphertext: c.secret_ciphertext, masterKeyVersion: c.master_key_version },
        sessionSecretContext(c.tenant_id, c.id),
      );
      await trx
        .updateTable('session_credentials')
        .set({ secret_ciphertext: sealed.ciphertext, master_key_version: sealed.masterKeyVersion })
        .where('id', '=', c.id)
        .execute();
    }
  });
  return {
    keySecrets,
    signingKeys: signing.length,
    mailBodies: mails.length,
    revealLinks: links.length,
    webhookSecrets: webhooks.length,
    totpSecrets: totps.length,
    ssoSecrets: ssoConfigs.length,
    sessionSecrets: sessions.length,
  };
}
