/**
 * A real HTTP upstream for gateway tests: records every request it receives (method, URL, headers,
 * body) and answers a small JSON body, or whatever `respond` says.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { call, type TestApp } from './app.js';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestUpstream {
  url: string;
  port: number;
  received: Received[];
  /** Replace the answer (default: 200 `{"ok":true,"path":<url>}`). */
  respond: (req: Received, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<TestUpstream> {
  const upstream: TestUpstream = {
    url: '',
    port: 0,
    received: [],
    respond: (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-upstream', 'yes');
      res.end(JSON.stringify({ ok: true, path: req.url }));
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      upstream.received.push(received);
      upstream.respond(received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.port = (server.address() as AddressInfo).port;
  upstream.url = `http://127.0.0.1:${upstream.port}`;
  return upstream;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request over a fresh connection, the path sent byte for byte (fetch would resolve dot
 * segments) and the Host header as given. `chunked`: send the body without a content-length;
 * `from`: the loopback address to send from (nginx passes it to latchkey in X-Forwarded-For).
 */
export function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  { chunked = false, from = '127.0.0.1' }: { chunked?: boolean; from?: string } = {},
): Promise<Answer> {
  const length = body !== undefined && !chunked ? { 'content-length': String(Buffer.byteLength(body)) } : {};
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        localAddress: from,
        port,
        method,
        path,
        headers: { ...headers, ...length },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The `x-latchkey-assertion` an upstream received, verified as an upstream would (JWKS, audience = the API). */
export async function verifiedAssertion(t: TestApp, headers: http.IncomingHttpHeaders, apiId: string) {
  const jwks = createLocalJWKSet((await call(t, 'GET', '/.well-known/jwks.json')).json());
  return jwtVerify(headers['x-latchkey-assertion'] as string, jwks, {
    audience: apiId,
    issuer: 'latchkey',
    currentDate: t.clock.now(),
  });
}
