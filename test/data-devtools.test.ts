/**
 * Developer tools: OpenAPI, the reference page, the Postman collection's shape, the sample cURL
 * commands (run with the real curl binary) and signed requests with api-type keys, on both engines.
 * newman runs the collection in data-newman.test.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/accounting/registry.js';
import { buildSampleCurl, shellQuote } from '../src/devtools/sample-curl.js';
import { call, type TestApp } from './helpers/app.js';
import { data, listeningDataApp, signedFetch, userWithRole } from './helpers/data.js';
import { ENGINES, engineAvailable } from './helpers/engines.js';

const run = promisify(execFile);

async function curlVersion(): Promise<[number, number] | undefined> {
  try {
    const { stdout } = await run('curl', ['--version']);
    const m = /^curl (\d+)\.(\d+)/.exec(stdout);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  } catch {
    return undefined;
  }
}
const version = await curlVersion();
const curlSigv4 = version !== undefined && (version[0] > 7 || (version[0] === 7 && version[1] >= 75));

describe('sample cURL builder', () => {
  it('builds a curl --aws-sigv4 command, and a precomputed one with the AWS SDK signer', async () => {
    const input = {
      baseUrl: 'http://127.0.0.1:8080/',
      path: '/salesinvoice/*?docno=IV-00001',
      accessKeyId: 'LKIAEXAMPLE',
      secretAccessKey: "sec'ret",
      region: 'ap-southeast-5',
      service: 'sqlaccount',
    };
    const out = await buildSampleCurl(input, new Date('2026-11-23T10:00:00Z'));
    expect(out.sigv4).toBe(
      `curl -sS --aws-sigv4 'aws:amz:ap-southeast-5:sqlaccount' --user 'LKIAEXAMPLE:sec'\\''ret' 'http://127.0.0.1:8080/salesinvoice/*?docno=IV-00001'`,
    );
    expect(out.precomputed).toContain("-H 'X-Amz-Date: 20261123T100000Z'");
    expect(out.precomputed).toMatch(
      /Authorization: AWS4-HMAC-SHA256 Credential=LKIAEXAMPLE\/20261123\/ap-southeast-5\/sqlaccount\/aws4_request, SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}/,
    );
    const noSecret = await buildSampleCurl({ ...input, secretAccessKey: undefined });
    expect(noSecret.sigv4).toContain('--user "LKIAEXAMPLE:$LATCHKEY_SECRET_KEY"');
    expect(noSecret.precomputed).toBeUndefined();
    const post = await buildSampleCurl({ ...input, path: '/agent', method: 'POST', body: '{"code":"A"}' });
    expect(post.sigv4).toContain(`-X POST`);
    expect(post.sigv4).toContain(`--data-raw '{"code":"A"}'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe.each(ENGINES)('developer tools on %s', (engine) => {
  const suite = engineAvailable(engine) ? describe : describe.skip;
  suite('tools', () => {
    let t: TestApp;
    let baseUrl: string;
    let key: { accessKeyId: string; secretAccessKey: string };
    beforeAll(async () => {
      ({ t, baseUrl, key } = await listeningDataApp(engine, 'tools'));
    });
    afterAll(async () => t?.close());

    it('serves OpenAPI 3.1 without credentials, generated from the registry', async () => {
      const res = await data(t, 'GET', '/openapi.json', undefined, '');
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'sigv4']);
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const r of RESOURCES) {
        expect(doc.paths[`/${r.name}/`].get).toBeDefined();
        expect(doc.paths[`/${r.name}/`].post).toBeDefined();
        expect(doc.paths[`/${r.name}/*`].get).toBeDefined();
        expect(Object.keys(doc.paths[`/${r.name}/{${r.keyField}}`]).sort()).toEqual(['delete', 'get', 'put']);
      }
      const invoice = doc.components.schemas.SalesInvoice;
      expect(invoice.properties.docamt).toMatchObject({ type: 'string', readOnly: true });
      expect(invoice.properties.sdsdocdetail.items.properties.dtlkey.type).toBe('integer');
      expect(invoice.required).toEqual(['docdate', 'code']);
    });

    it('renders a readable API reference page without external resources', async () => {
      const res = await call(t, 'GET', '/docs', { token: '' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      for (const r of RESOURCES) expect(res.body).toContain(`id="${r.name}"`);
      expect(res.body).toContain('Record has been changed by other users.');
      expect(res.body).not.toMatch(/(src|href)="https?:/);
    });

    it('GET /iam/postman-collection: a v2.1 collection, awsv4 auth, a folder per resource, needs credentials', async () => {
      expect((await call(t, 'GET', '/iam/postman-collection', { token: '' })).statusCode).toBe(401);
      const res = await call(t, 'GET', '/iam/postman-collection');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-disposition']).toBe('attachment; filename="postman_collection.json"');
      const c = res.json();
      expect(c.info.schema).toBe('https://schema.getpostman.com/json/collection/v2.1.0/collection.json');
      expect(c.auth.type).toBe('awsv4');
      const auth = Object.fromEntries(
        c.auth.awsv4.map((p: { key: string; value: string }) => [p.key, p.value]),
      );
      expect(auth).toMatchObject({ accessKey: '{{your_access_key}}', secretKey: '{{your_secret_key}}' });
      const vars = Object.fromEntries(
        c.variable.map((v: { key: string; value: string }) => [v.key, v.value]),
      );
      expect(vars).toMatchObject({ region: 'ap-southeast-5', service: 'sqlaccount' });
      expect(Object.keys(vars).sort()).toEqual([
        'base_url',
        'region',
        'service',
        'your_access_key',
        'your_secret_key',
      ]);
      expect(c.item).toHaveLength(RESOURCES.length);
      const agent = c.item.find((f: { name: string }) => f.name === 'Agent');
      expect(agent.item.map((i: { request: { method: string } }) => i.request.method)).toEqual([
        'GET',
        'POST',
        'GET',
        'GET',
        'PUT',
        'DELETE',
      ]);
      expect(agent.item[0]).toMatchObject({ name: 'Agent', request: { url: '{{base_url}}/agent/' } });
    });

    it('GET /iam/sample-curl gives the command with a secret placeholder; POST adds the precomputed variant', async () => {
      const get = await call(t, 'GET', `/iam/sample-curl?accessKeyId=${key.accessKeyId}&path=/agent/`);
      expect(get.statusCode).toBe(200);
      expect(get.json().sigv4).toContain('$LATCHKEY_SECRET_KEY');
      expect(get.body).not.toContain(key.secretAccessKey);
      const post = await call(t, 'POST', '/iam/sample-curl', {
        body: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, path: '/agent/' },
      });
      expect(post.json().precomputed).toContain('AWS4-HMAC-SHA256');
      expect((await call(t, 'GET', '/iam/sample-curl', { token: '' })).statusCode).toBe(401);
    });

    it('the sample cURL commands run as-is with the real curl', async (ctx) => {
      if (!curlSigv4) ctx.skip();
      for (const path of ['/agent/', '/salesinvoice/*?docno=IV-00001']) {
        const out = await buildSampleCurl({
          baseUrl,
          path,
          accessKeyId: key.accessKeyId,
          secretAccessKey: key.secretAccessKey,
          region: 'ap-southeast-5',
          service: 'sqlaccount',
        });
        for (const command of [out.sigv4, out.precomputed as string]) {
          const { stdout } = await run('sh', ['-c', command]);
          const body = JSON.parse(stdout);
          expect(body.pagination, `${command}\n${stdout}`).toBeDefined();
          expect(body.data.length).toBeGreaterThan(0);
        }
      }
      // The placeholder variant, with the secret from the environment.
      const get = (await (
        await fetch(`${baseUrl}/iam/sample-curl?accessKeyId=${key.accessKeyId}&path=/agent/`, {
          headers: { authorization: `Bearer ${t.adminToken}` },
        })
      ).json()) as { sigv4: string };
      const { stdout } = await run('sh', ['-c', get.sigv4], {
        env: { ...process.env, LATCHKEY_SECRET_KEY: key.secretAccessKey },
      });
      expect(JSON.parse(stdout).data.map((a: { code: string }) => a.code)).toContain('ALI');
      // A POST built by the builder creates a record.
      const post = await buildSampleCurl({
        baseUrl,
        path: '/agent',
        method: 'POST',
        body: JSON.stringify({ code: 'CURL', description: 'from curl' }),
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        region: 'ap-southeast-5',
        service: 'sqlaccount',
      });
      const created = JSON.parse((await run('sh', ['-c', post.precomputed as string])).stdout);
      expect(created.data[0].code).toBe('CURL');
    });

    it('signed requests: an api-type key reads and writes data, but not /iam; * and %2A both work', async () => {
      const writer = await userWithRole(t, `api-${engine}@example.com`, 'DataReadWrite');
      const apiKey = (
        await call(t, 'POST', `/iam/users/${writer.id}/keys`, { body: { name: 'ingest', type: 'api' } })
      ).json();
      const list = await signedFetch(baseUrl, 'GET', '/agent/', apiKey);
      expect(list.status).toBe(200);
      const created = await signedFetch(baseUrl, 'POST', '/agent', {
        ...apiKey,
        body: { code: 'APIK', description: 'via api key' },
      });
      expect(created.status).toBe(201);
      for (const star of ['*', '%2A']) {
        const one = await signedFetch(baseUrl, 'GET', `/salesinvoice/${star}?docno=IV-00001`, apiKey);
        expect(one.status).toBe(200);
        expect((one.body as { data: unknown[] }).data).toHaveLength(1);
      }
      const iam = await signedFetch(baseUrl, 'GET', '/iam/me', apiKey);
      expect(iam.status).toBe(403);
      // A read-only user's key cannot write, signed or not.
      const reader = await userWithRole(t, `ro-signed-${engine}@example.com`, 'DataReadOnly');
      const roKey = (await call(t, 'POST', `/iam/users/${reader.id}/keys`, { body: { type: 'api' } })).json();
      expect((await signedFetch(baseUrl, 'GET', '/customer/', roKey)).status).toBe(200);
      const denied = await signedFetch(baseUrl, 'POST', '/agent', {
        ...roKey,
        body: { code: 'RO', description: 'x' },
      });
      expect(denied.status).toBe(403);
    });
  });
});
