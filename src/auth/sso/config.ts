/**
 * A tenant's OIDC single sign-on configuration: the identity provider (issuer, client id and
 * secret), whether sign-in through it is on, and how an IdP identity becomes a latchkey user (an
 * existing link, else the user with that verified email, else, when just-in-time creation is on,
 * a new user in the chosen group).
 *
 * The security model (identity/escalation.ts) applies twice:
 * - whoever chooses the identity provider can sign in as any user of the tenant whose email that
 *   IdP vouches for, administrators included. So setting or changing the issuer, the client or its
 *   secret, turning sign-in on, or widening the accepted email domains needs a caller holding `*`.
 * - just-in-time users join the chosen group: the caller must hold all that group gives.
 * Turning sign-in off, narrowing the domains or choosing a group within one's holdings needs only
 * iam:settings:manage. The client secret is write-only: sealed under the master key, never shown.
 */
import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../../audit/audit.js';
import { publicBaseUrl } from '../../config.js';
import type { Actor } from '../../context.js';
import type { SsoConfigView as SsoConfigViewSchema } from '../../contract/views.js';
import { AppError, notFound } from '../../errors.js';
import { assertCovers, assertHoldsEverything, heldPatterns } from '../../identity/escalation.js';
import { writeTransaction } from '../../identity/write-transaction.js';
import type { Services } from '../../services.js';
import type { DbOrTx } from '../../storage/dialect.js';
import type { SsoConfigRow } from '../../storage/tables.js';
import { iso } from '../../time.js';
import { discoverIdp } from './idp.js';

export type SsoConfigView = Static<typeof SsoConfigViewSchema>;

/** The associated data of a tenant's sealed client secret: a ciphertext moved to another tenant does not open. */
export const ssoSecretContext = (tenantId: string) => `sso-client-secret:${tenantId}`;

/** Where the IdP sends the browser back (register this at the IdP). */
export const ssoRedirectUri = (svc: Services) => `${publicBaseUrl(svc.config)}/iam/sso/callback`;

/** A link that starts a sign-in to this tenant (for bookmarks and the console). */
export const ssoStartUrl = (svc: Services, tenantId: string) =>
  `${publicBaseUrl(svc.config)}/iam/sso/start?tenantId=${encodeURIComponent(tenantId)}`;

