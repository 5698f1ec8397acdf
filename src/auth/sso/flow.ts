/**
 * Signing in to the console through a tenant's OIDC identity provider: the authorization code flow
 * with PKCE, state and nonce (openid-client checks the ID token's issuer, audience, signature,
 * expiry and nonce).
 *
 * 1. start: a flow row (the state's SHA-256, the PKCE verifier sealed under the master key, the
 *    nonce) is stored in the database, so any instance can finish what another started, and the
 *    browser is sent to the IdP with a cookie holding the state (the callback must come from the
 *    browser that started: a callback URL planted by someone else does not sign anyone in).
 * 2. callback: the flow row is taken (single use), the code exchanged at the IdP (which is how the
 *    IdP is asked again at every sign-in: an account disabled there cannot finish), the identity
 *    mapped to a user (its link, else its verified email, else a just-in-time user), and a one-time
 *    code is handed to the console in the URL fragment (never sent to a server, never logged).
 * 3. the console exchanges the code at `POST /iam/login` (`auth_mode` `sso`) for the usual token.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { writeAudit } from '../../audit/audit.js';
import type { Actor } from '../../context.js';
import { sameSecret } from '../../crypto/compare.js';
import { AppError, notFound } from '../../errors.js';
import { assertMayActAs } from '../../identity/escalation.js';
import { PermissionSet } from '../../identity/permissions.js';
import { getSettings } from '../../identity/settings.js';
import {
  findUser,
  newUserRow,
  normalizeEmail,
  type UserView,
  updateUser,
  userView,
} from '../../identity/users.js';
import { writeTransaction } from '../../identity/write-transaction.js';
import { SSO_PENDING_SIGN_INS_MAX } from '../../limits.js';
import type { Services } from '../../services.js';
import type { SsoConfigRow, User } from '../../storage/tables.js';
import { iso } from '../../time.js';
import type { AuthDeps } from '../login.js';
import { type IssuedToken, issueToken } from '../tokens/tokens.js';
import { domainsOf, findSsoConfig, openClientSecret, ssoRedirectUri } from './config.js';
import { discoverIdp, idpError } from './idp.js';

/** A sign-in has this long between leaving for the IdP and coming back. */
export const SSO_FLOW_SECONDS = 600;
/** The console has this long to exchange its one-time code. */
export const SSO_CODE_SECONDS = 60;
/** The cookie that binds a flow to the browser that started it. */
export const SSO_STATE_COOKIE = 'latchkey_sso_state';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const flowContext = (tenantId: string, stateHash: string) => `sso-flow:${tenantId}:${stateHash}`;

const notConfigured = (why = 'single sign-on is not set up, or is turned off, for this tenant') =>
  new AppError('SSO_NOT_CONFIGURED', why);

/** An actor for what single sign-on does on its own (just-in-time users, links). */
const ssoActor = (tenantId: string, sourceIp: string | null, requestId: string | null): Actor => ({
  tenantId,
  type: 'system',
  id: 'sso',
  via: 'sso',
  permissions: new PermissionSet([]),
  sourceIp,
  requestId,
});

/** Expired flows and codes go as new ones come (both tables stay as small as the traffic). */
async function prune(svc: Services): Promise<void> {
  const now = iso(svc.clock.now());
  await svc.db.deleteFrom('sso_flows').where('expires_at', '<=', now).execute();
  await svc.db.deleteFrom('sso_codes').where('expires_at', '<=', now).execute();
}

/** The enabled configuration a sign-in starts from: by tenant, or by the email's domain. */
async function configFor(svc: Services, by: { tenantId?: string; email?: string }): Promise<SsoConfigRow> {
  if (by.tenantId !== undefined) {
    const row = await findSsoConfig(svc.db, by.tenantId);
    if (row?.enabled !== 1) throw notConfigured();
    return row;
  }
  const domain = normalizeEmail(by.email ?? '').split('@')[1] ?? '';
  if (!/^[a-z0-9.-]{1,253}$/.test(domain)) throw notConfigured('type your full work email address');
  const rows = await svc.db
    .selectFrom('sso_configs')
    .selectAll()
    .where('enabled', '=', 1)
    .where('allowed_domains', 'like', `%${JSON.stringify(domain)}%`)
    .limit(2)
    .execute();
  const matching = rows.filter((r) => domainsOf(r).includes(domain));
  if (matching.length === 0)
    throw notConfigured(`no tenant signs in ${domain} addresses with single sign-on`);
  if (matching.length > 1)
    throw notConfigured(`several tenants accept ${domain}: use your tenant's own single sign-on link`);
  return matching[0] as SsoConfigRow;
}

