/**
 * `POST /iam/login`: a password or an access key in, a short-lived token out; and turning a
 * token back into an Actor on every `/iam` request.
 */

import type { Actor } from '../context.js';
import { isWellFormedAccessKeyId } from '../crypto/access-key-id.js';
import { sameSecret } from '../crypto/compare.js';
import { dummyPasswordHash, hashPassword, needsRehash, verifyPassword } from '../crypto/password.js';
import { AppError } from '../errors.js';
import { IntersectionSet, PermissionSet } from '../identity/permissions.js';
import { getSettings } from '../identity/settings.js';
import { normalizeEmail } from '../identity/users.js';
import { traceVerification, tracingEnabled } from '../observability/tracing.js';
import type { Admission, RateLimitHeaders } from '../traffic/control.js';
import { currentSecrets, type KeyEntry, keyUnusable } from './key-authority.js';
import { requireSecondFactor } from './mfa/gate.js';
import type { SignedAuthDeps } from './signed-request.js';
import type { ThrottleKey } from './throttle.js';
import {
  accountKey,
  keySignInKeys,
  passwordSignInAddressKeys,
  passwordSignInKeys,
  throttledMessage,
} from './throttle-keys.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import {
  type IssuedToken,
  issueToken,
  type TokenClaims,
  type VerifiedClaims,
  type VerifiedTokens,
  verifyToken,
} from './tokens/tokens.js';

/** Everything authentication needs: token keys, the key cache, throttling, last-used batching. */
export interface AuthDeps extends SignedAuthDeps {
  signingKeys: SigningKeys;
  /** Tokens already verified (their claims, until they expire). */
  verifiedTokens: VerifiedTokens;
}

/** The token of an `Authorization: Bearer <token>` header; undefined without one, null when it is malformed. */
export function bearerTokenOf(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
}

const badCredentials = () => new AppError('INVALID_CREDENTIALS', 'wrong email or password');

async function throttled(deps: AuthDeps, keys: readonly ThrottleKey[], sourceIp: string): Promise<void> {
  const block = await deps.throttle.blocked(keys, deps.svc.clock.now().getTime());
  if (block === undefined) return;
  throw new AppError('TOO_MANY_REQUESTS', throttledMessage(block, sourceIp, 'sign-ins'), {
    failures: block.failures,
    retryAfterSeconds: block.retryAfterSeconds,
  });
}

export async function loginWithPassword(
  deps: AuthDeps,
  input: { email: string; password: string; tenantId?: string },
  sourceIp: string,
): Promise<IssuedToken> {
  const { svc } = deps;
  const email = normalizeEmail(input.email);
  // Per address first; per account once the lookup says which counter the email has (an
  // account's own, or a shared bucket for emails without one: see throttle-keys.ts).
  await throttled(deps, passwordSignInAddressKeys(sourceIp), sourceIp);
  // One account per tenant can carry this email. The password is checked against each of them
  // before anything tenant-specific is said, so the answer never tells a stranger that the email
  // exists elsewhere; the checks run side by side (scrypt runs on libuv's thread pool).
  let query = svc.db.selectFrom('users').selectAll().where('email_normalized', '=', email);
  if (input.tenantId !== undefined) query = query.where('tenant_id', '=', input.tenantId);
  const accounts = await query.orderBy('tenant_id').limit(MAX_ACCOUNTS_PER_EMAIL).execute();
  const exists = accounts.length > 0;
  // The address was checked above; failures are recorded against both.
  await throttled(deps, [accountKey(email, exists)], sourceIp);
  const throttleKeys = passwordSignInKeys(sourceIp, email, exists);
  const candidates = accounts.filter((u) => u.password_hash !== null);
  const checks =
    candidates.length === 0
      ? [verifyPassword(input.password, await dummyPasswordHash()).then(() => false)]
      : candidates.map((u) => verifyPassword(input.password, u.password_hash as string));
  const verified = await Promise.all(checks);
  const matches = candidates.filter((_, i) => verified[i]);
  if (matches.length === 0) {
    await deps.throttle.recordFailure(throttleKeys, svc.clock.now().getTime());
    throw badCredentials();
  }
  await deps.throttle.reset([accountKey(email, true)]);
  // Where the person can sign in: a match in a tenant that disabled them is not a choice to offer.
  const usable = matches.filter((u) => u.status === 'active' && u.api_user === 0);
  if (usable.length > 1) {
    const tenants = await svc.db
      .selectFrom('tenants')
      .select(['id', 'name'])
      .where(
        'id',
        'in',
        usable.map((u) => u.tenant_id),
      )
      .orderBy('name')
      .orderBy('id')
      .execute();
    throw new AppError(
      'TENANT_REQUIRED',
      'this email and password sign in to several tenants: send again with the "tenantId" of one of them',
      { tenants },
    );
  }
  const user = usable[0] ?? (matches[0] as (typeof matches)[number]);
  if (user.status !== 'active')
    throw new AppError('USER_DISABLED', 'this user is disabled; ask an administrator');
  if (user.api_user === 1) {
    throw new AppError(
      'API_USER_PASSWORD_LOGIN',
      'this user is an API user: it signs requests with its access keys and cannot sign in with a password',
    );
  }
  await rehashIfNeeded(svc, user, input.password);
  // A second factor, when the user has one (or the tenant requires one), before any token.
  await requireSecondFactor(svc, user);
  return passwordSession(deps, user);
}

