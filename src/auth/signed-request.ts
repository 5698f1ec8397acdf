/**
 * Authenticating a request signed with AWS Signature Version 4: parse (no secret needed), look
 * the key up (cache first), verify the signature, and only then check what the key's holder may
 * learn (the tenant's accepted scopes, the key's state and expiry), and throttle repeated
 * failures. Answers use the error codes AWS clients know.
 */
import type { Actor } from '../context.js';
import {
  isSessionKeyIdShape,
  isWellFormedAccessKeyId,
  isWellFormedSessionKeyId,
} from '../crypto/access-key-id.js';
import type { ErrorCode } from '../errors.js';
import { PermissionSet } from '../identity/permissions.js';
import { traceVerification, tracingEnabled } from '../observability/tracing.js';
import type { Services } from '../services.js';
import type { Admission, RateLimitHeaders, TrafficControl } from '../traffic/control.js';
import type { UsageOutcome, UsageRecorder } from '../traffic/usage.js';
import { currentSecrets, type KeyAuthority, type KeyEntry, keyUnusable } from './key-authority.js';
import type { LastUsedRecorder } from './last-used.js';
import {
  type SessionEnded,
  type SessionRecord,
  sessionEntry,
  sessionTokenMatches,
} from './session-credentials.js';
import {
  type ParsedSigV4,
  parseSigV4,
  SigningKeyCache,
  type SigV4Failure,
  type SigV4Request,
  verifySigV4,
} from './sigv4/index.js';
import type { FailureThrottle } from './throttle.js';
import { signedRequestKeys, throttledMessage } from './throttle-keys.js';

export interface SignedAuthDeps {
  svc: Services;
  keys: KeyAuthority;
  throttle: FailureThrottle;
  lastUsed: LastUsedRecorder;
  signingKeyCache: SigningKeyCache;
  traffic: TrafficControl;
  usage: UsageRecorder;
}

export interface SignedRequestInput {
  method: string;
  /** `req.url` as Node gives it (latin1-decoded). */
  url: string;
  rawHeaders: readonly string[];
  body: Uint8Array | undefined;
  /** The body's SHA-256 (hex) instead of the body (the verify API). */
  bodySha256?: string;
  ip: string;
  requestId: string;
  /**
   * Whether UNSIGNED-PAYLOAD is accepted for this key's tenant. Default: the tenant's setting; a
   * registered API decides for itself (`allowUnsignedPayload` on the API).
   */
  allowUnsignedPayload?: (entry: KeyEntry) => boolean;
  /** `false`: the caller records the key's use itself, with what it decided (the gateway). */
  recordUse?: boolean;
  /** The registered API the request is for, to count a refusal's usage under (default: latchkey's own routes). */
  usageApi?: (entry: KeyEntry) => string | null;
}

export type SignedAuthResult =
  | {
      ok: true;
      actor: Actor;
      entry: KeyEntry;
      /** The version of the key's secret the request was signed with (a rotation's grace period has two). */
      secretVersion: number;
      /** The RateLimit header fields for every answer to this request; null when the key has no limits. */
      rateLimit: RateLimitHeaders | null;
    }
  | {
      ok: false;
      code: ErrorCode;
      message: string;
      details?: {
        canonicalRequest?: string;
        stringToSign?: string;
        /** 429 SlowDown: failures of the counter that blocked, and the Retry-After seconds. */
        failures?: number;
        retryAfterSeconds?: number;
      };
      retryAfterSeconds?: number;
      /** RateLimitExceeded: the RateLimit header fields. */
      rateLimit?: RateLimitHeaders;
    };

/** Does the request carry SigV4 credentials (header or presigned query)? */
export function isSignedRequest(authorization: string | undefined, url: string): boolean {
  if (authorization?.startsWith('AWS4-')) return true;
  const q = url.indexOf('?');
  return q !== -1 && /[?&]X-Amz-(Algorithm|Signature|Credential)=/i.test(url.slice(q));
}

function pairs(raw: readonly string[]): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

interface Failure {
  code: ErrorCode;
  message: string;
  details?: SigV4Failure;
}

const unknownKey = (): Failure => ({
  code: 'InvalidAccessKeyId',
  message: 'The access key ID you provided does not exist in our records.',
});

// The verifier's own failures are catalogue codes, but for InternalError: input that trips a bug
// in the parser is still answered as a bad request, never 5xx.
const fromSigV4 = (failure: SigV4Failure): Failure => ({
  code: failure.code === 'InternalError' ? 'InvalidRequest' : failure.code,
  message: failure.message,
  details: failure,
});

