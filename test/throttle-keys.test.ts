/** What failed authentications are counted against (src/auth/throttle-keys.ts). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE } from '../src/auth/throttle.js';
import {
  ACCOUNT_POLICY,
  accountKey,
  addressKey,
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
      { name: 'sigv4-ip:10.0.0.1', policy: DEFAULT_THROTTLE },
    ]);
    expect(signedRequestKeys('2001:db8::7', 'LKIAEXAMPLE').map((k) => k.name)).toEqual([
      'sigv4-ip:2001:db8:0:0::/64',
      'sigv4-key:LKIAEXAMPLE',
    ]);
  });

  it('key sign-in counts per address only; password sign-in per address and existing account', () => {
    expect(keySignInKeys('10.0.0.1')).toEqual([{ name: 'login-ip:10.0.0.1', policy: DEFAULT_THROTTLE }]);
    expect(passwordSignInKeys('10.0.0.1', 'a@example.com', true)).toEqual([
      { name: 'login-ip:10.0.0.1', policy: DEFAULT_THROTTLE },
      { name: 'login-account:a@example.com', policy: ACCOUNT_POLICY },
    ]);
    expect(accountKey('a@example.com', true)).toEqual({
      name: 'login-account:a@example.com',
      policy: ACCOUNT_POLICY,
    });
    // An email with no account is limited too (so the limit tells nothing), against a bucket.
    const [address, unknown] = passwordSignInKeys('10.0.0.1', 'a@example.com', false);
    expect(address).toEqual(keySignInKeys('10.0.0.1')[0]);
    expect(unknown?.policy).toBe(ACCOUNT_POLICY);
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
