/**
 * `/openapi.json` is public and cacheable (issue 12, finding 10): its server URL comes from
 * configuration (LATCHKEY_PUBLIC_URL, else the listen address), never from the Host header a
 * request chooses, so nobody can make the document (or a client generated from it) point elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { publicBaseUrl } from '../src/config.js';
import type { TestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

describe('publicBaseUrl', () => {
  it('is LATCHKEY_PUBLIC_URL without trailing slashes, else the listen address', () => {
    expect(publicBaseUrl({ publicUrl: 'https://keys.example.com//', host: '0.0.0.0', port: 1 })).toBe(
      'https://keys.example.com',
    );
    expect(publicBaseUrl({ publicUrl: undefined, host: '127.0.0.1', port: 8080 })).toBe(
      'http://127.0.0.1:8080',
    );
    expect(publicBaseUrl({ publicUrl: undefined, host: '::1', port: 9000 })).toBe('http://[::1]:9000');
  });
});

const serversFor = async (t: TestApp, headers: Record<string, string>) => {
  const res = await t.app.inject({
    method: 'GET',
    url: '/openapi.json',
    headers,
    remoteAddress: '10.0.0.9',
  });
  expect(res.statusCode).toBe(200);
  return res.json().servers;
};

describeEachEngine('OpenAPI server URL', (engine) => {
  describe('with LATCHKEY_PUBLIC_URL', () => {
    // A trusted proxy too: even its X-Forwarded-Host does not change the configured URL.
    const t = useTestApp(engine, {
      env: { LATCHKEY_PUBLIC_URL: 'https://keys.example.com/', LATCHKEY_TRUST_PROXY: '10.0.0.0/8' },
    });

    it('a request with Host: evil.example gets the configured URL', async () => {
      expect(await serversFor(t, { host: 'evil.example' })).toEqual([{ url: 'https://keys.example.com' }]);
      expect(
        await serversFor(t, {
          host: 'evil.example',
          'x-forwarded-host': 'evil.example',
          'x-forwarded-proto': 'http',
        }),
      ).toEqual([{ url: 'https://keys.example.com' }]);
    });
  });
});

describeEachEngine('OpenAPI server URL without LATCHKEY_PUBLIC_URL', (engine) => {
  describe('the listen address', () => {
    const t = useTestApp(engine, { env: { HOST: '127.0.0.1', PORT: '8123' } });

    it('a request with Host: evil.example gets the listen address', async () => {
      expect(await serversFor(t, { host: 'evil.example' })).toEqual([{ url: 'http://127.0.0.1:8123' }]);
    });
  });
});
