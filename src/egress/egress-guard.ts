// The egress guard: the one way latchkey sends a request out (webhooks, test requests, token,
// refresh and revoke endpoints, the proxy). Built once per app; every adapter it hands out
// shares the same policy and resolver.
//
//   checkUrl(url)        the URL steps alone, synchronous (destination-policy.ts)
//   vetUrl(url)          those steps and a lookup now, for a URL being registered
//   request(url, opts)   undici.request through the guarded dispatcher, with deadlines
//   dispatcher           for undici.request / fetch / undici.stream (the proxy)
//   wreck                spread into simple-oauth2's `http` options (token, refresh, revoke)
import type { Agent } from 'undici';
import { checkDestination, type Destination, type EgressPolicy } from './destination-policy.ts';
import { createGuardedDispatcher } from './dispatcher.ts';
import { EgressError } from './egress-error.ts';
import { egressRequest, type EgressRequestOptions, type EgressResponse } from './egress-request.ts';
import { resolveChecked } from './guarded-lookup.ts';
import { GuardedHttpAgent, GuardedHttpsAgent, type WreckAgents } from './node-agents.ts';
import { systemResolver, type HostResolver } from './resolver.ts';

export interface EgressGuardOptions {
  readonly insecureLoopback: boolean;
  /** Default: the operating system's resolver (dns.lookup). Tests inject their own. */
  readonly resolve?: HostResolver | undefined;
  readonly connectTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly connectionsPerOrigin?: number;
}

export const EGRESS_DEFAULTS = {
  connectTimeoutMs: 5_000,
  keepAliveTimeoutMs: 10_000,
  connectionsPerOrigin: 64,
  // Only for a dispatcher user that sets no deadline of its own; request() always sets them.
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
} as const;

export interface EgressGuard {
  readonly policy: EgressPolicy;
  readonly dispatcher: Agent;
  /**
   * `http: { ...egress.wreck, timeout, maxBytes, redirects: 0 }` for simple-oauth2: it hands
   * `agents` to Wreck.defaults, which then has no unguarded agent left to fall back on.
   */
  readonly wreck: { readonly agents: WreckAgents };
  /** Throws EgressError(host_not_allowed) for a URL no socket may be opened to. */
  checkUrl(url: string | URL): Destination;
  /**
   * checkUrl, then resolve the name and refuse it when any address is not public. A name that
   * does not resolve (yet) passes: registration is not delivery, and every connection checks
   * again — an answer seen now proves nothing about the one seen later.
   */
  vetUrl(url: string | URL): Promise<Destination>;
  request(url: string | URL, options: EgressRequestOptions): Promise<EgressResponse>;
  /** Closes pooled connections (app shutdown). */
  close(): Promise<void>;
}

export function createEgressGuard(options: EgressGuardOptions): EgressGuard {
  const policy: EgressPolicy = Object.freeze({ insecureLoopback: options.insecureLoopback });
  const resolve = options.resolve ?? systemResolver;
  const dispatcher = createGuardedDispatcher({
    policy,
    resolve,
    connectTimeoutMs: options.connectTimeoutMs ?? EGRESS_DEFAULTS.connectTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? EGRESS_DEFAULTS.keepAliveTimeoutMs,
    connectionsPerOrigin: options.connectionsPerOrigin ?? EGRESS_DEFAULTS.connectionsPerOrigin,
    headersTimeoutMs: EGRESS_DEFAULTS.headersTimeoutMs,
    bodyTimeoutMs: EGRESS_DEFAULTS.bodyTimeoutMs,
  });
  const https = new GuardedHttpsAgent({ policy, resolve });
  const wreckAgents: WreckAgents = Object.freeze({ http: new GuardedHttpAgent({ policy, resolve }), https, httpsAllowUnauthorized: https });

  return {
    policy,
    dispatcher,
    wreck: Object.freeze({ agents: wreckAgents }),
    checkUrl: (url) => checkDestination(url, policy),
    vetUrl: async (url) => {
      const destination = checkDestination(url, policy);
      try {
        await resolveChecked(destination.url.hostname, { policy, resolve, loopbackOnly: false });
      } catch (err) {
        if (err instanceof EgressError && err.code === 'host_not_allowed') throw err;
      }
      return destination;
    },
    request: (url, requestOptions) => egressRequest({ policy, dispatcher }, url, requestOptions),
    close: async () => {
      wreckAgents.http.destroy();
      wreckAgents.https.destroy();
      await dispatcher.close();
    },
  };
}
