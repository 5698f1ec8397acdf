/** Counting each HTTP answer: requests and latency by route pattern and status, errors by code. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CounterChild, HistogramChild } from './bound-metrics.js';
import type { Metrics } from './metrics.js';

interface Children {
  requests: CounterChild;
  duration: HistogramChild;
}

/**
 * A function counting one answer (`routePattern`: the matched route's, undefined when none
 * matched). The series of each (method, route, status) are looked up once and kept
 * (src/observability/bound-metrics.ts).
 */
export function answerCounter(
  metrics: Metrics,
): (request: FastifyRequest, reply: FastifyReply, routePattern: string | undefined) => void {
  const known = new Map<string, Children>();
  return (request, reply, routePattern) => {
    const route = routePattern ?? 'unmatched';
    const status = reply.statusCode;
    const id = `${request.method} ${status} ${route}`;
    let children = known.get(id);
    if (children === undefined) {
      const labels = { method: request.method, route, status };
      children = {
        requests: metrics.httpRequests.child(labels),
        duration: metrics.httpDuration.child(labels),
      };
      known.set(id, children);
    }
    children.requests.value++;
    children.duration.observe(reply.elapsedTime / 1000);
    if (request.errorCode !== undefined) metrics.errors.inc({ code: request.errorCode });
  };
}
