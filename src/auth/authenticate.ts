// Who is calling. Routes declare what they need with onRequest hooks from this file:
// requireAdmin, requireProjectScope(scope). They run before the body is parsed and before any
// schema check, so an unauthenticated caller gets 401, never a 400 that describes the schema
// (and never makes the server parse a 1 MB body). A bearer for project A asking about project B
// gets the same 404 as an unknown project, so project ids cannot be probed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, onRequestHookHandler } from 'fastify';
import type { EnvironmentName } from '../db/types.ts';
import { ApiError, forbidden, notFound, unauthorized } from '../errors.ts';
import { bearerOf } from '../http/bearer.ts';
import { finishHook } from '../http/callback-hook.ts';
import { requestEnvironment } from '../http/environment.ts';
import type { AccessTokenVerifier, ClientPrincipal } from './access-tokens.ts';
import { scopeGrants } from './scopes.ts';

export interface AdminPrincipal {
  readonly kind: 'admin';
}

export type Principal = ClientPrincipal | AdminPrincipal;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    environment: EnvironmentName;
  }
}

export interface Authenticator {
  requireAdmin: onRequestAsyncHookHandler;
  requireClient(scope?: string): onRequestAsyncHookHandler;
  requireProjectScope(scope: string): onRequestHookHandler;
}

export function createAuthenticator(verifier: AccessTokenVerifier, adminToken: string | undefined): Authenticator {
  const adminDigest = adminToken === undefined ? undefined : sha256(adminToken);

  async function clientPrincipal(request: FastifyRequest): Promise<ClientPrincipal> {
    return livePrincipal(await verifier.verify(requiredBearer(request)));
  }

  const requireAdmin: onRequestAsyncHookHandler = async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = requiredBearer(request);
    if (adminDigest === undefined || !timingSafeEqual(sha256(token), adminDigest)) {
      // A valid project client is authenticated but not an administrator. Its principal stays on
      // the request so the audit log can name who was refused.
      const client = await verifier.verify(token);
      if (client !== null) {
        request.principal = client;
        throw forbidden('admin endpoints need the admin token');
      }
      throw unauthorized('invalid admin token');
    }
    request.principal = { kind: 'admin' };
  };

  function requireClient(scope?: string): onRequestAsyncHookHandler {
    return async (request) => {
      const principal = await clientPrincipal(request);
      if (scope !== undefined && !scopeGrants(principal.scopes, scope)) throw new ApiError('forbidden', `the token lacks scope ${scope}`);
      request.principal = principal;
      request.environment = requestEnvironment(request);
    };
  }

  /**
   * A callback hook, the credential fetch's: a bearer the verifier has cached (nearly every
   * request of a busy client) is admitted without a promise; any other is verified first.
   */
  function requireProjectScope(scope: string): onRequestHookHandler {
    const admit = (request: FastifyRequest, verified: ClientPrincipal | null): void => {
      const principal = livePrincipal(verified);
      const projectId = (request.params as { project_id?: string }).project_id;
      if (projectId === undefined || projectId !== principal.projectId) throw notFound('project');
      if (!scopeGrants(principal.scopes, scope)) throw new ApiError('forbidden', `the token lacks scope ${scope}`);
      request.principal = principal;
      request.environment = requestEnvironment(request);
      refuseOtherEnvironment(principal, request.environment);
    };
    return (request, _reply, done) => {
      let token: string;
      try {
        token = requiredBearer(request);
      } catch (err) {
        done(err as Error);
        return;
      }
      const cached = verifier.cachedAnswer(token);
      if (cached !== undefined) {
        finishHook(done, () => admit(request, cached));
        return;
      }
      verifier.verify(token).then(
        (principal) => finishHook(done, () => admit(request, principal)),
        (err: unknown) => done(err as Error),
      );
    };
  }

  return { requireAdmin, requireClient, requireProjectScope };
}

/** The request's bearer token, or the 401 every route answers without one. */
function requiredBearer(request: FastifyRequest): string {
  const token = bearerOf(request);
  if (token === undefined) throw unauthorized('missing bearer token');
  return token;
}

/** The verifier's principal, or the 401 for a token it refused. */
function livePrincipal(principal: ClientPrincipal | null): ClientPrincipal {
  if (principal === null) throw unauthorized('invalid or expired bearer token');
  return principal;
}

/**
 * A client limited to one environment acts only there. Checked on every project route (the
 * environment-bound data); the app registry, which is the same in both, stays readable.
 */
function refuseOtherEnvironment(principal: ClientPrincipal, environment: EnvironmentName): void {
  if (principal.environment !== null && principal.environment !== environment) {
    throw forbidden(`this API client is limited to the ${principal.environment} environment (x-pd-environment)`);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
