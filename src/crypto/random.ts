import { randomBytes, randomInt } from 'node:crypto';

/** Crockford base32 (no I, L, O, U): unambiguous when read aloud or retyped. */
export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniformly random string over `alphabet` (rejection sampling, no modulo bias). */
export function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) {
        out += alphabet[byte % alphabet.length];
        if (out.length === length) break;
      }
    }
  }
  return out;
}

export const randomBase32 = (length: number): string => randomString(CROCKFORD, length);
export const randomBase62 = (length: number): string => randomString(BASE62, length);
export const randomDigits = (length: number): string => {
  let out = String(randomInt(1, 10));
  while (out.length < length) out += String(randomInt(0, 10));
  return out;
};
