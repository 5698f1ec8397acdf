/**
 * Keyed hashes of secret access keys, so a reported (leaked) secret finds its key without
 * decrypting anything: HMAC-SHA256 under a key derived (HKDF) from a master key for this purpose
 * only. A plain hash would let anyone who reads the database test guesses offline; this one needs
 * the master key too. Each stored hash records the fingerprint of the derived key that made it.
 */
import { createHash, createHmac } from 'node:crypto';
import type { SecretBox } from './envelope.js';

const PURPOSE = 'latchkey key-secret lookup v1';

export interface LookupKey {
  fingerprint: string;
  key: Buffer;
}

function lookupKeys(box: SecretBox): LookupKey[] {
  return box.derivedKeys(PURPOSE).map(({ key }) => ({
    fingerprint: createHash('sha256').update('fingerprint\n').update(key).digest('hex').slice(0, 16),
    key,
  }));
}

export function currentLookupKey(box: SecretBox): LookupKey {
  const [current] = lookupKeys(box);
  if (!current) throw new Error('the master keyring is empty');
  return current;
}

export const secretLookupHash = (key: LookupKey, secret: string): string =>
  createHmac('sha256', key.key).update(secret, 'utf8').digest('base64url');

/** The lookup columns of a secret stored now (under the current master key). */
export function lookupColumns(box: SecretBox, secret: string): { lookup_hash: string; lookup_key: string } {
  const current = currentLookupKey(box);
  return { lookup_hash: secretLookupHash(current, secret), lookup_key: current.fingerprint };
}

/** Every hash the secret may be stored under: one per master key in the keyring. */
export function candidateHashes(box: SecretBox, secret: string): string[] {
  return lookupKeys(box).map((k) => secretLookupHash(k, secret));
}
