/** Short-lived JWTs for password sessions and access-key exchange (`POST /iam/login`). */
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
  via: 'password' | 'key';
  /** The access key the token was exchanged for. */
  akid?: string;
  /** Key tokens carry the key's effective permissions at issue time. */
  perms?: string[];
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

export async function verifyToken(
  svc: Services,
  keys: SigningKeys,
  token: string,
): Promise<TokenClaims & { exp: number }> {
  try {
    const { payload } = await jwtVerify(
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
    const { sub, tid, pt, via, akid, perms, exp } = payload as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      typeof tid !== 'string' ||
      (pt !== 'user' && pt !== 'service_account') ||
      (via !== 'password' && via !== 'key') ||
      typeof exp !== 'number'
    ) {
      throw new AppError('INVALID_TOKEN', 'the token is missing claims');
    }
    return {
      sub,
      tid,
      pt,
      via,
      exp,
      akid: typeof akid === 'string' ? akid : undefined,
      perms: Array.isArray(perms) ? perms.filter((p): p is string => typeof p === 'string') : undefined,
    };
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof errors.JWTExpired)
      throw new AppError('EXPIRED_TOKEN', 'the token has expired; sign in again');
    throw new AppError('INVALID_TOKEN', 'the token is not valid');
  }
}