/** Does the key (or the deployment) accept this credential scope? */
function scopeAccepted(deps: SignedAuthDeps, entry: KeyEntry, region: string, service: string): boolean {
  const d = deps.svc.config.sigv4;
  if (d.region === region && d.service === service) return true;
  for (const s of entry.settings.acceptedScopes)
    if (s.region === region && s.service === service) return true;
  return false;
}

/**
 * The request path of every signed call, so it is kept free of per-request closures and spare
 * allocations (bench/auth.ts measures it against an unauthenticated route). A request whose key is
 * in the cache is answered synchronously (no promise to wait for); otherwise the answer is a
 * promise. Failures are counted by the throttle and may turn into 429 SlowDown. With tracing on,
 * it runs in a `verify` span (the closures it takes exist only then).
 */
export function authenticateSigned(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
): SignedAuthResult | Promise<SignedAuthResult> {
  if (!tracingEnabled()) return authenticate(deps, input);
  return traceVerification(
    'sigv4',
    credentialAccessKeyId(input),
    () => authenticate(deps, input),
    (r) => (r.ok ? { code: 'ok', accessKeyId: r.actor.accessKeyId } : { code: r.code }),
  );
}

/** The access key ID a request's credential names (for its trace; not yet checked). */
function credentialAccessKeyId(input: SignedRequestInput): string | undefined {
  const raw = input.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'authorization') continue;
    return /Credential=([A-Za-z0-9]{1,128})\//.exec(raw[i + 1] as string)?.[1];
  }
  return /[?&]X-Amz-Credential=([A-Za-z0-9]{1,128})(?:\/|%2F)/i.exec(input.url)?.[1];
}

function authenticate(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
): SignedAuthResult | Promise<SignedAuthResult> {
  const now = deps.svc.clock.now();
  const request: SigV4Request = {
    method: input.method,
    // Node decodes the request target as latin1; UTF-8 bytes beyond ASCII are restored here.
    rawTarget: /[\u0080-\uffff]/.test(input.url)
      ? Buffer.from(input.url, 'latin1').toString('utf8')
      : input.url,
    headers: pairs(input.rawHeaders),
    body: input.body,
    ...(input.bodySha256 !== undefined ? { bodySha256: input.bodySha256 } : {}),
  };
  const parsed = parseSigV4(request, { now, allowedScopes: 'any' });
  if (!parsed.ok) return refuse(deps, input, now, undefined, fromSigV4(parsed.failure), 'invalid_signature');
  const { accessKeyId } = parsed.parsed;
  // Temporary credentials (or a session token sent with a long-term key) take their own way in.
  if (parsed.parsed.securityToken !== undefined || isSessionKeyIdShape(accessKeyId))
    return authenticateSession(deps, input, now, request, parsed.parsed);
  const entry = deps.keys.peek(accessKeyId);
  if (entry !== undefined) return checkSigned(deps, input, now, request, parsed.parsed, entry);
  // Not cached: the checksum rejects mistyped and made-up IDs before any database lookup.
  if (!isWellFormedAccessKeyId(accessKeyId))
    return refuse(deps, input, now, undefined, unknownKey(), 'invalid_signature');
  return deps.keys
    .get(accessKeyId)
    .then((loaded) => checkSigned(deps, input, now, request, parsed.parsed, loaded ?? null));
}

const invalidToken = (message: string): Failure => ({ code: 'InvalidToken', message });

/**
 * Temporary credentials (`LKSA…` with X-Amz-Security-Token): their record, then their source as it
 * is now (see session-credentials.ts), then the checks every key gets, plus the token's.
 */
function authenticateSession(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  now: Date,
  request: SigV4Request,
  parsed: ParsedSigV4,
): SignedAuthResult | Promise<SignedAuthResult> {
  const id = parsed.accessKeyId;
  if (!isSessionKeyIdShape(id)) {
    return refuse(
      deps,
      input,
      now,
      undefined,
      invalidToken(
        `X-Amz-Security-Token goes with temporary credentials (LKSA…) only; ${id} is a long-term access key: sign without it.`,
      ),
      'invalid_signature',
    );
  }
  const cached = deps.keys.peekSession(id);
  if (cached !== undefined) return withSessionRecord(deps, input, now, request, parsed, cached);
  if (!isWellFormedSessionKeyId(id))
    return refuse(deps, input, now, undefined, unknownKey(), 'invalid_signature');
  return deps.keys
    .session(id)
    .then((record) => withSessionRecord(deps, input, now, request, parsed, record ?? null));
}

