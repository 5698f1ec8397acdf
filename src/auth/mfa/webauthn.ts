/**
 * Passkeys (WebAuthn) as a second factor, with @simplewebauthn/server. The relying party is the
 * console's origin: LATCHKEY_PUBLIC_URL when set (its host is the RP ID), else the address the
 * browser reached the server at. Registration and sign-in challenges live in mfa_challenges (so
 * any instance finishes a ceremony another one started), are single-use and expire in 5 minutes.
 */
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { writeAudit } from '../../audit/audit.js';
import type { Actor } from '../../context.js';
import { AppError, notFound } from '../../errors.js';
import { findUser } from '../../identity/users.js';
import { writeTransaction } from '../../identity/write-transaction.js';
import type { Services } from '../../services.js';
import type { MfaChallengeRow, MfaFactorRow, User } from '../../storage/tables.js';
import { iso } from '../../time.js';
import { CHALLENGE_SECONDS, challengeHash, consumeChallenge } from './challenges.js';
import {
  checkCurrentCode,
  dropRecoveryCodesWithoutFactors,
  factorsOf,
  replaceRecoveryCodes,
  type SecondFactorDeps,
} from './factors.js';

export interface RelyingParty {
  /** The RP ID: the host name (no port) passkeys are bound to. */
  id: string;
  /** The exact origin the browser runs the console at. */
  origin: string;
}

/**
 * The relying party of a deployment reached at `baseUrl` (LATCHKEY_PUBLIC_URL, or the request's):
 * its ID is LATCHKEY_WEBAUTHN_RP_ID when set (the config checked it covers LATCHKEY_PUBLIC_URL's
 * host; for a request's own host the browser checks), else that host name.
 */
export function relyingParty(baseUrl: string, rpId: string | undefined): RelyingParty {
  const url = new URL(baseUrl);
  return { id: rpId ?? url.hostname, origin: url.origin };
}

const passkeysOf = (factors: readonly MfaFactorRow[]) =>
  factors.filter((f) => f.type === 'webauthn' && f.status === 'active' && f.credential_id !== null);

const transportsOf = (f: MfaFactorRow): AuthenticatorTransportFuture[] | undefined =>
  f.transports === null ? undefined : (JSON.parse(f.transports) as AuthenticatorTransportFuture[]);

const PASSKEY_NAME_MAX = 100;

