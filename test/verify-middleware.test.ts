/**
 * `latchkey/verify` in front of real services: an Express 5 app and a Fastify app, listening on
 * loopback ports, protected by the helper imported by its package name, asking a listening latchkey.
 * Clients sign with @smithy/signature-v4 (the AWS SDK's signer) or send a key token.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import {
  createVerifier,
  type ExpressRequestLike,
  type FastifyRequestLike,
  keepRawBody,
  LatchkeyUnavailableError,
  type VerifiedIdentity,
  type Verifier,
  type VerifierCredentials,
} from 'latchkey/verify';
import { beforeAll, describe, expect, it } from 'vitest';
import * as fromSource from '../src/verify/index.js';
import { call, loginWithKey, type TestApp } from './helpers/app.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

/** GET needs agent:read, anything else agent:write (permissions of latchkey's catalogue). */
const permissionOf = (req: { method?: string }) => (req.method === 'GET' ? 'agent:read' : 'agent:write');

interface Service {
  url: string;
  /** Requests that reached a handler. */
  handled: number;
  close(): Promise<void>;
}

interface ServiceOptions {
  /** Express: parse JSON before the middleware keeping the bytes (default), or let it read the body. */
  bodyParser?: 'keep-raw' | 'none' | 'json-only';
  onError?: (error: unknown) => void;
}

async function startExpress(verifier: Verifier, options: ServiceOptions = {}): Promise<Service> {
  const app = express();
  const service = { handled: 0 } as Service;
  const parser = options.bodyParser ?? 'keep-raw';
  if (parser === 'keep-raw') app.use(express.json({ verify: keepRawBody }));
  if (parser === 'json-only') app.use(express.json());
  app.use(
    verifier.express({
      permission: permissionOf,
      ...(options.onError ? { onError: options.onError } : {}),
    }),
  );
  const answer = (req: express.Request, res: express.Response) => {
    service.handled++;
    const r = req as unknown as ExpressRequestLike;
    res.json({ latchkey: r.latchkey, path: req.originalUrl, body: req.body, raw: r.rawBody?.toString() });
  };
  app.get('/orders/:id', answer);
  app.post('/orders', answer);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  service.close = () => new Promise((resolve) => server.close(() => resolve()));
  return service;
}