function withSessionRecord(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  now: Date,
  request: SigV4Request,
  parsed: ParsedSigV4,
  record: SessionRecord | null,
): SignedAuthResult | Promise<SignedAuthResult> {
  if (record === null) return refuse(deps, input, now, undefined, unknownKey(), 'invalid_signature');
  const composed = sessionEntry(deps.keys, record, now.getTime());
  return composed instanceof Promise
    ? composed.then((c) => withSessionEntry(deps, input, now, request, parsed, record, c))
    : withSessionEntry(deps, input, now, request, parsed, record, composed);
}

function withSessionEntry(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  now: Date,
  request: SigV4Request,
  parsed: ParsedSigV4,
  record: SessionRecord,
  composed: KeyEntry | SessionEnded,
): SignedAuthResult | Promise<SignedAuthResult> {
  if (!('ended' in composed)) return checkSigned(deps, input, now, request, parsed, composed);
  // Why they ended is told only to their holder: the signature and the token must both be right.
  const verified = verifySigV4(request, parsed, [record.secret], {
    allowUnsignedPayload: true,
    signingKeyCache: null,
  });
  if (!verified.ok) {
    const failure =
      verified.failure.code === 'InvalidAccessKeyId' ? unknownKey() : fromSigV4(verified.failure);
    return refuse(deps, input, now, undefined, failure, 'invalid_signature');
  }
  if (!sessionTokenMatches(record, parsed.securityToken))
    return refuse(deps, input, now, undefined, wrongToken(parsed), 'invalid_signature');
  return refuse(
    deps,
    input,
    now,
    undefined,
    invalidToken(`The temporary credentials ${record.id} have ended: ${composed.ended}.`),
    'inactive',
  );
}

const wrongToken = (parsed: ParsedSigV4): Failure =>
  invalidToken(
    parsed.securityToken === undefined
      ? `Temporary credentials (${parsed.accessKeyId}) need their session token in X-Amz-Security-Token.`
      : 'The security token included in the request is invalid.',
  );

/**
 * The checks that need the key's entry (`null`: no such key): signature, then scope, then key state.
 * An unknown key is answered InvalidAccessKeyId at once, as AWS does: whether a key ID exists is
 * not a secret (IDs appear in logs and URLs); what the key may do and until when is.
 */
function checkSigned(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  now: Date,
  request: SigV4Request,
  parsed: ParsedSigV4,
  entry: KeyEntry | null,
): SignedAuthResult | Promise<SignedAuthResult> {
  const { accessKeyId, region, service } = parsed;
  if (entry === null) return refuse(deps, input, now, undefined, unknownKey(), 'invalid_signature');
  const { key, settings } = entry;
  const nowMs = now.getTime();
  // Nothing about the key (its tenant's scopes, its expiry, its state) is told to a request whose
  // signature does not verify, so a request in a scope the tenant does not accept is verified
  // anyway, in the scope it names (the signing key is derived from the credential's region and
  // service), and its answer depends on that first. Its derived key is not cached: made-up scopes
  // must not push out the keys real requests use.
  const scopeOk = scopeAccepted(deps, entry, region, service);
  const verified = verifySigV4(request, parsed, currentSecrets(entry, nowMs), {
    allowUnsignedPayload: input.allowUnsignedPayload?.(entry) ?? settings.allowUnsignedPayload,
    notAfter: entry.expiresAt,
    signingKeyCache: scopeOk ? deps.signingKeyCache : null,
  });
  if (!verified.ok) {
    const failure =
      verified.failure.code === 'InvalidAccessKeyId' ? unknownKey() : fromSigV4(verified.failure);
    return refuse(deps, input, now, entry, failure, 'invalid_signature');
  }
  // Temporary credentials: the session token must be theirs.
  if (entry.session !== undefined && !sessionTokenMatches(entry.session, parsed.securityToken))
    return refuse(deps, input, now, entry, wrongToken(parsed), 'invalid_signature');
  if (!scopeOk) {
    // The key's holder signed in another scope: tell them which ones are accepted.
    const d = deps.svc.config.sigv4;
    return refuse(
      deps,
      input,
      now,
      entry,
      {
        code: 'AuthorizationHeaderMalformed',
        message: `The credential scope ${region}/${service} is not accepted here; expecting ${d.region}/${d.service}${settings.acceptedScopes.map((s) => ` or ${s.region}/${s.service}`).join('')}.`,
      },
      'denied',
    );
  }
  // Key state is checked after the signature, so only the key's holder learns it.
  const unusable = keyUnusable(entry, nowMs, input.method);
  if (unusable !== null) {
    return refuse(
      deps,
      input,
      now,
      entry,
      {
        code:
          unusable === 'inactive'
            ? 'AccessKeyInactive'
            : unusable === 'quarantined'
              ? 'AccessKeyQuarantined'
              : 'ExpiredToken',
        message:
          unusable === 'inactive'
            ? `The access key ${accessKeyId} is inactive.`
            : unusable === 'quarantined'
              ? `The access key ${accessKeyId} is quarantined: it was reported leaked${entry.settings.leakedKeyAction === 'read-only' ? ' (only GET and HEAD requests are accepted)' : ''}.`
              : `The access key ${accessKeyId} expired at ${key.expires_at}.`,
      },
      unusable === 'quarantined' ? 'inactive' : unusable,
    );
  }
  // Then the key's traffic rules (address, rate limits, quotas): only its holder learns them.
  const admission = deps.traffic.admit(entry.traffic, input.ip, nowMs);
  const secretVersion = verified.secret.version;
  return admission instanceof Promise
    ? admission.then((a) => admitted(deps, input, nowMs, entry, a, secretVersion))
    : admitted(deps, input, nowMs, entry, admission, secretVersion);
}