/** `POST /iam/me/mfa/webauthn/registration-options`: what the browser's navigator.credentials.create needs. */
export async function passkeyRegistrationOptions(
  svc: Services,
  actor: Actor,
  rp: RelyingParty,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const user = await findUser(svc.db, actor.tenantId, actor.id);
  const existing = passkeysOf(await factorsOf(svc.db, actor.tenantId, actor.id));
  const options = await generateRegistrationOptions({
    rpName: 'latchkey',
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    excludeCredentials: existing.map((f) => ({
      id: f.credential_id as string,
      ...(transportsOf(f) ? { transports: transportsOf(f) } : {}),
    })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  const now = svc.clock.now();
  await svc.db.deleteFrom('mfa_challenges').where('expires_at', '<', iso(now)).execute();
  await svc.db
    .insertInto('mfa_challenges')
    .values({
      challenge_hash: challengeHash(options.challenge),
      tenant_id: user.tenant_id,
      user_id: user.id,
      purpose: 'webauthn-registration',
      session_epoch: user.session_epoch,
      webauthn_challenge: options.challenge,
      failures: 0,
      expires_at: iso(new Date(now.getTime() + CHALLENGE_SECONDS * 1000)),
    })
    .execute();
  return options;
}

const refused = (why: string) => new AppError('WEBAUTHN_FAILED', `the passkey was not accepted: ${why}`);

/** The challenge a WebAuthn response answers (from its clientDataJSON), or undefined. */
function answeredChallenge(response: { response?: { clientDataJSON?: unknown } }): string | undefined {
  const data = response.response?.clientDataJSON;
  if (typeof data !== 'string') return undefined;
  try {
    const client = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof client.challenge === 'string' ? client.challenge : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `POST /iam/me/mfa/webauthn/registration`: verify the browser's answer and keep the passkey. The
 * first second factor of a user comes with recovery codes (returned this once).
 */
export async function registerPasskey(
  svc: Services,
  actor: Actor,
  rp: RelyingParty,
  input: { name?: string; response: unknown },
): Promise<{ passkey: { id: string; name: string; createdAt: string }; recoveryCodes?: string[] }> {
  const response = input.response as RegistrationResponseJSON;
  const answered = answeredChallenge(response as { response?: { clientDataJSON?: unknown } });
  const row =
    answered === undefined
      ? undefined
      : await svc.db
          .selectFrom('mfa_challenges')
          .selectAll()
          .where('challenge_hash', '=', challengeHash(answered))
          .executeTakeFirst();
  if (
    row?.purpose !== 'webauthn-registration' ||
    row.user_id !== actor.id ||
    row.tenant_id !== actor.tenantId ||
    row.expires_at <= iso(svc.clock.now()) ||
    !(await consumeChallenge(svc.db, row))
  ) {
    throw refused('its challenge is unknown, used or expired: ask for new registration options');
  }
  let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: row.webauthn_challenge as string,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch (error) {
    throw refused((error as Error).message);
  }
  if (!verification.verified || !verification.registrationInfo) throw refused('it did not verify');
  const { credential } = verification.registrationInfo;
  const name = (input.name ?? '').trim().slice(0, PASSKEY_NAME_MAX) || 'Passkey';
  const id = svc.newId('mfa');
  const now = iso(svc.clock.now());
  return writeTransaction(
    svc,
    { duplicate: () => new AppError('ALREADY_EXISTS', 'this passkey is already registered') },
    async (trx) => {
      const before = await factorsOf(trx, actor.tenantId, actor.id);
      const hadFactor = before.some((f) => f.status === 'active');
      await trx
        .insertInto('mfa_factors')
        .values({
          id,
          tenant_id: actor.tenantId,
          user_id: actor.id,
          type: 'webauthn',
          status: 'active',
          name,
          secret_ciphertext: null,
          master_key_version: null,
          last_used_step: null,
          credential_id: credential.id,
          public_key: Buffer.from(credential.publicKey).toString('base64url'),
          sign_count: credential.counter,
          transports: credential.transports ? JSON.stringify(credential.transports) : null,
          created_at: now,
          last_used_at: null,
        })
        .execute();
      const recoveryCodes = hadFactor
        ? undefined
        : await replaceRecoveryCodes(trx, svc, { tenant_id: actor.tenantId, id: actor.id });
      await writeAudit(trx, svc.clock, actor, 'user.passkey_add', { type: 'user', id: actor.id }, null, {
        passkey: { id, name },
      });
      return { passkey: { id, name, createdAt: now }, ...(recoveryCodes ? { recoveryCodes } : {}) };
    },
  );
}

/** `DELETE /iam/me/mfa/webauthn/{passkeyId}`, confirmed with a current code (TOTP or recovery). */
export async function deletePasskey(
  deps: SecondFactorDeps,
  actor: Actor,
  passkeyId: string,
  code: string,
): Promise<void> {
  const { svc } = deps;
  const factor = (await factorsOf(svc.db, actor.tenantId, actor.id)).find(
    (f) => f.id === passkeyId && f.type === 'webauthn',
  );
  if (!factor) throw notFound('passkey');
  await checkCurrentCode(deps, actor, code);
  await writeTransaction(svc, {}, async (trx) => {
    await trx.deleteFrom('mfa_factors').where('id', '=', factor.id).execute();
    await dropRecoveryCodesWithoutFactors(trx, actor.id);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'user.passkey_delete',
      { type: 'user', id: actor.id },
      { passkey: { id: factor.id, name: factor.name } },
      null,
    );
  });
}

/** `POST /iam/login/webauthn-options {"challenge"}`: what navigator.credentials.get needs for this sign-in. */
export async function passkeySignInOptions(
  svc: Services,
  row: MfaChallengeRow,
  rp: RelyingParty,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const passkeys = passkeysOf(await factorsOf(svc.db, row.tenant_id, row.user_id));
  if (passkeys.length === 0) throw new AppError('MFA_NOT_ENABLED', 'this user has no passkey: use a code');
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: passkeys.map((f) => ({
      id: f.credential_id as string,
      ...(transportsOf(f) ? { transports: transportsOf(f) } : {}),
    })),
    userVerification: 'preferred',
  });
  await svc.db
    .updateTable('mfa_challenges')
    .set({ webauthn_challenge: options.challenge })
    .where('challenge_hash', '=', row.challenge_hash)
    .execute();
  return options;
}

/** Does this assertion prove one of the user's passkeys, for this sign-in's WebAuthn challenge? */
export async function verifyPasskeyAssertion(
  svc: Services,
  rp: RelyingParty,
  row: MfaChallengeRow,
  user: User,
  assertion: unknown,
): Promise<boolean> {
  if (row.webauthn_challenge === null) return false;
  const response = assertion as AuthenticationResponseJSON;
  if (typeof response?.id !== 'string') return false;
  const factor = passkeysOf(await factorsOf(svc.db, user.tenant_id, user.id)).find(
    (f) => f.credential_id === response.id,
  );
  if (!factor) return false;
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: row.webauthn_challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: factor.credential_id as string,
        publicKey: new Uint8Array(Buffer.from(factor.public_key as string, 'base64url')),
        counter: factor.sign_count ?? 0,
        ...(transportsOf(factor) ? { transports: transportsOf(factor) } : {}),
      },
      requireUserVerification: false,
    });
    if (!result.verified) return false;
    await svc.db
      .updateTable('mfa_factors')
      .set({ sign_count: result.authenticationInfo.newCounter, last_used_at: iso(svc.clock.now()) })
      .where('id', '=', factor.id)
      .execute();
    return true;
  } catch {
    return false;
  }
}
