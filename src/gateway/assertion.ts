/**
 * The identity assertion sent upstream in `x-latchkey-assertion`: an ES256 JWT signed with the
 * token-signing key (published at /.well-known/jwks.json), `aud` the API's id, valid 60 seconds.
 * An upstream verifies it with any JOSE library and so knows the request came through latchkey,
 * for whom, and for which of its routes' permissions.
 *
 * Signing costs about as much as forwarding a small request, so an assertion is reused for the same
 * principal, key, API and permission until less than half its lifetime is left. It is never a
 * latchkey token: tokens are verified with `aud` = `latchkey`, and an API id is never that.
 */
import { SignJWT } from 'jose';
import { type SigningKeys, TOKEN_ALG } from '../auth/tokens/signing-keys.js';
import { TOKEN_ISSUER } from '../auth/tokens/tokens.js';
import { randomBase32 } from '../crypto/random.js';
import type { Services } from '../services.js';
import type { PrincipalType } from '../storage/tables.js';

export const ASSERTION_LIFETIME_SECONDS = 60;
/** Reissued once fewer seconds than this are left, so an upstream always gets at least this long. */
const REUSE_UNTIL_SECONDS_LEFT = 30;
const CACHE_LIMIT = 10_000;

export interface AssertionSubject {
  tenantId: string;
  principalType: PrincipalType;
  principalId: string;
  accessKeyId: string;
  apiId: string;
  permission: string;
}

/** The claims an upstream reads (besides iss, aud, sub, iat, exp, jti). */
export interface AssertionClaims {
  tid: string;
  pt: PrincipalType;
  akid: string;
  perm: string;
}

export class AssertionSigner {
  private readonly cache = new Map<string, { jwt: string; exp: number; kid: string }>();

  constructor(
    private readonly svc: Services,
    private readonly keys: SigningKeys,
  ) {}

  /** The assertion: a cached one at once (no promise), or a promise of a newly signed one. */
  sign(subject: AssertionSubject): string | Promise<string> {
    const now = Math.floor(this.svc.clock.now().getTime() / 1000);
    // A key belongs to one principal of one tenant: key, API and permission name the assertion.
    const cacheKey = `${subject.accessKeyId}|${subject.apiId}|${subject.permission}`;
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && hit.exp - now >= REUSE_UNTIL_SECONDS_LEFT && this.keys.isPublished(hit.kid))
      return hit.jwt;
    return this.signNew(subject, cacheKey, now);
  }

  private async signNew(subject: AssertionSubject, cacheKey: string, now: number): Promise<string> {
    const { kid, privateKey } = await this.keys.currentSigner();
    const exp = now + ASSERTION_LIFETIME_SECONDS;
    const claims: AssertionClaims = {
      tid: subject.tenantId,
      pt: subject.principalType,
      akid: subject.accessKeyId,
      perm: subject.permission,
    };
    const jwt = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: TOKEN_ALG, kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(subject.apiId)
      .setSubject(subject.principalId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomBase32(16))
      .sign(privateKey);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(cacheKey, { jwt, exp, kid });
    return jwt;
  }
}
