/**
 * Talking to a tenant's OIDC identity provider (openid-client v6).
 *
 * The issuer URL is chosen by a tenant administrator but fetched by the server from inside the
 * operator's network, as webhook URLs are: every request to the IdP (discovery, token, JWKS,
 * userinfo, whichever host the discovery document names) goes through `guardedFetch`, which
 * refuses hosts that are or resolve to loopback, private, link-local or other non-public
 * addresses, checked in the socket's own DNS lookup (no window for DNS rebinding).
 * LATCHKEY_SSO_ALLOW_PRIVATE=1 lifts the rule (tests, and IdPs on the private network); it also
 * allows http:// issuers, which OIDC otherwise forbids.
 */
import http from 'node:http';
import https from 'node:https';
import * as oidc from 'openid-client';
import { AppError } from '../../errors.js';
import { guardedConnection } from '../../webhooks/address.js';

/** Each request to the IdP: a sign-in waits on it, so a slow IdP fails rather than hangs. */
const IDP_TIMEOUT_MS = 10_000;
/** Discovery documents, JWKS and token answers are small. */
const MAX_BODY_BYTES = 1_000_000;

export class IdpAddressRefused extends Error {}

/** A Fetch API over node:http(s) whose connections are refused for non-public addresses. */
export function guardedFetch(allowPrivate: boolean): oidc.CustomFetch {
  return async (input, init) => {
    const url = new URL(input);
    if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:'))
      throw new IdpAddressRefused(`${url.origin} is not https://`);
    const { refused, lookup } = guardedConnection(url, allowPrivate);
    if (refused) throw new IdpAddressRefused(refused.message.replace('webhooks', 'single sign-on'));
    const headers: Record<string, string> = { ...init.headers };
    const raw = init.body;
    let body: string | Buffer | undefined;
    if (raw === undefined || raw === null) body = undefined;
    else if (typeof raw === 'string') body = raw;
    else if (raw instanceof URLSearchParams) body = raw.toString();
    else if (raw instanceof Uint8Array) body = Buffer.from(raw);
    else if (raw instanceof ArrayBuffer) body = Buffer.from(raw);
    else body = Buffer.from(await new Response(raw).arrayBuffer());
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ...(lookup ? { lookup } : {}),
          timeout: IDP_TIMEOUT_MS,
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) req.destroy(new Error('the IdP answer is too large'));
            else chunks.push(c);
          });
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (Array.isArray(v)) for (const x of v) h.append(k, x);
              else if (v !== undefined) h.set(k, v);
            }
            const status = res.statusCode ?? 502;
            const noBody = status === 204 || status === 304;
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: h }));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('the IdP did not answer in time')));
      req.on('error', (e) => {
        if ((e as { code?: string }).code === 'EADDRREFUSED') reject(new IdpAddressRefused(e.message));
        else reject(e);
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  };
}

export interface IdpSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  allowPrivate: boolean;
}

/**
 * The IdP's configuration, by discovery. Throws SSO_ADDRESS_REFUSED for a refused address and
 * SSO_DISCOVERY_FAILED for anything else (unreachable, not an OIDC issuer, issuer mismatch).
 */
export async function discoverIdp(settings: IdpSettings): Promise<oidc.Configuration> {
  const fetch = guardedFetch(settings.allowPrivate);
  try {
    const url = new URL(settings.issuer);
    const config = await oidc.discovery(
      url,
      settings.clientId,
      undefined,
      oidc.ClientSecretPost(settings.clientSecret),
      {
        [oidc.customFetch]: fetch,
        timeout: IDP_TIMEOUT_MS / 1000,
        ...(settings.allowPrivate && url.protocol === 'http:'
          ? { execute: [oidc.allowInsecureRequests] }
          : {}),
      },
    );
    return config;
  } catch (error) {
    throw idpError(error, settings.issuer);
  }
}

/** An IdP failure as the stable error a caller can act on (the cause never reaches the client raw). */
export function idpError(error: unknown, issuer: string): AppError {
  if (error instanceof AppError) return error;
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof IdpAddressRefused || cause instanceof IdpAddressRefused) {
    const message = error instanceof IdpAddressRefused ? error.message : (cause as Error).message;
    return new AppError(
      'SSO_ADDRESS_REFUSED',
      `issuer: ${message}; identity providers must be public https:// addresses (LATCHKEY_SSO_ALLOW_PRIVATE=1 allows others)`,
    );
  }
  const why = error instanceof Error ? error.message.slice(0, 200) : 'unknown error';
  return new AppError(
    'SSO_DISCOVERY_FAILED',
    `issuer: ${issuer} did not answer as an OpenID Connect provider (${why})`,
  );
}
