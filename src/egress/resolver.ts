// How the egress guard turns a name into addresses. It is an input, not a global: tests inject
// a resolver (this machine has no DNS, and a test must make a name point at 127.0.0.1 or at a
// private address on purpose); production uses the operating system's.
import { lookup } from 'node:dns/promises';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Every address the name has right now; an empty list or a rejection means it has none. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/**
 * getaddrinfo, through dns.lookup, so /etc/hosts and the system's resolver configuration apply
 * as they do for every other program. The trailing dot makes the name absolute: the resolver's
 * search list must not turn `vault.prod` into `vault.prod.svc.cluster.local` (Kubernetes sets
 * ndots:5, so any name with fewer than five dots would be tried under the cluster's domains first).
 */
export const systemResolver: HostResolver = async (hostname) => {
  const answers = await lookup(`${hostname}.`, { all: true });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
};
