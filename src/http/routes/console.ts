/**
 * The web console (console/, React + Vite) served at /console/ from its build in console/dist.
 * Single-page app: any /console/* path that is not a built file answers index.html. Without a
 * build (tests run without one) /console/ answers 503 saying how to build it.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { operations as op } from '../../contract/operations.js';
import type { App, RouteDeps } from '../app-types.js';
import { route } from '../contract.js';
import { sendError } from '../errors.js';

/** From src/http/routes (tsx, tests) and dist/http/routes (built) alike: <repo>/console/dist. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/**
 * Scripts and connections: this origin only (Test Connection signs and calls /profile on it).
 * Styles also allow inline: the component library (Mantine) sets CSS variables in style attributes.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONSOLE_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
}

/** A built file under the dist directory, or undefined (never outside it). */
function builtFile(dist: string, wildcard: string): string | undefined {
  if (wildcard === '' || wildcard.includes('\0')) return undefined;
  let relative: string;
  try {
    relative = decodeURIComponent(wildcard);
  } catch {
    return undefined;
  }
  const full = resolve(dist, relative);
  if (!full.startsWith(dist.endsWith(sep) ? dist : `${dist}${sep}`)) return undefined;
  try {
    return statSync(full).isFile() ? full.slice(dist.length).replace(/^[/\\]+/, '') : undefined;
  } catch {
    return undefined;
  }
}

export async function consoleRoutes(app: App, _deps: RouteDeps, dist = CONSOLE_DIST): Promise<void> {
  await app.register(fastifyStatic, { serve: false, decorateReply: true });

  // The root is what a person types after `npm start`; HEAD / is served by Fastify's HEAD route.
  route(app, op.home, async (_request, reply) => {
    securityHeaders(reply);
    return reply.redirect('/console/', 302);
  });

  route(app, op.consoleRedirect, async (_request, reply) => {
    securityHeaders(reply);
    return reply.redirect('/console/', 302);
  });

  route(app, op.console, async (request, reply) => {
    securityHeaders(reply);
    if (!existsSync(resolve(dist, 'index.html'))) {
      return sendError(
        reply,
        request,
        'CONSOLE_NOT_BUILT',
        'the web console is not built: run `npm run build` (it runs `vite build --config console/vite.config.ts`)',
      );
    }
    const wildcard = (request.params as { '*': string })['*'];
    const file = builtFile(dist, wildcard);
    if (file) {
      // Vite names assets by content hash, so they never change; the page itself is always revalidated.
      const immutable = file.startsWith('assets/');
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.sendFile(file, dist, { cacheControl: false });
    }
    if (wildcard.startsWith('assets/')) {
      return sendError(reply, request, 'NOT_FOUND', `no console asset ${wildcard}`);
    }
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html', dist, { cacheControl: false });
  });
}
