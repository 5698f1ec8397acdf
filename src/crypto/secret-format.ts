/**
 * The secret access key's format, with a checksum secret scanners (and latchkey) can check offline.
 *
 * `lksk_` + 34 random base62 characters (202 bits) + 6 base62 check characters: the CRC-32 of the
 * first 39 characters (prefix included), as a base62 number left-padded with `0` (62^6 > 2^32, so
 * no bit is lost). 45 characters in all, the same shape as the secrets made before the checksum
 * (`lksk_` + 40 random base62), so log redaction, clients and stored secrets are unchanged:
 *
 *   scanner regex:   \blksk_[0-9A-Za-z]{40}\b
 *
 * A match whose checksum holds is a latchkey secret with near certainty (a random 40-character
 * string passes with probability 1 in 62^6). A match whose checksum fails is either made up or a
 * secret from before the checksum (they keep working): report both; latchkey looks each up.
 * GitHub's own tokens are built the same way (prefix, base62 body, CRC-32 in base62).
 */
import { crc32 } from 'node:zlib';
import { randomBase62 } from './random.js';

export const SECRET_PREFIX = 'lksk_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 34;
const CHECK_LENGTH = 6;
export const SECRET_LENGTH = SECRET_PREFIX.length + RANDOM_LENGTH + CHECK_LENGTH;

/** Every latchkey secret, with or without a checksum (what to give a secret scanner). */
export const SECRET_PATTERN = /\blksk_[0-9A-Za-z]{40}\b/;
const SHAPE = /^lksk_[0-9A-Za-z]{40}$/;

function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A new secret access key, checksummed. */
export function generateChecksummedSecret(): string {
  const body = SECRET_PREFIX + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/** Has the value the shape of a latchkey secret (either format)? No checksum test. */
export function hasSecretShape(value: string): boolean {
  return value.length === SECRET_LENGTH && SHAPE.test(value);
}

/**
 * Is the value a checksummed latchkey secret? Format and checksum only: no database, no secret
 * compared. Secrets made before the checksum answer false (they are still looked up when reported).
 */
export function looksLikeLatchkeySecret(value: string): boolean {
  if (!hasSecretShape(value)) return false;
  const cut = SECRET_LENGTH - CHECK_LENGTH;
  return checksum(value.slice(0, cut)) === value.slice(cut);
}
