// POST /v1/connect/{project_id}/accounts/{account_id}/test: runs the app's test request with the
// account's fresh credentials now. The answer is {ok, status, checked_at}; the provider's body
// (which can hold personal data) only with include_response=true, for a client that may read
// credentials. A key-based account's health follows the outcome (see account-check.service.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { accountInScope, findAccountById } from '../accounts/account.repository.ts';
import { refreshFailureError } from '../accounts/account-errors.ts';
import { actorOf, audited } from '../audit/audited.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { scopeGrants } from '../auth/scopes.ts';
import { ApiError, notFound } from '../errors.ts';
import { AccountIdSchema, EnvironmentHeaderSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { checkAccount, type AccountCheckDeps } from './account-check.service.ts';

const CREDENTIALS_SCOPE = 'connect:credentials:read';

const AccountTestSchema = Type.Object(
  {
    ok: Type.Boolean({ description: "whether the provider accepted the account's credentials" }),
    status: Type.Union([Type.Integer(), Type.Null()], { description: "the provider's HTTP status; null when it did not answer" }),
    checked_at: Type.String({ format: 'date-time' }),
    response: Type.Optional(Type.String({ description: "the provider's body (at most 64 KiB), with include_response=true only" })),
  },
  { $id: 'AccountTest' },
);

export function accountCheckRoutes(deps: AccountCheckDeps & { auth: Authenticator; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/connect/:project_id/accounts/:account_id/test',
      {
        onRequest: deps.auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags: ['accounts'],
          summary: "Run the app's test request with the account's credentials now",
          description:
            "A failure marks a key-based account healthy=false and sends ACCOUNT_UNHEALTHY; a later success sends ACCOUNT_RECOVERED. include_response=true (scope connect:credentials:read) adds the provider's body. 409 conflict: the app has no test request; 409 account_dead: reconnect.",
          security: [{ bearerAuth: [] }],
          headers: EnvironmentHeaderSchema,
          params: Type.Object({ project_id: ProjectIdParamsSchema.properties.project_id, account_id: AccountIdSchema }),
          querystring: Type.Object(
            { include_response: Type.Optional(Type.Boolean({ description: "add the provider's body (needs scope connect:credentials:read)" })) },
            { additionalProperties: false },
          ),
          response: { 200: AccountTestSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const includeResponse = request.query.include_response === true;
        const principal = request.principal;
        if (includeResponse && (principal === null || principal.kind !== 'client' || !scopeGrants(principal.scopes, CREDENTIALS_SCOPE))) {
          throw new ApiError('forbidden', `include_response needs scope ${CREDENTIALS_SCOPE}`);
        }
        const { project_id: projectId, account_id: accountId } = request.params;
        const entry = {
          projectId,
          environment: request.environment,
          actor: actorOf(principal),
          action: 'account.test',
          accountId,
          details: { include_response: includeResponse },
        };
        return audited(deps.auditLog, entry, async () => {
          const row = await findAccountById(deps.db, accountId);
          if (!accountInScope(row, { projectId, environment: request.environment })) throw notFound('account');
          const result = await checkAccount(deps, row, { keepResponse: includeResponse });
          if (result.kind === 'no_test_request') throw new ApiError('conflict', 'the app declares no test request');
          if (result.kind === 'credentials_unavailable') throw refreshFailureError(result.failure);
          return {
            ok: result.ok,
            status: result.status,
            checked_at: result.checkedAt.toISOString(),
            ...(result.body === undefined ? {} : { response: result.body }),
          };
        });
      },
    );
  };
}
