/**
 * Developer tools: OpenAPI, the reference page, the Postman collection's shape, the sample cURL
 * commands (run with the real curl binary) and signed requests with api-type keys, on both engines.
 * newman runs the collection in data-newman.test.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES, type ResourceDef, resourceByName } from '../src/accounting/registry.js';
import { exampleOf, schemasOf } from '../src/accounting/schemas.js';
import { buildSampleCurl, shellQuote } from '../src/devtools/sample-curl.js';
import { call, type TestApp } from './helpers/app.js';
import { data, listeningDataApp, signedFetch, userWithRole } from './helpers/data.js';
import { describeEachEngine } from './helpers/each-engine.js';

const run = promisify(execFile);

interface Folder {
  id: string;
  name: string;
  item: Folder[];
  request?: { method: string; url: string; description?: string; body?: { raw: string } };
  event?: Array<{ listen: string; script: { exec: string[] } }>;
}

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

describeEachEngine('developer tools', (engine) => {
  describe('tools', () => {
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
      expect(invoice.properties.docamt.pattern).toBe('^-?\\d+\\.\\d{2}$');
      expect(invoice.properties.postdate.type).toEqual(['string', 'null']);
      expect(invoice.properties.cancelled.type).toBe('boolean');
      expect(invoice.properties.sdsdocdetail.items.properties.dtlkey.type).toBe('integer');
      // An answer always carries every field; a create body needs only the required ones.
      expect(invoice.required).toEqual(Object.keys(invoice.properties));
      expect(doc.components.schemas.SalesInvoiceCreate.required).toEqual(['docdate', 'code']);
      expect(doc.components.schemas.SalesInvoiceUpdate.required).toEqual(['updatecount']);
      const list = doc.paths['/salesinvoice/'].get;
      expect(list.responses['200'].content['application/json'].schema.properties.data.items).toEqual({
        $ref: '#/components/schemas/SalesInvoiceSummary',
      });
      expect(list.parameters.map((p: { name: string }) => p.name)).toContain('agent');
      const create = doc.paths['/salesinvoice/'].post;
      expect(create.requestBody.content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/SalesInvoiceCreate',
      });
      // POST answers {data: [record]} (no pagination), as the route does.
      expect(create.responses['201'].content['application/json'].schema.required).toEqual(['data']);
      expect(create.responses['422']['x-error-codes']).toEqual(['UNKNOWN_REFERENCE']);
      expect(doc.paths['/salesinvoice/{dockey}'].put.responses['409']['x-error-codes']).toContain(
        'RECORD_CHANGED',
      );
    });

    it('renders a readable API reference page without external resources', async () => {
      const res = await call(t, 'GET', '/docs', { token: '' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      for (const r of RESOURCES) expect(res.body).toContain(`id="${r.name}"`);
      expect(res.body).toContain('Record has been changed by other users.');
      // Types, flags and sample bodies from the schemas: nullable dates, decimal strings, required fields.
      expect(res.body).toContain('<td><code>postdate</code></td><td>date YYYY-MM-DD or null</td>');
      expect(res.body).toContain(
        '<td><code>docamt</code></td><td>decimal string, e.g. &#34;0.00&#34;</td><td>read-only</td>',
      );
      expect(res.body).toContain('<td><code>docdate</code></td><td>date YYYY-MM-DD</td><td>required</td>');
      expect(res.body).toContain('&#34;updatecount&#34;: 2');
      expect(res.body).not.toMatch(/(src|href)="https?:/);
    });

    it('GET /iam/postman-collection: a v2.1 collection, awsv4 auth, Read and Write folders per resource, needs credentials', async () => {
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
      // Read (GETs only) and Write, each with a folder per resource.
      expect(c.item.map((f: { name: string }) => f.name)).toEqual(['Read', 'Write']);
      const [read, write] = c.item as [Folder, Folder];
      expect(read.item.map((f) => f.name)).toEqual(RESOURCES.map((r) => r.title));
      expect(write.item.map((f) => f.name)).toEqual(RESOURCES.map((r) => r.title));
      const agentRead = read.item[0] as Folder;
      expect(agentRead.item.map((i) => `${i.request?.method} ${i.request?.url}`)).toEqual([
        'GET {{base_url}}/agent/?offset=0&limit=50',
        'GET {{base_url}}/agent/{{agent_first_code}}',
        'GET {{base_url}}/agent/*?code={{agent_first_code}}',
      ]);
      const agentWrite = write.item[0] as Folder;
      expect(agentWrite.item.map((i) => `${i.request?.method} ${i.request?.url}`)).toEqual([
        'POST {{base_url}}/agent/',
        'PUT {{base_url}}/agent/{{agent_key}}',
        'DELETE {{base_url}}/agent/{{agent_key}}',
      ]);
      // The sample bodies are the create schema's examples.
      const invoiceCreate = (write.item.find((f) => f.name === 'Sales Invoice') as Folder).item[0];
      expect(JSON.parse(invoiceCreate?.request?.body?.raw as string)).toEqual(
        exampleOf(schemasOf(resourceByName('salesinvoice') as ResourceDef).createBody),
      );
      const requests = (folder: Folder): Folder[] => folder.item.flatMap((i) => (i.item ? requests(i) : [i]));
      expect(new Set(requests(read).map((i) => i.request?.method))).toEqual(new Set(['GET']));
      expect(requests(write).filter((i) => i.request?.method === 'GET')).toEqual([]);
      const ids = [...requests(read), ...requests(write)].map((i) => i.id);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('the Postman collection: a request that uses a value another request sets says so, and comes after it', async () => {
      const c = (await call(t, 'GET', '/iam/postman-collection')).json();
      let checked = 0;
      for (const top of c.item as Folder[]) {
        for (const folder of top.item) {
          const setBy = new Map<string, string>();
          for (const item of folder.item) {
            const scripts = (item.event ?? []).flatMap((e) => e.script.exec).join('\n');
            // What is sent: the URL and the body (the description may name variables it sets).
            const text = JSON.stringify([item.request?.url, item.request?.body]);
            for (const [, variable] of text.matchAll(/\{\{(\w+)\}\}/g)) {
              if (
                ['base_url', 'region', 'service', 'your_access_key', 'your_secret_key'].includes(
                  variable as string,
                )
              )
                continue;
              const setter = setBy.get(variable as string);
              expect(
                setter,
                `${folder.name} › ${item.name} uses {{${variable}}}: no earlier request sets it`,
              ).toBeDefined();
              expect(item.request?.description).toContain(`"${setter}"`);
              checked++;
            }
            for (const [, variable] of scripts.matchAll(/collectionVariables\.set\('(\w+)'/g)) {
              setBy.set(variable as string, item.name);
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(RESOURCES.length * 4);
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
