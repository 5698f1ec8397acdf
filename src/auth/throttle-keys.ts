/**
 * What failed authentications are counted against, in one place, so call sites never build
 * throttle key names themselves.
 *
 * The rule that keeps the throttle's state bounded (in Redis, which has no size limit, as in
 * memory): a failure is counted only against a subject the caller really holds or that exists.
 *  - The source address, grouped by what one attacker controls: an IPv4 address, or an IPv6 /64
 *    (the smallest block a host is given; one host has 2^64 addresses in it).
 *  - An access key, only once it is known to exist (a well-formed key ID costs nothing to make up).
 *  - An account (the normalized email) when an account with that email exists; an email with no
 *    account counts against one of a fixed number of buckets instead (see below).
 * Reading a key that was never written creates nothing.
 *
 * Policies:
 *  - Addresses and access keys: 5 free failures, then 1, 2, 4 … s up to 15 min.
 *  - Password sign-in per account: 10 free failures, then 1, 2, 4 … s up to 30 s. It slows an
 *    attacker spraying one account from many addresses to about one guess per 30 s (blocked
 *    attempts are answered 429 without checking the password and are not counted), while the
 *    rightful owner, who is slowed by it only while someone is failing against the account, never
 *    waits more than 30 s. It allows more failures than the per-address limit, so a person
 *    mistyping from one address meets the per-address limit (which does not touch the account
 *    elsewhere) first.
 *    An email with no account is limited the same way, so the limit does not tell an attacker
 *    which emails have accounts, but against one of `UNKNOWN_ACCOUNT_BUCKETS` buckets (a keyed
 *    hash of the email: the key is random per process, so nobody can aim made-up emails at the
 *    bucket of another), which keeps the state for made-up emails bounded. A real account has its
 *    own counter, so no bucket can slow its owner. What remains: an attacker who fills most
 *    buckets (about ten failures each, from many addresses) would then see made-up emails blocked
 *    at once; that takes well over a hundred thousand failed sign-ins.
 *
 * Key sign-in (`auth_mode=apikey`) is throttled per address only: its secret (238 bits) cannot be
 * guessed, and a per-key block, checked before the secret, would let anyone who saw a key ID stop
 * its holder from exchanging it. Signed requests also count failures per existing key (the block
 * only turns further failures into 429 SlowDown: a correctly signed request is never throttled).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  DEFAULT_THROTTLE,
  type FailureThrottle,
  type ThrottleBlock,
  type ThrottleKey,
  type ThrottlePolicy,
} from './throttle.js';

export const ADDRESS_POLICY: ThrottlePolicy = DEFAULT_THROTTLE;
export const ACCESS_KEY_POLICY: ThrottlePolicy = DEFAULT_THROTTLE;
export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 10,
  baseBlockSeconds: 1,
  maxBlockSeconds: 30,
  forgetAfterSeconds: 900,
};

/** Addresses that are not IP addresses (none expected from a socket) all share one bucket. */
const UNPARSED = 'unparsed';

/**
 * The 8 groups of an IPv6 address (zone ID dropped), for an address `isIPv6` accepted.
 * Written by hand because node:net validates but does not parse, and the one parser in the tree
 * (ipaddr.js) is only a dependency of a dependency; the cases (`::` anywhere, a dotted IPv4 tail,
 * zone IDs) are covered by test/throttle-keys.test.ts.
 */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const [a = 0, b = 0, c = 0, d = 0] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const gap = text.indexOf('::');
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  let groups: string[];
  if (gap === -1) groups = part(text);
  else {
    const head = part(text.slice(0, gap));
    const rest = part(text.slice(gap + 2));
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  }
  const numbers = groups.map((g) => Number.parseInt(g, 16));
  if (tail.length === 2) numbers.splice(6, 2, ...tail);
  return numbers;
}

/**
 * The throttle's name for a source address: an IPv4 address as is; an IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`, how a dual-stack socket reports IPv4 clients) as that IPv4 address; any other
 * IPv6 address as its /64 (`2001:db8:0:1::/64`).
 */
