// The checks a destination must pass before latchkey opens a socket to it, each a named step
// that throws one refusal. They run on the URL alone; the addresses a name resolves to are
// judged by guarded-lookup.ts at connect time, against the same address policy.
import { isIP } from 'node:net';
import { judgeAddress } from './address-policy.ts';
import { refusal } from './egress-error.ts';
import { hostNameRefusal, isLocalhostName } from './host-names.ts';

export interface EgressPolicy {
  /**
   * LATCHKEY_INSECURE_LOOPBACK: loopback destinations pass (http or https), for tests and local
   * development. Never set in production (config.ts refuses it there).
   */
  readonly insecureLoopback: boolean;
}

export type DestinationHost = { kind: 'address'; address: string } | { kind: 'name'; name: string };

export interface Destination {
  readonly url: URL;
  readonly host: DestinationHost;
}

/** Every step, in order: the URL latchkey may send to, or an EgressError(host_not_allowed). */
export function checkDestination(raw: string | URL, policy: EgressPolicy): Destination {
  const url = parseWhatwg(raw);
  checkHttpFamily(url);
  checkNoUserinfo(url);
  const host = classifyHost(url.hostname);
  checkHost(host, policy);
  checkScheme(url.protocol, host, policy);
  return { url, host };
}

/**
 * The WHATWG parser is the one every HTTP client here uses, so its reading of the host is the
 * one that counts: it turns `2130706433`, `0x7f.1`, `017700000001` and `127.1` into 127.0.0.1
 * and `[::ffff:127.0.0.1]` into `[::ffff:7f00:1]` before anything below looks at them.
 */
export function parseWhatwg(raw: string | URL): URL {
  try {
    return new URL(raw);
  } catch {
    throw refusal('invalid_url');
  }
}

/** Only http(s) has a host worth judging (`file:`, `data:`, `gopher:` have none or worse). */
export function checkHttpFamily(url: URL): void {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refusal('scheme_not_allowed');
}

/** `https://user:pass@host` sends credentials nobody meant to send (and hides the real host). */
export function checkNoUserinfo(url: URL): void {
  if (url.username !== '' || url.password !== '') throw refusal('userinfo_not_allowed');
}

/**
 * A host as the socket layer sees it: brackets off an IPv6 literal, the trailing dot off a name.
 * A host that did not come through the URL parser (Node's http.request takes a raw `host`) is
 * read the WHATWG way first: getaddrinfo would take `0x7f.1` for 127.0.0.1 as well.
 */
export function classifyHost(hostname: string): DestinationHost {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0) return { kind: 'address', address: bare };
  const parsed = parseWhatwg(`http://${bare}/`).hostname;
  if (parsed.startsWith('[') || isIP(parsed) !== 0) return classifyHost(parsed);
  return { kind: 'name', name: parsed.replace(/\.$/, '') };
}

/** An IP literal must be a public address; a name must not be private by construction. */
export function checkHost(host: DestinationHost, policy: EgressPolicy): void {
  if (host.kind === 'address') {
    const verdict = judgeAddress(host.address, { allowLoopback: policy.insecureLoopback });
    if (!verdict.allowed) throw refusal(`address_${verdict.reason}`);
    return;
  }
  if (isLocalhostName(host.name)) {
    if (!policy.insecureLoopback) throw refusal('name_local_only');
    return;
  }
  const reason = hostNameRefusal(host.name);
  if (reason !== undefined) throw refusal(reason);
}

/** https only (RFC 6749 §10.3 for token endpoints; signed webhooks likewise); http only to loopback. */
export function checkScheme(protocol: string, host: DestinationHost, policy: EgressPolicy): void {
  if (protocol === 'https:') return;
  if (protocol === 'http:' && policy.insecureLoopback && isLoopbackHost(host)) return;
  throw refusal('scheme_not_allowed');
}

/** A loopback literal or a localhost name: the only hosts plain http may go to. */
export function isLoopbackHost(host: DestinationHost): boolean {
  if (host.kind === 'name') return isLocalhostName(host.name);
  const verdict = judgeAddress(host.address, { allowLoopback: true });
  return verdict.allowed && verdict.loopback;
}
