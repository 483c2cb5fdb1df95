// /v1/admin/projects/{project_id}/accounts — list by health, rename, force a refresh, reconnect.
// Admin token only; every action but the list is recorded in the audit log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { refreshFailureError } from '../accounts/account-errors.ts';
import type { RefreshAccount } from '../accounts/refresh-outcome.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { audited } from '../audit/audited.ts';
import type { ConnectTokenDeps } from '../connect/connect-tokens.service.ts';
import { MAX_ALLOWED_ORIGINS, MAX_EXPIRES_IN_SECONDS, MIN_EXPIRES_IN_SECONDS } from '../connect/connect-tokens.service.ts';
import type { Database } from '../db/types.ts';
import { PageInfoSchema } from '../http/page-info.ts';
import { AccountIdSchema, AppSlugSchema, EnvironmentSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { ADMIN_MAX_LIMIT, createReconnectLink, forceRefreshForAdmin, listAccountsForAdmin, renameAccountForAdmin } from './accounts-admin.service.ts';

const ACCOUNT_ID = AccountIdSchema;
const ENVIRONMENT = EnvironmentSchema;
const DATE_OR_NULL = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const AdminAccountSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    external_id: Type.String({ description: "The end user's id in the customer's system" }),
    app_slug: Type.String(),
    environment: ENVIRONMENT,
    healthy: Type.Boolean(),
    dead: Type.Boolean({ description: 'The provider refused the refresh token: only a reconnect helps' }),
    error: Type.Union([Type.String(), Type.Null()]),
    expires_at: DATE_OR_NULL,
    last_refreshed_at: DATE_OR_NULL,
    next_refresh_at: DATE_OR_NULL,
    refresh_failures: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'AdminAccount', description: 'An account as administrators see it: state and health, never credentials' },
);

const AccountParams = Type.Object({ project_id: ProjectIdParamsSchema.properties.project_id, account_id: ACCOUNT_ID });

export interface AccountsAdminDeps {
  db: Kysely<Database>;
  auditLog: AuditLog;
  connect: ConnectTokenDeps;
  /** The refresh engine's forced refresh. */
  forceRefresh: RefreshAccount;
}

/** Registered inside the /v1/admin parent plugin (admin.plugin.ts), which authenticates. */
export function accountsAdminRoutes(deps: AccountsAdminDeps): FastifyPluginAsyncTypebox {
  const { db, auditLog } = deps;
  const security = [{ adminToken: [] }];
  const tags = ['admin'];
  return async (app) => {
    app.get(
      '/v1/admin/projects/:project_id/accounts',
      {
        schema: {
          tags,
          summary: "List a project's accounts by health, across environments unless one is given",
          security,
          params: ProjectIdParamsSchema,
          querystring: Type.Object(
            {
              environment: Type.Optional(ENVIRONMENT),
              health: Type.Optional(Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy'), Type.Literal('dead')])),
              app: Type.Optional(AppSlugSchema),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: ADMIN_MAX_LIMIT })),
              after: Type.Optional(ACCOUNT_ID),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({ data: Type.Array(AdminAccountSchema), page_info: PageInfoSchema }),
            '4xx': ErrorResponseSchema,
          },
        },
      },
      async (request) => listAccountsForAdmin(db, request.params.project_id, request.query),
    );

    app.patch(
      '/v1/admin/projects/:project_id/accounts/:account_id',
      {
        schema: {
          tags,
          summary: 'Rename an account',
          security,
          params: AccountParams,
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
          response: { 200: AdminAccountSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const { project_id: projectId, account_id: accountId } = request.params;
        return audited(
          auditLog,
          { projectId, accountId, actor: 'admin', action: 'account.rename', details: { name: request.body.name } },
          () => renameAccountForAdmin(db, projectId, accountId, request.body.name),
          (account) => ({ environment: account.environment }),
        );
      },
    );

    app.post(
      '/v1/admin/projects/:project_id/accounts/:account_id/refresh',
      {
        schema: {
          tags,
          summary: "Refresh an account's token now; 409 account_dead needs a reconnect, 503 says retry later",
          security,
          params: AccountParams,
          response: { 200: AdminAccountSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const { project_id: projectId, account_id: accountId } = request.params;
        return audited(
          auditLog,
          { projectId, accountId, actor: 'admin', action: 'account.refresh' },
          async () => {
            const refreshed = await forceRefreshForAdmin(db, deps.forceRefresh, projectId, accountId);
            if (!refreshed.ok) throw refreshFailureError(refreshed.failure);
            return refreshed.account;
          },
          (account) => ({ healthy: account.healthy, dead: account.dead }),
        );
      },
    );

    app.post(
      '/v1/admin/projects/:project_id/accounts/:account_id/reconnect',
      {
        // Every field is optional, so a POST without a body is a valid request.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          tags,
          summary: "Mint a Connect Link that replaces this account's credentials in place (same user, app, environment)",
          security,
          params: AccountParams,
          body: Type.Object(
            {
              expires_in: Type.Optional(Type.Integer({ minimum: MIN_EXPIRES_IN_SECONDS, maximum: MAX_EXPIRES_IN_SECONDS })),
              success_redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
              error_redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
              webhook_uri: Type.Optional(Type.String({ maxLength: 2048 })),
              allowed_origins: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: MAX_ALLOWED_ORIGINS })),
            },
            { additionalProperties: false, description: 'Optional; an empty request body means all defaults' },
          ),
          response: {
            201: Type.Object({
              token: Type.String({ description: 'Single-use connect token; shown only here' }),
              expires_at: Type.String({ format: 'date-time' }),
              connect_link_url: Type.String({ description: '{PUBLIC_URL}/connect?token=…&app=<slug>&accountId=<id>' }),
            }),
            '4xx': ErrorResponseSchema,
          },
        },
      },
      async (request, reply) => {
        const { project_id: projectId, account_id: accountId } = request.params;
        const link = await audited(auditLog, { projectId, accountId, actor: 'admin', action: 'account.reconnect_link' }, () =>
          createReconnectLink(deps.connect, projectId, accountId, request.body),
        );
        return reply.code(201).send(link);
      },
    );
  };
}
