// The SSRF guard for URLs Leash will POST to (delivery_url, webhook endpoints). With
// ALLOW_PRIVATE_URLS off, a target must resolve only to public unicast addresses: checked when the
// URL is accepted, and again at connect time by the dispatcher below, so a DNS answer that changes
// in between (rebinding) cannot steer a delivery to a private address.
import { lookup as dnsLookup } from 'node:dns';
import { lookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

const LOOKUP_TIMEOUT_MS = 3_000;

/** An IPv6 address that carries an IPv4 one in its last 32 bits and reaches it: IPv4-mapped
 *  (::ffff:a.b.c.d) and the deprecated IPv4-compatible form (::a.b.c.d, which URL parsing writes
 *  as ::7f00:1 and ipaddr.js calls unicast). Judged by the IPv4 address inside. */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const parts = ip.parts;
  const zeros = parts.slice(0, 5).every((p) => p === 0);
  if (zeros && (parts[5] === 0xffff || (parts[5] === 0 && (parts[6] !== 0 || parts[7]! > 1)))) {
    return ipaddr.IPv4.parse(`${parts[6]! >> 8}.${parts[6]! & 0xff}.${parts[7]! >> 8}.${parts[7]! & 0xff}`);
  }
  return undefined;
}

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') ip = embeddedIPv4(ip as ipaddr.IPv6) ?? ip;
  return ip.range() === 'unicast';
}

async function resolve(host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('DNS lookup timed out')), LOOKUP_TIMEOUT_MS);
  });
  try {
    return (await Promise.race([lookup(host, { all: true }), timeout])).map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
}

/** Returns why url is not an acceptable target, or undefined when it is. */
export async function targetProblem(raw: string, allowPrivate: boolean): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : await resolve(host);
  } catch {
    return `host ${host} does not resolve`;
  }
  if (addresses.length === 0 || !addresses.every(isPublicAddress)) {
    return 'must point to a public address (private and loopback targets are refused; see ALLOW_PRIVATE_URLS)';
  }
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** Resolves like dns.lookup, but fails for any answer that is not a public address. */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused || addresses.length === 0) {
      const e: NodeJS.ErrnoException = new Error(`refused: ${hostname} resolves to a non-public address`);
      e.code = 'EACCES';
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

let guarded: Agent | undefined;

/** The HTTP dispatcher for outbound POSTs when private targets are not allowed. */
export function guardedDispatcher(): Agent {
  guarded ??= new Agent({ connect: { lookup: publicOnlyLookup as never } });
  return guarded;
}