/**
 * The password was right but its hash was made at another cost (LATCHKEY_PASSWORD_HASH_COST
 * changed): store a new hash of it, unless the password changed meanwhile. Nothing else moves: the
 * same password, so sessions (tied to the session epoch) stay.
 */
async function rehashIfNeeded(
  svc: AuthDeps['svc'],
  user: { id: string; password_hash: string | null },
  password: string,
): Promise<void> {
  const stored = user.password_hash;
  if (stored === null || !needsRehash(stored)) return;
  await svc.db
    .updateTable('users')
    .set({ password_hash: await hashPassword(password) })
    .where('id', '=', user.id)
    .where('password_hash', '=', stored)
    .execute();
}

/** A password session for `user`, tied to its session epoch (a new password ends it). */
export async function passwordSession(
  deps: AuthDeps,
  user: { id: string; tenant_id: string; session_epoch: number },
): Promise<IssuedToken> {
  const settings = await getSettings(deps.svc.db, user.tenant_id);
  return issueToken(
    deps.svc,
    deps.signingKeys,
    { sub: user.id, tid: user.tenant_id, pt: 'user', via: 'password', sep: user.session_epoch },
    settings.tokenLifetimeSeconds,
  );
}

/** Bounds the work one sign-in can cause (tenants are created by the operator, so this is generous). */
const MAX_ACCOUNTS_PER_EMAIL = 50;

export async function loginWithKey(
  deps: AuthDeps,
  input: { apikey: string; secretkey: string },
  sourceIp: string,
): Promise<IssuedToken> {
  const { svc } = deps;
  const invalid = () => new AppError('INVALID_CREDENTIALS', 'wrong access key or secret key');
  const throttleKeys = keySignInKeys(sourceIp);
  await throttled(deps, throttleKeys, sourceIp);
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
  const secret = currentSecrets(entry, now.getTime()).find((s) => sameSecret(s.secret, input.secretkey));
  if (secret === undefined) return fail();
  const { key } = entry;
  const unusable = keyUnusable(entry, now.getTime());
  if (unusable === 'inactive')
    throw new AppError('KEY_INACTIVE', `access key ${key.id} (or its owner) is inactive`);
  if (unusable === 'expired')
    throw new AppError('KEY_EXPIRED', `access key ${key.id} expired at ${key.expires_at}`);
  if (unusable === 'quarantined')
    throw new AppError('KEY_QUARANTINED', `access key ${key.id} is quarantined: it was reported leaked`);
  if (key.type !== 'access') {
    throw new AppError(
      'KEY_TYPE_NOT_ALLOWED',
      'API-type keys sign data requests only and cannot be exchanged for a token',
    );
  }
  // Exchanging a key is a use of it: its allowed networks, rate limit and quota apply.
  await admitKeyUse(deps, entry, sourceIp, now.getTime());
  deps.usage.count(key, null, 'ok', now.getTime());
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
      sv: secret.version,
    },
    lifetime,
  );
}

