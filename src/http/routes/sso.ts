/** `/iam/sso`: OIDC single sign-on for the console (src/auth/sso holds the rules and the flow). */
import { deleteSso, getSso, putSso } from '../../auth/sso/config.js';
import {
  disableBySubject,
  finishSsoSignIn,
  SSO_FLOW_SECONDS,
  SSO_STATE_COOKIE,
  startSsoSignIn,
  unlinkSubject,
} from '../../auth/sso/flow.js';
import { publicBaseUrl } from '../../config.js';
import { operations as op } from '../../contract/operations.js';
import { AppError } from '../../errors.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, sourceIp } from '../auth.js';
import { route } from '../contract.js';

/** The console's address for a sign-in's outcome, in the fragment: never sent to a server or logged. */
function consoleWith(params: Record<string, string>): string {
  return `/console/#${new URLSearchParams(params).toString()}`;
}

function failure(error: unknown): string {
  if (error instanceof AppError) return consoleWith({ sso_error: error.code, sso_message: error.message });
  throw error;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export async function ssoRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  const secure = publicBaseUrl(svc.config).startsWith('https:') ? '; Secure' : '';
  // Lax: the IdP's redirect back is a top-level navigation from another site, which Lax allows.
  const stateCookie = (value: string, maxAge: number) =>
    `${SSO_STATE_COOKIE}=${value}; Path=/iam/sso/callback; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;

  route(app, op.getSso, async (request) => getSso(svc, actorOf(request).tenantId));

  route(app, op.putSso, async (request) => putSso(svc, actorOf(request), request.body));

  route(app, op.deleteSso, async (request, reply) => {
    await deleteSso(svc, actorOf(request));
    return reply.status(204).send();
  });

  route(app, op.disableSsoSubject, async (request) => {
    const user = await disableBySubject(svc, actorOf(request), request.body.subject);
    return { id: user.id, email: user.email, status: user.status };
  });

  route(app, op.unlinkSsoSubject, async (request, reply) => {
    await unlinkSubject(svc, actorOf(request), request.body.subject);
    return reply.status(204).send();
  });

  route(app, op.startSso, async (request, reply) => {
    const { tenantId, email } = request.query;
    if (tenantId === undefined && email === undefined)
      throw new AppError('VALIDATION_FAILED', 'send "tenantId" or "email"');
    reply.header('cache-control', 'no-store');
    let location: string;
    try {
      const started = await startSsoSignIn(svc, {
        ...(tenantId !== undefined ? { tenantId } : {}),
        ...(email !== undefined ? { email } : {}),
      });
      reply.header('set-cookie', stateCookie(started.state, SSO_FLOW_SECONDS));
      location = started.url;
    } catch (error) {
      location = failure(error);
    }
    return reply.redirect(location, 302);
  });

  route(app, op.ssoCallback, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    // The state cookie has done its work whatever the outcome.
    reply.header('set-cookie', stateCookie('', 0));
    let location: string;
    try {
      const query = new URLSearchParams(request.query as Record<string, string>);
      const { code } = await finishSsoSignIn(svc, {
        query,
        cookieState: cookieValue(request.headers.cookie, SSO_STATE_COOKIE),
        sourceIp: sourceIp(request),
        requestId: request.id,
      });
      location = consoleWith({ sso_code: code });
    } catch (error) {
      location = failure(error);
    }
    return reply.redirect(location, 302);
  });
}
