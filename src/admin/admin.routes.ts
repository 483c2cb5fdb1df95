// /v1/admin/projects and /v1/admin/projects/{project_id}/clients — admin token only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { audited } from '../audit/audited.ts';
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
  environment: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Null()], {
    description: "The one environment the client's tokens may act in (x-pd-environment); null: both",
  }),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const security = [{ adminToken: [] }];

export function adminRoutes(deps: { db: Kysely<Database>; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { db, auditLog } = deps;
  return async (app) => {
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
      async (request, reply) => {
        const project = await audited(
          auditLog,
          { actor: 'admin', action: 'project.create' },
          () => createProject(db, request.body.name),
          (created) => ({ project_id: created.id, name: created.name }),
        );
        return reply.code(201).send(project);
      },
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
              environment: Type.Optional(
                Type.Union([Type.Literal('development'), Type.Literal('production')], {
                  description: 'Limit the client to one environment; omitted: it may act in both',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Composite([ClientSchema, Type.Object({ client_secret: Type.String() })]), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const projectId = request.params.project_id;
        const client = await audited(
          auditLog,
          { projectId, actor: 'admin', action: 'client.create' },
          () => createClient(db, projectId, request.body),
          (created) => ({ client_id: created.client_id, name: created.name, scopes: created.scopes, environment: created.environment }),
        );
        return reply.code(201).send(client);
      },
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
        const { project_id: projectId, client_id: clientId } = request.params;
        await audited(auditLog, { projectId, actor: 'admin', action: 'client.revoke', details: { client_id: clientId } }, () =>
          revokeProjectClient(db, projectId, clientId),
        );
        return reply.code(204).send(null);
      },
    );
  };
}
