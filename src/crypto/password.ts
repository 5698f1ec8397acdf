/**
 * Password hashing with scrypt, Node's built-in memory-hard KDF (RFC 7914), so no native
 * dependency is needed. Parameters: N=2^cost (LATCHKEY_PASSWORD_HASH_COST, 15 by default: 32 MiB,
 * ~50 ms here), r=8, p=1, 16-byte salt, 32-byte hash. The parameters are stored in each hash, so a
 * new cost applies to passwords set from then on, every stored hash still verifies, and a sign-in
 * replaces a hash made at another cost (needsRehash, src/auth/login.ts).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt's cost as log2(N): the default, and the range LATCHKEY_PASSWORD_HASH_COST accepts. */
export const PASSWORD_HASH_COST = { default: 15, min: 10, max: 18 } as const;

let logN: number = PASSWORD_HASH_COST.default;
/** A hash of a random password: compared against when the user does not exist, so timing does not reveal it. */
let dummyHash: Promise<string> | undefined;

/** The cost of the hashes made from now on, for the process (set from the configuration at start). */
export function setPasswordHashCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < PASSWORD_HASH_COST.min || cost > PASSWORD_HASH_COST.max) {
    throw new RangeError(
      `the password hash cost must be a whole number from ${PASSWORD_HASH_COST.min} to ${PASSWORD_HASH_COST.max}`,
    );
  }
  if (cost !== logN) dummyHash = undefined;
  logN = cost;
}

const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const cost = logN;
  const hash = await derive(password, salt, cost, R, P);
  return `scrypt$${cost}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A stored hash's parts (`scrypt$<cost>$<r>$<p>$<salt>$<hash>`), or null when it is not one. */
function parseHash(
  stored: string,
): { cost: number; r: number; p: number; salt: Buffer; hash: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  return {
    cost: Number(parts[1]),
    r: Number(parts[2]),
    p: Number(parts[3]),
    salt: Buffer.from(parts[4] ?? '', 'base64'),
    hash: Buffer.from(parts[5] ?? '', 'base64'),
  };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === null) return false;
  const actual = await derive(password, parsed.salt, parsed.cost, parsed.r, parsed.p);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}

/**
 * Was `stored` made with other parameters than new hashes get (the cost was changed since)? A
 * correct password then replaces it at sign-in, so a raised cost reaches every active account.
 */
export function needsRehash(stored: string): boolean {
  const parsed = parseHash(stored);
  return parsed === null || parsed.cost !== logN || parsed.r !== R || parsed.p !== P;
}

export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}