/**
 * Discovery answers, kept a few minutes per configuration (a changed issuer, client or secret is
 * another key): an anonymous `start` must not make latchkey fetch the IdP's metadata every time.
 * The code exchange itself always goes to the IdP.
 */
const DISCOVERY_TTL_MS = 5 * 60_000;
const DISCOVERY_CACHE_MAX = 1000;
const discovered = new Map<string, { at: number; config: oidc.Configuration }>();

async function idpOf(svc: Services, row: SsoConfigRow): Promise<oidc.Configuration> {
  const key = `${row.tenant_id}\n${row.issuer}\n${row.client_id}\n${row.secret_ciphertext}`;
  const now = Date.now();
  const hit = discovered.get(key);
  if (hit && now - hit.at < DISCOVERY_TTL_MS) return hit.config;
  const config = await discoverIdp({
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: openClientSecret(svc, row),
    allowPrivate: svc.config.ssoAllowPrivate,
  });
  if (discovered.size >= DISCOVERY_CACHE_MAX) discovered.clear();
  discovered.set(key, { at: now, config });
  return config;
}

/** Start a sign-in: where to send the browser, and the state for its cookie. */
export async function startSsoSignIn(
  svc: Services,
  by: { tenantId?: string; email?: string },
): Promise<{ url: string; state: string }> {
  const row = await configFor(svc, by);
  const idp = await idpOf(svc, row);
  await prune(svc);
  const pending = await svc.db
    .selectFrom('sso_flows')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('tenant_id', '=', row.tenant_id)
    .executeTakeFirstOrThrow();
  if (Number(pending.n) >= SSO_PENDING_SIGN_INS_MAX) {
    throw new AppError(
      'SSO_BUSY',
      `${SSO_PENDING_SIGN_INS_MAX.toLocaleString('en')} single sign-ons are already under way for this tenant; try again in a few minutes`,
    );
  }
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const verifier = oidc.randomPKCECodeVerifier();
  const stateHash = sha256(state);
  const sealed = svc.secrets.seal(verifier, flowContext(row.tenant_id, stateHash));
  await svc.db
    .insertInto('sso_flows')
    .values({
      state_hash: stateHash,
      tenant_id: row.tenant_id,
      issuer: row.issuer,
      verifier_ciphertext: sealed.ciphertext,
      master_key_version: sealed.masterKeyVersion,
      nonce,
      expires_at: iso(new Date(svc.clock.now().getTime() + SSO_FLOW_SECONDS * 1000)),
    })
    .execute();
  const url = oidc.buildAuthorizationUrl(idp, {
    redirect_uri: ssoRedirectUri(svc),
    scope: 'openid email profile',
    response_type: 'code',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(by.email ? { login_hint: by.email } : {}),
  });
  return { url: url.href, state };
}

interface IdpIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/**
 * Finish a sign-in at the callback: the one-time code for the console and who signed in. Throws
 * AppErrors with stable codes (the route turns them into a redirect to the console).
 */
