import { type Static, Type } from '@sinclair/typebox';
import type { KeyEntry } from '../../auth/key-authority.js';
import { loginWithKey, loginWithPassword, passwordSession } from '../../auth/login.js';
import type { Actor } from '../../context.js';
import { verifyPassword } from '../../crypto/password.js';
import { AppError } from '../../errors.js';
import { getAssignments } from '../../identity/assignments.js';
import { findServiceAccount, serviceAccountView } from '../../identity/service-accounts.js';
import { findUser, getUserView, updateUser } from '../../identity/users.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf, sourceIp } from '../auth.js';
import { Name, Password, Strict } from '../schemas.js';

const LoginBody = Strict({
  auth_mode: Type.Union([Type.Literal('password'), Type.Literal('apikey')]),
  email: Type.Optional(Type.String({ maxLength: 254 })),
  password: Type.Optional(Type.String({ maxLength: 256 })),
  tenantId: Type.Optional(Type.String({ maxLength: 64 })),
  apikey: Type.Optional(Type.String({ maxLength: 128 })),
  secretkey: Type.Optional(Type.String({ maxLength: 256 })),
});

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
  app.post(
    '/iam/login',
    { config: { auth: 'none' }, schema: { body: LoginBody } },
    async (request, reply) => {
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
      required(body, ['apikey', 'secretkey'], 'apikey');
      return loginWithKey(
        deps,
        { apikey: body.apikey as string, secretkey: body.secretkey as string },
        sourceIp(request),
      );
    },
  );

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
      permissions: actor.permissions.expand(),
    };
  }

  app.get('/iam/me', async (request) => whoAmI(request));

  app.patch(
    '/iam/me',
    {
      schema: {
        body: Strict({
          name: Type.Optional(Name),
          password: Type.Optional(Password),
          currentPassword: Type.Optional(Type.String({ maxLength: 256 })),
        }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      if (actor.type !== 'user' || actor.via !== 'password') {
        throw new AppError(
          'AccessDenied',
          'only a user signed in with a password can change their own profile',
        );
      }
      const { name, password, currentPassword } = request.body;
      if (password !== undefined) {
        const user = await findUser(deps.svc.db, actor.tenantId, actor.id);
        if (
          currentPassword === undefined ||
          !user.password_hash ||
          !(await verifyPassword(currentPassword, user.password_hash))
        ) {
          throw new AppError('INVALID_CREDENTIALS', 'currentPassword is wrong');
        }
      }
      const view = await updateUser(deps.svc, actor, actor.id, { name, password });
      if (password === undefined) return view;
      // A new password ends every session, this one too: the caller gets a new one in the answer.
      reply.header('cache-control', 'no-store');
      const session = await passwordSession(deps, await findUser(deps.svc.db, actor.tenantId, actor.id));
      return { ...view, session };
    },
  );

  /** Like AWS STS GetCallerIdentity: valid credentials are all it needs. */
  // A response schema: serialised by fast-json-stringify (this route is on every client's hot path).
  const Profile = Type.Object({
    tenantId: Type.String(),
    principal: Type.Object({
      type: Type.String(),
      id: Type.String(),
      name: Type.String(),
      email: Type.Union([Type.String(), Type.Null()]),
    }),
    accessKeyId: Type.Union([Type.String(), Type.Null()]),
    credential: Type.String(),
    tokenSource: Type.Union([Type.String(), Type.Null()]),
    permissions: Type.Array(Type.String()),
  });
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
  const signedProfiles = new WeakMap<KeyEntry, Buffer>();
  app.get('/profile', { schema: { response: { 200: Profile } } }, async (request, reply) => {
    const actor = actorOf(request);
    const entry = request.signedKey;
    if (entry !== null) {
      let body = signedProfiles.get(entry);
      if (body === undefined) {
        body = Buffer.from(JSON.stringify(profile(actor, entry.owner, entry.permissions.expand(), 'sigv4')));
        signedProfiles.set(entry, body);
      }
      // Already JSON: sent as bytes, so the schema serialiser is skipped (the type provider cannot know).
      return reply.type('application/json; charset=utf-8').send(body as unknown as Static<typeof Profile>);
    }
    const me = actor.principal
      ? { ...actor.principal, permissions: actor.permissions.expand() }
      : await whoAmI(request);
    return profile(actor, { name: me.name, email: me.email ?? null }, me.permissions, 'token');
  });
}
