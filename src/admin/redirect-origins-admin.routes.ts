// /v1/admin/projects/{project_id}/allowed_redirect_origins — the project's optional allow-list
// of redirect origins for connect tokens (src/connect/redirect-allow-list.ts). Admin token only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { audited } from '../audit/audited.ts';
import { MAX_REDIRECT_ORIGINS, findAllowedRedirectOrigins, normaliseRedirectOrigins, saveAllowedRedirectOrigins } from '../connect/redirect-allow-list.ts';
import type { Database } from '../db/types.ts';
import { notFound } from '../errors.ts';
import { ErrorResponseSchema, ProjectIdParamsSchema as ProjectIdParams } from '../http/schemas.ts';

const OriginsSchema = Type.Union([Type.Array(Type.String({ maxLength: 2048 }), { maxItems: MAX_REDIRECT_ORIGINS }), Type.Null()], {
  description: 'Bare origins (scheme://host[:port]) that success_redirect_uri and error_redirect_uri of new connect tokens must point at; null: no list',
});

const RedirectOriginsSchema = Type.Object({ project_id: Type.String(), allowed_redirect_origins: OriginsSchema });

const security = [{ adminToken: [] }];

export function redirectOriginsAdminRoutes(deps: { db: Kysely<Database>; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { db, auditLog } = deps;
  return async (app) => {
    app.get(
      '/v1/admin/projects/:project_id/allowed_redirect_origins',
      {
        schema: {
          tags: ['admin'],
          summary: "The project's allow-list of redirect origins (null: none set)",
          security,
          params: ProjectIdParams,
          response: { 200: RedirectOriginsSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const origins = await findAllowedRedirectOrigins(db, request.params.project_id);
        if (origins === undefined) throw notFound('project');
        return { project_id: request.params.project_id, allowed_redirect_origins: origins };
      },
    );

    app.put(
      '/v1/admin/projects/:project_id/allowed_redirect_origins',
      {
        schema: {
          tags: ['admin'],
          summary: 'Set or remove (null) the allow-list; connect tokens minted afterwards with other redirect URIs are refused with 400',
          security,
          params: ProjectIdParams,
          body: Type.Object({ allowed_redirect_origins: OriginsSchema }, { additionalProperties: false }),
          response: { 200: RedirectOriginsSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const projectId = request.params.project_id;
        const raw = request.body.allowed_redirect_origins;
        const origins = raw === null ? null : normaliseRedirectOrigins(raw);
        await audited(
          auditLog,
          { projectId, actor: 'admin', action: 'project.redirect_origins.update', details: { allowed_redirect_origins: origins } },
          async () => {
            if (!(await saveAllowedRedirectOrigins(db, projectId, origins))) throw notFound('project');
          },
        );
        return { project_id: projectId, allowed_redirect_origins: origins };
      },
    );
  };
}
