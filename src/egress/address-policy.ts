// Which IP addresses latchkey may connect to. The ranges come from ipaddr.js (IANA special-purpose
// registries, RFC 6890 and its successors), not hand-written bit masks; this file only decides
// which of its named ranges are off limits and how to see through IPv6 forms that carry an
// IPv4 address inside (security catalogue §5, item 59).
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { AddressRefusal } from './egress-error.ts';

/** Cloud instance-metadata endpoints: named first so a refusal says what was really aimed at. */
const METADATA_ADDRESSES = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
  '169.254.170.2', // AWS ECS task metadata and credentials
  '100.100.100.200', // Alibaba Cloud
  '192.0.0.192', // Oracle Cloud (classic)
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd20:ce::254', // GCP metadata over IPv6
]);

const IPV4_REFUSALS: Readonly<Record<string, AddressRefusal>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link_local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier_grade_nat',
  private: 'private',
  // Includes documentation (RFC 5737), benchmarking (RFC 2544), 240/4 and the 6to4 relay anycast.
  reserved: 'reserved',
};

const IPV6_REFUSALS: Readonly<Record<string, AddressRefusal>> = {
  unspecified: 'unspecified',
  linkLocal: 'link_local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique_local',
  deprecatedSiteLocal: 'site_local',
  // 6to4 (RFC 3056, deprecated by RFC 7526) and Teredo (RFC 4380) hand the packet to a relay that
  // forwards it to the IPv4 address inside, whoever chose it: refused outright.
  '6to4': 'tunnel',
  teredo: 'tunnel',
  discard: 'reserved',
  benchmarking: 'reserved',
  reserved: 'reserved',
};

/** IPv4-mapped (::ffff:a.b.c.d) and translated (RFC 6145, RFC 6052 NAT64 well-known prefix). */
const EMBEDS_IPV4 = new Set(['ipv4Mapped', 'rfc6145']);
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');
/** Everything routable on the IPv6 internet lies in 2000::/3 (RFC 4291 §2.4, IANA). */
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

export type AddressVerdict = { allowed: true; loopback: boolean } | { allowed: false; reason: AddressRefusal };

export interface AddressPolicyOptions {
  /** LATCHKEY_INSECURE_LOOPBACK: loopback addresses pass (tests, local development); nothing else does. */
  readonly allowLoopback: boolean;
}

/**
 * Judges one address as the socket would see it. Only canonical text from the URL parser or a
 * resolver reaches here; anything `net.isIP` does not accept is refused rather than guessed at.
 */
export function judgeAddress(address: string, options: AddressPolicyOptions): AddressVerdict {
  if (isIP(address) === 0) return { allowed: false, reason: 'reserved' };
  const parsed = ipaddr.parse(address);
  const refusal = parsed.kind() === 'ipv4' ? ipv4Refusal(parsed as ipaddr.IPv4) : ipv6Refusal(parsed as ipaddr.IPv6);
  if (refusal === undefined) return { allowed: true, loopback: false };
  if (refusal === 'loopback' && options.allowLoopback) return { allowed: true, loopback: true };
  return { allowed: false, reason: refusal };
}

function ipv4Refusal(address: ipaddr.IPv4): AddressRefusal | undefined {
  if (METADATA_ADDRESSES.has(address.toString())) return 'metadata';
  const range = address.range();
  if (range === 'unicast') return undefined;
  // A range ipaddr.js names that is not listed above (AS112, AMT, or one added in a later
  // version) is special-purpose, hence not a webhook receiver or an API: fail closed.
  return IPV4_REFUSALS[range] ?? 'reserved';
}

function ipv6Refusal(address: ipaddr.IPv6): AddressRefusal | undefined {
  // toString() is the RFC 5952 form, the spelling the set above uses.
  if (METADATA_ADDRESSES.has(address.toString())) return 'metadata';
  const range = address.range();
  // The socket reaches the IPv4 address inside, so that address is what is judged.
  if (EMBEDS_IPV4.has(range) || (range === 'rfc6052' && address.match(NAT64_WELL_KNOWN))) return ipv4Refusal(lowIpv4(address));
  const named = IPV6_REFUSALS[range];
  if (named !== undefined) return named;
  if (range !== 'unicast') return 'reserved';
  return address.match(GLOBAL_UNICAST) ? undefined : 'not_global_unicast';
}

/** The IPv4 address in the last 32 bits (RFC 4291 §2.5.5.2, RFC 6052 §2.2 with a /96 prefix). */
function lowIpv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  return ipaddr.fromByteArray(address.toByteArray().slice(12)) as ipaddr.IPv4;
}
