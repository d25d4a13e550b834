// The SSRF guard for URLs Leash will POST to (delivery_url, webhook endpoints). With
// ALLOW_PRIVATE_URLS off, a target must resolve only to public unicast addresses.
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

function isPublic(address: string): boolean {
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
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
    addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return `host ${host} does not resolve`;
  }
  if (addresses.length === 0 || !addresses.every(isPublic)) {
    return 'must point to a public address (private and loopback targets are refused; see ALLOW_PRIVATE_URLS)';
  }
  return undefined;
}
