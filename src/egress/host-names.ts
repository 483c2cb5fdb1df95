// Which DNS names latchkey may send a request to, judged before any lookup. A name can only be
// proven public by resolving it (guarded-lookup.ts does, at connect time); this step refuses
// the names that are private by construction, so they fail with a clear reason and never reach
// a resolver whose search list or split-horizon view might answer with an internal address.
import type { RefusalReason } from './egress-error.ts';

/**
 * Suffixes that never name a host on the public internet: special-use names (RFC 6761; RFC 6762
 * `.local`, which also covers Kubernetes' `.cluster.local`; `.arpa`, which covers RFC 8375
 * `.home.arpa` and reverse-lookup names; RFC 9476 `.alt`), names ICANN reserves for private use
 * (`.internal`, so `metadata.google.internal`; `.corp`/`.home`/`.mail` after the name-collision
 * study), the defaults of service discovery (Kubernetes `.svc`, Consul `.consul`, Nomad `.nomad`,
 * Docker's embedded DNS `.docker`), names that only an internal resolver answers (Windows'
 * `.workgroup`, `.localnet`, Azure's per-network `internal.cloudapp.net`).
 */
const LOCAL_ONLY_SUFFIXES = [
  'localhost',
  'local',
  'localdomain',
  'internal',
  'intranet',
  'private',
  'lan',
  'home',
  'corp',
  'mail',
  'arpa',
  'alt',
  'onion',
  'test',
  'invalid',
  'example',
  'svc',
  'consul',
  'nomad',
  'docker',
  'workgroup',
  'localnet',
  'internal.cloudapp.net',
] as const;

/**
 * Wildcard-DNS services: every name under them resolves to the address spelled in it (dotted,
 * dashed, hexadecimal `7f000001.nip.io`, IPv6 `--1.sslip.io`) or to loopback (`lvh.me`). A name
 * there is built to point somewhere private, whichever spelling it uses.
 */
const WILDCARD_DNS_ZONES = [
  'nip.io',
  'sslip.io',
  'xip.io',
  'nip.direct',
  'traefik.me',
  'localtest.me',
  'lvh.me',
  'vcap.me',
  'lacolhost.com',
  'localhost.direct',
  'local.gd',
] as const;

const isUnder = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);

/** Four numeric labels in a row (`127.0.0.1.nip.io`) or one dashed quad (`127-0-0-1.sslip.io`). */
const DOTTED_QUAD = /(^|\.)(\d{1,3}\.){3}\d{1,3}(\.|$)/;
const DASHED_QUAD = /(^|[.-])(\d{1,3}-){3}\d{1,3}([.-]|$)/;

/**
 * The refusal for a DNS name (lower-case, as the WHATWG parser leaves it), or undefined when it
 * may be resolved. IP literals are not names: callers judge them with address-policy.ts.
 */
export function hostNameRefusal(hostname: string): RefusalReason | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  // Single-label names resolve through the search list (`vault` → vault.corp.example).
  if (!name.includes('.')) return name === 'localhost' ? 'name_local_only' : 'name_single_label';
  if (LOCAL_ONLY_SUFFIXES.some((suffix) => isUnder(name, suffix))) return 'name_local_only';
  if (WILDCARD_DNS_ZONES.some((zone) => isUnder(name, zone))) return 'name_embeds_ip';
  // Wildcard DNS services answer with the address spelled in the name; resolution would catch
  // it too, but a name built to point at an address is refused for what it says.
  if (DOTTED_QUAD.test(name) || DASHED_QUAD.test(name)) return 'name_embeds_ip';
  return undefined;
}

/** `localhost` and its subdomains are loopback by definition (RFC 6761 §6.3), never asked of DNS. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Where a value typed by an end user (a subdomain, a shop, a tenant: the registry's `{field}`
 * host templates) may point a request that carries a credential or a client secret: a public DNS
 * name, never an IP literal of any kind. Hosts fixed in the registry are the operator's choice;
 * either way the connection itself goes through the guard, which resolves and checks again.
 */
export function isPublicHostName(hostname: string): boolean {
  const host = hostname.toLowerCase();
  // The WHATWG parser has already turned `2130706433`, `0x7f.1` and `127.1` into dotted quads.
  if (/^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[')) return false;
  return hostNameRefusal(host) === undefined;
}
