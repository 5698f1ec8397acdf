/**
 * Key facts only after the signature verifies (issue 12, finding 10): a request signed without the
 * key's secret learns nothing about the key (its tenant's accepted scopes, its expiry, its payload
 * policy, its state) from the answer. Unknown key IDs keep InvalidAccessKeyId, as on AWS.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  parseSigV4,
  type SecretCandidate,
  SigningKeyCache,
  type SigV4Request,
  UNSIGNED_PAYLOAD,
  verifySigV4,
} from '../src/auth/sigv4/index.js';
import { generateAccessKeyId } from '../src/crypto/access-key-id.js';
import { call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign, signHeaders } from './helpers/sign.js';
import { REF_DEFAULTS, refSign } from './sigv4/helpers/reference-signer.js';

const HOST = 'latchkey.test';

describe('verifySigV4 checks the key facts after the signature', () => {
  const T0 = Date.parse('2015-08-30T12:36:00Z');
  const RIGHT: SecretCandidate = { secret: REF_DEFAULTS.secret, version: 1 };
  const WRONG: SecretCandidate = { secret: `${REF_DEFAULTS.secret}x`, version: 1 };
  const verify = (req: SigV4Request, secret: SecretCandidate, notAfterSeconds?: number) => {
    const p = parseSigV4(req, { now: new Date(T0), allowedScopes: 'any' });
    if (!p.ok) throw new Error(p.failure.message);
    const v = verifySigV4(req, p.parsed, [secret], {
      allowUnsignedPayload: false,
      notAfter: notAfterSeconds === undefined ? undefined : new Date(T0 + notAfterSeconds * 1000),
      signingKeyCache: new SigningKeyCache(),
    });
    return v.ok ? 'ok' : `${v.failure.code}: ${v.failure.message}`;
  };

  it('a presigned URL outliving the key: SignatureDoesNotMatch without the secret, AccessDenied with it', () => {
    const req = refSign({ presign: { expires: 3600 } }).request;
    expect(verify(req, WRONG, 60)).toMatch(/^SignatureDoesNotMatch/);
    expect(verify(req, RIGHT, 60)).toMatch(
      /^AccessDenied: The presigned URL would remain valid after the access key expires/,
    );
    expect(verify(req, RIGHT, 3600)).toBe('ok');
  });

  it('UNSIGNED-PAYLOAD where it is not allowed: SignatureDoesNotMatch without the secret, InvalidRequest with it', () => {
    const req = refSign({
      method: 'PUT',
      body: 'x',
      contentShaHeader: true,
      payloadHash: UNSIGNED_PAYLOAD,
    }).request;
    expect(verify(req, WRONG)).toMatch(/^SignatureDoesNotMatch/);
    expect(verify(req, RIGHT)).toMatch(/^InvalidRequest: UNSIGNED-PAYLOAD is not allowed/);
  });
});

describeEachEngine('signed requests tell key facts only to the key holder', (engine) => {
  describe('key facts', () => {
    const t = useTestApp(engine);
    let saId: string;
    let address = 0;
    // Each request from its own address; each test its own key (the key's failures are throttled too).
    const newKey = async (body: object = {}): Promise<Credentials> => {
      const key = (await call(t, 'POST', `/iam/service-accounts/${saId}/keys`, { body })).json();
      return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    };
    const wrong = (c: Credentials): Credentials => ({
      ...c,
      secretAccessKey: `${c.secretAccessKey.slice(0, -4)}abcd`,
    });
    const signedGet = async (
      c: Credentials,
      extra: { region?: string; service?: string; headers?: Record<string, string> } = {},
    ) => {
      const headers = await signHeaders(c, {
        method: 'GET',
        path: '/profile',
        host: HOST,
        date: t.clock.now(),
        ...extra,
      });
      return t.app.inject({ method: 'GET', url: '/profile', headers, remoteAddress: `10.6.0.${++address}` });
    };
    const answer = (res: { statusCode: number; json(): { error: { code: string; message: string } } }) => ({
      status: res.statusCode,
      code: res.json().error.code,
      message: res.json().error.message,
    });

    beforeAll(async () => {
      saId = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'facts' } })).json().id;
    });

    it('with a wrong secret, a request in a wrong scope is answered exactly as one in the right scope', async () => {
      const c = await newKey();
      const rightScope = answer(await signedGet(wrong(c)));
      const wrongScope = answer(await signedGet(wrong(c), { region: 'us-east-1', service: 's3' }));
      expect(rightScope).toEqual({
        status: 403,
        code: 'SignatureDoesNotMatch',
        message: expect.stringMatching(/does not match the signature you provided/),
      });
      expect(wrongScope).toEqual(rightScope);
      // …and nothing names the accepted scopes.
      expect(JSON.stringify(wrongScope)).not.toContain('ap-southeast');
    });

    it('with the right secret, a wrong scope is AuthorizationHeaderMalformed naming the accepted scopes', async () => {
      const c = await newKey();
      const res = await signedGet(c, { region: 'us-east-1', service: 's3' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('AuthorizationHeaderMalformed');
      expect(res.json().error.message).toContain('us-east-1/s3 is not accepted');
      expect(res.json().error.message).toContain('ap-southeast-5/sqlaccount');
      expect(res.json().error.message).toContain('ap-southeast-1/execute-api');
      // The scopes it accepts still work.
      expect((await signedGet(c)).statusCode).toBe(200);
      expect((await signedGet(c, { region: 'ap-southeast-1', service: 'execute-api' })).statusCode).toBe(200);
    });

    it("an unknown key ID is still InvalidAccessKeyId (a key's existence is not a secret)", async () => {
      const c = { accessKeyId: generateAccessKeyId(), secretAccessKey: 'lksk_whatever' };
      for (const extra of [{}, { region: 'us-east-1', service: 's3' }]) {
        const res = await signedGet(c, extra);
        expect(res.statusCode).toBe(403);
        expect(res.json().error.code).toBe('InvalidAccessKeyId');
      }
    });

    it('a presigned URL outliving the key: wrong secret → SignatureDoesNotMatch, right secret → AccessDenied', async () => {
      const c = await newKey({ validityDays: 1 });
      const url = async (creds: Credentials) =>
        presign(creds, {
          method: 'GET',
          path: '/profile',
          host: HOST,
          date: t.clock.now(),
          expiresIn: 2 * 86_400,
        });
      const get = async (u: string) =>
        t.app.inject({
          method: 'GET',
          url: u,
          headers: { host: HOST },
          remoteAddress: `10.6.1.${++address}`,
        });
      const guessed = await get(await url(wrong(c)));
      expect(guessed.statusCode).toBe(403);
      expect(guessed.json().error.code).toBe('SignatureDoesNotMatch');
      expect(guessed.json().error.message).toMatch(/does not match the signature you provided/);
      const held = await get(await url(c));
      expect(held.statusCode).toBe(403);
      expect(held.json().error).toMatchObject({
        code: 'AccessDenied',
        message: 'The presigned URL would remain valid after the access key expires.',
      });
      // Within the key's life the same key's presigned URL works.
      const short = await presign(c, {
        method: 'GET',
        path: '/profile',
        host: HOST,
        date: t.clock.now(),
        expiresIn: 3600,
      });
      expect((await get(short)).statusCode).toBe(200);
    });

    it('UNSIGNED-PAYLOAD (not allowed in this tenant): wrong secret → SignatureDoesNotMatch, right secret → InvalidRequest', async () => {
      const c = await newKey();
      const unsigned = { headers: { 'x-amz-content-sha256': UNSIGNED_PAYLOAD } };
      const guessed = await signedGet(wrong(c), unsigned);
      expect(guessed.statusCode).toBe(403);
      expect(guessed.json().error.code).toBe('SignatureDoesNotMatch');
      const held = await signedGet(c, unsigned);
      expect(held.statusCode).toBe(400);
      expect(held.json().error.code).toBe('InvalidRequest');
    });

    it('an inactive key: wrong secret → SignatureDoesNotMatch, right secret → AccessKeyInactive', async () => {
      const c = await newKey();
      await call(t, 'PATCH', `/iam/keys/${c.accessKeyId}`, { body: { active: false } });
      for (const extra of [{}, { region: 'us-east-1', service: 's3' }]) {
        expect(answer(await signedGet(wrong(c), extra)).code).toBe('SignatureDoesNotMatch');
      }
      expect(answer(await signedGet(c)).code).toBe('AccessKeyInactive');
    });
  });
});
