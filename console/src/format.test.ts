import { describe, expect, it } from 'vitest';
import {
  copyAllFormat,
  DEFAULT_SCOPE,
  expiryFields,
  keyStateLabel,
  sampleCurl,
  scopeFromVersion,
} from './format';

describe('copy formats', () => {
  it('copies all key details in the tenant access-key format', () => {
    expect(copyAllFormat('LKIA7Q3M9XK2VB8RT4HN0CJ5WD', 'lksk_abc', '123456789012')).toBe(
      'key:LKIA7Q3M9XK2VB8RT4HN0CJ5WD::lksk_abc,tenant id: 123456789012',
    );
  });

  it('builds a sample cURL that signs with SigV4', () => {
    expect(sampleCurl('http://127.0.0.1:8080', DEFAULT_SCOPE, 'LKIAX', 'lksk_Y')).toBe(
      'curl --aws-sigv4 "aws:amz:ap-southeast-5:sqlaccount" --user "LKIAX:lksk_Y" http://127.0.0.1:8080/agent/',
    );
  });

  it('quotes an origin the shell would split', () => {
    expect(sampleCurl("http://h/a b'", DEFAULT_SCOPE, 'A', 'B', '')).toContain(`'http://h/a b'\\'''`);
  });
});

describe('signing scope', () => {
  it('takes it from /version when present', () => {
    expect(scopeFromVersion({ sigv4: { region: 'eu-west-1', service: 'x' } })).toEqual({
      region: 'eu-west-1',
      service: 'x',
    });
    expect(scopeFromVersion({ sigv4: { region: 'ap-southeast-1', service: 'execute-api' } })).toEqual({
      region: 'ap-southeast-1',
      service: 'execute-api',
    });
  });
  it('falls back to the documented default', () => {
    expect(scopeFromVersion({ name: 'latchkey', version: '0.1.0' })).toEqual(DEFAULT_SCOPE);
    expect(scopeFromVersion(null)).toEqual(DEFAULT_SCOPE);
  });
});

describe('expiry choice', () => {
  it('sends nothing for Default so IAM settings decide', () => {
    expect(expiryFields({ kind: 'default' })).toEqual({});
    expect(expiryFields({ kind: 'days', days: 30 })).toEqual({ validityDays: 30 });
    expect(expiryFields({ kind: 'date', date: '2030-01-01' })).toEqual({ expiresAt: '2030-01-01' });
    expect(expiryFields({ kind: 'never' })).toEqual({ neverExpires: true });
  });
});

describe('key state', () => {
  it('shows days left when expiring soon', () => {
    expect(keyStateLabel('expiring_soon', 2).label).toBe('Expires in 2 days');
    expect(keyStateLabel('expiring_soon', 1).label).toBe('Expires in 1 day');
    expect(keyStateLabel('expired', null)).toEqual({ label: 'Expired', color: 'red' });
  });
});
