/**
 * Unit tests for the exported building blocks (encoding, canonicalisation, dates, key derivation,
 * the signing-key cache).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalQueryString,
  canonicalUri,
  canonicalUriCandidates,
  computeSignature,
  credentialScope,
  deriveSigningKey,
  EMPTY_SHA256,
  formatAmzDate,
  hmacSha256,
  normalizePath,
  parseAmzDate,
  parseHttpDate,
  parseQuery,
  recodeComponent,
  SIGV4_FAILURE_STATUS,
  SigningKeyCache,
  sha256Hex,
  signatureMatches,
  stringToSign,
  trimHeaderValue,
  uriEncode,
} from '../../src/auth/sigv4/index.js';

describe('deriveSigningKey / computeSignature', () => {
  it('matches the AWS documentation example (20150830/us-east-1/iam)', () => {
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20150830', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');
  });

  it('signs the AWS documentation example string to sign', () => {
    const creq = [
      'GET',
      '/',
      'Action=ListUsers&Version=2010-05-08',
      'content-type:application/x-www-form-urlencoded; charset=utf-8',
      'host:iam.amazonaws.com',
      'x-amz-date:20150830T123600Z',
      '',
      'content-type;host;x-amz-date',
      EMPTY_SHA256,
    ].join('\n');
    expect(sha256Hex(creq)).toBe('f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
    const sts = stringToSign('20150830T123600Z', credentialScope('20150830', 'us-east-1', 'iam'), creq);
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20150830', 'us-east-1', 'iam');
    expect(computeSignature(key, sts)).toBe(
      '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });
});

describe('uriEncode / recodeComponent', () => {
  it.each([
    ['AZaz09-_.~', 'AZaz09-_.~'],
    ['a b', 'a%20b'],
    ['a/b', 'a%2Fb'],
    ["!*'()", '%21%2A%27%28%29'],
    ['ሴ', '%E1%88%B4'],
    ['é', '%C3%A9'],
    ['😀', '%F0%9F%98%80'],
    ['%', '%25'],
    ['+', '%2B'],
  ])('uriEncode(%j) = %j', (input, expected) => {
    expect(uriEncode(input)).toBe(expected);
  });

  it('keeps slashes when asked, refuses lone surrogates and control characters', () => {
    expect(uriEncode('/a b/c', true)).toBe('/a%20b/c');
    expect(uriEncode('\ud83d')).toBeUndefined();
    expect(uriEncode('\ude00x')).toBeUndefined();
    expect(uriEncode('a\nb')).toBeUndefined();
  });

  it.each([
    ['%7e', '~'],
    ['%7E%41', '~A'],
    ['%2f', '%2F'],
    ['%20', '%20'],
    ['a+b', 'a%2Bb'],
    ['%e1%88%b4', '%E1%88%B4'],
    ['%FF', '%FF'],
    ['', ''],
  ])('recodeComponent(%j) = %j', (input, expected) => {
    expect(recodeComponent(input)).toBe(expected);
  });

  it('reads "+" as a space on request and refuses bad escapes', () => {
    expect(recodeComponent('a+b', true)).toBe('a%20b');
    for (const bad of ['%zz', '%E0%A4%A', '%', '%4', '%%41', '%G1'])
      expect(recodeComponent(bad)).toBeUndefined();
  });
});

describe('normalizePath / canonicalUri', () => {
  it.each([
    ['/', '/'],
    ['//', '/'],
    ['/./', '/'],
    ['/example/..', '/'],
    ['/example1/example2/../..', '/'],
    ['/./example', '/example'],
    ['//example//', '/example/'],
    ['/a/b/../c/./d/', '/a/c/d/'],
    ['/a/b/..', '/a'],
    ['/../../a', '/a'],
    ['/a/.../b', '/a/.../b'],
  ])('normalizePath(%j) = %j', (input, expected) => {
    expect(normalizePath(input)).toBe(expected);
  });

  it.each([
    ['/a%20b', true, false, '/a%2520b'],
    ['/a%20b', false, false, '/a%20b'],
    ['/a b', true, false, '/a%20b'],
    ['/a b', false, false, '/a%20b'],
    ['/a+b', false, false, '/a%2Bb'],
    ['/a%2Fb/c', false, false, '/a%2Fb/c'],
    ['/a%2Fb/c', true, false, '/a%252Fb/c'],
    ['/a/%7e', false, false, '/a/~'],
    ['//x/./y', true, true, '/x/y'],
    ['//x/./y', false, false, '//x/./y'],
  ])('canonicalUri(%j, double=%s, normalize=%s) = %j', (path, doubleEncode, normalize, expected) => {
    expect(canonicalUri(path, { doubleEncode, normalize })).toBe(expected);
  });

  it('gives one candidate for a plain path and distinct ones otherwise, preferred first', () => {
    expect(canonicalUriCandidates('/v1/items/abc-123')).toEqual(['/v1/items/abc-123']);
    expect(canonicalUriCandidates('/')).toEqual(['/']);
    expect(canonicalUriCandidates('/a%20b/../c')).toEqual(['/c', '/a%2520b/../c', '/a%20b/../c']);
    expect(canonicalUriCandidates('/a%20b/../c', { doubleEncode: false, normalize: false })).toEqual([
      '/a%20b/../c',
      '/c',
      '/a%2520b/../c',
    ]);
    expect(canonicalUriCandidates('/a%zz')).toBeUndefined();
  });

  it('adds the SQL Account forms for a trailing "*" segment only', () => {
    expect(canonicalUriCandidates('/resource/*')).toEqual(['/resource/%2A', '/resource/*', '/resource/']);
    expect(canonicalUriCandidates('/resource/%2A')).toEqual([
      '/resource/%252A',
      '/resource/%2A',
      '/resource/*',
      '/resource/',
    ]);
    expect(canonicalUriCandidates('/a*/b')).toEqual(['/a%2A/b']);
  });
});

