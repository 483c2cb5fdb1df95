// Node http(s).Agents with the same guard, for clients built on Node's http module: @hapi/wreck,
// which simple-oauth2 uses for the token, refresh and revoke requests (its `http.agents` option
// reaches wreck's client). Same steps as dispatcher.ts: judge host and scheme before a socket
// exists, then connect through the guarded lookup. Deadlines and size caps are wreck's own
// options (`timeout`, `maxBytes`, `redirects: 0`), which the callers already set.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { checkHost, checkScheme, classifyHost, type EgressPolicy } from './destination-policy.ts';
import { createGuardedLookup } from './guarded-lookup.ts';
import type { HostResolver } from './resolver.ts';

export interface GuardedAgentOptions {
  readonly policy: EgressPolicy;
  readonly resolve: HostResolver;
}

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

/**
 * simple-oauth2 deep-copies its `http` options with @hapi/hoek's clone each time a client is
 * built; a copy of an agent would carry copies of its pooled sockets, which fail with "Illegal
 * invocation" when reused. Hoek hands back as is any object whose prototype says `isImmutable`,
 * so every client shares the one guarded agent (and its pool) instead.
 */
function markUncloneable(agentClass: { prototype: object }): void {
  Object.defineProperty(agentClass.prototype, 'isImmutable', { value: true });
}

/** Throws the refusal for a socket Node is about to open, or returns nothing. */
function judgeTarget(protocol: 'http:' | 'https:', host: string | null | undefined, policy: EgressPolicy): void {
  const target = classifyHost(host ?? 'localhost');
  checkHost(target, policy);
  checkScheme(protocol, target, policy);
}

/** Reports a refusal the way Node's Agent expects: through the callback, on a later tick. */
function refuseLater(err: unknown, callback: ConnectionCallback | undefined): undefined {
  process.nextTick(() => callback?.(err as Error, undefined as unknown as Duplex));
  return undefined;
}

export class GuardedHttpsAgent extends https.Agent {
  constructor(private readonly guard: GuardedAgentOptions) {
    super({ keepAlive: true, lookup: createGuardedLookup({ ...guard, loopbackOnly: false }) });
  }

  override createConnection(options: https.RequestOptions, callback?: ConnectionCallback): Duplex | null | undefined {
    try {
      judgeTarget('https:', options.hostname ?? options.host, this.guard.policy);
    } catch (err) {
      return refuseLater(err, callback);
    }
    return super.createConnection(options, callback);
  }
}

export class GuardedHttpAgent extends http.Agent {
  constructor(private readonly guard: GuardedAgentOptions) {
    super({ keepAlive: true, lookup: createGuardedLookup({ ...guard, loopbackOnly: true }) });
  }

  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    try {
      judgeTarget('http:', options.hostname ?? options.host, this.guard.policy);
    } catch (err) {
      return refuseLater(err, callback);
    }
    return super.createConnection(options, callback);
  }
}

markUncloneable(GuardedHttpsAgent);
markUncloneable(GuardedHttpAgent);

/**
 * What simple-oauth2's `http` options take (`{ agents: … }`, handed to Wreck.defaults).
 * `httpsAllowUnauthorized` is the verifying agent too: a `rejectUnauthorized: false` somewhere
 * must never switch certificate checks off.
 */
export interface WreckAgents {
  readonly http: GuardedHttpAgent;
  readonly https: GuardedHttpsAgent;
  readonly httpsAllowUnauthorized: GuardedHttpsAgent;
}
