/** Short-lived JWTs for password sessions and access-key exchange (`POST /iam/login`). */
import { hash } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { randomBase32 } from '../../crypto/random.js';
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { PrincipalType } from '../../storage/tables.js';
import { type SigningKeys, TOKEN_ALG } from './signing-keys.js';

export const TOKEN_ISSUER = 'latchkey';
export const TOKEN_AUDIENCE = 'latchkey';

export interface TokenClaims {
  /** Principal id. */
  sub: string;
  tid: string;
  pt: PrincipalType;
  /** How the session began: a password, an access key, or single sign-on (auth/sso). */
  via: 'password' | 'key' | 'sso';
  /** The access key the token was exchanged for. */
  akid?: string;
  /**
   * Key tokens: the key's permission patterns at issue time. The token's permissions are always
   * these ∩ the key's current ones: cutting the key's roles cuts its tokens at once.
   */
  perms?: readonly string[];
  /** Key tokens: the secret version exchanged; the token ends when that secret stops working. */
  sv?: number;
  /** Password tokens: the user's session epoch at issue; a new password (or disabling) bumps it. */
  sep?: number;
}

export interface IssuedToken {
  token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export async function issueToken(
  svc: Services,
  keys: SigningKeys,
  claims: TokenClaims,
  lifetimeSeconds: number,
): Promise<IssuedToken> {
  const { kid, privateKey } = await keys.currentSigner();
  const now = Math.floor(svc.clock.now().getTime() / 1000);
  const token = await new SignJWT({
    tid: claims.tid,
    pt: claims.pt,
    via: claims.via,
    akid: claims.akid,
    perms: claims.perms,
    sv: claims.sv,
    sep: claims.sep,
  })
    .setProtectedHeader({ alg: TOKEN_ALG, kid, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomBase32(16))
    .sign(privateKey);
  return { token, token_type: 'Bearer', expires_in: lifetimeSeconds };
}

export type VerifiedClaims = Readonly<TokenClaims & { exp: number }>;

/**
 * Tokens already verified, by SHA-256 of the token: an ES256 verification costs about 115 µs of
 * CPU, and a client sends the same token with every request until it expires. A hit still checks
 * the expiry against the clock and that the signing key is still published; a token that differs
 * in any byte hashes differently and is verified in full. Bounded; the oldest entry goes first.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { kid: string; claims: VerifiedClaims }>();

  constructor(readonly maxEntries = 5_000) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(digest: string): { kid: string; claims: VerifiedClaims } | undefined {
    return this.entries.get(digest);
  }

  remember(digest: string, kid: string, claims: VerifiedClaims): void {
    this.entries.set(digest, { kid, claims });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  forget(digest: string): void {
    this.entries.delete(digest);
  }
}

const expired = () => new AppError('EXPIRED_TOKEN', 'the token has expired; sign in again');

/**
 * The token's claims, verified: at once (no promise) when the token was verified before and is
 * still good, else a promise of the full verification. A refusal is thrown, at once or as the
 * promise's rejection.
 */
export function verifyToken(
  svc: Services,
  keys: SigningKeys,
  token: string,
  cache: VerifiedTokens,
): VerifiedClaims | Promise<VerifiedClaims> {
  const nowSeconds = svc.clock.now().getTime() / 1000;
  const digest = hash('sha256', token, 'base64');
  const hit = cache.lookup(digest);
  if (hit !== undefined) {
    // As jose decides: expired once the clock reaches `exp`.
    if (hit.claims.exp <= nowSeconds) {
      cache.forget(digest);
      throw expired();
    }
    if (keys.isPublished(hit.kid)) return hit.claims;
    cache.forget(digest);
  }
  return verifyInFull(svc, keys, token, cache, digest);
}

async function verifyInFull(
  svc: Services,
  keys: SigningKeys,
  token: string,
  cache: VerifiedTokens,
  digest: string,
): Promise<VerifiedClaims> {
  try {
    const { payload, protectedHeader } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await keys.publicKey(header.kid) : undefined;
        if (!key) throw new AppError('INVALID_TOKEN', 'the token was signed by an unknown key');
        return key;
      },
      {
        algorithms: [TOKEN_ALG],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        currentDate: svc.clock.now(),
      },
    );
    const { sub, tid, pt, via, akid, perms, sv, sep, exp } = payload as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      typeof tid !== 'string' ||
      (pt !== 'user' && pt !== 'service_account') ||
      (via !== 'password' && via !== 'key' && via !== 'sso') ||
      typeof exp !== 'number'
    ) {
      throw new AppError('INVALID_TOKEN', 'the token is missing claims');
    }
    const claims: VerifiedClaims = Object.freeze({
      sub,
      tid,
      pt,
      via,
      exp,
      akid: typeof akid === 'string' ? akid : undefined,
      perms: Array.isArray(perms)
        ? Object.freeze(perms.filter((p): p is string => typeof p === 'string'))
        : undefined,
      sv: Number.isSafeInteger(sv) ? (sv as number) : undefined,
      sep: Number.isSafeInteger(sep) ? (sep as number) : undefined,
    });
    if (protectedHeader.kid !== undefined) cache.remember(digest, protectedHeader.kid, claims);
    return claims;
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof errors.JWTExpired) throw expired();
    throw new AppError('INVALID_TOKEN', 'the token is not valid');
  }
}
