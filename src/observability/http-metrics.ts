/** Counting each HTTP answer: requests and latency by route pattern and status, errors by code. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';

interface Children {
  requests: { inc(): void };
  duration: { observe(seconds: number): void };
}

/**
 * A function counting one answer. The labelled series of each (method, route, status) are looked up
 * once and kept: prom-client would otherwise hash the label set twice per request.
 */
export function answerCounter(metrics: Metrics): (request: FastifyRequest, reply: FastifyReply) => void {
  const known = new Map<string, Children>();
  return (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const id = `${request.method} ${status} ${route}`;
    let children = known.get(id);
    if (children === undefined) {
      const labels = { method: request.method, route, status };
      children = {
        requests: metrics.httpRequests.labels(labels),
        duration: metrics.httpDuration.labels(labels),
      };
      known.set(id, children);
    }
    children.requests.inc();
    children.duration.observe(reply.elapsedTime / 1000);
    if (request.errorCode !== undefined) metrics.errors.inc({ code: request.errorCode });
  };
}