/**
 * A key token may do what it could when issued and what its key may do now: both. Kept per claims
 * object (the verified-token cache hands out the same one for the same token) and per key entry
 * (replaced whenever the key or its permissions change), so a token request allocates nothing.
 */
const tokenPermissions = new WeakMap<object, { key: PermissionSet; set: PermissionSet }>();
function keyTokenPermissions(claims: TokenClaims, key: PermissionSet): PermissionSet {
  const hit = tokenPermissions.get(claims);
  if (hit !== undefined && hit.key === key) return hit.set;
  const set = new IntersectionSet(new PermissionSet(claims.perms ?? []), key);
  tokenPermissions.set(claims, { key, set });
  return set;
}

export interface TokenActor {
  actor: Actor;
  claims: TokenClaims & { exp: number };
  /** A key token's key (its usage is counted by the caller, with what it decided). */
  entry?: KeyEntry;
  /** A key token's RateLimit header fields (null: its key has no limits). */
  rateLimit: RateLimitHeaders | null;
}

/**
 * Turn a Bearer token into the Actor it speaks for, checking the principal (and key) still may act.
 * At once (no promise) when the token was verified before and its key is cached, as a signed
 * request is; a refusal is then thrown at once. With tracing on, in a `verify` span (outcome: `ok`
 * or the error code; never the token).
 */
export function actorFromToken(
  deps: AuthDeps,
  token: string,
  request: TokenRequest,
): TokenActor | Promise<TokenActor> {
  if (!tracingEnabled()) return tokenActor(deps, token, request);
  return traceVerification(
    'token',
    undefined,
    () => tokenActor(deps, token, request),
    (r) => ({
      code: 'ok',
      ...(r.actor.accessKeyId !== undefined ? { accessKeyId: r.actor.accessKeyId } : {}),
    }),
  );
}

type TokenRequest = { sourceIp: string | null; requestId: string | null; method?: string };

const ended = (why: string) => new AppError('INVALID_TOKEN', `this session has ended: ${why}`);

function tokenActor(deps: AuthDeps, token: string, request: TokenRequest): TokenActor | Promise<TokenActor> {
  const claims = verifyToken(deps.svc, deps.signingKeys, token, deps.verifiedTokens);
  return claims instanceof Promise
    ? claims.then((c) => actorOfClaims(deps, c, request))
    : actorOfClaims(deps, claims, request);
}

/**
 * Both kinds of token read the auth cache (dropped on every relevant change, on every instance),
 * not the database, and both follow the token's source on every request.
 */
function actorOfClaims(
  deps: AuthDeps,
  claims: VerifiedClaims,
  request: TokenRequest,
): TokenActor | Promise<TokenActor> {
  if (claims.via !== 'key') return userTokenActor(deps, claims, request);
  if (!claims.akid) throw ended('its access key was deleted');
  const cached = deps.keys.peek(claims.akid);
  return cached === undefined
    ? deps.keys.get(claims.akid).then((entry) => keyTokenActor(deps, claims, entry, request))
    : keyTokenActor(deps, claims, cached ?? undefined, request);
}