function admitted(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  nowMs: number,
  entry: KeyEntry,
  admission: Admission,
  secretVersion: number,
): SignedAuthResult {
  const { key } = entry;
  if (!admission.ok) {
    if (admission.reason === 'address') {
      deps.usage.count(key, input.usageApi?.(entry) ?? null, 'denied', nowMs);
      return {
        ok: false,
        code: 'SourceIpNotAllowed',
        message: `The access key ${key.id} may not be used from ${input.ip}.`,
      };
    }
    deps.usage.count(key, input.usageApi?.(entry) ?? null, 'throttled', nowMs);
    return {
      ok: false,
      code: 'RateLimitExceeded',
      message: `The access key ${key.id} is over its rate limit or quota; retry after ${admission.retryAfterSeconds} s.`,
      retryAfterSeconds: admission.retryAfterSeconds,
      rateLimit: admission.headers,
    };
  }
  const accessKeyId = key.id;
  if (input.recordUse !== false) recordUse(deps, entry, input.ip, nowMs);
  return {
    ok: true,
    entry,
    secretVersion,
    rateLimit: admission.headers,
    actor: {
      tenantId: key.tenant_id,
      type: key.owner_type,
      id: key.owner_id,
      via: 'key',
      accessKeyId,
      permissions: entry.permissions,
      sourceIp: input.ip,
      requestId: input.requestId,
      principal: entry.owner,
    },
  };
}

/**
 * The key's last use (shown in key lists). Temporary credentials count as a use of the key they
 * came from; those from a password session have no key to mark.
 */
export function recordUse(deps: SignedAuthDeps, entry: KeyEntry, ip: string, nowMs: number): void {
  const { session } = entry;
  if (session === undefined) deps.lastUsed.record(entry.key.id, ip, nowMs);
  else if (session.sourceKeyId !== null) deps.lastUsed.record(session.sourceKeyId, ip, nowMs);
}

/**
 * Answers a failure, or 429 once throttled. The failure is counted against the source address,
 * and against the access key when its `entry` is given: only for a key that exists (an unknown key
 * ID is the attacker's free choice and must not create throttle state). A caller already blocked
 * is answered 429 without counting, so knocking on does not extend the block. A failure naming an
 * existing key is counted in its usage as `outcome` (or `throttled`).
 */
async function refuse(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
  now: Date,
  entry: KeyEntry | undefined,
  failure: Failure,
  outcome: UsageOutcome,
): Promise<SignedAuthResult> {
  const keys = signedRequestKeys(input.ip, entry?.key.id);
  const nowMs = now.getTime();
  let block = await deps.throttle.blocked(keys, nowMs);
  // Not blocked: count this failure; if it started a block, answer with that block.
  if (block === undefined && (await deps.throttle.recordFailure(keys, nowMs)) > 0)
    block = await deps.throttle.blocked(keys, nowMs);
  if (entry !== undefined)
    deps.usage.count(
      entry.key,
      input.usageApi?.(entry) ?? null,
      block === undefined ? outcome : 'throttled',
      nowMs,
    );
  if (block !== undefined) {
    return {
      ok: false,
      code: 'SlowDown',
      message: throttledMessage(block, input.ip, 'signed requests'),
      details: { failures: block.failures, retryAfterSeconds: block.retryAfterSeconds },
      retryAfterSeconds: block.retryAfterSeconds,
    };
  }
  const { details } = failure;
  return {
    ok: false,
    code: failure.code,
    message: failure.message,
    details:
      details?.canonicalRequest !== undefined
        ? { canonicalRequest: details.canonicalRequest, stringToSign: details.stringToSign }
        : undefined,
  };
}

export { PermissionSet, SigningKeyCache };
