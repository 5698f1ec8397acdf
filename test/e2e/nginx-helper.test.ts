import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxAvailable, startNginx } from '../helpers/nginx.js';

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const BIG = 200_000;

describe.skipIf(!nginxAvailable())('test/helpers/nginx.ts', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  beforeAll(async () => {
    upstream = http.createServer((request, response) => {
      if (request.method === 'POST') {
        let length = 0;
        request.on('data', (chunk: Buffer) => {
          length += chunk.length;
        });
        request.on('end', () => response.end(String(length)));
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ url: request.url, connection: request.headers.connection ?? null }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('serves a string body with {{port}} and is gone after stop()', async () => {
    const nginx = await startNginx(
      'server { listen 127.0.0.1:{{port}}; location / { return 200 "hello"; } }',
    );
    const response = await fetch(`${nginx.url}/anything`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
    await nginx.stop();
    expect(await accepts(nginx.port)).toBe(false);
    expect(fs.existsSync(nginx.dir)).toBe(false);
    await nginx.stop(); // idempotent
  });

  // The gateway's e2e test and benchmark proxy through it exactly so; as root, a worker dropped to
  // `nobody` could not use the temporary directory, and a large body would fail.
  it('proxies with upstream keep-alive, buffering a large body in its temporary directory', async () => {
    const nginx = await startNginx(
      (port) => `
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
    location /api/ {
      proxy_pass http://app/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
    );
    try {
      const answer = (await (await fetch(`${nginx.url}/api/items?x=1`)).json()) as Record<string, unknown>;
      expect(answer).toEqual({ url: '/items?x=1', connection: null });
      const big = await fetch(`${nginx.url}/api/upload`, { method: 'POST', body: 'x'.repeat(BIG) });
      expect(big.status).toBe(200);
      expect(await big.text()).toBe(String(BIG));
      expect(nginx.errorLog()).toMatch(/request body is buffered to a temporary file/);
      expect(nginx.errorLog()).not.toMatch(/\[(crit|alert|emerg)\]/);
    } finally {
      await nginx.stop();
    }
  });

  it('rejects with the error log when nginx refuses the configuration', async () => {
    await expect(startNginx('server { listen 127.0.0.1:{{port}}; no_such_directive on; }')).rejects.toThrow(
      /unknown directive "no_such_directive"/,
    );
  });

  it('rejects a string body that does not say where to listen', async () => {
    await expect(startNginx('server { listen 127.0.0.1:8080; }')).rejects.toThrow(/\{\{port\}\}/);
  });
});
