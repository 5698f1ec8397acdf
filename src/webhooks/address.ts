/**
 * Where a webhook may be sent. An endpoint URL is chosen by a tenant administrator but fetched by
 * the server, from inside the operator's network: without a check it would reach the metadata
 * service (169.254.169.254), databases on localhost or anything on the private network (SSRF).
 *
 * Only http(s) URLs without credentials; the host must resolve to public unicast addresses only
 * (every address it resolves to, so a name with one public and one private address is refused).
 * The check runs when the endpoint is registered (a clear 400) and again on every delivery, in the
 * socket's own DNS lookup, so a name that later resolves elsewhere (DNS rebinding) is refused at
 * the moment of connecting. LATCHKEY_WEBHOOK_ALLOW_PRIVATE=1 lifts the address rule (tests, and
 * deployments whose receivers live on the private network).
 */
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';

/** Why an address is refused, or null when it is public unicast. */
export function refusedRange(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  // Everything but plain unicast: loopback, private, link-local, unique-local, CGNAT, multicast,
  // broadcast, unspecified, documentation and benchmarking ranges, and the IPv6 transition
  // prefixes (6to4, Teredo, NAT64) that can carry any IPv4 address, private ones included.
  return range === 'unicast' ? null : range;
}

export class AddressRefused extends Error {
  readonly code = 'EADDRREFUSED';
  constructor(host: string, address: string, range: string) {
    super(`${host} resolves to ${address} (${range}), which webhooks may not reach`);
  }
}

/** The URL's host as a name or an address (IPv6 without brackets). */
const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/** An endpoint URL as stored: http(s), no credentials, no fragment. Throws INVALID_WEBHOOK. */
export function checkWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('INVALID_WEBHOOK', `url: "${raw.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('INVALID_WEBHOOK', 'url: the URL must be http:// or https://');
  if (url.username || url.password)
    throw new AppError('INVALID_WEBHOOK', 'url: the URL may not carry a user name or password');
  if (url.hash || raw.includes('#'))
    throw new AppError('INVALID_WEBHOOK', 'url: the URL may not have a fragment');
  if (hostOf(url) === '') throw new AppError('INVALID_WEBHOOK', 'url: the URL names no host');
  return url;
}

/**
 * At registration: every address the host has must be public (unless allowed). An IP literal is
 * checked as it is; a name is resolved now.
 */
export async function assertPublicHost(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = hostOf(url);
  let addresses: string[];
  if (net.isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      throw new AppError('INVALID_WEBHOOK', `url: the host ${host} does not resolve`);
    }
  }
  for (const address of addresses) {
    const range = refusedRange(address);
    if (range !== null) {
      throw new AppError(
        'WEBHOOK_ADDRESS_REFUSED',
        `url: ${host} is (or resolves to) ${address}, a ${range} address; webhooks go to public addresses only`,
        { address, range },
      );
    }
  }
}

/**
 * For a delivery: the IP literal refused now, or a lookup for the socket that refuses when any
 * address the name resolves to is not public. Node calls a socket's lookup only for names, never
 * for IP literals, hence both.
 */
export function guardedConnection(
  url: URL,
  allowPrivate: boolean,
): { refused: AddressRefused | null; lookup: LookupFunction | undefined } {
  if (allowPrivate) return { refused: null, lookup: undefined };
  const host = hostOf(url);
  if (net.isIP(host)) {
    const range = refusedRange(host);
    return { refused: range === null ? null : new AddressRefused(host, host, range), lookup: undefined };
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      for (const a of addresses) {
        const range = refusedRange(a.address);
        if (range !== null) return callback(new AddressRefused(hostname, a.address, range), '', 0);
      }
      if (options.all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
  return { refused: null, lookup };
}
