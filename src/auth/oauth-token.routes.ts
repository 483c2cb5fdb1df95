// POST /v1/oauth/token — the client_credentials grant (RFC 6749 §4.4) for API clients.
// Accepts JSON (what @pipedream/sdk sends) and form bodies (what OAuth libraries send), client
// authentication in the body or by HTTP Basic (§2.3.1). Errors use RFC 6749 §5.2's body.
// The argon2 work is bounded (issue 10): a limit per source address before the body is read, a
// limit per client id before the secret is verified (both 429 slow_down with Retry-After), and a
// fixed verification pool that answers 503 temporarily_unavailable at once when it is full.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { findClientById } from './clients.repository.ts';
import { VERIFIER_BUSY, decoyHash, type SecretVerificationPool } from '../crypto/passwords.ts';
import type { Database } from '../db/types.ts';
import { OAUTH_TOKEN_ERRORS, type OAuthTokenErrorCode } from '../errors.ts';
import { toApiError } from '../http/error-handler.ts';
import type { RateLimitHook } from '../http/rate-limit.ts';
import { issueAccessToken } from './access-tokens.ts';
import { isKnownScope, parseScopeList, scopesWithin } from './scopes.ts';

const OAuthErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() });

const TokenRequestSchema = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 100 })),
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  client_secret: Type.Optional(Type.String({ maxLength: 200 })),
  scope: Type.Optional(Type.String({ maxLength: 1000 })),
});

/** RFC 6749 §5.2's error body, with the catalogue's status for the code. */
function oauthError(reply: FastifyReply, error: OAuthTokenErrorCode, description: string): FastifyReply {
  if (error === 'invalid_client') void reply.header('www-authenticate', 'Basic realm="latchkey"');
  return reply.code(OAUTH_TOKEN_ERRORS[error].status).header('cache-control', 'no-store').send({ error, error_description: description });
}

const MALFORMED = Symbol('malformed');

/** HTTP Basic client authentication (§2.3.1: id and secret form-urlencoded, then base64). */
function basicCredentials(request: FastifyRequest): { id: string; secret: string } | typeof MALFORMED | undefined {
  const header = request.headers.authorization;
  if (header === undefined || !/^Basic\b/i.test(header)) return undefined;
  const match = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header);
  if (match === null) return MALFORMED;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return MALFORMED;
  try {
    return { id: decodeURIComponent(decoded.slice(0, separator)), secret: decodeURIComponent(decoded.slice(separator + 1)) };
  } catch {
    return MALFORMED; // a bad percent-encoding is the caller's error, not a 500
  }
}

// Client ids are minted as lkc_ + base62; anything else cannot exist, and must not reach the
// database (a NUL byte in a text parameter is a PostgreSQL error, not an unknown client).
const CLIENT_ID_PATTERN = /^lkc_[A-Za-z0-9]{1,64}$/;

/** The client id a token request names (Basic or body), for the per-client limit. */
export function requestedClientId(request: FastifyRequest): string | undefined {
  const basic = basicCredentials(request);
  if (basic !== undefined && basic !== MALFORMED) return basic.id;
  const body = request.body as { client_id?: unknown } | null | undefined;
  return typeof body?.client_id === 'string' ? body.client_id : undefined;
}

export interface OAuthTokenDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly secrets: SecretVerificationPool;
  /** Per source address (onRequest) and per client id (preHandler). */
  readonly limits: { readonly perAddress: RateLimitHook; readonly perClient: RateLimitHook };
}

/** Seconds a caller refused by the full verification pool should wait. */
const BUSY_RETRY_AFTER_SECONDS = 1;