export function addressKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return UNPARSED;
  const g = ipv6Groups(ip);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = [g[6], g[7]];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${g
    .slice(0, 4)
    .map((n) => n.toString(16))
    .join(':')}::/64`;
}

const key = (name: string, policy: ThrottlePolicy, subject: ThrottleKey['subject']): ThrottleKey => ({
  name,
  policy,
  subject,
});

/**
 * A signed request that failed: its address, and its access key when that key exists (pass the
 * ID only then: `undefined` for an unparsable request or an unknown key ID).
 */
export function signedRequestKeys(ip: string, existingAccessKeyId: string | undefined): ThrottleKey[] {
  const keys = [key(`sigv4-ip:${addressKey(ip)}`, ADDRESS_POLICY, 'address')];
  if (existingAccessKeyId !== undefined)
    keys.push(key(`sigv4-key:${existingAccessKeyId}`, ACCESS_KEY_POLICY, 'access-key'));
  return keys;
}

/** Sign-in with an access key and its secret: per address only (see the header). */
export function keySignInKeys(ip: string): ThrottleKey[] {
  return [key(`login-ip:${addressKey(ip)}`, ADDRESS_POLICY, 'address')];
}

/** How many counters emails without an account share (see the header). */
export const UNKNOWN_ACCOUNT_BUCKETS = 16_384;
const BUCKET_KEY = randomBytes(32);

/**
 * The per-account key of password sign-in (`email` normalized): the account's own when one with
 * this email exists, else the keyed bucket the email falls in.
 */
export function accountKey(normalizedEmail: string, accountExists: boolean): ThrottleKey {
  if (accountExists) return key(`login-account:${normalizedEmail}`, ACCOUNT_POLICY, 'account');
  const bucket =
    createHmac('sha256', BUCKET_KEY).update(normalizedEmail).digest().readUInt32BE(0) %
    UNKNOWN_ACCOUNT_BUCKETS;
  return key(`login-account-unknown:${bucket}`, ACCOUNT_POLICY, 'account');
}

/** Password sign-in before the account is looked up: the address. */
export function passwordSignInAddressKeys(ip: string): ThrottleKey[] {
  return [key(`login-ip:${addressKey(ip)}`, ADDRESS_POLICY, 'address')];
}

/** Password sign-in once the lookup has said whether an account with this email exists. */
export function passwordSignInKeys(
  ip: string,
  normalizedEmail: string,
  accountExists: boolean,
): ThrottleKey[] {
  return [...passwordSignInAddressKeys(ip), accountKey(normalizedEmail, accountExists)];
}

/**
 * A second factor (the second step of a password sign-in, or a code confirming an MFA change): the
 * address, and the user whose factor it is. A user's counter blocks like an address's (5 free
 * failures, then up to 15 min): whoever reaches this step already knows the password, and a
 * six-digit code must not be guessable at the account limit's pace.
 */
export function secondFactorKeys(ip: string | null, userId: string): ThrottleKey[] {
  const user = key(`mfa-user:${userId}`, ADDRESS_POLICY, 'account');
  return ip === null ? [user] : [...passwordSignInAddressKeys(ip), user];
}

/**
 * Every counter of one source address (`latchkey throttle clear --address`): sign-in and signed
 * requests, under the address's throttle name, so an IPv6 address clears its whole /64.
 */
export function addressKeys(ip: string): ThrottleKey[] {
  return [...signedRequestKeys(ip, undefined), ...keySignInKeys(ip)];
}

/**
 * The message of a 429: which counter blocked, how many failures it holds, when to try again, and
 * how an operator lifts the block, so someone learning to sign requests is not left guessing what
 * went wrong before (the earlier answers said it; this one says how many there were).
 */
export function throttledMessage(
  block: ThrottleBlock,
  ip: string,
  attempts: 'sign-ins' | 'signed requests',
): string {
  const { failures, retryAfterSeconds, key: blocking } = block;
  const what =
    blocking.subject === 'account'
      ? `${failures} failed ${attempts} for this email`
      : blocking.subject === 'access-key'
        ? `${failures} failed ${attempts} with this access key`
        : `${failures} failed ${attempts} from this address`;
  // Only an address's block can be lifted alone; the others go with a clear of every block.
  const command =
    blocking.subject === 'address' && (isIPv4(ip) || isIPv6(ip))
      ? `npx latchkey throttle clear --address ${ip}`
      : 'npx latchkey throttle clear';
  return `${what}; try again in ${retryAfterSeconds} s, or ask an operator to run \`${command}\``;
}

/** Lift the blocks of one address (its /64 for IPv6) or, with `null`, every block. */
export async function clearBlocks(throttle: FailureThrottle, address: string | null): Promise<void> {
  if (address === null) await throttle.clear();
  else await throttle.reset(addressKeys(address));
}
