/**
 * Access key ID and secret formats.
 *
 * Access key ID: `LKIA` + 16 random Crockford-base32 characters (80 bits) + 6 check
 * characters (CRC-32 of the first 20 characters, base32, 30 bits kept), 26 characters in all,
 * e.g. `LKIA7Q3M9XK2VB8RT4HN0CJ5WD`. The fixed prefix lets secret scanners find leaked IDs;
 * the checksum lets the service reject a mistyped or forged ID without a database read.
 *
 * Temporary (session) credentials' IDs have the same shape with the prefix `LKSA` (as AWS's `ASIA`
 * follows `AKIA`): a scanner, a log reader or the service tells them apart from long-term keys at a
 * glance, and long-term key routes (`/iam/keys/{id}`) never accept one.
 *
 * Secret access key: `lksk_` + 40 base62 characters, the last 6 a checksum (secret-format.ts).
 */
import { crc32 } from 'node:zlib';
import { CROCKFORD, randomBase32 } from './random.js';
import { generateChecksummedSecret } from './secret-format.js';

export const ACCESS_KEY_PREFIX = 'LKIA';
export const SESSION_KEY_PREFIX = 'LKSA';
export const ACCESS_KEY_ID_LENGTH = 26;
export const SECRET_PREFIX = 'lksk_';
const BODY_LENGTH = 20;
const CHECK_LENGTH = 6;
const SHAPE = /^LKIA[0-9A-HJKMNP-TV-Z]{22}$/;
const SESSION_SHAPE = /^LKSA[0-9A-HJKMNP-TV-Z]{22}$/;

function checksum(body: string): string {
  let value = crc32(body) & 0x3fffffff;
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = CROCKFORD[value & 31] + out;
    value >>>= 5;
  }
  return out;
}

function generateId(prefix: string): string {
  const body = prefix + randomBase32(BODY_LENGTH - prefix.length);
  return body + checksum(body);
}

export function generateAccessKeyId(): string {
  return generateId(ACCESS_KEY_PREFIX);
}

/** A temporary credential's access key ID (`LKSA…`). */
export function generateSessionAccessKeyId(): string {
  return generateId(SESSION_KEY_PREFIX);
}

function wellFormed(value: string, shape: RegExp): boolean {
  if (value.length !== ACCESS_KEY_ID_LENGTH || !shape.test(value)) return false;
  return checksum(value.slice(0, BODY_LENGTH)) === value.slice(BODY_LENGTH);
}

/** A long-term access key ID (`LKIA…`) with a valid checksum. */
export function isWellFormedAccessKeyId(value: string): boolean {
  return wellFormed(value, SHAPE);
}

/** A temporary credential's ID (`LKSA…`) with a valid checksum. */
export function isWellFormedSessionKeyId(value: string): boolean {
  return wellFormed(value, SESSION_SHAPE);
}

/** Does the ID name temporary credentials (checksum not checked: a cheap first test)? */
export function isSessionKeyIdShape(value: string): boolean {
  return value.startsWith(SESSION_KEY_PREFIX);
}

/** A new secret access key: checksummed, see secret-format.ts. */
export function generateSecretAccessKey(): string {
  return generateChecksummedSecret();
}