export async function finishSsoSignIn(
  svc: Services,
  input: {
    query: URLSearchParams;
    cookieState: string | undefined;
    sourceIp: string | null;
    requestId: string | null;
  },
): Promise<{ code: string; tenantId: string; userId: string }> {
  const state = input.query.get('state') ?? '';
  const badState = () =>
    new AppError('SSO_STATE_INVALID', 'this sign-in is unknown, was used already or expired: start again');
  if (state === '' || input.cookieState === undefined || !sameSecret(state, input.cookieState))
    throw badState();
  const stateHash = sha256(state);
  const flow = await svc.db
    .selectFrom('sso_flows')
    .selectAll()
    .where('state_hash', '=', stateHash)
    .executeTakeFirst();
  if (!flow) throw badState();
  // Single use, on every instance: whoever deletes the row finishes the flow.
  const taken = await svc.db.deleteFrom('sso_flows').where('state_hash', '=', stateHash).executeTakeFirst();
  if (Number(taken.numDeletedRows) !== 1 || flow.expires_at <= iso(svc.clock.now())) throw badState();
  const idpError_ = input.query.get('error');
  if (idpError_ !== null) {
    const description = (input.query.get('error_description') ?? '')
      .replace(/[^\x20-\x7e]/g, '')
      .slice(0, 200);
    throw new AppError(
      'SSO_FAILED',
      `the identity provider did not sign you in (${idpError_.replace(/[^\w.-]/g, '').slice(0, 60)}${description ? `: ${description}` : ''})`,
    );
  }
  const row = await findSsoConfig(svc.db, flow.tenant_id);
  if (row?.enabled !== 1 || row.issuer !== flow.issuer) throw notConfigured();
  const idp = await idpOf(svc, row);
  const verifier = svc.secrets.open(
    { ciphertext: flow.verifier_ciphertext, masterKeyVersion: flow.master_key_version },
    flowContext(flow.tenant_id, stateHash),
  );
  const callback = new URL(ssoRedirectUri(svc));
  callback.search = input.query.toString();
  let identity: IdpIdentity;
  try {
    const tokens = await oidc.authorizationCodeGrant(idp, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    let email = typeof claims.email === 'string' ? claims.email : null;
    let verified = claims.email_verified === true;
    let name = typeof claims.name === 'string' ? claims.name : null;
    if (email === null) {
      // Some IdPs keep the email for the userinfo endpoint.
      const info = await oidc.fetchUserInfo(idp, tokens.access_token, claims.sub);
      email = typeof info.email === 'string' ? info.email : null;
      verified = info.email_verified === true;
      name = name ?? (typeof info.name === 'string' ? info.name : null);
    }
    identity = { issuer: row.issuer, subject: claims.sub, email, emailVerified: verified, name };
  } catch (error) {
    if (error instanceof AppError) throw error;
    const mapped = idpError(error, row.issuer);
    if (mapped.code === 'SSO_ADDRESS_REFUSED') throw mapped;
    throw new AppError(
      'SSO_FAILED',
      `the identity provider did not confirm the sign-in (${error instanceof Error ? error.message.slice(0, 200) : 'error'})`,
    );
  }
  const user = await userFor(svc, row, identity, input);
  if (user.status !== 'active')
    throw new AppError('USER_DISABLED', 'this user is disabled; ask an administrator');
  if (user.api_user === 1) {
    throw new AppError(
      'API_USER_PASSWORD_LOGIN',
      'this user is an API user: it signs requests with its access keys and cannot sign in to the console',
    );
  }
  const code = randomBytes(32).toString('base64url');
  const now = svc.clock.now();
  await svc.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('sso_identities')
      .set({ last_sign_in_at: iso(now), email: identity.email })
      .where('tenant_id', '=', row.tenant_id)
      .where('issuer', '=', identity.issuer)
      .where('subject', '=', identity.subject)
      .execute();
    await trx
      .insertInto('sso_codes')
      .values({
        code_hash: sha256(code),
        tenant_id: row.tenant_id,
        user_id: user.id,
        expires_at: iso(new Date(now.getTime() + SSO_CODE_SECONDS * 1000)),
      })
      .execute();
    const actor: Actor = {
      ...ssoActor(row.tenant_id, input.sourceIp, input.requestId),
      type: 'user',
      id: user.id,
    };
    await writeAudit(trx, svc.clock, actor, 'sso.sign_in', { type: 'user', id: user.id }, null, {
      issuer: identity.issuer,
      subject: identity.subject,
      email: identity.email,
    });
  });
  return { code, tenantId: row.tenant_id, userId: user.id };
}