describe('query canonicalisation', () => {
  it('splits, re-encodes and sorts', () => {
    const params = parseQuery('b=2&a=z&a=y&flag&&=v&%E1%88%B4=1&P=1');
    expect(params).toBeDefined();
    expect(canonicalQueryString(params ?? [])).toBe('=v&%E1%88%B4=1&P=1&a=y&a=z&b=2&flag=');
    expect(canonicalQueryString(params ?? [], new Set(['a']))).toBe('=v&%E1%88%B4=1&P=1&b=2&flag=');
  });

  it('keeps "=" inside values', () => {
    expect(canonicalQueryString(parseQuery('a=b=c') ?? [])).toBe('a=b%3Dc');
  });

  it('refuses invalid escapes and too many parameters', () => {
    expect(parseQuery('a=%zz')).toBeUndefined();
    expect(parseQuery('a=1&'.repeat(257))).toBeUndefined();
    expect(parseQuery('a=1&'.repeat(256))).toHaveLength(256);
  });
});

describe('trimHeaderValue', () => {
  it.each([
    ['value', 'value'],
    ['  value  ', 'value'],
    ['a   b', 'a b'],
    ['a\t\tb', 'a b'],
    ['a \t b', 'a b'],
    ['"a   b   c"', '"a b c"'],
    ['value1\n  value2\r\n     value3', 'value1 value2 value3'],
    ['', ''],
    ['   ', ''],
    ['a b c', 'a b c'],
    [' a', 'a'],
    ['a ', 'a'],
    ['a  ', 'a'],
    ['!~ }', '!~ }'],
  ])('trimHeaderValue(%j) = %j', (input, expected) => {
    expect(trimHeaderValue(input)).toBe(expected);
  });

  it('refuses bytes outside printable ASCII', () => {
    for (const bad of ['café', 'a\u0000', '\u007f', 'ሴ']) expect(trimHeaderValue(bad)).toBeUndefined();
  });
});

describe('dates', () => {
  it('parses X-Amz-Date strictly', () => {
    expect(parseAmzDate('20150830T123600Z')).toBe(Date.parse('2015-08-30T12:36:00Z'));
    expect(parseAmzDate('20160229T000000Z')).toBe(Date.parse('2016-02-29T00:00:00Z'));
    for (const bad of [
      '20150229T000000Z',
      '20151301T000000Z',
      '20150800T000000Z',
      '20150830T240000Z',
      '2015083T1236000Z',
    ]) {
      expect(parseAmzDate(bad)).toBeUndefined();
    }
  });

  it('answers the same for a timestamp seen before, valid or not', () => {
    for (const value of ['20150830T123600Z', '20150229T000000Z', '20150830T123600Z', '20150830T123600Z']) {
      const expected = value === '20150830T123600Z' ? Date.parse('2015-08-30T12:36:00Z') : undefined;
      expect(parseAmzDate(value)).toBe(expected);
      expect(parseAmzDate(value)).toBe(expected);
    }
  });

  it('parses IMF-fixdate strictly, weekday included', () => {
    expect(parseHttpDate('Sun, 30 Aug 2015 12:36:00 GMT')).toBe(Date.parse('2015-08-30T12:36:00Z'));
    for (const bad of [
      'Mon, 30 Aug 2015 12:36:00 GMT',
      'Sun, 30 Aug 2015 12:36:00 UTC',
      'Sunday, 30-Aug-15 12:36:00 GMT',
      'Sun Aug 30 12:36:00 2015',
      'Sun, 30 aug 2015 12:36:00 GMT',
    ]) {
      expect(parseHttpDate(bad)).toBeUndefined();
    }
  });

  it('formats ISO 8601 basic', () => {
    expect(formatAmzDate(Date.parse('2015-08-30T12:36:00Z'))).toBe('20150830T123600Z');
  });
});

