import type { AddressInfo } from 'node:net';
/** Helpers for the data API tests: a test app with the demo data, and typed JSON calls. */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LightMyRequestResponse } from 'fastify';
import { operatorActor } from '../../src/context.js';
import { addMember } from '../../src/identity/groups.js';
import { administratorsGroupId, createTenant } from '../../src/identity/tenants.js';
import { createUser } from '../../src/identity/users.js';
import { call, createUserWithLogin, login, startTestApp, type TestApp } from './app.js';
import type { EngineName } from './engines.js';

export async function startDataApp(engine: EngineName, demo = true): Promise<TestApp> {
  return startTestApp(engine, { env: demo ? { LATCHKEY_DEMO_DATA: '1' } : {} });
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface DataResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
  raw: LightMyRequestResponse;
}

export async function data(
  t: TestApp,
  method: Method,
  url: string,
  body?: unknown,
  token?: string,
): Promise<DataResponse> {
  const res = await call(t, method, url, { body, ...(token === undefined ? {} : { token }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json(), raw: res };
}

/** A user holding the built-in role `roleName`, with a session token. */
export async function userWithRole(
  t: TestApp,
  email: string,
  roleName: string,
): Promise<{ id: string; token: string }> {
  const user = await createUserWithLogin(t, email);
  const roles = (await call(t, 'GET', '/iam/roles')).json().items as Array<{ id: string; name: string }>;
  const role = roles.find((r) => r.name === roleName);
  if (!role) throw new Error(`no role ${roleName}`);
  const res = await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [role.id] } });
  if (res.statusCode !== 200) throw new Error(`assign failed: ${res.body}`);
  return user;
}

/** A second tenant with an administrator, signed in: for tenant-separation tests. */
export async function secondTenantAdmin(
  t: TestApp,
  email: string,
): Promise<{ tenantId: string; token: string }> {
  const { svc } = t.runtime;
  const password = 'another-long-password';
  const tenant = await svc.db.transaction().execute((trx) => createTenant(svc, trx, 'Other Co'));
  const actor = operatorActor(tenant.id, 'test');
  const user = await createUser(svc, actor, { email, name: 'Other admin', password });
  await addMember(svc, actor, await administratorsGroupId(svc.db, tenant.id), { type: 'user', id: user.id });
  return { tenantId: tenant.id, token: await login(t, email, password) };
}

export interface SignedCall {
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  service?: string;
  body?: unknown;
}

/** A real HTTP request to a listening server, signed with the AWS SDK's SigV4 signer. */
export async function signedFetch(
  baseUrl: string,
  method: Method,
  pathAndQuery: string,
  options: SignedCall,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(`${baseUrl}${pathAndQuery}`);
  const signer = new SignatureV4({
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    region: options.region ?? 'ap-southeast-5',
    service: options.service ?? 'sqlaccount',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const headers: Record<string, string> = { host: url.host };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: decodeURIComponent(url.pathname),
    query,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const sent = { ...(signed.headers as Record<string, string>) };
  delete sent.host;
  const res = await fetch(`${baseUrl}${pathAndQuery}`, { method, headers: sent, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** A data app listening on a loopback port, with an administrator's key for signed requests. */
export async function listeningDataApp(
  engine: EngineName,
  keyName: string,
): Promise<{ t: TestApp; baseUrl: string; key: { accessKeyId: string; secretAccessKey: string } }> {
  const t = await startDataApp(engine);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const key = (await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: keyName } })).json();
  return { t, baseUrl, key };
}
