import type { SigningKeyCache } from './signing-key.js';

/**
 * Public types of the SigV4 verifier. Everything here is plain data: the module never throws on
 * request input, every expected failure is a {@link SigV4Failure} value.
 */

/** The request as it arrived on the wire. */
export interface SigV4Request {
  /** HTTP method exactly as sent (e.g. `GET`). */
  readonly method: string;
  /**
   * Request target exactly as the client sent it: absolute path plus optional `?query`, still
   * percent-encoded (Node: `req.url`). Characters outside ASCII are read as Unicode code points and
   * encoded as UTF-8; a server that hands over a latin1-decoded target must convert it first
   * (`Buffer.from(url, 'latin1').toString('utf8')`).
   */
  readonly rawTarget: string;
  /**
   * Raw header pairs in wire order (Node: `req.rawHeaders` paired up). Repeated names are allowed
   * and joined with `,` in order. Over HTTP/2, pass `:authority` as `host`.
   */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Raw body bytes; `undefined` or empty means an empty body. */
  readonly body?: Uint8Array;
  /**
   * The body's SHA-256 (lowercase hex) when the verifier is not given the body itself (the verify
   * API lets a caller send the hash instead of the bytes). Takes the place of `body`.
   */
  readonly bodySha256?: string;
}

/** A region/service pair the service accepts in the credential scope. */
export interface SigV4Scope {
  readonly region: string;
  readonly service: string;
}

/** One valid secret of an access key. During a rotation grace period a key has two. */
export interface SecretCandidate {
  readonly secret: string;
  /**
   * Version of this secret. Must be unique per access key ID for the life of the ID (never reuse a
   * version with a different secret): derived signing keys are cached under it.
   */
  readonly version: number;
}

/** How the canonical URI is built from the raw path (see `canonicalUri`). */
export interface UriOptions {
  /**
   * `true`: every service but S3 — the path as sent is URI-encoded again (`%` becomes `%25`).
   * `false`: S3 style — each segment is percent-decoded and encoded once.
   */
  readonly doubleEncode: boolean;
  /** Remove `.`/`..` segments and merge duplicate slashes (every service but S3). */
  readonly normalize: boolean;
}

export type SigV4FailureCode =
  /** Authorization header unparseable, or its credential/scope/signed headers invalid. */
  | 'AuthorizationHeaderMalformed'
  /** Presigned-URL (`X-Amz-*` query) parameters unparseable or invalid. */
  | 'AuthorizationQueryParametersError'
  /** Neither an Authorization header nor presigned query parameters. */
  | 'MissingAuthenticationToken'
  /** Header form: X-Amz-Date too far from the server clock. */
  | 'RequestTimeTooSkewed'
  /** The signature does not match any candidate canonical request. */
  | 'SignatureDoesNotMatch'
  /** Presigned URL expired / not yet valid / outliving the key; or unsigned x-amz-* headers. */
  | 'AccessDenied'
  /** Request refused by policy: streaming payloads, unsigned payload, bad header bytes, limits. */
  | 'InvalidRequest'
  /** x-amz-content-sha256 does not match the body. */
  | 'XAmzContentSHA256Mismatch'
  /** X-Amz-Security-Token repeated or unreadable (the caller also uses it for a wrong or missing token). */
  | 'InvalidToken'
  /** Request target is not a valid origin-form path with valid percent-encoding. */
  | 'InvalidURI'
  /** `verifySigV4` was given no secret to try (unknown access key). */
  | 'InvalidAccessKeyId'
  /** Invalid options (e.g. an invalid `now`) or an internal bug; never caused by request input. */
  | 'InternalError';

export interface SigV4Failure {
  readonly code: SigV4FailureCode;
  readonly message: string;
  /** On `SignatureDoesNotMatch`: the canonical request the server computed (most likely candidate). */
  readonly canonicalRequest?: string;
  /** On `SignatureDoesNotMatch`: the string to sign the server computed (most likely candidate). */
  readonly stringToSign?: string;
}

/** Canonical-request pieces computed by `parseSigV4`; none depends on the secret. */
export interface CanonicalParts {
  readonly method: string;
  /** Distinct candidate canonical URIs, most likely first. */
  readonly uriCandidates: readonly string[];
  /** Distinct candidate canonical query strings, most likely first (two only when the query has `+`). */
  readonly queryCandidates: readonly string[];
  /** Canonical headers block: one `name:value\n` line per signed header. */
  readonly headers: string;
  /** The signed headers line (`host;x-amz-date`). */
  readonly signedHeaders: string;
}

export interface ParsedSigV4 {
  readonly form: 'header' | 'query';
  /** Access key ID; may itself contain `/` (the credential is parsed from the right). */
  readonly accessKeyId: string;
  /** Scope date, `YYYYMMDD`. */
  readonly date: string;
  /** Request timestamp in ISO 8601 basic format (`YYYYMMDDTHHMMSSZ`), as used in the string to sign. */
  readonly amzDate: string;
  /** The same timestamp in epoch milliseconds. */
  readonly signingTimeMs: number;
  readonly region: string;
  readonly service: string;
  /** `YYYYMMDD/region/service/aws4_request`. */
  readonly scope: string;
  readonly signedHeaders: readonly string[];
  /** The client's signature, 64 lowercase hex digits. */
  readonly signature: string;
  /** Presigned form only: X-Amz-Expires. */
  readonly expiresSeconds?: number;
  /** The x-amz-content-sha256 value the client declared (header or presigned query), if any. */
  readonly payloadClaim?: string;
  /** X-Amz-Security-Token (header, or a presigned URL's query), if any: temporary credentials' token. */
  readonly securityToken?: string | undefined;
  readonly canonical: CanonicalParts;
}

export interface ParseOptions {
  /** The server clock; the module never reads the clock itself. */
  readonly now: Date;
  /**
   * Region/service pairs accepted in the credential scope. `'any'` defers the check to the caller
   * (when the accepted scopes depend on the key's tenant, known only after the lookup).
   */
  readonly allowedScopes: ReadonlyArray<SigV4Scope> | 'any';
  /** Allowed clock skew, seconds (default 900). */
  readonly maxSkewSeconds?: number;
  /** Upper bound for X-Amz-Expires, seconds (default and hard maximum 604800). */
  readonly maxPresignExpiresSeconds?: number;
  /**
   * Canonical-URI style tried first (default `{ doubleEncode: true, normalize: true }`, every
   * service but S3). The other styles are still tried afterwards.
   */
  readonly uriStyle?: UriOptions;
}

export interface VerifyOptions {
  /**
   * Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD`. Presigned URLs with an empty body may use
   * UNSIGNED-PAYLOAD regardless (there is no body to protect; S3-style presigned links always do).
   */
  readonly allowUnsignedPayload: boolean;
  /**
   * The key's own expiry. Presigned form: X-Amz-Date + X-Amz-Expires must not be after it. The
   * header form is not checked here: the caller checks the key's validity against its clock.
   */
  readonly notAfter?: Date;
  /** Derived-key cache to use (default: the module-wide `defaultSigningKeyCache`); `null` disables caching. */
  readonly signingKeyCache?: SigningKeyCache | null;
}

/** One object can serve both phases. */
export type SigV4Options = ParseOptions & VerifyOptions;

export type ParseResult =
  | { readonly ok: true; readonly parsed: ParsedSigV4 }
  | { readonly ok: false; readonly failure: SigV4Failure };

export type VerifyResult =
  | { readonly ok: true; readonly secret: SecretCandidate }
  | { readonly ok: false; readonly failure: SigV4Failure };