describe('hmacSha256', () => {
  it('equals createHmac for keys up to and beyond a block, and messages of every length, ASCII or not', () => {
    for (const keyLength of [0, 1, 32, 45, 63, 64, 65, 100]) {
      for (const messageLength of [0, 1, 55, 56, 64, 119, 120, 341, 342, 500, 1100]) {
        const key = randomBytes(keyLength);
        const ascii = randomBytes(messageLength).toString('base64').slice(0, messageLength);
        for (const message of [ascii, `${ascii}é`, `€${ascii}`, '😀'.repeat(messageLength)]) {
          const expected = createHmac('sha256', key).update(message).digest();
          expect(hmacSha256(key, message).equals(expected)).toBe(true);
        }
      }
    }
  });
});

describe('signatureMatches', () => {
  it('accepts exactly the HMAC createHmac computes, for keys up to and beyond a block and any message', () => {
    for (const keyLength of [0, 32, 64, 65]) {
      for (const messageLength of [0, 56, 146, 500, 1100]) {
        const key = randomBytes(keyLength);
        const ascii = randomBytes(messageLength).toString('base64').slice(0, messageLength);
        for (const message of [ascii, `€${ascii}`, '😀'.repeat(messageLength)]) {
          const good = createHmac('sha256', key).update(message).digest('hex');
          expect(signatureMatches(key, message, good)).toBe(true);
          // Any one digit changed is refused.
          const at = messageLength % 64;
          const other = good[at] === '0' ? '1' : '0';
          expect(signatureMatches(key, message, `${good.slice(0, at)}${other}${good.slice(at + 1)}`)).toBe(
            false,
          );
        }
      }
    }
  });

  it('refuses signatures that are not 64 hexadecimal digits', () => {
    const key = randomBytes(32);
    const good = createHmac('sha256', key).update('m').digest('hex');
    for (const bad of ['', good.slice(1), `${good}0`, `${good.slice(0, 62)}zz`, `z${good.slice(1)}`]) {
      expect(signatureMatches(key, 'm', bad)).toBe(false);
    }
  });

  it('does not carry state from one check to the next', () => {
    const key = randomBytes(32);
    const good = createHmac('sha256', key).update('first').digest('hex');
    expect(signatureMatches(key, 'first', good)).toBe(true);
    // A malformed signature that is a prefix of the good one must not reuse its decoded bytes.
    expect(signatureMatches(key, 'first', `${good.slice(0, 62)}zz`)).toBe(false);
    expect(signatureMatches(key, 'second', good)).toBe(false);
  });
});

describe('SigningKeyCache', () => {
  const s = (version: number, secret = `secret-${version}`) => ({ secret, version });

  it('derives once and serves hits from the cache', () => {
    const cache = new SigningKeyCache(10);
    const a = cache.getOrDerive('AK', s(1), '20150830', 'r', 'svc');
    const b = cache.getOrDerive('AK', s(1), '20150830', 'r', 'svc');
    expect(b).toBe(a);
    expect(a.equals(deriveSigningKey('secret-1', '20150830', 'r', 'svc'))).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('is bounded and evicts the least recently used entry', () => {
    const cache = new SigningKeyCache(2);
    const first = cache.getOrDerive('A', s(1), '20150830', 'r', 'svc');
    cache.getOrDerive('B', s(1), '20150830', 'r', 'svc');
    cache.getOrDerive('A', s(1), '20150830', 'r', 'svc'); // refresh A
    cache.getOrDerive('C', s(1), '20150830', 'r', 'svc'); // evicts B
    expect(cache.size).toBe(2);
    expect(cache.getOrDerive('A', s(1), '20150830', 'r', 'svc')).toBe(first);
    expect(cache.invalidate('B')).toBe(0);
    expect(cache.invalidate('C')).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('keys on the secret version and on the secret itself', () => {
    const cache = new SigningKeyCache();
    const v1 = cache.getOrDerive('A', s(1, 'x'), '20150830', 'r', 'svc');
    const v2 = cache.getOrDerive('A', s(2, 'x'), '20150830', 'r', 'svc');
    const reused = cache.getOrDerive('A', s(1, 'y'), '20150830', 'r', 'svc');
    expect(cache.size).toBe(3);
    expect(v2).not.toBe(v1);
    expect(reused.equals(v1)).toBe(false);
  });

  it('does not confuse access key IDs that share a prefix when invalidating', () => {
    const cache = new SigningKeyCache();
    cache.getOrDerive('abc.sql.my/X', s(1), '20150830', 'r', 'svc');
    cache.getOrDerive('abc.sql.my/XY', s(1), '20150830', 'r', 'svc');
    expect(cache.invalidate('abc.sql.my/X')).toBe(1);
    expect(cache.size).toBe(1);
  });
});

it('has an HTTP status for every failure code', () => {
  for (const status of Object.values(SIGV4_FAILURE_STATUS)) expect([400, 403, 500]).toContain(status);
});
