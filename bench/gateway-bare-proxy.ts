/**
 * The gateway benchmark's floor for any Node.js proxy: node:http and an undici Pool, no framework,
 * no hooks, no authentication, nothing but forwarding (part 0 only). If this is below half of
 * nginx's rate, no Node.js gateway meets part 2's bar on this machine, whatever it leaves out.
 * `/api/bench/…` loses its prefix on the way, as through the gateway. Prints its port once listening.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM;
if (!upstream) throw new Error('UPSTREAM (the upstream base URL) is required');
const PREFIX = '/api/bench';
// The same pool settings as the same-stack proxy and the gateway (src/http/routes/gateway.ts).
const pool = new Pool(new URL(upstream).origin, { connections: 128, pipelining: 1 });

const server = http.createServer((request, response) => {
  const url = request.url ?? '/';
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== 'connection' && name !== 'host') headers[name] = value;
  }
  pool
    .request({
      method: request.method as 'GET',
      path: url.startsWith(`${PREFIX}/`) ? url.slice(PREFIX.length) : url,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? null : request,
    })
    .then(
      ({ statusCode, headers: answer, body }) => {
        delete answer.connection;
        delete answer['keep-alive'];
        delete answer['transfer-encoding'];
        response.writeHead(statusCode, answer as http.OutgoingHttpHeaders);
        body.pipe(response);
      },
      () => {
        response.writeHead(502).end();
      },
    );
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
