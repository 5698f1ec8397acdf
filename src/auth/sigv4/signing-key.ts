/**
 * Signing-key derivation and a bounded cache of derived keys.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

const BLOCK = 64;
const innerScratch = Buffer.allocUnsafe(BLOCK + 1024);
const outerScratch = Buffer.allocUnsafe(BLOCK + 32);
const macScratch = Buffer.allocUnsafe(32);
const expectedScratch = Buffer.allocUnsafe(32);
let innerView = innerScratch.subarray(0, BLOCK);

/**
 * HMAC-SHA256 (RFC 2104) of a string (UTF-8, as `Hmac.update` reads it) under a key of at most
 * 64 bytes, written into `macScratch`, from two one-shot `crypto.hash` calls over reused buffers;
 * `false` when the key or message is too long for the scratch buffers. Written by hand because
 * every `createHmac` makes a native object for the garbage collector to finalise (with five per
 * cold key they showed up as multi-millisecond pauses in the latency tail), and each Buffer that
 * `hash()` returns costs a backing store: the digests travel as binary (latin1) strings instead,
 * one byte per character. Tests hold it to `createHmac` and the AWS vectors.
 */
function hmacIntoScratch(key: Uint8Array, message: string): boolean {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  if (key.length > BLOCK || message.length * 3 > innerScratch.length - BLOCK) return false;
  for (let i = 0; i < BLOCK; i++) {
    const k = i < key.length ? (key[i] as number) : 0;
    innerScratch[i] = k ^ 0x36;
    outerScratch[i] = k ^ 0x5c;
  }
  const n = innerScratch.write(message, BLOCK, 'utf8');
  // Strings to sign of one scope all have the same length: the view is made once per length.
  if (innerView.length !== BLOCK + n) innerView = innerScratch.subarray(0, BLOCK + n);
  outerScratch.write(hash('sha256', innerView, 'binary'), BLOCK, 'binary');
  macScratch.write(hash('sha256', outerScratch, 'binary'), 0, 'binary');
  return true;
}

/** HMAC-SHA256 of a string under a key (a new Buffer; see `hmacIntoScratch`). */
export function hmacSha256(key: Uint8Array, message: string): Buffer {
  if (!hmacIntoScratch(key, message)) return createHmac('sha256', key).update(message).digest();
  return Buffer.from(macScratch);
}

/**
 * Does HMAC-SHA256(signingKey, stringToSign) equal the 64 lowercase hex digits `signatureHex`?
 * Compared in constant time; allocates nothing on the request path.
 */
export function signatureMatches(
  signingKey: Uint8Array,
  stringToSign: string,
  signatureHex: string,
): boolean {
  if (signatureHex.length !== 64 || expectedScratch.write(signatureHex, 0, 'hex') !== 32) return false;
  if (hmacIntoScratch(signingKey, stringToSign)) return timingSafeEqual(macScratch, expectedScratch);
  return timingSafeEqual(createHmac('sha256', signingKey).update(stringToSign).digest(), expectedScratch);
}

function hmac(key: string | Uint8Array, data: string): Buffer {
  return hmacSha256(typeof key === 'string' ? Buffer.from(key, 'utf8') : key, data);
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

interface Memo {
  readonly secret: string;
  readonly fingerprint: string;
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  key: Buffer | undefined;
}

/**
 * Bounded LRU cache of DERIVED signing keys (never the secrets themselves), keyed by
 * (access key ID, secret version, date, region, service) plus a SHA-256 fingerprint of the secret.
 *
 * The secret version is part of the key, so after a rotation the new secret never reuses a key
 * derived from the old one. The fingerprint makes that hold even if a version number is ever
 * reused with a different secret (a key deleted and re-created under the same ID, a bug in the
 * caller): a different secret can only miss the cache, never hit a key derived from another secret.
 * Stale entries age out by LRU; `invalidate(accessKeyId)` drops them at once (the per-secret-object
 * memo below goes with the caller's secret objects, which a key cache replaces on any change).
 * A derived key is valid for one day/region/service only, so it is narrower than the secret, but
 * still treat the cache as secret material (never log or serialise it).
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, Buffer>();
  readonly maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.maxEntries = Math.max(1, Math.floor(maxEntries));
  }

  /**
   * Per secret object (callers pass the same objects from their key cache on every request): the
   * secret's fingerprint and the last key derived from it. Both are pure functions of the secret
   * string, which is compared on every use, so a memo can never serve another secret. Hot keys are
   * answered from here without hashing the secret or touching the LRU map; the memo goes away with
   * the caller's object.
   */
  readonly #memo = new WeakMap<object, Memo>();

  #memoFor(secret: { readonly secret: string }): Memo {
    const memo = this.#memo.get(secret);
    if (memo !== undefined && memo.secret === secret.secret) return memo;
    const fresh: Memo = {
      secret: secret.secret,
      fingerprint: hash('sha256', secret.secret, 'base64'),
      accessKeyId: '',
      date: '',
      region: '',
      service: '',
      key: undefined,
    };
    this.#memo.set(secret, fresh);
    return fresh;
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
    const memo = this.#memoFor(secret);
    if (
      memo.key !== undefined &&
      memo.accessKeyId === accessKeyId &&
      memo.date === date &&
      memo.region === region &&
      memo.service === service
    ) {
      return memo.key;
    }
    const id = `${accessKeyId}\u0000${secret.version}\u0000${date}\u0000${region}\u0000${service}\u0000${memo.fingerprint}`;
    const entries = this.#entries;
    let key = entries.get(id);
    if (key !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
      entries.delete(id);
      entries.set(id, key);
    } else {
      key = deriveSigningKey(secret.secret, date, region, service);
      entries.set(id, key);
      if (entries.size > this.maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    }
    memo.accessKeyId = accessKeyId;
    memo.date = date;
    memo.region = region;
    memo.service = service;
    memo.key = key;
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
