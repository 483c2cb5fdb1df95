// GET /v1/admin/projects/{project_id}/accounts/{account_id}: one account as operators see it,
// with where it is used — the API clients that read its credentials or proxied through it in the
// last 30 days, from the audit log — and the names of the credential fields it holds (never a
// value). Registered inside the /v1/admin parent plugin, which authenticates.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { findAccountById, type AccountRow } from '../accounts/account.repository.ts';
import { listAccountUsers } from '../audit/audit.repository.ts';
import type { Database } from '../db/types.ts';
import { notFound } from '../errors.ts';
import { AccountIdSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { AdminAccountSchema } from './accounts-admin.routes.ts';
import { requireAccount, toAdminAccountView } from './accounts-admin.service.ts';

export const USED_BY_WINDOW_DAYS = 30;
const DATE_OR_NULL = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const AdminAccountDetailSchema = Type.Object(
  {
    ...AdminAccountSchema.properties,
    last_used_at: DATE_OR_NULL,
    last_checked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'the last test request (POST …/test or the scheduled check)',
    }),
    credential_fields: Type.Array(Type.String(), { description: 'the names of the credential fields the account holds ($auth), never their values' }),
    used_by: Type.Array(
      Type.Object({
        actor: Type.String({ description: 'client:<client_id>, admin, …' }),
        client_id: Type.Union([Type.String(), Type.Null()]),
        last_used_at: Type.String({ format: 'date-time' }),
        uses: Type.Integer(),
      }),
      { description: `who read the credentials or proxied through the account in the last ${USED_BY_WINDOW_DAYS} days, most recent first` },
    ),
  },
  { $id: 'AdminAccountDetail' },
);

export interface AccountDetailDeps {
  readonly db: Kysely<Database>;
  /** The names of the fields the account's sealed credentials hold (app.ts opens them). */
  readonly credentialFields: (row: AccountRow) => Promise<string[]>;
  readonly now: () => Date;
}

export function accountDetailRoutes(deps: AccountDetailDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/admin/projects/:project_id/accounts/:account_id',
      {
        schema: {
          tags: ['admin'],
          summary: 'One account: state, health, credential field names and the API clients that used it',
          security: [{ adminToken: [] }],
          params: Type.Object({ project_id: ProjectIdParamsSchema.properties.project_id, account_id: AccountIdSchema }),
          response: { 200: AdminAccountDetailSchema, '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const { project_id: projectId, account_id: accountId } = request.params;
        const account = await requireAccount(deps.db, projectId, accountId);
        const row = await findAccountById(deps.db, accountId);
        if (row === undefined) throw notFound('account');
        const since = new Date(deps.now().getTime() - USED_BY_WINDOW_DAYS * 86_400_000);
        const users = await listAccountUsers(deps.db, accountId, since);
        return {
          ...toAdminAccountView(account),
          last_used_at: row.last_used_at?.toISOString() ?? null,
          last_checked_at: row.last_checked_at?.toISOString() ?? null,
          credential_fields: await deps.credentialFields(row),
          used_by: users.map((user) => ({
            actor: user.actor,
            client_id: user.actor.startsWith('client:') ? user.actor.slice('client:'.length) : null,
            last_used_at: user.last_used_at.toISOString(),
            uses: user.uses,
          })),
        };
      },
    );
  };
}
