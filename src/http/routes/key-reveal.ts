/**
 * The one-time link of a key email. Mail systems fetch every link of a message before the
 * person clicks it (and some send HEAD first), so GET and HEAD only answer a page with a
 * "Show the secret" button and change nothing; the POST that button sends is the one request
 * that reveals the secret and uses the link up.
 *
 * A browser gets HTML, an API client the JSON it always got: `{accessKeyId, tenantId,
 * secretAccessKey}` or the usual error body.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { operations as op } from '../../contract/operations.js';
import { AppError } from '../../errors.js';
import { revealKeySecret, revealLinkStatus } from '../../notify/key-email.js';
import {
  REVEAL_PAGE_CSP,
  renderRevealedSecret,
  renderRevealProblem,
  renderRevealPrompt,
} from '../../notify/reveal-page.js';
import type { App, RouteDeps } from '../app-types.js';
import { route } from '../contract.js';

/**
 * The quality the Accept header gives a media type: that of the most specific range that
 * matches it (RFC 9110, 12.5.1), 0 when none does; no header accepts anything. Hand-written:
 * only two types are ever compared here, which does not justify a negotiation dependency.
 */
export function acceptQuality(accept: string | undefined, type: string): number {
  if (accept === undefined || accept.trim() === '') return 1;
  const group = `${type.split('/')[0]}/*`;
  let specificity = -1;
  let quality = 0;
  for (const part of accept.toLowerCase().split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim());
    const rank = range === type ? 2 : range === group ? 1 : range === '*/*' ? 0 : -1;
    if (rank <= specificity) continue;
    const q = params.find((p) => /^q\s*=/.test(p));
    const value = q === undefined ? 1 : Number(q.slice(q.indexOf('=') + 1).trim());
    specificity = rank;
    quality = Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
  }
  return quality;
}

/**
 * HTML for a browser: its Accept header prefers HTML to JSON (every browser's navigation and form
 * post does). Anything else (curl, scripts, scanners, no Accept) gets JSON, whatever its body.
 */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  const html = Math.max(acceptQuality(accept, 'text/html'), acceptQuality(accept, 'application/xhtml+xml'));
  return html > acceptQuality(accept, 'application/json');
}

const originOf = (url: string | undefined): string | undefined => {
  if (url === undefined) return undefined;
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
};

/**
 * Refuse a POST that a page of another site made a browser send: it would use the link up (the
 * secret then lands in a frame or tab the person never sees). Fetch Metadata decides where the
 * browser sends it; else a real Origin must be this server's, as the request reached it or as
 * LATCHKEY_PUBLIC_URL names it (behind a proxy that rewrites Host or ends TLS).
 *
 * `Origin: null` is not refused by itself: this page's own `Referrer-Policy: no-referrer` makes
 * browsers send exactly that with the button's POST (Fetch standard, "append a request Origin
 * header"). Modern browsers also send `Sec-Fetch-Site: same-origin`, checked above; older ones
 * (Safari before 16.4) send nothing else, and refusing them would lock their users out.
 */
export function crossSiteRefusal(
  request: FastifyRequest,
  publicUrl: string | undefined,
): AppError | undefined {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const site = header('sec-fetch-site')?.trim().toLowerCase();
  // same-site is refused too: another origin of the same site (a sibling subdomain) is not us.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return new AppError(
      'CROSS_SITE_REQUEST',
      `this request came from another site (Sec-Fetch-Site: ${site}): open the link directly`,
    );
  }
  const origin = header('origin')?.trim();
  if (origin === undefined || origin === 'null') return undefined;
  const given = originOf(origin);
  const ours = [originOf(`${request.protocol}://${request.host}`), originOf(publicUrl)];
  if (given === undefined || !ours.includes(given)) {
    return new AppError('CROSS_SITE_REQUEST', 'this request came from another site: open the link directly');
  }
  return undefined;
}

/** On every answer of these routes, errors included: the link is a credential until used. */
async function revealHeaders(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('cache-control', 'no-store');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-robots-tag', 'noindex, nofollow');
  reply.header('content-security-policy', REVEAL_PAGE_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('vary', 'accept, content-type');
}

const html = (reply: FastifyReply, status: number, body: string) =>
  reply.status(status).type('text/html; charset=utf-8').send(body);

/** An expected refusal as a page for a browser; anything else goes to the JSON error handler. */
function problem(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  if (!(error instanceof AppError) || !wantsHtml(request)) throw error;
  return html(
    reply,
    error.status,
    renderRevealProblem({ code: error.code, message: error.message, requestId: request.id }),
  );
}

export async function keyRevealRoutes(app: App, { svc }: RouteDeps): Promise<void> {
  // Open to whoever holds the link; Fastify answers HEAD with this route too (same headers).
  route(
    app,
    op.keyRevealPage,
    async (request, reply) => {
      try {
        const link = await revealLinkStatus(svc, request.params.token);
        return html(reply, 200, renderRevealPrompt(link));
      } catch (error) {
        return problem(request, reply, error);
      }
    },
    { onRequest: revealHeaders },
  );

  // The button's form has no fields; an API client may send {} or nothing (bodyOptional).
  route(
    app,
    op.revealKeySecret,
    async (request, reply) => {
      try {
        const refusal = crossSiteRefusal(request, svc.config.publicUrl);
        if (refusal) throw refusal;
        const revealed = await revealKeySecret(svc, request.params.token);
        if (wantsHtml(request)) return html(reply, 200, renderRevealedSecret(revealed));
        const { accessKeyId, tenantId, secretAccessKey } = revealed;
        return { accessKeyId, tenantId, secretAccessKey };
      } catch (error) {
        return problem(request, reply, error);
      }
    },
    { onRequest: revealHeaders },
  );
}
