/**
 * AWS Signature Version 4 verifier: pure (no I/O, no clock reads), two-phase.
 *
 * ```ts
 * const p = parseSigV4(req, opts);                 // syntax, scope, time: no secret needed
 * if (!p.ok) return reject(p.failure);
 * const secrets = await lookUpSecrets(p.parsed.accessKeyId);   // [] when unknown; this lookup binds the ID
 * const v = verifySigV4(req, p.parsed, secrets, opts);
 * if (!v.ok) return reject(v.failure);             // v.failure.code -> SIGV4_FAILURE_STATUS
 * ```
 */
export {
  ALGORITHM,
  buildCanonicalRequest,
  type CanonicalHeadersResult,
  type CanonicalRequestInput,
  canonicalHeaders,
  credentialScope,
  EMPTY_SHA256,
  sha256Hex,
  stringToSign,
  trimHeaderValue,
  UNSIGNED_PAYLOAD,
} from './canonical.js';
export {
  type CanonicalParam,
  canonicalQueryString,
  canonicalUri,
  canonicalUriCandidates,
  normalizePath,
  parseQuery,
  recodeComponent,
  uriEncode,
} from './encoding.js';
export { DEFAULT_MAX_SKEW_SECONDS, parseSigV4, SIGV4_LIMITS } from './parse.js';
export {
  computeSignature,
  defaultSigningKeyCache,
  deriveSigningKey,
  hmacSha256,
  SigningKeyCache,
  signatureMatches,
} from './signing-key.js';
export { formatAmzDate, parseAmzDate, parseHttpDate } from './time.js';
export type {
  CanonicalParts,
  ParsedSigV4,
  ParseOptions,
  ParseResult,
  SecretCandidate,
  SigV4Failure,
  SigV4FailureCode,
  SigV4Options,
  SigV4Request,
  SigV4Scope,
  UriOptions,
  VerifyOptions,
  VerifyResult,
} from './types.js';
export { verifySigV4 } from './verify.js';

import type { SigV4FailureCode } from './types.js';

/** Suggested HTTP status for each failure code (what AWS answers). */
export const SIGV4_FAILURE_STATUS: Readonly<Record<SigV4FailureCode, number>> = Object.freeze({
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  MissingAuthenticationToken: 403,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  AccessDenied: 403,
  InvalidRequest: 400,
  XAmzContentSHA256Mismatch: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  InvalidAccessKeyId: 403,
  InternalError: 500,
});
