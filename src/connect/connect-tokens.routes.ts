// POST /v1/connect/{project_id}/tokens and GET /v1/connect/tokens/{token}/validate, with
// Pipedream's bodies so @pipedream/sdk's tokens.create / tokens.validate work unchanged.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticate.ts';
import { AppSchema } from '../apps/app-view.ts';
import type { RateLimitHook } from '../http/rate-limit.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema, ExternalUserIdSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import {
  MAX_ALLOWED_ORIGINS,
  MAX_EXPIRES_IN_SECONDS,
  MIN_EXPIRES_IN_SECONDS,
  createConnectToken,
  validateConnectToken,
  type ConnectTokenDeps,
} from './connect-tokens.service.ts';

const Uri = (description: string) => Type.String({ minLength: 1, maxLength: 2048, description });

const CreateTokenBodySchema = Type.Object(
  {
    external_user_id: ExternalUserIdSchema,
    success_redirect_uri: Type.Optional(Uri('absolute http(s) URL the user is sent to after connecting; https in production')),
    error_redirect_uri: Type.Optional(Uri('absolute http(s) URL the user is sent to after a failure; https in production')),
    webhook_uri: Type.Optional(Uri('absolute http(s) URL that receives CONNECTION_SUCCESS / CONNECTION_ERROR')),
    allowed_origins: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
        maxItems: MAX_ALLOWED_ORIGINS,
        description: 'origins (scheme://host[:port]) that may frame the Connect page and receive its postMessage',
      }),
    ),
    expires_in: Type.Optional(Type.Integer({ minimum: MIN_EXPIRES_IN_SECONDS, maximum: MAX_EXPIRES_IN_SECONDS, description: 'seconds; default 14400 (4 h)' })),
    scope: Type.Optional(Type.String({ maxLength: 1000, description: 'accepted for compatibility; ignored' })),
    allow_progressive_scopes: Type.Optional(Type.Boolean({ description: 'accepted for compatibility; ignored' })),
    app_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'pins the token to this app (slug)' })),
    oauth_app_id: Type.Optional(Type.String({ pattern: '^oa_[A-Za-z0-9]{1,64}$', description: "pins the token to one of the project's OAuth clients" })),
    allow_different_account: Type.Optional(
      Type.Boolean({
        description:
          "latchkey's addition: a reconnect through this token may come back as another provider user (by default it is refused: the account would silently change hands)",
      }),
    ),
  },
  { additionalProperties: false },
);

const NullableString = Type.Union([Type.String(), Type.Null()]);

const ValidateResponseSchema = Type.Object({
  success: Type.Boolean(),
  error: NullableString,
  app: Type.Optional(AppSchema),
  oauth_app_id: NullableString,
  project_id: NullableString,
  project_environment: NullableString,
  project_app_name: NullableString,
  project_support_email: NullableString,
  external_user_id: NullableString,
  success_redirect_uri: NullableString,
  error_redirect_uri: NullableString,
  expires_at: NullableString,
});

/** The per-user key of Pipedream's documented limit: 100 connect tokens per minute per external user. */
export function connectTokenUserKey(request: FastifyRequest): string | undefined {
  const body = request.body as { external_user_id?: unknown } | null | undefined;
  const projectId = (request.params as { project_id?: unknown }).project_id;
  if (typeof body?.external_user_id !== 'string' || typeof projectId !== 'string') return undefined;
  return `${projectId}/${request.environment}/${body.external_user_id}`;
}

export function connectTokenRoutes(deps: ConnectTokenDeps & { auth: Authenticator; perUserLimit: RateLimitHook }): FastifyPluginAsyncTypebox {
  const { auth } = deps;
  return async (app) => {
    app.post(
      '/v1/connect/:project_id/tokens',
      {
        onRequest: auth.requireProjectScope('connect:tokens:write'),
        // After validation: the key is the body's external_user_id.
        preHandler: deps.perUserLimit,
        schema: {
          tags: ['connect tokens'],
          summary: 'Mint a single-use connect token for an end user (100 per minute per external user, per replica)',
          security: [{ bearerAuth: [] }],
          headers: EnvironmentHeaderSchema,
          params: ProjectIdParamsSchema,
          body: CreateTokenBodySchema,
          response: {
            200: Type.Object({
              token: Type.String(),
              connect_token_id: Type.String({ description: "latchkey's addition: the token's public id (ctid_…), sent as connect_token in webhooks" }),
              expires_at: Type.String({ format: 'date-time' }),
              connect_link_url: Type.String(),
            }),
            '4xx': ErrorResponseSchema,
          },
        },
      },
      async (request, reply) => {
        const created = await createConnectToken(deps, { projectId: request.params.project_id, environment: request.environment }, request.body);
        return reply.header('cache-control', 'no-store').send(created);
      },
    );

    app.get(
      '/v1/connect/tokens/:token/validate',
      {
        // The token is in the path (Pipedream's URL); keep it out of the request log line.
        logSerializers: {
          req: (req: { id: string; method: string }) => ({ id: req.id, method: req.method, url: '/v1/connect/tokens/[redacted]/validate' }),
        },
        schema: {
          tags: ['connect tokens'],
          summary: 'What the hosted Connect page needs to know about a token (the token authenticates)',
          params: Type.Object({ token: Type.String({ maxLength: 200 }) }),
          querystring: Type.Object({
            app_id: Type.Optional(Type.String({ maxLength: 64 })),
            oauth_app_id: Type.Optional(Type.String({ maxLength: 80 })),
            account_id: Type.Optional(Type.String({ maxLength: 80 })),
            app_override_id: Type.Optional(Type.String({ maxLength: 80 })),
          }),
          response: { 200: ValidateResponseSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => reply.header('cache-control', 'no-store').send(await validateConnectToken(deps, request.params.token, request.query)),
    );
  };
}
