/**
 * The gateway benchmark's upstream: answers 200 `{"ok":true}` to anything. Run by bench/gateway.ts
 * in its own process; prints its port on stdout once listening.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.from('{"ok":true}');
const server = http.createServer((request, response) => {
  // Drain whatever was sent so the keep-alive connection stays usable for the next request.
  request.resume();
  request.once('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    response.end(body);
  });
});
// Proxies keep pooled connections idle between slices; node's 5 s default would close them under
// the proxies' feet and count a reconnect against whoever is measured next.
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