function keyTokenActor(
  deps: AuthDeps,
  claims: VerifiedClaims,
  entry: KeyEntry | undefined,
  request: TokenRequest,
): TokenActor | Promise<TokenActor> {
  if (!entry || entry.key.tenant_id !== claims.tid) throw ended('its access key was deleted');
  const nowMs = deps.svc.clock.now().getTime();
  // The request's method: a quarantined key's token still reads in a read-only tenant.
  const unusable = keyUnusable(entry, nowMs, request.method);
  if (unusable)
    throw ended(
      unusable === 'inactive'
        ? 'its access key is inactive'
        : unusable === 'quarantined'
          ? 'its access key is quarantined (reported leaked)'
          : 'its access key has expired',
    );
  // The secret it was exchanged for must still work (a new secret ends it after its grace period).
  if (claims.sv === undefined || !currentSecrets(entry, nowMs).some((s) => s.version === claims.sv))
    throw ended('a new secret key was generated for its access key');
  const permissions = keyTokenPermissions(claims, entry.permissions);
  const admitted = admitKeyUse(deps, entry, request.sourceIp, nowMs);
  const actor = (rateLimit: RateLimitHeaders | null): TokenActor =>
    tokenActorOf(claims, permissions, request, rateLimit, entry);
  return admitted instanceof Promise ? admitted.then(actor) : actor(admitted);
}

async function userTokenActor(
  deps: AuthDeps,
  claims: VerifiedClaims,
  request: TokenRequest,
): Promise<TokenActor> {
  if (claims.pt !== 'user') throw new AppError('INVALID_TOKEN', 'the token is not valid');
  const user = await deps.keys.principal(claims.tid, 'user', claims.sub);
  if (!user) throw ended('the user was deleted');
  if (!user.active) throw ended('the user is disabled');
  if (user.apiUser) throw ended('the user is now an API user');
  // Tokens from before session epochs existed carry none: they belong to epoch 0.
  if ((claims.sep ?? 0) !== user.sessionEpoch) throw ended('the password was changed');
  return tokenActorOf(claims, user.permissions, request, null, undefined);
}

function tokenActorOf(
  claims: VerifiedClaims,
  permissions: PermissionSet,
  request: TokenRequest,
  rateLimit: RateLimitHeaders | null,
  entry: KeyEntry | undefined,
): TokenActor {
  return {
    claims,
    ...(entry ? { entry } : {}),
    rateLimit,
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

/** The RateLimit header fields as response headers. */
export function rateLimitHeaderFields(h: RateLimitHeaders): Record<string, string> {
  return { 'ratelimit-policy': h.policy, ratelimit: h.state };
}

/**
 * A key's traffic rules for a token exchange or a key-token request: its allowed networks, then
 * its rate limits and quotas. Throws SourceIpNotAllowed or RATE_LIMITED (counted in its usage);
 * returns the RateLimit header fields (null: no limits).
 */
function admitKeyUse(
  deps: AuthDeps,
  entry: KeyEntry,
  sourceIp: string | null,
  nowMs: number,
): RateLimitHeaders | null | Promise<RateLimitHeaders | null> {
  const admission = deps.traffic.admit(entry.traffic, sourceIp, nowMs);
  return admission instanceof Promise
    ? admission.then((a) => admitted(deps, entry, sourceIp, nowMs, a))
    : admitted(deps, entry, sourceIp, nowMs, admission);
}

/** The RateLimit fields of an admitted use; a refused one is counted and thrown. */
function admitted(
  deps: AuthDeps,
  entry: KeyEntry,
  sourceIp: string | null,
  nowMs: number,
  admission: Admission,
): RateLimitHeaders | null {
  if (admission.ok) return admission.headers;
  const { key } = entry;
  if (admission.reason === 'address') {
    deps.usage.count(key, null, 'denied', nowMs);
    throw new AppError(
      'SourceIpNotAllowed',
      `access key ${key.id} may not be used from ${sourceIp ?? 'an unknown address'}`,
    );
  }
  deps.usage.count(key, null, 'throttled', nowMs);
  const error = new AppError(
    'RATE_LIMITED',
    `access key ${key.id} is over its rate limit or quota; retry after ${admission.retryAfterSeconds} s`,
    { retryAfterSeconds: admission.retryAfterSeconds },
  );
  error.headers = rateLimitHeaderFields(admission.headers);
  throw error;
}
