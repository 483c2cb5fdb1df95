// The `lookup` every outbound socket of latchkey uses (net.connect / tls.connect call it in place
// of dns.lookup). Resolving and checking happen in this one call and the socket connects to the
// addresses it hands back, so there is no second lookup an attacker's DNS could answer
// differently (DNS rebinding). The caller's TLS layer still verifies the certificate against the
// original hostname (SNI), which never changes here.
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { judgeAddress } from './address-policy.ts';
import { classifyHost, checkHost, type EgressPolicy } from './destination-policy.ts';
import { EgressError, refusal } from './egress-error.ts';
import { isLocalhostName } from './host-names.ts';
import type { HostResolver, ResolvedAddress } from './resolver.ts';

export interface GuardedLookupOptions {
  readonly policy: EgressPolicy;
  readonly resolve: HostResolver;
  /** Plain-http sockets: every address must be loopback (the scheme rule, enforced on the answer too). */
  readonly loopbackOnly: boolean;
}

/** RFC 6761 §6.3: `localhost` is loopback without asking anyone. */
const LOCALHOST_ADDRESSES: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

export function createGuardedLookup(options: GuardedLookupOptions): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveChecked(hostname, options).then(
      (addresses) => deliver(addresses, lookupOptions, callback),
      (err: unknown) => callback(err as NodeJS.ErrnoException, ''),
    );
  };
}

/** The named steps: normalise, refuse what the name says, resolve once, refuse what the answer says. */
export async function resolveChecked(hostname: string, options: GuardedLookupOptions): Promise<readonly ResolvedAddress[]> {
  const host = classifyHost(hostname);
  checkHost(host, options.policy);
  let addresses: readonly ResolvedAddress[];
  if (host.kind === 'address') addresses = [{ address: host.address, family: isIP(host.address) === 6 ? 6 : 4 }];
  else if (isLocalhostName(host.name)) addresses = LOCALHOST_ADDRESSES;
  else addresses = await resolveName(host.name, options.resolve);
  checkEveryAddress(addresses, options);
  return addresses;
}

async function resolveName(name: string, resolve: HostResolver): Promise<readonly ResolvedAddress[]> {
  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await resolve(name);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new EgressError('upstream_unreachable', typeof code === 'string' && /^[A-Z_]{1,32}$/.test(code) ? code : 'ENOTFOUND', { cause: err });
  }
  if (addresses.length === 0) throw new EgressError('upstream_unreachable', 'ENOTFOUND');
  return addresses;
}

/** Any one non-public address refuses the whole answer: the socket may try them all. */
function checkEveryAddress(addresses: readonly ResolvedAddress[], options: GuardedLookupOptions): void {
  for (const { address } of addresses) {
    const verdict = judgeAddress(address, { allowLoopback: options.policy.insecureLoopback });
    if (!verdict.allowed) throw refusal(`address_${verdict.reason}`);
    if (options.loopbackOnly && !verdict.loopback) throw refusal('scheme_not_allowed');
  }
}

function deliver(addresses: readonly ResolvedAddress[], lookupOptions: LookupOptions, callback: Parameters<LookupFunction>[2]): void {
  const family = lookupOptions.family === 4 || lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 6 || lookupOptions.family === 'IPv6' ? 6 : 0;
  const usable = family === 0 ? addresses : addresses.filter((entry) => entry.family === family);
  const first = usable[0];
  if (first === undefined) {
    callback(new EgressError('upstream_unreachable', 'ENOTFOUND') as NodeJS.ErrnoException, '');
    return;
  }
  if (lookupOptions.all === true)
    callback(
      null,
      usable.map((entry): LookupAddress => ({ address: entry.address, family: entry.family })),
    );
  else callback(null, first.address, first.family);
}
