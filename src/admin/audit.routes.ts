// GET /v1/admin/audit — the audit log, newest first, filtered by project, account, action and time.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { AUDIT_MAX_LIMIT, listAuditEntries } from '../audit/audit.service.ts';
import type { Database } from '../db/types.ts';
import { AccountIdSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';

const AuditEntrySchema = Type.Object(
  {
    id: Type.String({ description: 'Monotonic per database; use as the `after` cursor' }),
    at: Type.String({ format: 'date-time' }),
    project_id: Type.Union([Type.String(), Type.Null()]),
    environment: Type.Union([Type.String(), Type.Null()]),
    actor: Type.String({ description: '`admin`, `client:<client_id>`, …' }),
    action: Type.String({ description: '`credentials.read`, `account.rename`, `account.refresh`, `client.create`, …' }),
    account_id: Type.Union([Type.String(), Type.Null()]),
    result: Type.String({ description: '`ok`, `denied`, `invalid`, `not_found`, `conflict`, `unavailable`, `error`' }),
    details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Context only; never a secret' }),
  },
  { $id: 'AuditEntry' },
);

export function auditRoutes(deps: { db: Kysely<Database>; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { db, auditLog } = deps;
  return async (app) => {
    app.get(
      '/v1/admin/audit',
      {
        schema: {
          tags: ['admin'],
          summary: 'Read the append-only audit log (credential reads and admin actions), newest first',
          security: [{ adminToken: [] }],
          querystring: Type.Object(
            {
              project_id: Type.Optional(ProjectIdParamsSchema.properties.project_id),
              account_id: Type.Optional(AccountIdSchema),
              action: Type.Optional(Type.String({ pattern: '^[a-z_]+(\\.[a-z_]+)*$', maxLength: 100 })),
              since: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive' })),
              until: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive' })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_MAX_LIMIT })),
              after: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'page_info.end_cursor of the previous page' })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              data: Type.Array(AuditEntrySchema),
              page_info: Type.Object({
                count: Type.Integer(),
                start_cursor: Type.Union([Type.String(), Type.Null()]),
                end_cursor: Type.Union([Type.String(), Type.Null()]),
              }),
            }),
            '4xx': ErrorResponseSchema,
          },
        },
      },
      async (request) => listAuditEntries(db, auditLog, request.query),
    );
  };
}
