/**
 * Presigned URLs on the data API (issue 12, finding 10): a URL presigned by the AWS SDK's signer
 * works on every data route. The X-Amz-* authentication parameters are not filters; real filters
 * beside them still apply, and a parameter the verifier does not read as authentication is still
 * refused as an unknown filter.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSigV4QueryAuthParam, withoutSigV4QueryAuth } from '../src/auth/sigv4/query-auth-params.js';
import { call } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, presign } from './helpers/sign.js';

const HOST = 'latchkey.test';

describe('presign authentication parameters', () => {
  it('are exactly the names the verifier reads as authentication', () => {
    for (const name of [
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-SignedHeaders',
      'X-Amz-Signature',
      'X-Amz-Security-Token',
      'x-amz-security-token',
      'X-Amz-Content-Sha256',
      'x-amz-content-sha256',
    ]) {
      expect(isSigV4QueryAuthParam(name), name).toBe(true);
    }
    // The verifier matches these six case-sensitively: other spellings are ordinary (signed) parameters.
    for (const name of ['x-amz-signature', 'X-AMZ-ALGORITHM', 'X-Amz-Meta-Trace', 'code', 'x-amz-date']) {
      expect(isSigV4QueryAuthParam(name), name).toBe(false);
    }
    const query = { code: 'ALI' };
    expect(withoutSigV4QueryAuth(query)).toBe(query);
    expect(withoutSigV4QueryAuth({ code: 'ALI', 'X-Amz-Signature': 'ab', 'X-Amz-Date': 'x' })).toEqual({
      code: 'ALI',
    });
  });
});

/** A presigned URL for a request with a body: the AWS SDK signer signs the body's SHA-256. */
async function presignWithBody(
  creds: Credentials,
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  date: Date,
  body?: string,
): Promise<string> {
  const signer = new SignatureV4({
    credentials: creds,
    region: 'ap-southeast-5',
    service: 'sqlaccount',
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.presign(
    { method, protocol: 'http:', hostname: HOST, path, query: {}, headers: { host: HOST }, body },
    { signingDate: date, expiresIn: 300 },
  );
  const qs = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return `${signed.path}?${qs}`;
}

describeEachEngine('presigned URLs on the data API', (engine) => {
  describe('data routes', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });
    let creds: Credentials;
    let docno: string;
    let dockey: number;
    let address = 0;
    const get = async (path: string) => {
      const url = await presign(creds, { method: 'GET', path, host: HOST, date: t.clock.now() });
      expect(url).toContain('X-Amz-Signature=');
      return t.app.inject({
        method: 'GET',
        url,
        headers: { host: HOST },
        remoteAddress: `10.4.0.${++address}`,
      });
    };

    beforeAll(async () => {
      const key = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'presigner' } })
      ).json();
      creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      const invoice = (await call(t, 'GET', '/salesinvoice/?limit=1')).json().data[0];
      docno = invoice.docno;
      dockey = invoice.dockey;
    });

    it('GET /agent/ and /agent list the records', async () => {
      for (const path of ['/agent/', '/agent']) {
        const res = await get(path);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().data.map((a: { code: string }) => a.code)).toContain('ALI');
      }
    });

    it('a filter beside the presign parameters still filters', async () => {
      const res = await get('/agent/?code=ALI');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ pagination: { count: 1 }, data: [{ code: 'ALI' }] });
      const none = await get('/agent/?code=NOBODY&limit=5');
      expect(none.statusCode, none.body).toBe(200);
      expect(none.json()).toMatchObject({ pagination: { count: 0, limit: 5 }, data: [] });
    });

    it('an unknown filter is still refused, including a lowercase look-alike of a presign parameter', async () => {
      const unknown = await get('/agent/?colour=red');
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error.message).toMatch(/colour is not a filter/);
      const lookAlike = await get('/agent/?x-amz-algorithm=abc');
      expect(lookAlike.statusCode).toBe(400);
      expect(lookAlike.json().error.message).toMatch(/x-amz-algorithm is not a filter/);
    });

    it('GET /salesinvoice/*?docno=… and /salesinvoice/{dockey} return the document with its detail', async () => {
      const star = await get(`/salesinvoice/*?docno=${encodeURIComponent(docno)}`);
      expect(star.statusCode, star.body).toBe(200);
      expect(star.json().data).toHaveLength(1);
      expect(star.json().data[0]).toMatchObject({ docno, dockey });
      expect(Array.isArray(star.json().data[0].sdsdocdetail)).toBe(true);
      const byKey = await get(`/salesinvoice/${dockey}`);
      expect(byKey.statusCode, byKey.body).toBe(200);
      expect(byKey.json().data[0]).toMatchObject({ docno, dockey });
      const agent = await get('/agent/ALI');
      expect(agent.statusCode, agent.body).toBe(200);
      expect(agent.json().data[0].code).toBe('ALI');
    });

    it('POST, PUT and DELETE presigned with the body signed (or an empty body)', async () => {
      const send = async (method: 'POST' | 'PUT' | 'DELETE', path: string, body?: object) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const url = await presignWithBody(creds, method, path, t.clock.now(), payload);
        return t.app.inject({
          method,
          url,
          headers: { host: HOST, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(payload === undefined ? {} : { payload }),
          remoteAddress: `10.4.1.${++address}`,
        });
      };
      const created = await send('POST', '/agent', {
        code: 'PRESIGN',
        description: 'Made by a presigned URL',
      });
      expect(created.statusCode, created.body).toBe(201);
      const stored = (await call(t, 'GET', '/agent/PRESIGN')).json().data[0];
      const updated = await send('PUT', '/agent/PRESIGN', {
        description: 'Changed by a presigned URL',
        updatecount: stored.updatecount + 1,
      });
      expect(updated.statusCode, updated.body).toBe(200);
      expect((await call(t, 'GET', '/agent/PRESIGN')).json().data[0].description).toBe(
        'Changed by a presigned URL',
      );
      const deleted = await send('DELETE', '/agent/PRESIGN');
      expect(deleted.statusCode, deleted.body).toBe(204);
      expect((await call(t, 'GET', '/agent/PRESIGN')).statusCode).toBe(404);
    });

    it('the presign parameters still authenticate: a tampered filter is a signature mismatch', async () => {
      const url = await presign(creds, {
        method: 'GET',
        path: '/agent/?code=ALI',
        host: HOST,
        date: t.clock.now(),
      });
      const res = await t.app.inject({
        method: 'GET',
        url: url.replace('code=ALI', 'code=BEN'),
        headers: { host: HOST },
        remoteAddress: '10.4.2.1',
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('SignatureDoesNotMatch');
    });
  });
});
