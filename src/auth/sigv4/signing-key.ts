/**
 * Signing-key derivation and a bounded cache of derived keys.
 */
import { createHmac, hash } from 'node:crypto';

function hmac(key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * The result is as sensitive as the secret for that day/region/service: never log or return it.
 */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** Lowercase hex HMAC-SHA256 of the string to sign. */
export function computeSignature(signingKey: Uint8Array, stringToSign: string): string {
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

/**
 * Bounded LRU cache of DERIVED signing keys (never the secrets themselves), keyed by
 * (access key ID, secret version, date, region, service) plus a SHA-256 fingerprint of the secret.
 *
 * The secret version is part of the key, so after a rotation the new secret never reuses a key
 * derived from the old one. The fingerprint makes that hold even if a version number is ever
 * reused with a different secret (a key deleted and re-created under the same ID, a bug in the
 * caller): a different secret can only miss the cache, never hit a key derived from another secret.
 * Stale entries age out by LRU; `invalidate(accessKeyId)` drops them at once. A derived key is
 * valid for one day/region/service only, so it is narrower than the secret, but still treat the
 * cache as secret material (never log or serialise it).
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, Buffer>();
  readonly maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.maxEntries = Math.max(1, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The derived key for this secret and scope, from the cache or derived (and cached) now. */
  getOrDerive(
    accessKeyId: string,
    secret: { readonly secret: string; readonly version: number },
    date: string,
    region: string,
    service: string,
  ): Buffer {
    const fingerprint = hash('sha256', secret.secret, 'base64');
    const id = `${accessKeyId}\u0000${secret.version}\u0000${date}\u0000${region}\u0000${service}\u0000${fingerprint}`;
    const entries = this.#entries;
    const hit = entries.get(id);
    if (hit !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
      entries.delete(id);
      entries.set(id, hit);
      return hit;
    }
    const key = deriveSigningKey(secret.secret, date, region, service);
    entries.set(id, key);
    if (entries.size > this.maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    return key;
  }

  /** Drops every cached key of one access key ID; returns how many were dropped. */
  invalidate(accessKeyId: string): number {
    const prefix = `${accessKeyId}\u0000`;
    let n = 0;
    for (const id of this.#entries.keys()) {
      if (id.startsWith(prefix)) {
        this.#entries.delete(id);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** The cache `verifySigV4` uses unless told otherwise. */
export const defaultSigningKeyCache = new SigningKeyCache();
