/**
 * The gateway benchmark's same-stack baseline: Fastify 5 and @fastify/reply-from registered as
 * src/http/routes/gateway.ts registers it (no `base`, the same undici pool, bodies left as streams,
 * an absolute URL per request), forwarding every request to UPSTREAM with no authentication.
 * `/api/bench/…` loses its prefix on the way, as through the gateway's registered API. Prints its
 * port on stdout once listening.
 */
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';

const upstream = process.env.UPSTREAM;
if (!upstream) throw new Error('UPSTREAM (the upstream base URL) is required');
const origin = new URL(upstream).origin;
const PREFIX = '/api/bench';

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
await app.register(replyFrom, {
  disableRequestLogging: true,
  undici: { connections: 128, pipelining: 1 },
});
app.all('/*', (request, reply) => {
  const url = request.url.startsWith(`${PREFIX}/`) ? request.url.slice(PREFIX.length) : request.url;
  return reply.from(`${origin}${url}`);
});
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${new URL(address).port}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
