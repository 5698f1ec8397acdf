/**
 * Access key ID and secret formats.
 *
 * Access key ID: `LKIA` + 16 random Crockford-base32 characters (80 bits) + 6 check
 * characters (CRC-32 of the first 20 characters, base32, 30 bits kept), 26 characters in all,
 * e.g. `LKIA7Q3M9XK2VB8RT4HN0CJ5WD`. The fixed prefix lets secret scanners find leaked IDs;
 * the checksum lets the service reject a mistyped or forged ID without a database read.
 *
 * Secret access key: `lksk_` + 40 random base62 characters (238 bits).
 */
import { crc32 } from 'node:zlib';
import { CROCKFORD, randomBase32, randomBase62 } from './random.js';

export const ACCESS_KEY_PREFIX = 'LKIA';
export const ACCESS_KEY_ID_LENGTH = 26;
export const SECRET_PREFIX = 'lksk_';
const BODY_LENGTH = 20;
const CHECK_LENGTH = 6;
const SHAPE = /^LKIA[0-9A-HJKMNP-TV-Z]{22}$/;

function checksum(body: string): string {
  let value = crc32(body) & 0x3fffffff;
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = CROCKFORD[value & 31] + out;
    value >>>= 5;
  }
  return out;
}

export function generateAccessKeyId(): string {
  const body = ACCESS_KEY_PREFIX + randomBase32(BODY_LENGTH - ACCESS_KEY_PREFIX.length);
  return body + checksum(body);
}

export function isWellFormedAccessKeyId(value: string): boolean {
  if (value.length !== ACCESS_KEY_ID_LENGTH || !SHAPE.test(value)) return false;
  return checksum(value.slice(0, BODY_LENGTH)) === value.slice(BODY_LENGTH);
}

export function generateSecretAccessKey(): string {
  return SECRET_PREFIX + randomBase62(40);
}
