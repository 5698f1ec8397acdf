/** What failed authentications are counted against (src/auth/throttle-keys.ts). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE } from '../src/auth/throttle.js';
import {
  ACCOUNT_POLICY,
  accountKey,
  addressKey,
  addressKeys,
  keySignInKeys,
  passwordSignInKeys,
  signedRequestKeys,
  UNKNOWN_ACCOUNT_BUCKETS,
} from '../src/auth/throttle-keys.js';

describe('addressKey', () => {
  it('keeps an IPv4 address, and reads an IPv4-mapped IPv6 address as that IPv4 address', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('0:0:0:0:0:ffff:cb00:7107')).toBe('203.0.113.7');
    expect(addressKey('::ffff:cb00:7107')).toBe('203.0.113.7');
  });

  it('groups IPv6 addresses by /64, whatever way they are written', () => {
    const net = '2001:db8:aa:1::/64';
    for (const ip of [
      '2001:db8:aa:1::1',
      '2001:db8:aa:1:ffff:ffff:ffff:ffff',
      '2001:0DB8:00AA:0001:0:0:0:9',
      '2001:db8:aa:1:1:2:3:4',
      '2001:db8:aa:1::',
      '2001:db8:aa:1:1:2:192.0.2.1',
      '2001:db8:aa:1::5%eth0',
    ])
      expect(addressKey(ip), ip).toBe(net);
    expect(addressKey('2001:db8:aa:2::1')).toBe('2001:db8:aa:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::')).toBe('0:0:0:0::/64');
    expect(addressKey('1::')).toBe('1:0:0:0::/64');
    expect(addressKey('1:2:3:4:5:6:7::')).toBe('1:2:3:4::/64');
    expect(addressKey('::2:3:4:5:6:7:8')).toBe('0:2:3:4::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    // Not IPv4-mapped: the 0xffff is elsewhere, or the prefix is not zero.
    expect(addressKey('::ffff:0:cb00:7107')).toBe('0:0:0:0::/64');
    expect(addressKey('1::ffff:cb00:7107')).toBe('1:0:0:0::/64');
  });

  it('puts anything that is not an IP address in one bucket', () => {
    for (const junk of ['', 'localhost', '1.2.3', '01.2.3.4', '1:2:3:4:5:6:7:8:9', 'x'.repeat(1000)])
      expect(addressKey(junk), junk).toBe('unparsed');
  });
});

describe('throttle key lists', () => {
  it('a signed request counts against its access key only when the key exists', () => {
    expect(signedRequestKeys('::ffff:10.0.0.1', undefined)).toEqual([
      { name: 'sigv4-ip:10.0.0.1', policy: DEFAULT_THROTTLE, subject: 'address' },
    ]);
    expect(signedRequestKeys('2001:db8::7', 'LKIAEXAMPLE').map((k) => [k.name, k.subject])).toEqual([
      ['sigv4-ip:2001:db8:0:0::/64', 'address'],
      ['sigv4-key:LKIAEXAMPLE', 'access-key'],
    ]);
  });

  it('key sign-in counts per address only; password sign-in per address and existing account', () => {
    const address = { name: 'login-ip:10.0.0.1', policy: DEFAULT_THROTTLE, subject: 'address' };
    const account = { name: 'login-account:a@example.com', policy: ACCOUNT_POLICY, subject: 'account' };
    expect(keySignInKeys('10.0.0.1')).toEqual([address]);
    expect(passwordSignInKeys('10.0.0.1', 'a@example.com', true)).toEqual([address, account]);
    expect(accountKey('a@example.com', true)).toEqual(account);
    // An email with no account is limited too (so the limit tells nothing), against a bucket.
    const [byAddress, unknown] = passwordSignInKeys('10.0.0.1', 'a@example.com', false);
    expect(byAddress).toEqual(address);
    expect(unknown?.policy).toBe(ACCOUNT_POLICY);
    expect(unknown?.subject).toBe('account');
    expect(unknown?.name).toMatch(/^login-account-unknown:\d+$/);
    expect(accountKey('a@example.com', false)).toEqual(unknown);
    expect(unknown?.name).not.toContain('a@example.com');
    expect(ACCOUNT_POLICY.freeFailures).toBeGreaterThan(DEFAULT_THROTTLE.freeFailures);
    expect(ACCOUNT_POLICY.maxBlockSeconds).toBeLessThan(60);
  });

  it('made-up emails share a bounded number of counters, spread over all of them', () => {
    const names = new Set<string>();
    for (let i = 0; i < 100_000; i++) names.add(accountKey(`nobody-${i}@example.com`, false).name);
    expect(names.size).toBeLessThanOrEqual(UNKNOWN_ACCOUNT_BUCKETS);
    expect(names.size).toBeGreaterThan(UNKNOWN_ACCOUNT_BUCKETS * 0.99);
  });
});

describe('addressKeys (`latchkey throttle clear --address`)', () => {
  it("names every counter of the address's group, and no account or key counter", () => {
    const names = (ip: string) =>
      addressKeys(ip)
        .map((k) => k.name)
        .sort();
    expect(names('10.0.0.1')).toEqual(['login-ip:10.0.0.1', 'sigv4-ip:10.0.0.1']);
    expect(names('::ffff:10.0.0.1')).toEqual(names('10.0.0.1'));
    // Any address of a /64 names the /64's counters.
    expect(names('2001:db8:1:2::5')).toEqual(['login-ip:2001:db8:1:2::/64', 'sigv4-ip:2001:db8:1:2::/64']);
    expect(names('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toEqual(names('2001:db8:1:2::5'));
    // Together they cover what a failure from the address is counted against.
    const counted = [
      ...signedRequestKeys('10.0.0.1', 'LKIAEXAMPLE'),
      ...passwordSignInKeys('10.0.0.1', 'a@example.com', true),
    ].filter((k) => k.subject === 'address');
    expect(counted.map((k) => k.name).sort()).toEqual(names('10.0.0.1'));
  });
});
