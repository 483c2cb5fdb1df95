// /v1/connect/{project_id}/accounts, …/users/{external_user_id}/accounts and
// …/apps/{app}/accounts — Pipedream's envelopes: the list is {data, page_info}, one account is a
// bare object, one user's accounts a bare array. Credentials need connect:credentials:read on
// top of connect:accounts:read, and every credential read is audited.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf, auditResultOf } from '../audit/audited.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { scopeGrants } from '../auth/scopes.ts';
import { ApiError } from '../errors.ts';
import { MAX_PAGE_LIMIT, PageInfoSchema } from '../http/page-info.ts';
import { AccountIdSchema, EnvironmentHeaderSchema, ErrorResponseSchema, ExternalUserIdSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { SLUG_REGEX, appSlugFilter } from '../registry/registry.ts';
import { refreshFailureError } from './account-errors.ts';
import type { AccountUsage } from './account-usage.ts';
import { AccountSchema, type AccountView } from './account-view.ts';
import {
  deleteAccount,
  deleteAppAccounts,
  listAccounts,
  listUserAccounts,
  retrieveAccount,
  retrieveAccountCredentials,
  type AccountScope,
  type AccountsDeps,
} from './accounts.service.ts';

const ACCOUNT_ID = AccountIdSchema;
// The slug pattern admits app_<slug> already; the routes read it as the app's id.
const APP_ID_OR_SLUG = Type.String({ pattern: SLUG_REGEX.source, description: 'the app slug (github) or id (app_github)' });
const PROJECT_ID = ProjectIdParamsSchema.properties.project_id;
const headers = EnvironmentHeaderSchema;
const INCLUDE_CREDENTIALS = Type.Optional(Type.Boolean({ description: 'Return fresh credentials (needs scope connect:credentials:read)' }));
const CREDENTIALS_SCOPE = 'connect:credentials:read';

export function accountsRoutes(deps: AccountsDeps & { auth: Authenticator; auditLog: AuditLog; usage: AccountUsage }): FastifyPluginAsyncTypebox {
  const { auth, auditLog, usage } = deps;
  const security = [{ bearerAuth: [] }];
  const tags = ['accounts'];
  const errors = { '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema };

  const scopeOf = (request: FastifyRequest<{ Params: { project_id: string } }>): AccountScope => ({
    projectId: request.params.project_id,
    environment: request.environment,
  });

  /** include_credentials=true: refuse without the credentials scope, before anything is read. */
  const checkCredentialsScope = (request: FastifyRequest, includeCredentials: boolean | undefined): boolean => {
    if (includeCredentials !== true) return false;
    const principal = request.principal;
    if (principal === null || principal.kind !== 'client' || !scopeGrants(principal.scopes, CREDENTIALS_SCOPE)) {
      const params = request.params as { project_id?: string; account_id?: string };
      auditLog.record({
        projectId: params.project_id ?? null,
        environment: request.environment,
        actor: actorOf(principal),
        action: 'credentials.read',
        accountId: params.account_id ?? null,
        result: 'denied',
        details: { error_code: 'forbidden' },
      });
      throw new ApiError('forbidden', `include_credentials needs scope ${CREDENTIALS_SCOPE}`);
    }
    return true;
  };

  const recordRead = (request: FastifyRequest, scope: AccountScope, accountId: string, result: 'ok' | ReturnType<typeof auditResultOf>, code?: string) => {
    if (result === 'ok') usage.noteUse(accountId);
    auditLog.record({
      projectId: scope.projectId,
      environment: scope.environment,
      actor: actorOf(request.principal),
      action: 'credentials.read',
      accountId,
      result,
      ...(code === undefined ? {} : { details: { error_code: code } }),
    });
  };

  const recordReads = (request: FastifyRequest, scope: AccountScope, views: AccountView[]) => {
    for (const view of views) recordRead(request, scope, view.id, view.credentials === undefined ? 'unavailable' : 'ok');
  };

  return async (app) => {
    app.get(
      '/v1/connect/:project_id/accounts',
      {
        onRequest: auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags,
          summary: 'List the accounts of the project environment',
          description:
            'Ordered by creation time. With include_credentials=true each OAuth token is fresh (refreshed first when within its margin); an account whose token cannot be made fresh is listed without credentials.',
          security,
          headers,
          params: ProjectIdParamsSchema,
          querystring: Type.Object(
            {
              app: Type.Optional(APP_ID_OR_SLUG),
              external_user_id: Type.Optional(ExternalUserIdSchema),
              oauth_app_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
              include_credentials: INCLUDE_CREDENTIALS,
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: 20 })),
              after: Type.Optional(ACCOUNT_ID),
              before: Type.Optional(ACCOUNT_ID),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ data: Type.Array(AccountSchema), page_info: PageInfoSchema }), ...errors },
        },
      },
      async (request) => {
        const includeCredentials = checkCredentialsScope(request, request.query.include_credentials);
        const scope = scopeOf(request);
        const result = await listAccounts(deps, scope, {
          appSlug: appSlugFilter(deps.registry, request.query.app),
          externalUserId: request.query.external_user_id,
          oauthAppId: request.query.oauth_app_id,
          includeCredentials,
          limit: request.query.limit,
          after: request.query.after,
          before: request.query.before,
        });
        if (includeCredentials) recordReads(request, scope, result.data);
        return result;
      },
    );

    app.get(
      '/v1/connect/:project_id/accounts/:account_id',
      {
        onRequest: auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags,
          summary: 'Retrieve an account; with include_credentials=true, with fresh credentials',
          description:
            'An OAuth token is returned only when valid for at least the refresh margin; otherwise it is refreshed first. 409 account_dead: reconnect. 503 provider_unavailable / refresh_in_progress: retry after Retry-After.',
          security,
          headers,
          params: Type.Object({ project_id: PROJECT_ID, account_id: ACCOUNT_ID }),
          querystring: Type.Object({ include_credentials: INCLUDE_CREDENTIALS }, { additionalProperties: false }),
          response: { 200: AccountSchema, ...errors },
        },
      },
      async (request) => {
        const includeCredentials = checkCredentialsScope(request, request.query.include_credentials);
        const scope = scopeOf(request);
        if (!includeCredentials) return retrieveAccount(deps, scope, request.params.account_id);
        let error: unknown;
        try {
          const read = await retrieveAccountCredentials(deps, scope, request.params.account_id);
          if (read.ok) {
            recordRead(request, scope, read.view.id, 'ok');
            return read.view;
          }
          error = refreshFailureError(read.failure);
        } catch (err) {
          error = err;
        }
        recordRead(request, scope, request.params.account_id, auditResultOf(error), error instanceof ApiError ? error.code : 'internal_error');
        throw error;
      },
    );

    app.get(
      '/v1/connect/:project_id/users/:external_user_id/accounts',
      {
        onRequest: auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags,
          summary: "List one end user's accounts (a bare array)",
          security,
          headers,
          params: Type.Object({ project_id: PROJECT_ID, external_user_id: ExternalUserIdSchema }),
          querystring: Type.Object({ app: Type.Optional(APP_ID_OR_SLUG), include_credentials: INCLUDE_CREDENTIALS }, { additionalProperties: false }),
          response: { 200: Type.Array(AccountSchema), ...errors },
        },
      },
      async (request) => {
        const includeCredentials = checkCredentialsScope(request, request.query.include_credentials);
        const scope = scopeOf(request);
        const views = await listUserAccounts(deps, scope, request.params.external_user_id, {
          appSlug: appSlugFilter(deps.registry, request.query.app),
          includeCredentials,
        });
        if (includeCredentials) recordReads(request, scope, views);
        return views;
      },
    );

    app.delete(
      '/v1/connect/:project_id/accounts/:account_id',
      {
        onRequest: auth.requireProjectScope('connect:accounts:write'),
        schema: {
          tags,
          summary: 'Delete an account, revoking its tokens at the provider when it supports RFC 7009',
          security,
          headers,
          params: Type.Object({ project_id: PROJECT_ID, account_id: ACCOUNT_ID }),
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const scope = scopeOf(request);
        await deleteAccount(deps, scope, request.params.account_id);
        auditLog.record({
          projectId: scope.projectId,
          environment: scope.environment,
          actor: actorOf(request.principal),
          action: 'account.delete',
          accountId: request.params.account_id,
          result: 'ok',
        });
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/v1/connect/:project_id/apps/:app/accounts',
      {
        onRequest: auth.requireProjectScope('connect:accounts:write'),
        schema: {
          tags,
          summary: 'Delete every account of one app in the project environment',
          security,
          headers,
          params: Type.Object({ project_id: PROJECT_ID, app: APP_ID_OR_SLUG }),
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const scope = scopeOf(request);
        const deleted = await deleteAppAccounts(deps, scope, appSlugFilter(deps.registry, request.params.app) ?? request.params.app);
        auditLog.record({
          projectId: scope.projectId,
          environment: scope.environment,
          actor: actorOf(request.principal),
          action: 'account.delete_app',
          result: 'ok',
          details: { app: request.params.app, deleted },
        });
        return reply.code(204).send(null);
      },
    );
  };
}
