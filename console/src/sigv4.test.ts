import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { amzDate, canonicalQuery, canonicalUri, signRequest } from './sigv4';

const FIXTURES = new URL('../../test/fixtures/sigv4/aws-c-auth/v4/', import.meta.url);
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  date: new Date('2015-08-30T12:36:00Z'),
};

function vector(name: string, file: string): string {
  return readFileSync(new URL(`${name}/${file}`, FIXTURES), 'utf8');
}

describe('sigv4 signer (Web Crypto)', () => {
  it('signs the published get-vanilla vector', async () => {
    const signed = await signRequest({
      ...CREDENTIALS,
      method: 'GET',
      url: 'https://example.amazonaws.com/',
    });
    expect(signed.signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    expect(signed.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(signed.headers['x-amz-date']).toBe('20150830T123600Z');
    expect(signed.headers).not.toHaveProperty('host');
  });

  // Vectors whose request is a plain GET with only Host (the signer adds X-Amz-Date).
  const vectors = [
    'get-vanilla',
    'get-vanilla-query',
    'get-vanilla-query-order-key-case',
    'get-vanilla-query-unreserved',
    'get-vanilla-utf8-query',
    'get-vanilla-empty-query-key',
    'get-unreserved',
    'get-utf8',
    'get-space-unnormalized',
  ];
  for (const name of vectors) {
    it(`matches the canonical request, string to sign and signature of ${name}`, async () => {
      const [requestLine] = vector(name, 'request.txt').split('\n');
      const match = /^(\w+) (.*) HTTP\/1\.1$/.exec(requestLine ?? '');
      if (!match) throw new Error(`cannot parse ${name}`);
      const signed = await signRequest({
        ...CREDENTIALS,
        method: match[1] as string,
        url: `https://example.amazonaws.com${match[2]}`,
      });
      expect(signed.canonicalRequest).toBe(vector(name, 'header-canonical-request.txt'));
      expect(signed.stringToSign).toBe(vector(name, 'header-string-to-sign.txt'));
      expect(signed.signature).toBe(vector(name, 'header-signature.txt').trim());
    });
  }

  it('signs extra headers, trimming and lowercasing them', async () => {
    const signed = await signRequest({
      ...CREDENTIALS,
      method: 'get',
      url: 'https://example.amazonaws.com/',
      headers: { 'X-Amz-Meta-Note': '  a   b ' },
    });
    expect(signed.canonicalRequest).toContain('x-amz-meta-note:a b\n');
    expect(signed.canonicalRequest.split('\n')[0]).toBe('GET');
    expect(signed.authorization).toContain('SignedHeaders=host;x-amz-date;x-amz-meta-note,');
  });

  it('hashes the body into the canonical request', async () => {
    const signed = await signRequest({
      ...CREDENTIALS,
      method: 'POST',
      url: 'https://example.amazonaws.com/',
      body: 'Param1=value1',
    });
    expect(
      signed.canonicalRequest.endsWith('9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e'),
    ).toBe(true);
  });

  it('encodes paths, queries and dates the SigV4 way', () => {
    expect(canonicalUri('/agent/')).toBe('/agent/');
    expect(canonicalUri('/salesinvoice/*')).toBe('/salesinvoice/%2A');
    expect(canonicalUri('')).toBe('/');
    expect(canonicalQuery('?b=2&a=1&a=0')).toBe('a=0&a=1&b=2');
    expect(canonicalQuery('?code=A%2001')).toBe('code=A%2001');
    expect(amzDate(new Date('2026-01-02T03:04:05.678Z'))).toBe('20260102T030405Z');
  });
});
