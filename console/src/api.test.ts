// @vitest-environment happy-dom
/**
 * The typed client sends each operation of the contract as its route says: path parameters
 * encoded, empty query values left out, a JSON body only for operations that take one, and the
 * session token unless the call is anonymous.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { client, session } from './api';

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

let sent: Sent[] = [];
let status = 200;

beforeEach(() => {
  sent = [];
  status = 200;
  session.clear();
  session.set('tok');
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      sent.push({
        method: init.method ?? 'GET',
        url,
        headers: (init.headers ?? {}) as Record<string, string>,
        body: init.body,
      });
      return status === 204
        ? new Response(null, { status })
        : new Response('{"ok":true}', { status, headers: { 'content-type': 'application/json' } });
    }),
  );
});

afterEach(() => {
  session.clear();
  vi.unstubAllGlobals();
});

describe('the typed client', () => {
  it('puts path parameters in the URL, encoded', async () => {
    await client.getKey({ params: { accessKeyId: 'LKIA/1 2' } });
    await client.removeGroupMember({ params: { groupId: 'grp_1', memberType: 'user', memberId: 'usr_1' } });
    expect(sent.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /iam/keys/LKIA%2F1%202',
      'DELETE /iam/groups/grp_1/members/user/usr_1',
    ]);
  });

  it('leaves empty and missing query values out', async () => {
    await client.listUsers({ query: { search: '', limit: 200 } });
    await client.listKeys({ query: { search: 'ci', status: undefined, limit: 50 } });
    await client.listUsers();
    expect(sent.map((s) => s.url)).toEqual([
      '/iam/users?limit=200',
      '/iam/keys?search=ci&limit=50',
      '/iam/users',
    ]);
  });

  it('sends a JSON body only to operations that take one', async () => {
    await client.setKeyAssignments({ params: { accessKeyId: 'LKIA1' }, body: { roleIds: ['rol_1'] } });
    await client.rotateKeySecret({ params: { accessKeyId: 'LKIA1' }, body: {} });
    await client.markAllNotificationsRead();
    expect(sent.map((s) => [s.method, s.body, s.headers['content-type']])).toEqual([
      ['PUT', '{"roleIds":["rol_1"]}', 'application/json'],
      ['POST', '{}', 'application/json'],
      ['POST', undefined, undefined],
    ]);
  });

  it('carries the session token, except on anonymous calls', async () => {
    await client.getMe();
    await client.login(
      { body: { auth_mode: 'password', email: 'a@example.com', password: 'x' } },
      { anonymous: true },
    );
    expect(sent.map((s) => s.headers.authorization)).toEqual(['Bearer tok', undefined]);
  });

  it('answers the JSON body, and nothing for 204', async () => {
    expect(await client.getMe()).toEqual({ ok: true });
    status = 204;
    expect(await client.deleteKey({ params: { accessKeyId: 'LKIA1' } })).toBeUndefined();
  });
});
