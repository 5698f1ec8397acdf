/**
 * Temporary credentials with real, unmodified AWS clients against a listening server: curl
 * --aws-sigv4 (token as the X-Amz-Security-Token header), botocore (header and presigned), aws4,
 * and the AWS SDK v3 signer's presigned URL; and revocation seen by a second instance within 1 s.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './helpers/app.js';
import { engineAvailable } from './helpers/engines.js';
import { msUntil } from './helpers/poll.js';
import { type Credentials, presign, signHeaders } from './helpers/sign.js';

const run = promisify(execFile);

/** A Python with botocore (pip's or Debian's python3-botocore); CI installs one. */
const python = ['python3', '/usr/bin/python3'].find((bin) => {
  try {
    execFileSync(bin, ['-c', 'import botocore'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!python) {
  if (process.env.LATCHKEY_REQUIRE_BOTOCORE === '1')
    throw new Error(
      'LATCHKEY_REQUIRE_BOTOCORE=1 but no python3 with botocore (apt-get install python3-botocore)',
    );
  console.warn('botocore tests skipped: no python3 with botocore (apt-get install python3-botocore)');
}

const BOTOCORE = `
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
ak, sk, token, url, form = sys.argv[1:6]
creds = Credentials(ak, sk, token)
request = AWSRequest(method='GET', url=url)
if form == 'query':
    SigV4QueryAuth(creds, 'sqlaccount', 'ap-southeast-5', expires=300).add_auth(request)
else:
    SigV4Auth(creds, 'sqlaccount', 'ap-southeast-5').add_auth(request)
prepared = request.prepare()
try:
    answer = urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers.items())))
    print(answer.status)
    print(answer.read().decode())
except urllib.error.HTTPError as error:
    print(error.code)
    print(error.read().decode())
`;

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

describe('temporary credentials with real SigV4 clients', () => {
  let t: TestApp;
  let base: string;
  let host: string;
  let c: Issued;
  beforeAll(async () => {
    t = await startTestApp('sqlite');
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    host = new URL(base).host;
    c = (await call(t, 'POST', '/iam/session-credentials', { body: { durationSeconds: 900 } })).json();
  });
  afterAll(async () => t?.close());

  it('curl --aws-sigv4 with the token in X-Amz-Security-Token', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '-w',
      '\n%{http_code}',
      '--aws-sigv4',
      'aws:amz:ap-southeast-5:sqlaccount',
      '--user',
      `${c.accessKeyId}:${c.secretAccessKey}`,
      '-H',
      `X-Amz-Security-Token: ${c.sessionToken}`,
      `${base}/profile`,
    ]);
    const lines = stdout.split('\n');
    expect(Number(lines.pop()), stdout).toBe(200);
    expect(JSON.parse(lines.join('\n')).accessKeyId).toBe(c.accessKeyId);
  });

  it.skipIf(!python)('botocore SigV4Auth and SigV4QueryAuth with session credentials', async () => {
    for (const form of ['header', 'query']) {
      const { stdout } = await run(python as string, [
        '-c',
        BOTOCORE,
        c.accessKeyId,
        c.secretAccessKey,
        c.sessionToken,
        `${base}/profile`,
        form,
      ]);
      const [status, ...body] = stdout.trim().split('\n');
      expect(Number(status), `${form}: ${stdout}`).toBe(200);
      expect(JSON.parse(body.join('\n')).accessKeyId).toBe(c.accessKeyId);
    }
  });

  it('aws4 with sessionToken', async () => {
    const opts = aws4.sign(
      { host, path: '/agent/', service: 'sqlaccount', region: 'ap-southeast-5', method: 'GET' },
      c,
    );
    const res = await fetch(`${base}/agent/`, { headers: opts.headers as Record<string, string> });
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('the AWS SDK v3 signer: header and presigned URL', async () => {
    const creds: Credentials = c;
    const headers = await signHeaders(creds, { method: 'GET', path: '/profile', host });
    expect(Object.keys(headers).map((h) => h.toLowerCase())).toContain('x-amz-security-token');
    expect((await fetch(`${base}/profile`, { headers })).status).toBe(200);
    const url = await presign(creds, { method: 'GET', path: '/profile', host });
    const res = await fetch(`${base}${url}`);
    expect(res.status, await res.clone().text()).toBe(200);
  });
});

const pg = engineAvailable('postgres') ? describe : describe.skip;

pg('temporary credentials on two instances sharing PostgreSQL', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp('postgres');
    b = await startTestApp('postgres', { db: a.db, clock: a.clock });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const signed = async (t: TestApp, c: Credentials) => {
    const headers = await signHeaders(c, {
      method: 'GET',
      path: '/profile',
      host: 'lk',
      date: t.clock.now(),
    });
    return t.app.inject({ method: 'GET', url: '/profile', headers });
  };
  /** Milliseconds until `t` refuses `c` as ended, or Infinity after 3 s. */
  const until = (t: TestApp, c: Credentials): Promise<number> =>
    msUntil(async () => {
      const res = await signed(t, c);
      return res.statusCode !== 200 && res.json().error.code === 'InvalidToken';
    });

  it('revoking them, or disabling their source key, on one instance ends them on the other within 1 s', async () => {
    const issued = (await call(a, 'POST', '/iam/session-credentials', { body: {} })).json() as Issued;
    expect((await signed(b, issued)).statusCode).toBe(200);
    await call(a, 'DELETE', `/iam/session-credentials/${issued.accessKeyId}`);
    expect(await until(b, issued)).toBeLessThan(1000);

    const sa = (await call(a, 'POST', '/iam/service-accounts', { body: { name: 'temp-source' } })).json();
    await call(a, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, { body: { roleIds: [] } });
    const key = (await call(a, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
    const keyCreds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    const headers = await signHeaders(keyCreds, {
      method: 'POST',
      path: '/iam/session-credentials',
      host: 'lk',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      date: a.clock.now(),
    });
    const fromKey = (
      await a.app.inject({ method: 'POST', url: '/iam/session-credentials', headers, payload: '{}' })
    ).json() as Issued;
    expect((await signed(b, fromKey)).statusCode).toBe(200);
    await call(a, 'PATCH', `/iam/keys/${key.accessKeyId}`, { body: { active: false } });
    expect(await until(b, fromKey)).toBeLessThan(1000);
  });
});