async function startFastify(verifier: Verifier, options: ServiceOptions = {}): Promise<Service> {
  const app = Fastify();
  const service = { handled: 0 } as Service;
  await app.register(
    verifier.fastify({
      permission: permissionOf,
      ...(options.onError ? { onError: options.onError } : {}),
    }),
  );
  const answer = async (request: { url: string; body?: unknown }) => {
    service.handled++;
    const r = request as unknown as FastifyRequestLike;
    return { latchkey: r.latchkey, path: request.url, body: request.body, raw: r.rawBody?.toString() };
  };
  app.get('/orders/:id', answer);
  app.post(
    '/orders',
    {
      schema: {
        body: {
          type: 'object',
          required: ['item'],
          properties: { item: { type: 'string' }, qty: { type: 'integer' } },
          additionalProperties: false,
        },
      },
    },
    answer,
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  service.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  service.close = () => app.close();
  return service;
}

const FRAMEWORKS = { express: startExpress, fastify: startFastify };

interface SendOptions {
  /** The body signed (and sent, unless `sentBody`). */
  body?: string;
  sentBody?: string;
  headers?: Record<string, string>;
}

/** A real HTTP request to a service, signed with @smithy/signature-v4 when `c` is given. */
async function send(
  service: Service,
  c: Credentials | undefined,
  method: 'GET' | 'POST',
  path: string,
  options: SendOptions = {},
) {
  let headers: Record<string, string> = {
    ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  if (c) {
    headers = await signHeaders(c, {
      method,
      path,
      host: new URL(service.url).host,
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    // fetch sends the same Host itself.
    delete headers.host;
  }
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers,
    ...((options.sentBody ?? options.body) !== undefined ? { body: options.sentBody ?? options.body } : {}),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
}

async function keyOf(t: TestApp, path: string): Promise<Credentials> {
  const res = await call(t, 'POST', path, { body: { name: `k${Math.random()}` } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** A service account holding a new role with exactly `permissions`, and a key of it. */
async function serviceAccountWith(t: TestApp, name: string, permissions: string[]) {
  const role = await call(t, 'POST', '/iam/roles', { body: { name: `${name}-role`, permissions } });
  expect(role.statusCode, role.body).toBe(201);
  const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name } })).json();
  const assigned = await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, {
    body: { roleIds: [role.json().id] },
  });
  expect(assigned.statusCode, assigned.body).toBe(200);
  return { id: sa.id as string, key: await keyOf(t, `/iam/service-accounts/${sa.id}/keys`) };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('latchkey/verify', () => {
  it('resolves, in tests, to the TypeScript source (the latchkey-source export condition)', () => {
    expect(createVerifier).toBe(fromSource.createVerifier);
  });
});

describeEachEngine('latchkey/verify in front of a service', (engine) => {
  for (const [framework, start] of Object.entries(FRAMEWORKS)) {
    describe(framework, () => {
      // One latchkey per framework: failed signatures count against the verifying service's
      // address, so each suite starts with a clean throttle.
      const t = useTestApp(engine);
      let endpoint: string;
      let admin: Credentials;
      let adminName: string;
      let reader: { id: string; key: Credentials };
      /** The verifier's own key: a service account whose only role holds iam:verify. */
      let verifierKey: Credentials;
      let service: Service;

      const serviceWith = async (credentials: VerifierCredentials, options?: ServiceOptions) =>
        start(createVerifier({ endpoint, credentials }), options);

      beforeAll(async () => {
        await t.app.listen({ port: 0, host: '127.0.0.1' });
        endpoint = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
        admin = await keyOf(t, `/iam/users/${t.adminId}/keys`);
        adminName = (await call(t, 'GET', '/iam/me')).json().name;
        reader = await serviceAccountWith(t, 'reader', ['agent:read']);
        verifierKey = (await serviceAccountWith(t, 'verifier', ['iam:verify'])).key;
        service = await serviceWith(verifierKey);
        return () => service.close();
      });

      it('lets a signed GET through with the principal on the request', async () => {
        const res = await send(service, admin, 'GET', '/orders/42?expand=lines');
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const identity: VerifiedIdentity = res.body.latchkey;
        expect(identity).toEqual({
          tenantId: t.tenantId,
          principal: { type: 'user', id: t.adminId, name: adminName },
          accessKeyId: admin.accessKeyId,
          keyType: 'access',
          permissions: expect.arrayContaining(['agent:read', 'agent:write']),
        });
        expect(res.body.path).toBe('/orders/42?expand=lines');
      });

      it('lets a signed POST through: the handler gets the body parsed and intact', async () => {
        const body = JSON.stringify({ item: 'Ünïcode widget', qty: 2 });
        const res = await send(service, admin, 'POST', '/orders', { body });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.body).toEqual({ item: 'Ünïcode widget', qty: 2 });
        expect(res.body.raw).toBe(body);
        expect(res.body.latchkey.accessKeyId).toBe(admin.accessKeyId);
      });

      it('lets a key token through (Authorization: Bearer)', async () => {
        const login = await loginWithKey(t, reader.key.accessKeyId, reader.key.secretAccessKey);
        expect(login.statusCode, login.body).toBe(200);
        const res = await send(service, undefined, 'GET', '/orders/1', {
          headers: { authorization: `Bearer ${login.json().token}` },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.latchkey).toMatchObject({
          principal: { type: 'service_account', id: reader.id, name: 'reader' },
          accessKeyId: reader.key.accessKeyId,
          permissions: ['agent:read'],
        });
      });

      it('refuses a permission not held: 403 AccessDenied naming it', async () => {
        const before = service.handled;
        expect((await send(service, reader.key, 'GET', '/orders/1')).status).toBe(200);
        const res = await send(service, reader.key, 'POST', '/orders', { body: '{"item":"A"}' });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({
          error: {
            code: 'AccessDenied',
            message: 'This needs the permission agent:write.',
            missingPermission: 'agent:write',
          },
        });
        expect(service.handled).toBe(before + 1);
      });

      it('refuses no credentials (401), a console session (401) and a wrong signature (403)', async () => {
        const before = service.handled;
        const none = await send(service, undefined, 'GET', '/orders/1');
        expect(none.status).toBe(401);
        expect(none.body.error.code).toBe('UNAUTHENTICATED');
        const session = await send(service, undefined, 'GET', '/orders/1', {
          headers: { authorization: `Bearer ${t.adminToken}` },
        });
        expect(session.status).toBe(401);
        expect(session.body.error.code).toBe('INVALID_TOKEN');
        const wrong = await send(
          service,
          { ...admin, secretAccessKey: `${admin.secretAccessKey}x` },
          'GET',
          '/orders/1',
        );
        expect(wrong.status).toBe(403);
        expect(wrong.body.error.code).toBe('SignatureDoesNotMatch');
        expect(service.handled).toBe(before);
      });

      it('refuses a body that is not the one signed (400 XAmzContentSHA256Mismatch)', async () => {
        const before = service.handled;
        const res = await send(service, admin, 'POST', '/orders', {
          body: '{"item":"A","qty":2}',
          sentBody: '{"item":"A","qty":9}',
        });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('XAmzContentSHA256Mismatch');
        expect(service.handled).toBe(before);
      });

      it('answers 503 VERIFIER_UNAVAILABLE when latchkey cannot be reached, letting nothing through', async () => {
        const errors: unknown[] = [];
        const down = await start(
          createVerifier({ endpoint: `http://127.0.0.1:${await closedPort()}`, credentials: verifierKey }),
          { onError: (error) => errors.push(error) },
        );
        try {
          const res = await send(down, admin, 'GET', '/orders/1');
          expect(res.status).toBe(503);
          expect(res.body.error.code).toBe('VERIFIER_UNAVAILABLE');
          expect(down.handled).toBe(0);
          expect(errors).toHaveLength(1);
          expect(errors[0]).toBeInstanceOf(LatchkeyUnavailableError);
        } finally {
          await down.close();
        }
      });

      it("works with the administrator's key and with a key token as the verifier's credentials", async () => {
        const login = await loginWithKey(t, verifierKey.accessKeyId, verifierKey.secretAccessKey);
        expect(login.statusCode, login.body).toBe(200);
        for (const credentials of [admin, { token: () => login.json().token as string }]) {
          const other = await serviceWith(credentials);
          try {
            const res = await send(other, reader.key, 'GET', '/orders/1');
            expect(res.status, JSON.stringify(res.body)).toBe(200);
            expect(res.body.latchkey.accessKeyId).toBe(reader.key.accessKeyId);
          } finally {
            await other.close();
          }
        }
      });

      it('answers 500 VERIFIER_MISCONFIGURED when its own key lacks iam:verify', async () => {
        const errors: unknown[] = [];
        const misconfigured = await serviceWith(reader.key, { onError: (error) => errors.push(error) });
        try {
          const res = await send(misconfigured, admin, 'GET', '/orders/1');
          expect(res.status).toBe(500);
          expect(res.body.error.code).toBe('VERIFIER_MISCONFIGURED');
          expect(misconfigured.handled).toBe(0);
          expect(errors[0]).toMatchObject({
            name: 'LatchkeyRequestError',
            status: 403,
            code: 'AccessDenied',
          });
        } finally {
          await misconfigured.close();
        }
      });

      if (framework === 'express') {
        it('reads the body itself when no parser kept it, and refuses a body parsed without keepRawBody', async () => {
          const body = '{"item":"raw"}';
          const reading = await serviceWith(verifierKey, { bodyParser: 'none' });
          const parsedAway = await serviceWith(verifierKey, { bodyParser: 'json-only' });
          try {
            const res = await send(reading, admin, 'POST', '/orders', { body });
            expect(res.status, JSON.stringify(res.body)).toBe(200);
            expect(res.body.raw).toBe(body);
            const refused = await send(parsedAway, admin, 'POST', '/orders', { body });
            expect(refused.status).toBe(500);
            expect(refused.body.error.code).toBe('RAW_BODY_UNAVAILABLE');
            expect(parsedAway.handled).toBe(0);
          } finally {
            await reading.close();
            await parsedAway.close();
          }
        });
      } else {
        it('checks credentials before the body is parsed or validated', async () => {
          const before = service.handled;
          const invalid = await send(service, undefined, 'POST', '/orders', { body: '{"colour":"red"}' });
          expect(invalid.status).toBe(401);
          const malformed = await send(service, undefined, 'POST', '/orders', { body: '{not json' });
          expect(malformed.status).toBe(401);
          // Authenticated, the route's own validation answers.
          const validated = await send(service, admin, 'POST', '/orders', { body: '{"colour":"red"}' });
          expect(validated.status).toBe(400);
          expect(service.handled).toBe(before);
        });
      }
    });
  }
});
