// /v1/connect/{project_id}/oauth_apps[/{id}] — as @pipedream/sdk's oauthApps resource: create
// (201), retrieve and update answer a bare OauthApp, list answers {data, page_info}, delete 204.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../audit/audit-log.ts';
import { actorOf, audited } from '../audit/audited.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { AppSchema } from '../apps/app-view.ts';
import { AppSlugSchema, EnvironmentHeaderSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { MAX_PAGE_LIMIT, PageInfoSchema } from '../http/page-info.ts';
import { createOAuthApp, deleteProjectOAuthApp, getOAuthApp, listProjectOAuthApps, updateProjectOAuthApp, type OAuthAppDeps } from './oauth-apps.service.ts';

const SLUG = AppSlugSchema;
const OAUTH_APP_ID = Type.String({ pattern: '^oa_[A-Za-z0-9]{1,64}$' });
// Visible ASCII only: client ids, secrets and scopes are tokens, never free text.
const CLIENT_ID = Type.String({ minLength: 1, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' });
const CLIENT_SECRET = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });
const SCOPES = Type.Array(Type.String({ minLength: 1, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' }), { maxItems: 200 });
const NAME = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
const DESCRIPTION = Type.String({ maxLength: 1000, pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$' });

/** Pipedream's OauthApp: the app's one view (apps/app-view.ts) with the client's own fields in place of id, name and description. */
export const OAuthAppSchema = Type.Composite(
  [
    Type.Omit(AppSchema, ['id', 'name', 'description']),
    Type.Object({
      id: Type.String(),
      app: Type.String(),
      name: Type.String(),
      description: Type.Union([Type.String(), Type.Null()]),
      client_id: Type.String(),
      client_secret_set: Type.Boolean({ description: 'always true; the secret itself is never returned' }),
      scopes: Type.Union([Type.Array(Type.String()), Type.Null()]),
      additional_scopes: Type.Union([Type.Array(Type.String()), Type.Null()]),
      redirect_uri: Type.String(),
      owner_id: Type.String(),
      created_at: Type.String({ format: 'date-time' }),
      updated_at: Type.String({ format: 'date-time' }),
    }),
  ],
  { $id: 'OauthApp', description: "A project's own OAuth client for a registry app" },
);

const IdParams = Type.Object({ project_id: ProjectIdParamsSchema.properties.project_id, id: OAUTH_APP_ID });

const UpdateBody = Type.Object(
  {
    app: Type.Optional(SLUG),
    name: Type.Optional(NAME),
    description: Type.Optional(DESCRIPTION),
    client_id: Type.Optional(CLIENT_ID),
    client_secret: Type.Optional(CLIENT_SECRET),
    scopes: Type.Optional(SCOPES),
    additional_scopes: Type.Optional(SCOPES),
  },
  { additionalProperties: false },
);

export function oauthAppRoutes(deps: OAuthAppDeps & { auth: Authenticator; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { auth, auditLog } = deps;
  const security = [{ bearerAuth: [] }];
  const tags = ['oauth apps'];
  const headers = EnvironmentHeaderSchema;
  return async (app) => {
    app.get(
      '/v1/connect/:project_id/oauth_apps',
      {
        onRequest: auth.requireProjectScope('connect:project:read'),
        schema: {
          tags,
          summary: "List the project's OAuth clients (never their secrets)",
          security,
          headers,
          params: ProjectIdParamsSchema,
          querystring: Type.Object(
            {
              app: Type.Optional(SLUG),
              q: Type.Optional(Type.String({ maxLength: 200 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT })),
              after: Type.Optional(OAUTH_APP_ID),
              before: Type.Optional(OAUTH_APP_ID),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ data: Type.Array(OAuthAppSchema), page_info: PageInfoSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => listProjectOAuthApps(deps, request.params.project_id, request.query),
    );

    app.post(
      '/v1/connect/:project_id/oauth_apps',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Register an OAuth client for a registry app; the secret is sealed and never returned',
          security,
          headers,
          params: ProjectIdParamsSchema,
          body: Type.Object(
            {
              app: SLUG,
              client_id: CLIENT_ID,
              client_secret: CLIENT_SECRET,
              name: Type.Optional(NAME),
              description: Type.Optional(DESCRIPTION),
              scopes: Type.Optional(SCOPES),
              additional_scopes: Type.Optional(SCOPES),
            },
            { additionalProperties: false },
          ),
          response: { 201: OAuthAppSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const { project_id: projectId } = request.params;
        const entry = { projectId, actor: actorOf(request.principal), action: 'oauth_app.create', details: { app: request.body.app } };
        const created = await audited(
          auditLog,
          entry,
          () => createOAuthApp(deps, projectId, request.body),
          (view) => ({ oauth_app_id: view.id }),
        );
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/v1/connect/:project_id/oauth_apps/:id',
      {
        onRequest: auth.requireProjectScope('connect:project:read'),
        schema: { tags, summary: 'One OAuth client', security, headers, params: IdParams, response: { 200: OAuthAppSchema, '4xx': ErrorResponseSchema } },
      },
      async (request) => getOAuthApp(deps, request.params.project_id, request.params.id),
    );

    // The SDK updates with PUT; PATCH is the same partial update for hand-written clients.
    for (const method of ['PUT', 'PATCH'] as const) {
      app.route({
        method,
        url: '/v1/connect/:project_id/oauth_apps/:id',
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Update an OAuth client; fields left out keep their value (client_secret included)',
          security,
          headers,
          params: IdParams,
          body: UpdateBody,
          response: { 200: OAuthAppSchema, '4xx': ErrorResponseSchema },
        },
        handler: async (request) => {
          const { project_id: projectId, id } = request.params;
          // Which fields changed, never their values (client_secret included).
          const details = { oauth_app_id: id, fields: Object.keys(request.body ?? {}).sort() };
          const entry = { projectId, actor: actorOf(request.principal), action: 'oauth_app.update', details };
          return audited(auditLog, entry, () => updateProjectOAuthApp(deps, projectId, id, request.body ?? {}));
        },
      });
    }

    app.delete(
      '/v1/connect/:project_id/oauth_apps/:id',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Delete an OAuth client no account uses',
          security,
          headers,
          params: IdParams,
          response: { 204: Type.Null(), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const { project_id: projectId, id } = request.params;
        const entry = { projectId, actor: actorOf(request.principal), action: 'oauth_app.delete', details: { oauth_app_id: id } };
        await audited(auditLog, entry, () => deleteProjectOAuthApp(deps, projectId, id));
        return reply.code(204).send(null);
      },
    );
  };
}
