/**
 * `POST /iam/login`: a password or an access key in, a short-lived token out; and turning a
 * token back into an Actor on every `/iam` request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../context.js';
import { isWellFormedAccessKeyId } from '../crypto/access-key-id.js';
import { dummyPasswordHash, verifyPassword } from '../crypto/password.js';
import { AppError } from '../errors.js';
import { PermissionSet } from '../identity/permissions.js';
import { getSettings } from '../identity/settings.js';
import { normalizeEmail } from '../identity/users.js';
import { currentSecrets, keyUnusable } from './key-authority.js';
import type { SignedAuthDeps } from './signed-request.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import {
  type IssuedToken,
  issueToken,
  type TokenClaims,
  type VerifiedTokens,
  verifyToken,
} from './tokens/tokens.js';

/** Everything authentication needs: token keys, the key cache, throttling, last-used batching. */
export interface AuthDeps extends SignedAuthDeps {
  signingKeys: SigningKeys;
  /** Tokens already verified (their claims, until they expire). */
  verifiedTokens: VerifiedTokens;
}

const badCredentials = () => new AppError('INVALID_CREDENTIALS', 'wrong email or password');

async function throttled(deps: AuthDeps, keys: string[]): Promise<void> {
  const wait = await deps.throttle.retryAfter(keys, deps.svc.clock.now().getTime());
  if (wait > 0) {
    throw new AppError('TOO_MANY_REQUESTS', `too many failed sign-ins; try again in ${wait} s`, {
      retryAfterSeconds: wait,
    });
  }
}

export async function loginWithPassword(
  deps: AuthDeps,
  input: { email: string; password: string; tenantId?: string },
  sourceIp: string,
): Promise<IssuedToken> {
  const { svc } = deps;
  const email = normalizeEmail(input.email);
  // Throttle per address, and per (email, address) so one attacker cannot lock a user out everywhere.
  const throttleKeys = [`login-ip:${sourceIp}`, `login-email:${email}:${sourceIp}`];
  await throttled(deps, throttleKeys);
  let query = svc.db.selectFrom('users').selectAll().where('email_normalized', '=', email);
  if (input.tenantId !== undefined) query = query.where('tenant_id', '=', input.tenantId);
  const candidates = await query.limit(2).execute();
  if (candidates.length > 1) {
    throw new AppError(
      'TENANT_REQUIRED',
      'this email belongs to several tenants: add "tenantId" to the request',
    );
  }
  const user = candidates[0];
  const ok = await verifyPassword(input.password, user?.password_hash ?? (await dummyPasswordHash()));
  if (!user?.password_hash || !ok) {
    await deps.throttle.recordFailure(throttleKeys, svc.clock.now().getTime());
    throw badCredentials();
  }
  await deps.throttle.reset(throttleKeys.slice(1));
  if (user.status !== 'active')
    throw new AppError('USER_DISABLED', 'this user is disabled; ask an administrator');
  if (user.api_user === 1) {
    throw new AppError(
      'API_USER_PASSWORD_LOGIN',
      'this user is an API user: it signs requests with its access keys and cannot sign in with a password',
    );
  }
  const settings = await getSettings(svc.db, user.tenant_id);
  return issueToken(
    svc,
    deps.signingKeys,
    { sub: user.id, tid: user.tenant_id, pt: 'user', via: 'password' },
    settings.tokenLifetimeSeconds,
  );
}

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison is constant-time whatever the lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export async function loginWithKey(
  deps: AuthDeps,
  input: { apikey: string; secretkey: string },
  sourceIp: string,
): Promise<IssuedToken> {
  const { svc } = deps;
  const invalid = () => new AppError('INVALID_CREDENTIALS', 'wrong access key or secret key');
  const throttleKeys = [`login-ip:${sourceIp}`, `login-key:${input.apikey}:${sourceIp}`];
  await throttled(deps, throttleKeys);
  const fail = async (): Promise<never> => {
    await deps.throttle.recordFailure(throttleKeys, svc.clock.now().getTime());
    throw invalid();
  };
  if (!isWellFormedAccessKeyId(input.apikey)) return fail();
  // The entry signed requests use (key, decrypted secrets, permissions, settings), read fresh:
  // exchanging a key is rare, and a sign-in should see the database as it is.
  const entry = await deps.keys.getFresh(input.apikey);
  if (!entry) return fail();
  const now = svc.clock.now();
  if (!currentSecrets(entry, now.getTime()).some((s) => sameSecret(s.secret, input.secretkey))) return fail();
  await deps.throttle.reset(throttleKeys.slice(1));
  const { key } = entry;
  const unusable = keyUnusable(entry, now.getTime());
  if (unusable === 'inactive')
    throw new AppError('KEY_INACTIVE', `access key ${key.id} (or its owner) is inactive`);
  if (unusable === 'expired')
    throw new AppError('KEY_EXPIRED', `access key ${key.id} expired at ${key.expires_at}`);
  if (key.type !== 'access') {
    throw new AppError(
      'KEY_TYPE_NOT_ALLOWED',
      'API-type keys sign data requests only and cannot be exchanged for a token',
    );
  }
  let lifetime = entry.settings.tokenLifetimeSeconds;
  if (entry.expiresAt !== undefined) {
    // A token never outlives its key.
    lifetime = Math.max(
      1,
      Math.min(lifetime, Math.floor((entry.expiresAt.getTime() - now.getTime()) / 1000)),
    );
  }
  return issueToken(
    svc,
    deps.signingKeys,
    {
      sub: key.owner_id,
      tid: key.tenant_id,
      pt: key.owner_type,
      via: 'key',
      akid: key.id,
      perms: [...entry.permissions.patterns],
    },
    lifetime,
  );
}

/** Turn a Bearer token into the Actor it speaks for, checking the principal (and key) still may act. */
export async function actorFromToken(
  deps: AuthDeps,
  token: string,
  request: { sourceIp: string | null; requestId: string | null },
): Promise<{ actor: Actor; claims: TokenClaims & { exp: number } }> {
  const { svc } = deps;
  const claims = await verifyToken(svc, deps.signingKeys, token, deps.verifiedTokens);
  const ended = (why: string) => new AppError('INVALID_TOKEN', `this session has ended: ${why}`);
  // Both paths read the auth cache (dropped on every relevant change), not the database.
  let permissions: PermissionSet;
  if (claims.via === 'key') {
    const entry = claims.akid ? await deps.keys.get(claims.akid) : undefined;
    if (!entry || entry.key.tenant_id !== claims.tid) throw ended('its access key was deleted');
    const unusable = keyUnusable(entry, svc.clock.now().getTime());
    if (unusable)
      throw ended(unusable === 'inactive' ? 'its access key is inactive' : 'its access key has expired');
    permissions = new PermissionSet(claims.perms ?? []);
  } else {
    if (claims.pt !== 'user') throw new AppError('INVALID_TOKEN', 'the token is not valid');
    const user = await deps.keys.principal(claims.tid, 'user', claims.sub);
    if (!user) throw ended('the user was deleted');
    if (!user.active) throw ended('the user is disabled');
    if (user.apiUser) throw ended('the user is now an API user');
    permissions = user.permissions;
  }
  return {
    claims,
    actor: {
      tenantId: claims.tid,
      type: claims.pt,
      id: claims.sub,
      via: claims.via,
      accessKeyId: claims.akid,
      permissions,
      sourceIp: request.sourceIp,
      requestId: request.requestId,
    },
  };
}
