/**
 * Phase 2: with the key's secret(s) in hand, check the payload and the signature; then, for a
 * signature that verifies only, the facts about the key (expiry, payload policy).
 */
import { ALGORITHM, EMPTY_SHA256, sha256Hex, UNSIGNED_PAYLOAD } from './canonical.js';
import { sigV4Failure } from './parse.js';
import { defaultSigningKeyCache, deriveSigningKey, signatureMatches } from './signing-key.js';
import type { ParsedSigV4, SecretCandidate, SigV4Request, VerifyOptions, VerifyResult } from './types.js';

const MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

/**
 * Verifies a request parsed by `parseSigV4` (pass the same `req`: only its body is read here)
 * against the key's current secret(s). Tries each candidate canonical request (URI styles x query
 * `+` readings x payload hash forms), most likely first, with every secret; accepts on the first
 * constant-time match and returns the secret that matched. Never throws.
 *
 * `secrets` must be the secrets of `parsed.accessKeyId` and nothing else: SigV4 does not sign the
 * access key ID itself (only the scope), it is bound by this lookup.
 */
export function verifySigV4(
  req: SigV4Request,
  parsed: ParsedSigV4,
  secrets: ReadonlyArray<SecretCandidate>,
  opts: VerifyOptions,
): VerifyResult {
  try {
    return verifyUnchecked(req, parsed, secrets, opts);
  } catch {
    return sigV4Failure('InternalError', 'Unexpected error while verifying the request.');
  }
}

function verifyUnchecked(
  req: SigV4Request,
  parsed: ParsedSigV4,
  secrets: ReadonlyArray<SecretCandidate>,
  opts: VerifyOptions,
): VerifyResult {
  if (secrets.length === 0) {
    return sigV4Failure(
      'InvalidAccessKeyId',
      'The access key ID you provided does not exist in our records.',
    );
  }

  // The key's expiry (notAfter) and the tenant's payload policy are checked only once the signature
  // verifies: a request made without the secret learns nothing about the key from its answer.

  // --- payload -------------------------------------------------------------------------------
  const body = req.body;
  const bodyEmpty =
    req.bodySha256 !== undefined
      ? req.bodySha256 === EMPTY_SHA256
      : body === undefined || body.byteLength === 0;
  const claim = parsed.payloadClaim;
  const unsignedAllowed = opts.allowUnsignedPayload || (parsed.form === 'query' && bodyEmpty);
  let payloadCandidates: string[];
  if (claim === UNSIGNED_PAYLOAD) {
    payloadCandidates = [UNSIGNED_PAYLOAD];
  } else {
    const bodyHash = req.bodySha256 ?? (bodyEmpty ? EMPTY_SHA256 : sha256Hex(body as Uint8Array));
    if (claim !== undefined) {
      if (claim !== bodyHash) {
        return sigV4Failure(
          'XAmzContentSHA256Mismatch',
          'The provided x-amz-content-sha256 header does not match what was computed.',
        );
      }
      payloadCandidates = [claim];
    } else if (parsed.form === 'query' && unsignedAllowed) {
      // Generic presigning signs the body hash (aws-c-auth vectors); S3-style presigning signs
      // UNSIGNED-PAYLOAD without saying so in the URL.
      payloadCandidates = [bodyHash, UNSIGNED_PAYLOAD];
    } else {
      payloadCandidates = [bodyHash];
    }
  }

  // --- keys ----------------------------------------------------------------------------------
  // One derived key per secret, for every candidate below (a memo hit per secret object on hot keys).
  const cache = opts.signingKeyCache === undefined ? defaultSigningKeyCache : opts.signingKeyCache;
  const keys = secrets.map((s) =>
    cache === null
      ? deriveSigningKey(s.secret, parsed.date, parsed.region, parsed.service)
      : cache.getOrDerive(parsed.accessKeyId, s, parsed.date, parsed.region, parsed.service),
  );

  // --- candidates ----------------------------------------------------------------------------
  const c = parsed.canonical;
  const stsPrefix = `${ALGORITHM}\n${parsed.amzDate}\n${parsed.scope}\n`;
  const tail = `\n${c.headers}\n${c.signedHeaders}\n`;
  let firstCreq: string | undefined;
  let firstSts: string | undefined;
  for (const uri of c.uriCandidates) {
    for (const query of c.queryCandidates) {
      const head = `${c.method}\n${uri}\n${query}${tail}`;
      for (const payload of payloadCandidates) {
        const creq = head + payload;
        const sts = stsPrefix + sha256Hex(creq);
        if (firstCreq === undefined) {
          firstCreq = creq;
          firstSts = sts;
        }
        for (let i = 0; i < keys.length; i++) {
          if (signatureMatches(keys[i] as Buffer, sts, parsed.signature)) {
            const refuseUnsigned = claim === UNSIGNED_PAYLOAD && !unsignedAllowed;
            return afterSignature(parsed, opts, refuseUnsigned, secrets[i] as SecretCandidate);
          }
        }
      }
    }
  }
  return {
    ok: false,
    failure: {
      code: 'SignatureDoesNotMatch',
      message: MISMATCH_MESSAGE,
      ...(firstCreq === undefined ? {} : { canonicalRequest: firstCreq, stringToSign: firstSts }),
    },
  };
}

/** The checks that tell the key's holder about the key and its tenant (signature verified). */
function afterSignature(
  parsed: ParsedSigV4,
  opts: VerifyOptions,
  unsignedRefused: boolean,
  secret: SecretCandidate,
): VerifyResult {
  if (unsignedRefused) {
    return sigV4Failure('InvalidRequest', 'UNSIGNED-PAYLOAD is not allowed here: sign the payload.');
  }
  if (parsed.form === 'query' && opts.notAfter !== undefined) {
    const endMs = parsed.signingTimeMs + (parsed.expiresSeconds ?? 0) * 1000;
    if (!(endMs <= opts.notAfter.getTime())) {
      return sigV4Failure(
        'AccessDenied',
        'The presigned URL would remain valid after the access key expires.',
      );
    }
  }
  return { ok: true, secret };
}
