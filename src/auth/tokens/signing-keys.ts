/**
 * Token-signing keys (ES256). Private keys are stored sealed under the master key; public keys
 * are published at /.well-known/jwks.json. Rotation adds a new key and retires the old one, which
 * stays published for a day so tokens it signed keep verifying until they expire.
 */
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { randomBase32 } from '../../crypto/random.js';
import type { Services } from '../../services.js';
import type { DbOrTx } from '../../storage/dialect.js';
import type { SigningKeyTable } from '../../storage/tables.js';
import { DAY_MS, iso } from '../../time.js';

export const TOKEN_ALG = 'ES256';
/** Longer than the longest token lifetime (24 h) so no valid token loses its key. */
const RETIRED_KEY_PUBLISHED_MS = 2 * DAY_MS;
const RELOAD_INTERVAL_MS = 1000;
/** How soon an instance starts signing with a key another instance (or the CLI) rotated in. */
const SIGNER_REFRESH_MS = 60_000;

type CryptoKeyLike = Awaited<ReturnType<typeof importJWK>>;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKeyLike;
  createdAt: string;
  retiredAt: string | null;
}

const context = (kid: string) => `signing-key:${kid}`;

export async function createSigningKey(svc: Services, db: DbOrTx): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
  const kid = `sk_${randomBase32(16).toLowerCase()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALG, use: 'sig' };
  const sealed = svc.secrets.seal(JSON.stringify(await exportJWK(privateKey)), context(kid));
  await db
    .insertInto('signing_keys')
    .values({
      kid,
      alg: TOKEN_ALG,
      public_jwk: JSON.stringify(publicJwk),
      private_jwk_ciphertext: sealed.ciphertext,
      master_key_version: sealed.masterKeyVersion,
      created_at: iso(svc.clock.now()),
      retired_at: null,
    })
    .execute();
  return kid;
}

export function signingKeyContext(kid: string): string {
  return context(kid);
}

export class SigningKeys {
  private keys = new Map<string, LoadedKey>();
  private signer: { kid: string; privateKey: CryptoKeyLike } | undefined;
  private lastReload = 0;

  constructor(private readonly svc: Services) {}

  /** Load keys, creating the first one if there is none. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.signer) {
      await createSigningKey(this.svc, this.svc.db);
      await this.reload();
    }
  }

  private async reload(): Promise<void> {
    this.lastReload = Date.now();
    const rows = await this.svc.db
      .selectFrom('signing_keys')
      .selectAll()
      .orderBy('created_at', 'desc')
      .execute();
    const now = this.svc.clock.now().getTime();
    const next = new Map<string, LoadedKey>();
    for (const row of rows) {
      if (row.retired_at !== null && Date.parse(row.retired_at) + RETIRED_KEY_PUBLISHED_MS < now) continue;
      const publicJwk = JSON.parse(row.public_jwk) as JWK;
      next.set(row.kid, {
        kid: row.kid,
        publicJwk,
        publicKey: await importJWK(publicJwk, TOKEN_ALG),
        createdAt: row.created_at,
        retiredAt: row.retired_at,
      });
    }
    this.keys = next;
    const active = rows.find((r) => r.retired_at === null);
    if (active && this.signer?.kid !== active.kid)
      this.signer = { kid: active.kid, privateKey: await this.openPrivate(active) };
    if (!active) this.signer = undefined;
  }

  private async openPrivate(row: SigningKeyTable): Promise<CryptoKeyLike> {
    const jwk = JSON.parse(
      this.svc.secrets.open(
        { ciphertext: row.private_jwk_ciphertext, masterKeyVersion: row.master_key_version },
        context(row.kid),
      ),
    ) as JWK;
    return importJWK(jwk, TOKEN_ALG);
  }

  async currentSigner(): Promise<{ kid: string; privateKey: CryptoKeyLike }> {
    if (!this.signer) await this.init();
    else if (Date.now() - this.lastReload > SIGNER_REFRESH_MS) await this.reload();
    if (!this.signer) throw new Error('no token signing key');
    return this.signer;
  }

  /** The public key for `kid`; an unknown kid (another instance rotated) triggers a rate-limited reload. */
  async publicKey(kid: string): Promise<CryptoKeyLike | undefined> {
    const known = this.keys.get(kid);
    if (known) return known.publicKey;
    if (Date.now() - this.lastReload < RELOAD_INTERVAL_MS) return undefined;
    await this.reload();
    return this.keys.get(kid)?.publicKey;
  }

  /** Is `kid` one of the keys tokens may currently be verified with? */
  isPublished(kid: string): boolean {
    return this.keys.has(kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].map((k) => k.publicJwk) };
  }

  /** Make a new signing key current and retire the others. */
  async rotate(): Promise<string> {
    const kid = await this.svc.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: iso(this.svc.clock.now()) })
        .where('retired_at', 'is', null)
        .execute();
      return createSigningKey(this.svc, trx);
    });
    await this.reload();
    return kid;
  }
}
