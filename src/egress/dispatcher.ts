// The undici dispatcher every fetch / undici.request of latchkey goes through: one kept-alive
// connection pool per origin, and a connector that refuses a destination before it opens the
// socket. The connector, not the caller, is where the policy lives: a caller that forgot to
// check its URL (or a redirect it chose to follow) still cannot reach an internal host.
import { Agent, buildConnector } from 'undici';
import { checkHost, checkScheme, classifyHost, type EgressPolicy } from './destination-policy.ts';
import { createGuardedLookup } from './guarded-lookup.ts';
import type { HostResolver } from './resolver.ts';

export interface GuardedDispatcherOptions {
  readonly policy: EgressPolicy;
  readonly resolve: HostResolver;
  /** TCP connect plus TLS handshake, per connection. */
  readonly connectTimeoutMs: number;
  /** Idle time before a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /** Upper bound on connections per origin (the proxy's upstreams). */
  readonly connectionsPerOrigin: number;
  /** Defaults for requests that set none (egress-request.ts always sets its own). */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export function createGuardedDispatcher(options: GuardedDispatcherOptions): Agent {
  const connectors = {
    // No h2: one protocol whose request smuggling and header rules we know; ALPN stays http/1.1.
    https: buildConnector({ timeout: options.connectTimeoutMs, lookup: createGuardedLookup({ ...options, loopbackOnly: false }) }),
    http: buildConnector({ timeout: options.connectTimeoutMs, lookup: createGuardedLookup({ ...options, loopbackOnly: true }) }),
  };
  return new Agent({
    connect: (target, callback) => {
      // IP literals never reach a lookup function (net.connect skips it), so the host and the
      // scheme are judged here, for every connection, whatever the caller checked before.
      try {
        const host = classifyHost(target.hostname);
        checkHost(host, options.policy);
        checkScheme(target.protocol, host, options.policy);
      } catch (err) {
        callback(err as Error, null);
        return;
      }
      (target.protocol === 'https:' ? connectors.https : connectors.http)(target, callback);
    },
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connections: options.connectionsPerOrigin,
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
  });
}
