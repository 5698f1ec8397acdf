/**
 * LATCHKEY_TRUST_PROXY (issue 12, finding 6): X-Forwarded-For is believed only from the proxies the
 * operator names (or the configured number of hops), so a stranger cannot choose the address its
 * requests are throttled and audited under. `app.inject`'s `remoteAddress` plays the peer.
 */
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, fastifyTrustProxy, loadConfig, parseTrustProxy } from '../src/config.js';
import { call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { signHeaders } from './helpers/sign.js';

const HOST = 'latchkey.test';
const PROXY = '10.1.2.3';
const STRANGER = '203.0.113.7';
const CLIENT = '198.51.100.20';

describe('LATCHKEY_TRUST_PROXY parsing', () => {
  it.each([undefined, '', ' ', '0', 'false', 'FALSE', 'no', 'off'])('%j means no proxy', (raw) => {
    expect(parseTrustProxy(raw)).toEqual({ kind: 'none' });
  });

  it('a bare integer is a hop count (1: the one proxy directly in front of latchkey)', () => {
    expect(parseTrustProxy('1')).toEqual({ kind: 'hops', count: 1 });
    expect(parseTrustProxy('3')).toEqual({ kind: 'hops', count: 3 });
    expect(parseTrustProxy('00')).toEqual({ kind: 'none' });
  });

  it('takes addresses, CIDRs and proxy-addr range names, comma-separated', () => {
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1,fd00::/8 ,::1, Loopback,linklocal,uniquelocal,')).toEqual({
      kind: 'addresses',
      addresses: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1', 'loopback', 'linklocal', 'uniquelocal'],
    });
  });

  it.each(['true', 'TRUE', 'yes', 'on'])('refuses %j: trusting every sender is the vulnerability', (raw) => {
    const error = (() => {
      try {
        parseTrustProxy(raw);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('LATCHKEY_TRUST_PROXY');
    expect((error as Error).message).toMatch(/list the proxy addresses/);
    expect((error as Error).message).toMatch(/number of proxies/);
  });

  it.each([
    ['10.0.0.0/33', /prefix length beyond 32/],
    ['fd00::/129', /prefix length beyond 128/],
    ['10.0.0/8', /not an IP address/],
    ['proxy.internal', /not an IP address/],
    ['10.0.0.0/255.0.0.0', /prefix length that is not a number/],
    ['10.0.0.0/', /prefix length that is not a number/],
    ['fe80::1%eth0', /not an IP address/],
    [',', /lists no address/],
    ['33', /between 0 and 32/],
    ['-1', /not an IP address/],
  ])('refuses %j at start-up with a ConfigError', (raw, message) => {
    expect(() => parseTrustProxy(raw)).toThrow(ConfigError);
    expect(() => parseTrustProxy(raw)).toThrow(message);
    expect(() => loadConfig({ LATCHKEY_TRUST_PROXY: raw })).toThrow(/^LATCHKEY_TRUST_PROXY: /);
  });

  it('loadConfig carries the parsed setting', () => {
    expect(loadConfig({}).trustProxy).toEqual({ kind: 'none' });
    expect(loadConfig({ LATCHKEY_TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toEqual({
      kind: 'addresses',
      addresses: ['10.0.0.0/8'],
    });
  });

  it('Fastify resolves request.ip with it: addresses by address, hops by count, none ignores the header', async () => {
    const ipFor = async (raw: string, remoteAddress: string, xff: string) => {
      const app = Fastify({ trustProxy: fastifyTrustProxy(parseTrustProxy(raw)) });
      app.get('/', async (request) => ({ ip: request.ip }));
      const res = await app.inject({ url: '/', remoteAddress, headers: { 'x-forwarded-for': xff } });
      await app.close();
      return res.json().ip;
    };
    const chain = `192.0.2.1, ${CLIENT}`;
    expect(await ipFor('', PROXY, chain)).toBe(PROXY);
    expect(await ipFor('10.0.0.0/8', STRANGER, chain)).toBe(STRANGER);
    expect(await ipFor('10.0.0.0/8', PROXY, chain)).toBe(CLIENT);
    // Both hops trusted by address: the header is read from the right past every trusted one.
    expect(await ipFor('10.0.0.0/8,198.51.100.0/24', PROXY, chain)).toBe('192.0.2.1');
    expect(await ipFor('1', STRANGER, chain)).toBe(CLIENT);
    expect(await ipFor('2', STRANGER, chain)).toBe('192.0.2.1');
    expect(await ipFor('::ffff:10.0.0.0/104', `::ffff:${PROXY}`, chain)).toBe(CLIENT);
    expect(await ipFor('loopback', '127.0.0.1', chain)).toBe(CLIENT);
  });
});

describeEachEngine('source addresses behind a proxy', (engine) => {
  describe('LATCHKEY_TRUST_PROXY=10.0.0.0/8', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_TRUST_PROXY: '10.0.0.0/8' } });
    let creds: { accessKeyId: string; secretAccessKey: string };
    const from = (remoteAddress: string, xff?: string) => ({
      remoteAddress,
      headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    });

    beforeAll(async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'proxy-test' } })).json();
      const key = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
      creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    });

    const createAudited = async (name: string, peer: { remoteAddress: string; headers: object }) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/iam/service-accounts',
        remoteAddress: peer.remoteAddress,
        headers: { authorization: `Bearer ${t.adminToken}`, ...peer.headers },
        payload: { name },
      });
      expect(res.statusCode).toBe(201);
      const id = res.json().id as string;
      const audit = await call(t, 'GET', `/iam/audit?targetId=${id}`);
      expect(audit.statusCode).toBe(200);
      return audit.json().items.map((row: { sourceIp: string }) => row.sourceIp);
    };

    it('audit rows: a stranger is recorded under its own address, a client behind the proxy under its own', async () => {
      expect(await createAudited('forged', from(STRANGER, '192.0.2.99'))).toEqual([STRANGER]);
      expect(await createAudited('proxied', from(PROXY, CLIENT))).toEqual([CLIENT]);
      // The proxy appends the peer it saw: whatever the client put in front is not believed.
      expect(await createAudited('proxied-forged', from(PROXY, `192.0.2.99, ${CLIENT}`))).toEqual([CLIENT]);
    });

    it("a key's last-used address: the stranger's own address, or the client's behind the proxy", async () => {
      const lastUsedIpAfter = async (peer: { remoteAddress: string; headers: object }) => {
        const headers = await signHeaders(creds, {
          method: 'GET',
          path: '/profile',
          host: HOST,
          date: t.clock.now(),
        });
        const res = await t.app.inject({
          method: 'GET',
          url: '/profile',
          remoteAddress: peer.remoteAddress,
          headers: { ...headers, ...peer.headers },
        });
        expect(res.statusCode).toBe(200);
        await t.runtime.lastUsed.flush();
        // A later use replaces the address (the recorder never moves a time backwards).
        t.clock.advance(1000);
        return (await call(t, 'GET', `/iam/keys/${creds.accessKeyId}`)).json().lastUsedIp;
      };
      expect(await lastUsedIpAfter(from(STRANGER, '192.0.2.98'))).toBe(STRANGER);
      expect(await lastUsedIpAfter(from(PROXY, CLIENT))).toBe(CLIENT);
    });

    it('rotating X-Forwarded-For from an untrusted address does not escape the sign-in throttle', async () => {
      const failedSignIn = (i: number, peer: { remoteAddress: string; headers: object }) =>
        t.app.inject({
          method: 'POST',
          url: '/iam/login',
          remoteAddress: peer.remoteAddress,
          headers: peer.headers as Record<string, string>,
          // A different email each time: only the per-address limit can catch this.
          payload: { auth_mode: 'password', email: `nobody-${i}@example.com`, password: 'wrong-password-1' },
        });
      const codes: number[] = [];
      for (let i = 0; i < 10; i++) {
        codes.push((await failedSignIn(i, from(STRANGER, `192.0.2.${i + 1}`))).statusCode);
      }
      expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(codes.at(-1)).toBe(429);
      // Clients behind the trusted proxy are told apart by the header: another client is not slowed.
      const proxied = await failedSignIn(100, from(PROXY, CLIENT));
      expect(proxied.statusCode).toBe(401);
    });
  });
});

describeEachEngine('a hop count', (engine) => {
  describe('LATCHKEY_TRUST_PROXY=1', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_TRUST_PROXY: '1' } });

    it('believes only the last X-Forwarded-For entry (the one the proxy in front added)', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/iam/service-accounts',
        remoteAddress: PROXY,
        headers: { authorization: `Bearer ${t.adminToken}`, 'x-forwarded-for': `192.0.2.99, ${CLIENT}` },
        payload: { name: 'one-hop' },
      });
      expect(res.statusCode).toBe(201);
      const audit = (await call(t, 'GET', `/iam/audit?targetId=${res.json().id}`)).json();
      expect(audit.items.map((row: { sourceIp: string }) => row.sourceIp)).toEqual([CLIENT]);
    });
  });
});
