import type { Static } from '@sinclair/typebox';
import type { KeyEntry } from '../../auth/key-authority.js';
import { loginWithKey, loginWithPassword } from '../../auth/login.js';
import { completeMfaSignIn } from '../../auth/mfa/sign-in.js';
import { relyingParty } from '../../auth/mfa/webauthn.js';
import { updateOwnProfile } from '../../auth/own-profile.js';
import { loginWithSsoCode } from '../../auth/sso/flow.js';
import type { Actor } from '../../context.js';
import { operations as op } from '../../contract/operations.js';
import type { Profile } from '../../contract/views.js';
import { AppError } from '../../errors.js';
import { getAssignments } from '../../identity/assignments.js';
import { findServiceAccount, serviceAccountView } from '../../identity/service-accounts.js';
import { getUserView } from '../../identity/users.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, requestBaseUrl, sourceIp } from '../auth.js';
import { route } from '../contract.js';

function required(body: Record<string, unknown>, fields: string[], mode: string): void {
  const missing = fields.filter((f) => typeof body[f] !== 'string' || body[f] === '');
  if (missing.length > 0) {
    throw new AppError(
      'VALIDATION_FAILED',
      `auth_mode "${mode}" needs ${missing.map((m) => `"${m}"`).join(' and ')}`,
    );
  }
}

export async function sessionRoutes(app: App, deps: RouteDeps): Promise<void> {
  route(app, op.login, async (request, reply) => {
    const body = request.body;
    reply.header('cache-control', 'no-store');
    if (body.auth_mode === 'password') {
      required(body, ['email', 'password'], 'password');
      return loginWithPassword(
        deps,
        { email: body.email as string, password: body.password as string, tenantId: body.tenantId },
        sourceIp(request),
      );
    }
    if (body.auth_mode === 'mfa') {
      // The second step of a password sign-in (src/auth/mfa/sign-in.ts).
      required(body, ['challenge'], 'mfa');
      return completeMfaSignIn(
        deps,
        { challenge: body.challenge as string, code: body.code, webauthn: body.webauthn },
        sourceIp(request),
        relyingParty(requestBaseUrl(deps.svc.config, request), deps.svc.config.webauthnRpId),
      );
    }
    if (body.auth_mode === 'sso') {
      required(body, ['code'], 'sso');
      return loginWithSsoCode(deps, body.code as string);
    }
    required(body, ['apikey', 'secretkey'], 'apikey');
    return loginWithKey(
      deps,
      { apikey: body.apikey as string, secretkey: body.secretkey as string },
      sourceIp(request),
    );
  });

  /** Who am I: the signed-in principal, how it authenticated and what it may do. */
  async function whoAmI(request: Parameters<typeof actorOf>[0]) {
    const actor = actorOf(request);
    const principal =
      actor.type === 'user'
        ? await getUserView(deps.svc.db, actor.tenantId, actor.id)
        : serviceAccountView(await findServiceAccount(deps.svc.db, actor.tenantId, actor.id));
    const assignments =
      actor.type === 'system'
        ? { groups: [], roles: [] }
        : await getAssignments(deps.svc.db, actor.tenantId, { type: actor.type, id: actor.id });
    return {
      ...principal,
      principalType: actor.type,
      authenticatedWith: actor.via,
      accessKeyId: actor.accessKeyId ?? null,
      groups: assignments.groups,
      roles: assignments.roles,
      permissions: deps.apis.expanded(actor.permissions, actor.tenantId),
    };
  }

  route(app, op.getMe, async (request) => whoAmI(request));

  route(app, op.updateMe, async (request, reply) => {
    const result = await updateOwnProfile(deps, actorOf(request), request.body);
    // A new password comes with a new session token.
    if ('session' in result) reply.header('cache-control', 'no-store');
    return result;
  });

  /** Like AWS STS GetCallerIdentity: valid credentials are all it needs. */
  const profile = (
    actor: Actor,
    who: { name: string; email: string | null },
    permissions: string[],
    credential: 'sigv4' | 'token',
  ): Static<typeof Profile> => ({
    tenantId: actor.tenantId,
    principal: { type: actor.type, id: actor.id, name: who.name, email: who.email },
    accessKeyId: actor.accessKeyId ?? null,
    // How this request proved who it is, and for a token how the token was obtained.
    credential,
    tokenSource: credential === 'token' ? actor.via : null,
    permissions,
  });
  // A signed request's profile is a function of its key's cache entry alone (entries are replaced,
  // never changed, when the key, its owner or their permissions change), so its JSON is built once
  // per entry. It is also the call clients use to check their credentials, so it stays cheap.
  const signedProfiles = new WeakMap<KeyEntry, { generation: number; body: Buffer }>();
  route(app, op.profile, async (request, reply) => {
    const actor = actorOf(request);
    const entry = request.signedKey;
    if (entry !== null) {
      // Also rebuilt when the registered APIs (whose permissions it lists) have changed.
      const { generation } = deps.apis;
      let cached = signedProfiles.get(entry);
      if (cached === undefined || cached.generation !== generation) {
        const permissions = deps.apis.expanded(entry.permissions, actor.tenantId);
        cached = {
          generation,
          body: Buffer.from(JSON.stringify(profile(actor, entry.owner, permissions, 'sigv4'))),
        };
        signedProfiles.set(entry, cached);
      }
      const body = cached.body;
      // Already JSON: sent as bytes, so the schema serialiser is skipped (the type provider cannot know).
      return reply.type('application/json; charset=utf-8').send(body as unknown as Static<typeof Profile>);
    }
    const me = actor.principal
      ? { ...actor.principal, permissions: deps.apis.expanded(actor.permissions, actor.tenantId) }
      : await whoAmI(request);
    return profile(actor, { name: me.name, email: me.email ?? null }, me.permissions, 'token');
  });
}
