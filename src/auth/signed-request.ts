/**
 * Authenticating a request signed with AWS Signature Version 4: parse (no secret needed), look
 * the key up (cache first), check the key's state and the tenant's accepted scopes, verify the
 * signature, and throttle repeated failures. Answers use the error codes AWS clients know.
 */
import type { Actor } from '../context.js';
import { isWellFormedAccessKeyId } from '../crypto/access-key-id.js';
import { PermissionSet } from '../identity/permissions.js';
import type { Services } from '../services.js';
import { currentSecrets, type KeyAuthority, type KeyEntry, keyUnusable } from './key-authority.js';
import type { LastUsedRecorder } from './last-used.js';
import {
  parseSigV4,
  SIGV4_FAILURE_STATUS,
  SigningKeyCache,
  type SigV4Failure,
  type SigV4Request,
  verifySigV4,
} from './sigv4/index.js';
import type { FailureThrottle } from './throttle.js';

export interface SignedAuthDeps {
  svc: Services;
  keys: KeyAuthority;
  throttle: FailureThrottle;
  lastUsed: LastUsedRecorder;
  signingKeyCache: SigningKeyCache;
}

export interface SignedRequestInput {
  method: string;
  /** `req.url` as Node gives it (latin1-decoded). */
  url: string;
  rawHeaders: readonly string[];
  body: Uint8Array | undefined;
  ip: string;
  requestId: string;
}

export type SignedAuthResult =
  | { ok: true; actor: Actor; entry: KeyEntry }
  | {
      ok: false;
      status: number;
      code: string;
      message: string;
      details?: { canonicalRequest?: string; stringToSign?: string };
      retryAfterSeconds?: number;
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

export async function authenticateSigned(
  deps: SignedAuthDeps,
  input: SignedRequestInput,
): Promise<SignedAuthResult> {
  const { svc } = deps;
  const now = svc.clock.now();
  const request: SigV4Request = {
    method: input.method,
    // Node decodes the request target as latin1; UTF-8 bytes beyond ASCII are restored here.
    rawTarget: /[\u0080-\uffff]/.test(input.url)
      ? Buffer.from(input.url, 'latin1').toString('utf8')
      : input.url,
    headers: pairs(input.rawHeaders),
    body: input.body,
  };
  const fail = async (
    status: number,
    code: string,
    message: string,
    accessKeyId: string | undefined,
    details?: SigV4Failure,
  ): Promise<SignedAuthResult> => {
    const keys = [`sigv4-ip:${input.ip}`, ...(accessKeyId ? [`sigv4-key:${accessKeyId}`] : [])];
    await deps.throttle.recordFailure(keys, now.getTime());
    const wait = await deps.throttle.retryAfter(keys, now.getTime());
    if (wait > 0) {
      return {
        ok: false,
        status: 429,
        code: 'SlowDown',
        message: `too many failed authentications; retry in ${wait} s`,
        retryAfterSeconds: wait,
      };
    }
    const extra =
      details?.canonicalRequest !== undefined
        ? { canonicalRequest: details.canonicalRequest, stringToSign: details.stringToSign }
        : undefined;
    return { ok: false, status, code, message, details: extra };
  };
  const sigv4Failure = (failure: SigV4Failure, accessKeyId?: string) =>
    fail(
      SIGV4_FAILURE_STATUS[failure.code] >= 500 ? 400 : SIGV4_FAILURE_STATUS[failure.code],
      failure.code,
      failure.message,
      accessKeyId,
      failure,
    );

  const parsed = parseSigV4(request, { now, allowedScopes: 'any' });
  if (!parsed.ok) return sigv4Failure(parsed.failure);
  const { accessKeyId } = parsed.parsed;
  const unknown = () =>
    fail(
      403,
      'InvalidAccessKeyId',
      'The access key ID you provided does not exist in our records.',
      accessKeyId,
    );
  // The checksum rejects mistyped and made-up IDs without a cache or database lookup.
  if (!isWellFormedAccessKeyId(accessKeyId)) return unknown();
  const entry = await deps.keys.get(accessKeyId);
  if (!entry) return unknown();
  const { key, settings } = entry;
  const { region, service } = parsed.parsed;
  const scopes = [svc.config.sigv4, ...settings.acceptedScopes];
  if (!scopes.some((s) => s.region === region && s.service === service)) {
    const expected = `${svc.config.sigv4.region}/${svc.config.sigv4.service}`;
    return fail(
      400,
      'AuthorizationHeaderMalformed',
      `The credential scope ${region}/${service} is not accepted here; expecting ${expected}${settings.acceptedScopes.map((s) => ` or ${s.region}/${s.service}`).join('')}.`,
      accessKeyId,
    );
  }
  const nowIso = now.toISOString();
  const verified = verifySigV4(request, parsed.parsed, currentSecrets(entry, nowIso), {
    allowUnsignedPayload: settings.allowUnsignedPayload,
    notAfter: key.expires_at === null ? undefined : new Date(key.expires_at),
    signingKeyCache: deps.signingKeyCache,
  });
  if (!verified.ok) {
    return verified.failure.code === 'InvalidAccessKeyId'
      ? unknown()
      : sigv4Failure(verified.failure, accessKeyId);
  }
  // Key state is checked after the signature, so only the key's holder learns it.
  const unusable = keyUnusable(entry, nowIso);
  if (unusable === 'inactive') {
    return fail(403, 'AccessKeyInactive', `The access key ${accessKeyId} is inactive.`, accessKeyId);
  }
  if (unusable === 'expired') {
    return fail(
      403,
      'ExpiredToken',
      `The access key ${accessKeyId} expired at ${key.expires_at}.`,
      accessKeyId,
    );
  }
  deps.lastUsed.record(accessKeyId, input.ip);
  return {
    ok: true,
    entry,
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

export { PermissionSet, SigningKeyCache };