export function oauthTokenRoutes(deps: OAuthTokenDeps): FastifyPluginAsyncTypebox {
  const { db, now, secrets } = deps;
  return async (app) => {
    app.post(
      '/v1/oauth/token',
      {
        attachValidation: true,
        onRequest: deps.limits.perAddress,
        preHandler: deps.limits.perClient,
        // Body parsing failures (bad JSON, wrong content type, too large) still answer in RFC 6749 form.
        errorHandler: (error, request, reply) => {
          const apiError = toApiError(error);
          if (apiError.status >= 500) {
            request.log.error({ err: error }, 'token request failed');
            return oauthError(reply, 'server_error', 'internal error');
          }
          // A rate limit: RFC 8628 §3.5's slow_down (the OAuth registry's code for it), Retry-After set.
          if (apiError.code === 'too_many_requests') {
            if (apiError.retryAfterSeconds !== undefined) void reply.header('retry-after', String(apiError.retryAfterSeconds));
            return oauthError(reply, 'slow_down', 'too many token requests; retry after the retry-after header');
          }
          // The body parser's own status (413 too large, 415 content type) says more than 400 would.
          return reply.code(apiError.status).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: apiError.message });
        },
        schema: {
          tags: ['auth'],
          summary: 'Get an API access token (client_credentials grant); JSON or form body',
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: TokenRequestSchema,
          response: {
            200: Type.Object({
              access_token: Type.String(),
              token_type: Type.Literal('Bearer'),
              expires_in: Type.Integer(),
              scope: Type.String(),
              created_at: Type.Integer({ description: 'seconds since the epoch' }),
            }),
            '4xx': OAuthErrorSchema,
            500: OAuthErrorSchema,
            503: OAuthErrorSchema,
          },
        },
      },
      async (request, reply) => {
        if (request.validationError !== undefined || request.body === null || typeof request.body !== 'object') {
          return oauthError(reply, 'invalid_request', 'the token request body is malformed');
        }
        const body = request.body;
        if (body.grant_type !== 'client_credentials') {
          return body.grant_type === undefined
            ? oauthError(reply, 'invalid_request', 'grant_type is required')
            : oauthError(reply, 'unsupported_grant_type', 'only client_credentials is supported');
        }
        const basic = basicCredentials(request);
        if (basic === MALFORMED) return oauthError(reply, 'invalid_client', 'the basic authorization header is malformed');
        // §2.3: a client must not use more than one authentication method in a request.
        if (basic !== undefined && body.client_secret !== undefined) {
          return oauthError(reply, 'invalid_request', 'use either basic authentication or client_secret in the body, not both');
        }
        const credentials =
          basic ?? (body.client_id !== undefined && body.client_secret !== undefined ? { id: body.client_id, secret: body.client_secret } : undefined);
        if (credentials === undefined) return oauthError(reply, 'invalid_client', 'client authentication is required');

        const client = CLIENT_ID_PATTERN.test(credentials.id) ? await findClientById(db, credentials.id) : undefined;
        // Verify against a decoy for unknown clients so the answer's timing reveals nothing.
        const secretMatches =
          client === undefined
            ? await secrets.verify(await decoyHash(), credentials.secret, 'unknown')
            : await secrets.verify(client.secret_hash, credentials.secret, 'known');
        if (secretMatches === VERIFIER_BUSY) {
          void reply.header('retry-after', String(BUSY_RETRY_AFTER_SECONDS));
          return oauthError(reply, 'temporarily_unavailable', 'the server is busy verifying client secrets; retry after the retry-after header');
        }
        if (client === undefined || client.revoked_at !== null || !secretMatches) {
          return oauthError(reply, 'invalid_client', 'client authentication failed');
        }

        const allowed = parseScopeList(client.scopes);
        const requested = body.scope === undefined ? allowed : parseScopeList(body.scope);
        if (requested.length === 0 || !requested.every(isKnownScope) || !scopesWithin(requested, allowed)) {
          return oauthError(reply, 'invalid_scope', 'the requested scope exceeds the client scopes');
        }

        const issuedAt = now();
        const issued = await issueAccessToken(db, { clientId: client.id, projectId: client.project_id, scopes: requested }, issuedAt);
        return reply
          .header('cache-control', 'no-store')
          .header('pragma', 'no-cache')
          .send({
            access_token: issued.token,
            token_type: 'Bearer' as const,
            expires_in: issued.expiresIn,
            scope: requested.join(' '),
            created_at: Math.floor(issuedAt.getTime() / 1000),
          });
      },
    );
  };
}
