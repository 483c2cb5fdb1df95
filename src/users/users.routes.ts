// /v1/connect/{project_id}/users — list and delete a project environment's end users.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { actorOf, audited } from '../audit/audited.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Database } from '../db/types.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema, ExternalUserIdSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { MAX_PAGE_LIMIT, PageInfoSchema } from '../http/page-info.ts';
import { deleteExternalUser, listUsers, type RevokeUserAccounts } from './users.service.ts';

const USER_ID = Type.String({ pattern: '^exu_[A-Za-z0-9]{1,64}$' });

export const ExternalUserSchema = Type.Object(
  { id: Type.String(), external_id: Type.String(), created_at: Type.String({ format: 'date-time' }), updated_at: Type.String({ format: 'date-time' }) },
  { $id: 'ExternalUser' },
);

export function userRoutes(deps: {
  db: Kysely<Database>;
  auth: Authenticator;
  auditLog: AuditLog;
  revokeUserAccounts?: RevokeUserAccounts;
}): FastifyPluginAsyncTypebox {
  const { db, auth, auditLog } = deps;
  const security = [{ bearerAuth: [] }];
  const headers = EnvironmentHeaderSchema;
  const tags = ['users'];
  return async (app) => {
    app.get(
      '/v1/connect/:project_id/users',
      {
        onRequest: auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags,
          summary: 'List the end users of the project environment',
          security,
          headers,
          params: ProjectIdParamsSchema,
          querystring: Type.Object(
            {
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT })),
              after: Type.Optional(USER_ID),
              before: Type.Optional(USER_ID),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ data: Type.Array(ExternalUserSchema), page_info: PageInfoSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => listUsers(db, { projectId: request.params.project_id, environment: request.environment }, request.query),
    );

    app.delete(
      '/v1/connect/:project_id/users/:external_user_id',
      {
        onRequest: auth.requireProjectScope('connect:accounts:write'),
        schema: {
          tags,
          summary: 'Delete an end user with all their accounts',
          security,
          headers,
          params: Type.Object({
            project_id: ProjectIdParamsSchema.properties.project_id,
            external_user_id: ExternalUserIdSchema,
          }),
          response: { 204: Type.Null(), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const scope = { projectId: request.params.project_id, environment: request.environment };
        // The external id stays out of the audit row: it is the customer's data, often an email.
        const entry = { ...scope, actor: actorOf(request.principal), action: 'external_user.delete' };
        await audited(auditLog, entry, () => deleteExternalUser(db, scope, request.params.external_user_id, deps.revokeUserAccounts));
        return reply.code(204).send(null);
      },
    );
  };
}