export interface SsoInput {
  issuer: string;
  clientId: string;
  /** Required the first time; left out later, the stored secret stays. */
  clientSecret?: string;
  enabled?: boolean;
  jitEnabled?: boolean;
  jitGroupId?: string | null;
  allowedDomains?: string[];
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function checkDomains(domains: readonly string[]): string[] {
  const out = [...new Set(domains.map((d) => d.trim().toLowerCase().replace(/^@/, '')))];
  for (const d of out) {
    if (!DOMAIN.test(d))
      throw new AppError('INVALID_SSO_CONFIG', `allowedDomains: "${d.slice(0, 100)}" is not a domain name`);
  }
  return out.sort();
}

function checkIssuer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new AppError('INVALID_SSO_CONFIG', `issuer: "${raw.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new AppError('INVALID_SSO_CONFIG', 'issuer: the issuer must be an https:// URL');
  if (url.username || url.password || url.search || url.hash)
    throw new AppError('INVALID_SSO_CONFIG', 'issuer: the issuer URL has no user, query or fragment');
  return url.href.replace(/\/$/, '');
}

export const domainsOf = (row: Pick<SsoConfigRow, 'allowed_domains'>): string[] =>
  JSON.parse(row.allowed_domains) as string[];

export function ssoView(svc: Services, tenantId: string, row: SsoConfigRow | undefined): SsoConfigView {
  return {
    configured: row !== undefined,
    issuer: row?.issuer ?? null,
    clientId: row?.client_id ?? null,
    clientSecretSet: row !== undefined,
    enabled: row?.enabled === 1,
    jitEnabled: row?.jit_enabled === 1,
    jitGroupId: row?.jit_group_id ?? null,
    allowedDomains: row ? domainsOf(row) : [],
    redirectUri: ssoRedirectUri(svc),
    signInUrl: ssoStartUrl(svc, tenantId),
    updatedAt: row?.updated_at ?? null,
  };
}

export async function findSsoConfig(db: DbOrTx, tenantId: string): Promise<SsoConfigRow | undefined> {
  return db.selectFrom('sso_configs').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

export async function getSso(svc: Services, tenantId: string): Promise<SsoConfigView> {
  return ssoView(svc, tenantId, await findSsoConfig(svc.db, tenantId));
}

/** The client secret of a configuration, opened (for the token request). */
export function openClientSecret(svc: Services, row: SsoConfigRow): string {
  return svc.secrets.open(
    { ciphertext: row.secret_ciphertext, masterKeyVersion: row.master_key_version },
    ssoSecretContext(row.tenant_id),
  );
}

const target = (tenantId: string) => ({ type: 'sso', id: tenantId });

const CHOOSING_THE_IDP =
  'choosing the identity provider, turning single sign-on on or accepting more email domains (the IdP can then sign in as any user of the tenant)';

export async function putSso(svc: Services, actor: Actor, input: SsoInput): Promise<SsoConfigView> {
  const tenantId = actor.tenantId;
  const issuer = checkIssuer(input.issuer);
  const clientId = input.clientId.trim();
  if (clientId === '') throw new AppError('INVALID_SSO_CONFIG', 'clientId: the client id is empty');
  const domains = input.allowedDomains === undefined ? undefined : checkDomains(input.allowedDomains);
  const current = await findSsoConfig(svc.db, tenantId);
  if (!current && input.clientSecret === undefined)
    throw new AppError('INVALID_SSO_CONFIG', 'clientSecret: needed when single sign-on is first set up');
  const idpChanged =
    !current ||
    current.issuer !== issuer ||
    current.client_id !== clientId ||
    input.clientSecret !== undefined;
  const allowPrivate = svc.config.ssoAllowPrivate;
  if (!allowPrivate && new URL(issuer).protocol !== 'https:')
    throw new AppError('SSO_ADDRESS_REFUSED', 'issuer: the issuer must be an https:// URL');
  // Refused before latchkey fetches anything for a caller who may not choose the IdP.
  if (idpChanged) assertHoldsEverything(actor, CHOOSING_THE_IDP);
  // The IdP is checked before anything is stored (outside the transaction: a slow IdP must not
  // hold the database): it must answer discovery as the issuer it claims to be.
  let discoveredIssuer = issuer;
  if (idpChanged) {
    const secret = input.clientSecret ?? (current ? openClientSecret(svc, current) : /* unreachable */ '');
    const config = await discoverIdp({ issuer, clientId, clientSecret: secret, allowPrivate });
    discoveredIssuer = config.serverMetadata().issuer;
  }
  return writeTransaction(svc, {}, async (trx) => {
    const before = await findSsoConfig(trx, tenantId);
    const now = iso(svc.clock.now());
    const enabled = input.enabled ?? true;
    const jitEnabled = input.jitEnabled ?? false;
    const jitGroupId = input.jitGroupId === undefined ? (before?.jit_group_id ?? null) : input.jitGroupId;
    const allowed = domains ?? (before ? domainsOf(before) : []);
    const beforeDomains = before ? domainsOf(before) : [];
    const widened =
      before !== undefined &&
      ((beforeDomains.length > 0 && allowed.length === 0) || allowed.some((d) => !beforeDomains.includes(d)));
    if (
      !before ||
      discoveredIssuer !== before.issuer ||
      idpChanged ||
      (enabled && before.enabled === 0) ||
      widened
    ) {
      assertHoldsEverything(actor, CHOOSING_THE_IDP);
    }
    if (jitGroupId !== null) {
      const group = await trx
        .selectFrom('groups')
        .select(['id', 'name'])
        .where('tenant_id', '=', tenantId)
        .where('id', '=', jitGroupId)
        .executeTakeFirst();
      if (!group) throw notFound('group');
      assertCovers(
        actor,
        await heldPatterns(trx, tenantId, { type: 'group', id: jitGroupId }),
        `sending new single sign-on users into the group ${group.name}`,
      );
    }
    const sealed =
      input.clientSecret === undefined
        ? undefined
        : svc.secrets.seal(input.clientSecret, ssoSecretContext(tenantId));
    const row: SsoConfigRow = {
      tenant_id: tenantId,
      issuer: discoveredIssuer,
      client_id: clientId,
      secret_ciphertext: sealed?.ciphertext ?? (before?.secret_ciphertext as string),
      master_key_version: sealed?.masterKeyVersion ?? (before?.master_key_version as number),
      enabled: enabled ? 1 : 0,
      jit_enabled: jitEnabled ? 1 : 0,
      jit_group_id: jitGroupId,
      allowed_domains: JSON.stringify(allowed),
      created_at: before?.created_at ?? now,
      updated_at: now,
    };
    if (before) {
      const { tenant_id: _, ...values } = row;
      await trx.updateTable('sso_configs').set(values).where('tenant_id', '=', tenantId).execute();
    } else {
      await trx.insertInto('sso_configs').values(row).execute();
    }
    const after = ssoView(svc, tenantId, row);
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'sso.configure',
      target(tenantId),
      before ? ssoView(svc, tenantId, before) : null,
      { ...after, clientSecretChanged: input.clientSecret !== undefined },
    );
    return after;
  });
}

export async function deleteSso(svc: Services, actor: Actor): Promise<void> {
  await writeTransaction(svc, {}, async (trx) => {
    const before = await findSsoConfig(trx, actor.tenantId);
    if (!before) throw notFound('single sign-on configuration');
    // Links stay: set up again with the same issuer, the same people map to the same users.
    await trx.deleteFrom('sso_configs').where('tenant_id', '=', actor.tenantId).execute();
    await trx.deleteFrom('sso_flows').where('tenant_id', '=', actor.tenantId).execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'sso.delete',
      target(actor.tenantId),
      ssoView(svc, actor.tenantId, before),
      null,
    );
  });
}