/** The user an IdP identity is: its link, else its verified email (linked now), else a new user. */
async function userFor(
  svc: Services,
  row: SsoConfigRow,
  identity: IdpIdentity,
  request: { sourceIp: string | null; requestId: string | null },
): Promise<User> {
  const tenantId = row.tenant_id;
  const linked = await svc.db
    .selectFrom('sso_identities')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('issuer', '=', identity.issuer)
    .where('subject', '=', identity.subject)
    .executeTakeFirst();
  if (linked) return findUser(svc.db, tenantId, linked.user_id);
  if (identity.email === null || !identity.emailVerified) {
    throw new AppError(
      'SSO_EMAIL_NOT_VERIFIED',
      'the identity provider did not say your email address is verified, so it cannot be matched to a user',
    );
  }
  const email = normalizeEmail(identity.email);
  const domains = domainsOf(row);
  if (domains.length > 0 && !domains.includes(email.split('@')[1] ?? '')) {
    throw new AppError('SSO_NO_ACCOUNT', `${email} is not in an email domain this tenant accepts`);
  }
  const actor = ssoActor(tenantId, request.sourceIp, request.requestId);
  const link = (userId: string, now: string) => ({
    tenant_id: tenantId,
    issuer: identity.issuer,
    subject: identity.subject,
    user_id: userId,
    email: identity.email,
    created_at: now,
    last_sign_in_at: null,
  });
  return writeTransaction(
    svc,
    {
      authzChangedIn: tenantId,
      duplicate: () =>
        new AppError('CONFLICT', 'another sign-in for this person finished at the same time: try again'),
    },
    async (trx) => {
      const now = iso(svc.clock.now());
      const existing = await trx
        .selectFrom('users')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('email_normalized', '=', email)
        .executeTakeFirst();
      if (existing) {
        // A user already linked to another subject of this IdP is that subject's: an IdP that hands
        // the same email to someone else (a reused address) does not get the account with it.
        const other = await trx
          .selectFrom('sso_identities')
          .select('subject')
          .where('tenant_id', '=', tenantId)
          .where('issuer', '=', identity.issuer)
          .where('user_id', '=', existing.id)
          .executeTakeFirst();
        if (other) {
          throw new AppError(
            'SSO_LINK_CONFLICT',
            `the user ${email} is linked to another identity at this identity provider; an administrator can remove that link (POST /iam/sso/unlink-subject)`,
          );
        }
        await trx.insertInto('sso_identities').values(link(existing.id, now)).execute();
        await writeAudit(trx, svc.clock, actor, 'sso.link', { type: 'user', id: existing.id }, null, {
          issuer: identity.issuer,
          subject: identity.subject,
          email: identity.email,
        });
        return existing;
      }
      if (row.jit_enabled !== 1)
        throw new AppError('SSO_NO_ACCOUNT', `${email} has no user in this tenant; ask an administrator`);
      const user = newUserRow(svc, tenantId, {
        email: identity.email as string,
        name: (identity.name ?? email.split('@')[0] ?? email).slice(0, 200),
        passwordHash: null,
      });
      await trx.insertInto('users').values(user).execute();
      await writeAudit(
        trx,
        svc.clock,
        actor,
        'user.create',
        { type: 'user', id: user.id },
        null,
        userView(user, false),
      );
      if (row.jit_group_id !== null) {
        // The group was checked against the holdings of whoever chose it (config.ts).
        await trx
          .insertInto('group_members')
          .values({
            tenant_id: tenantId,
            group_id: row.jit_group_id,
            member_type: 'user',
            member_id: user.id,
            created_at: now,
          })
          .execute();
        await writeAudit(
          trx,
          svc.clock,
          actor,
          'group.member_add',
          { type: 'group', id: row.jit_group_id },
          null,
          {
            type: 'user',
            id: user.id,
          },
        );
      }
      await trx.insertInto('sso_identities').values(link(user.id, now)).execute();
      await writeAudit(trx, svc.clock, actor, 'sso.link', { type: 'user', id: user.id }, null, {
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
      });
      return user;
    },
  );
}

