/**
 * SQL Account clients read an error's text from a top-level `message`: the data API's error
 * bodies carry it beside the usual `error` envelope (the same text as `error.message`), for the
 * routes' own refusals and for the auth hook's; the admin API keeps the plain envelope.
 */
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../src/devtools/api-document.js';
import { call, createUserWithLogin, type TestApp } from './helpers/app.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { signHeaders, wrongSecret } from './helpers/sign.js';

const HOST = 'latchkey.test';

type Json = Record<string, unknown>;

/** A data API error: status and code as expected, `message` equal to `error.message`, `error` as ever. */
function expectDataError(res: { status: number; body: Json }, status: number, code: string): void {
  const what = `${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, what).toBe(status);
  const error = res.body.error as Json;
  expect(error.code, what).toBe(code);
  expect(typeof error.message, what).toBe('string');
  expect(typeof error.requestId, what).toBe('string');
  expect(res.body.message, what).toBe(error.message);
  expect(Object.keys(res.body).sort(), what).toEqual(['error', 'message']);
}

async function signed(
  t: TestApp,
  key: { accessKeyId: string; secretAccessKey: string },
  method: 'GET' | 'PUT',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = await signHeaders(key, {
    method,
    path,
    host: HOST,
    date: t.clock.now(),
    ...(payload === undefined ? {} : { body: payload, headers: { 'content-type': 'application/json' } }),
  });
  const res = await t.app.inject({
    method,
    url: path,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: res.statusCode, body: res.json() };
}

describeEachEngine('data API error message', (engine) => {
  describe('top-level message', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    it('a 400 (unknown filter, bad body), 404 and 409 RECORD_CHANGED carry message = error.message', async () => {
      const unknown = await data(t, 'GET', '/agent/?colour=red');
      expectDataError(unknown, 400, 'VALIDATION_FAILED');
      expect(unknown.body.message).toContain('colour');
      expectDataError(await data(t, 'POST', '/agent', { code: 'X1' }), 400, 'VALIDATION_FAILED');
      const malformed = await t.app.inject({
        method: 'POST',
        url: '/agent',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
        payload: '{"code":',
      });
      expectDataError({ status: malformed.statusCode, body: malformed.json() }, 400, 'MALFORMED_JSON');

      const missing = await data(t, 'GET', '/agent/NOBODY');
      expectDataError(missing, 404, 'NOT_FOUND');
      expect(missing.body.message).toContain('NOBODY');
      expectDataError(await data(t, 'GET', '/salesinvoice/999999'), 404, 'NOT_FOUND');
      expectDataError(await data(t, 'DELETE', '/agent/NOBODY'), 404, 'NOT_FOUND');

      const stale = await data(t, 'PUT', '/agent/ALI', { updatecount: 7, description: 'stale' });
      expectDataError(stale, 409, 'RECORD_CHANGED');
      expect(stale.body.message).toBe('Record has been changed by other users.');
    });

    it('refusals of the auth hook on data routes carry it too: bad signature, unknown key, no or bad credentials, no permission', async () => {
      const key = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'message-test' } })
      ).json();
      const ok = await signed(t, key, 'GET', '/agent/?code=ALI');
      expect(ok.status).toBe(200);
      const badSignature = await signed(
        t,
        { ...key, secretAccessKey: wrongSecret(key.secretAccessKey) },
        'GET',
        '/agent/',
      );
      // SignatureDoesNotMatch is a 403, as AWS answers it (src/errors.ts).
      expectDataError(badSignature, 403, 'SignatureDoesNotMatch');
      const badOnPut = await signed(t, { ...key, secretAccessKey: 'wrong' }, 'PUT', '/agent/ALI', {
        updatecount: 2,
      });
      expectDataError(badOnPut, 403, 'SignatureDoesNotMatch');
      const unknownKey = await signed(
        t,
        { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' },
        'GET',
        '/agent/',
      );
      expectDataError(unknownKey, 403, 'InvalidAccessKeyId');

      const anonymous = await t.app.inject({ method: 'GET', url: '/customer/' });
      expectDataError({ status: anonymous.statusCode, body: anonymous.json() }, 401, 'UNAUTHENTICATED');
      const badToken = await data(t, 'GET', '/customer/', undefined, 'not-a-token');
      expectDataError(badToken, 401, 'INVALID_TOKEN');

      const reader = await createUserWithLogin(t, 'no-permissions@example.com');
      expectDataError(await data(t, 'GET', '/customer/', undefined, reader.token), 403, 'AccessDenied');
    });

    it('the admin API and unknown URLs keep the plain envelope', async () => {
      const key = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'iam-test' } })
      ).json();
      const iamErrors = [
        await call(t, 'GET', '/iam/users/no-such-user'),
        await call(t, 'POST', '/iam/users', { body: { colour: 'red' } }),
        await call(t, 'GET', '/iam/users', { token: 'not-a-token' }),
        await t.app.inject({ method: 'GET', url: '/iam/me' }),
      ];
      const badSignature = await signed(t, { ...key, secretAccessKey: 'wrong' }, 'GET', '/iam/me');
      expect(badSignature.status).toBe(403);
      for (const res of iamErrors) {
        expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
        expect(Object.keys(res.json()), res.body).toEqual(['error']);
      }
      expect(Object.keys(badSignature.body)).toEqual(['error']);
      const nowhere = await call(t, 'GET', '/no-such-resource/');
      expect(nowhere.statusCode).toBe(404);
      expect(Object.keys(nowhere.json())).toEqual(['error']);
    });
  });
});

describe('the OpenAPI document', () => {
  it('shows message on the data operations’ error answers, and not on the admin API’s', () => {
    const doc = buildOpenApi({ version: 'test', region: 'ap-southeast-5', service: 'sqlaccount' }) as {
      paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
      components: { schemas: Record<string, Json>; responses: Record<string, Json> };
    };
    const resolve = (response: Json): Json => {
      const ref = response.$ref as string | undefined;
      const answer = ref ? (doc.components.responses[ref.split('/').pop() as string] as Json) : response;
      const schema = (answer.content as Record<string, { schema: Json }>)['application/json']?.schema as Json;
      const schemaRef = schema.$ref as string | undefined;
      return schemaRef ? (doc.components.schemas[schemaRef.split('/').pop() as string] as Json) : schema;
    };
    let dataErrors = 0;
    for (const path of ['/agent/', '/agent/*', '/agent/{code}', '/salesinvoice/{dockey}']) {
      for (const op of Object.values(doc.paths[path] ?? {})) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          const schema = resolve(response);
          expect(schema.required, `${path} ${status}`).toEqual(expect.arrayContaining(['message', 'error']));
          expect((schema.properties as Json).message).toMatchObject({ type: 'string' });
          dataErrors++;
        }
      }
    }
    expect(dataErrors).toBeGreaterThan(10);
    for (const [status, response] of Object.entries(doc.paths['/iam/users']?.get?.responses ?? {})) {
      if (Number(status) < 400) continue;
      expect(Object.keys(resolve(response).properties as Json), status).toEqual(['error']);
    }
  });
});
