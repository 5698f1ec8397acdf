/** Two-factor sign-in: `/iam/me/mfa…` (a user's own factors), the sign-in helpers, the admin reset. */

import type { FastifyRequest } from 'fastify';
import {
  activateTotp,
  assertPasswordUser,
  assertSecondFactorNotBlocked,
  beginTotp,
  invalidCode,
  mfaStatus,
  recordSecondFactorFailure,
  regenerateRecoveryCodes,
  removeTotp,
  resetMfa,
} from '../../auth/mfa/factors.js';
import { beginEnrolment, signInChallenge } from '../../auth/mfa/sign-in.js';
import {
  deletePasskey,
  passkeyRegistrationOptions,
  passkeySignInOptions,
  registerPasskey,
  relyingParty,
} from '../../auth/mfa/webauthn.js';
import type { Actor } from '../../context.js';
import { operations as op } from '../../contract/operations.js';
import { findUser } from '../../identity/users.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, requestBaseUrl } from '../auth.js';
import { route } from '../contract.js';

export async function mfaRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  /** Passkeys are bound to the console's origin: LATCHKEY_PUBLIC_URL, else where the browser reached us. */
  const rpOf = (request: FastifyRequest) =>
    relyingParty(requestBaseUrl(svc.config, request), svc.config.webauthnRpId);
  // Refused before the body is read: a key (signed or exchanged) never manages a user's factors.
  const own = { authorize: (_request: FastifyRequest, actor: Actor) => assertPasswordUser(actor) };
  const ownActor = (request: FastifyRequest) => {
    const actor = actorOf(request);
    assertPasswordUser(actor);
    return actor;
  };

  route(app, op.loginMfaEnrolment, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return beginEnrolment(svc, request.body.challenge);
  });

  route(app, op.loginWebauthnOptions, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const row = await signInChallenge(svc, request.body.challenge);
    return passkeySignInOptions(svc, row, rpOf(request));
  });

  route(
    app,
    op.getMyMfa,
    async (request) => {
      const actor = ownActor(request);
      return mfaStatus(svc.db, actor.tenantId, actor.id);
    },
    own,
  );

  route(
    app,
    op.startTotp,
    async (request, reply) => {
      const actor = ownActor(request);
      reply.header('cache-control', 'no-store');
      return beginTotp(svc, await findUser(svc.db, actor.tenantId, actor.id));
    },
    own,
  );

  route(
    app,
    op.verifyTotp,
    async (request, reply) => {
      const actor = ownActor(request);
      reply.header('cache-control', 'no-store');
      await assertSecondFactorNotBlocked(deps, actor.sourceIp, actor.id);
      const user = await findUser(svc.db, actor.tenantId, actor.id);
      const activated = await activateTotp(svc, actor, user, request.body.code);
      if (activated === null) {
        await recordSecondFactorFailure(deps, actor.sourceIp, actor.id);
        throw invalidCode();
      }
      return activated;
    },
    own,
  );

  route(
    app,
    op.deleteTotp,
    async (request, reply) => {
      await removeTotp(deps, ownActor(request), request.body.code);
      return reply.status(204).send();
    },
    own,
  );

  route(
    app,
    op.regenerateRecoveryCodes,
    async (request, reply) => {
      const actor = ownActor(request);
      reply.header('cache-control', 'no-store');
      return regenerateRecoveryCodes(deps, actor, request.body.code);
    },
    own,
  );

  route(
    app,
    op.passkeyRegistrationOptions,
    async (request, reply) => {
      const actor = ownActor(request);
      reply.header('cache-control', 'no-store');
      return passkeyRegistrationOptions(svc, actor, rpOf(request));
    },
    own,
  );

  route(
    app,
    op.registerPasskey,
    async (request, reply) => {
      const actor = ownActor(request);
      reply.header('cache-control', 'no-store');
      return reply.status(201).send(await registerPasskey(svc, actor, rpOf(request), request.body));
    },
    own,
  );

  route(
    app,
    op.deletePasskey,
    async (request, reply) => {
      await deletePasskey(deps, ownActor(request), request.params.passkeyId, request.body.code);
      return reply.status(204).send();
    },
    own,
  );

  route(app, op.resetUserMfa, async (request, reply) => {
    await resetMfa(svc, actorOf(request), request.params.userId);
    return reply.status(204).send();
  });
}