/** `POST /iam/login` with `auth_mode` `sso`: the one-time code for a session token (once). */
export async function loginWithSsoCode(deps: AuthDeps, code: string): Promise<IssuedToken> {
  const { svc } = deps;
  const invalid = () =>
    new AppError('INVALID_CREDENTIALS', 'the single sign-on code is unknown, was used already or expired');
  const codeHash = sha256(code);
  const row = await svc.db
    .selectFrom('sso_codes')
    .selectAll()
    .where('code_hash', '=', codeHash)
    .executeTakeFirst();
  if (!row) throw invalid();
  const taken = await svc.db.deleteFrom('sso_codes').where('code_hash', '=', codeHash).executeTakeFirst();
  if (Number(taken.numDeletedRows) !== 1 || row.expires_at <= iso(svc.clock.now())) throw invalid();
  const user = await svc.db
    .selectFrom('users')
    .selectAll()
    .where('tenant_id', '=', row.tenant_id)
    .where('id', '=', row.user_id)
    .executeTakeFirst();
  if (!user) throw invalid();
  if (user.status !== 'active')
    throw new AppError('USER_DISABLED', 'this user is disabled; ask an administrator');
  if (user.api_user === 1) {
    throw new AppError(
      'API_USER_PASSWORD_LOGIN',
      'this user is an API user: it signs requests with its access keys and cannot sign in to the console',
    );
  }
  const settings = await getSettings(svc.db, user.tenant_id);
  // Tied to the session epoch as password sessions are: disabling the user ends it everywhere.
  return issueToken(
    svc,
    deps.signingKeys,
    { sub: user.id, tid: user.tenant_id, pt: 'user', via: 'sso', sep: user.session_epoch },
    settings.tokenLifetimeSeconds,
  );
}

/**
 * Remove the link of an IdP subject: its next sign-in maps by verified email again (a person whose
 * IdP account was recreated, or an address the IdP gave to someone new). Whoever unlinks lets the
 * next holder of that email sign in as the user, so the caller must hold all the user holds.
 */
export async function unlinkSubject(svc: Services, actor: Actor, subject: string): Promise<void> {
  const row = await findSsoConfig(svc.db, actor.tenantId);
  if (!row) throw notConfigured();
  await writeTransaction(svc, {}, async (trx) => {
    const link = await trx
      .selectFrom('sso_identities')
      .selectAll()
      .where('tenant_id', '=', actor.tenantId)
      .where('issuer', '=', row.issuer)
      .where('subject', '=', subject)
      .executeTakeFirst();
    if (!link) throw notFound('user linked to this subject');
    await assertMayActAs(
      trx,
      actor,
      { type: 'user', id: link.user_id },
      'unlinking the sign-in of this user',
    );
    await trx
      .deleteFrom('sso_identities')
      .where('tenant_id', '=', actor.tenantId)
      .where('issuer', '=', row.issuer)
      .where('subject', '=', subject)
      .execute();
    await writeAudit(trx, svc.clock, actor, 'sso.unlink', { type: 'user', id: link.user_id }, null, {
      issuer: row.issuer,
      subject,
    });
  });
}

/**
 * Disable the user linked to an IdP subject (someone who left: the IdP says so, latchkey follows).
 * The user's keys and sessions stop on every instance within a second: this is the same change as
 * `PATCH /iam/users/{id}` with `status: disabled`, with its rules (not the last administrator).
 */
export async function disableBySubject(svc: Services, actor: Actor, subject: string): Promise<UserView> {
  const row = await findSsoConfig(svc.db, actor.tenantId);
  if (!row) throw notConfigured();
  const link = await svc.db
    .selectFrom('sso_identities')
    .selectAll()
    .where('tenant_id', '=', actor.tenantId)
    .where('issuer', '=', row.issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
  if (!link) throw notFound('user linked to this subject');
  const view = await updateUser(svc, actor, link.user_id, { status: 'disabled' });
  await writeAudit(
    svc.db,
    svc.clock,
    actor,
    'sso.disable_subject',
    { type: 'user', id: link.user_id },
    null,
    {
      issuer: row.issuer,
      subject,
    },
  );
  return view;
}
