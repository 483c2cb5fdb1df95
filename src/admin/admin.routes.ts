// /v1/admin/projects and /v1/admin/projects/{project_id}/clients — admin token only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { Authenticator } from '../auth/authenticate.ts';
import { KNOWN_SCOPES } from '../auth/scopes.ts';
import type { Database } from '../db/types.ts';
import { ErrorResponseSchema, ProjectIdParamsSchema as ProjectIdParams } from '../http/schemas.ts';
import { createClient, createProject, listAllProjects, listClients, revokeProjectClient } from './admin.service.ts';

export const ProjectSchema = Type.Object({ id: Type.String(), name: Type.String(), created_at: Type.String({ format: 'date-time' }) }, { $id: 'Project' });

const ClientSchema = Type.Object({
  client_id: Type.String(),
  project_id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const security = [{ adminToken: [] }];

export function adminRoutes(deps: { db: Kysely<Database>; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { db, auth } = deps;
  return async (app) => {
    app.addHook('preHandler', auth.requireAdmin);

    app.post(
      '/v1/admin/projects',
      {
        schema: {
          tags: ['admin'],
          summary: 'Create a project (with development and production environments)',
          security,
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
          response: { 201: ProjectSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => reply.code(201).send(await createProject(db, request.body.name)),
    );

    app.get(
      '/v1/admin/projects',
      {
        schema: {
          tags: ['admin'],
          summary: 'List projects',
          security,
          response: { 200: Type.Object({ data: Type.Array(ProjectSchema) }), '4xx': ErrorResponseSchema },
        },
      },
      async () => ({ data: await listAllProjects(db) }),
    );

    app.post(
      '/v1/admin/projects/:project_id/clients',
      {
        schema: {
          tags: ['admin'],
          summary: 'Create an API client; the secret is shown only in this response',
          security,
          params: ProjectIdParams,
          body: Type.Object(
            {
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              scopes: Type.Optional(Type.Array(Type.Union(KNOWN_SCOPES.map((s) => Type.Literal(s))), { minItems: 1, maxItems: 20 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Composite([ClientSchema, Type.Object({ client_secret: Type.String() })]), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => reply.code(201).send(await createClient(db, request.params.project_id, request.body)),
    );

    app.get(
      '/v1/admin/projects/:project_id/clients',
      {
        schema: {
          tags: ['admin'],
          summary: "List a project's API clients (never their secrets)",
          security,
          params: ProjectIdParams,
          response: { 200: Type.Object({ data: Type.Array(ClientSchema) }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => ({ data: await listClients(db, request.params.project_id) }),
    );

    app.delete(
      '/v1/admin/projects/:project_id/clients/:client_id',
      {
        schema: {
          tags: ['admin'],
          summary: 'Revoke an API client; its tokens stop working within a second on every replica',
          security,
          params: Type.Object({ project_id: ProjectIdParams.properties.project_id, client_id: Type.String({ pattern: '^lkc_[A-Za-z0-9]{1,64}$' }) }),
          response: { 204: Type.Null(), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        await revokeProjectClient(db, request.params.project_id, request.params.client_id);
        return reply.code(204).send(null);
      },
    );
  };
}
