// GET /v1/connect/{project_id}/accounts/{account_id}/code_template and
// GET /v1/connect/apps/{app_id}/code_template: a runnable program (Node.js, Python, curl) that
// gets a latchkey token, fetches the account's fresh credentials and makes the app's test
// request with them. The answer holds ids and the app's public request shape, never a value of
// the account: it needs only connect:accounts:read.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { accountInScope, findAccountById } from '../accounts/account.repository.ts';
import { findApp } from '../apps/apps.service.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Database } from '../db/types.ts';
import { ApiError, notFound } from '../errors.ts';
import { AccountIdSchema, EnvironmentHeaderSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import type { AppRegistry, RegistryApp } from '../registry/registry.ts';
import { SLUG_REGEX } from '../registry/registry.ts';
import { SECRET_NAME_REGEX } from '../secrets/secret-name.ts';
import type { Kysely } from 'kysely';
import { codeTemplateOf, secretNamesOf } from './code-templates.service.ts';

const MAX_TEMPLATE_SECRETS = 20;
const LanguageSchema = Type.Union([Type.Literal('nodejs'), Type.Literal('python'), Type.Literal('curl')]);
const SECRET_NAME = SECRET_NAME_REGEX.source.slice(1, -1);

const TemplateQuerySchema = Type.Object(
  {
    language: Type.Optional(Type.Union([Type.Literal('nodejs'), Type.Literal('python'), Type.Literal('curl')], { default: 'nodejs' })),
    secrets: Type.Optional(
      Type.String({
        pattern: `^${SECRET_NAME}(,${SECRET_NAME}){0,${MAX_TEMPLATE_SECRETS - 1}}$`,
        description: 'Comma-separated project secret names the program reads too (needs connect:secrets:read when it runs)',
      }),
    ),
  },
  { additionalProperties: false },
);

const CodeTemplateSchema = Type.Object(
  {
    language: LanguageSchema,
    filename: Type.String(),
    code: Type.String({ description: 'The program; it reads LATCHKEY_CLIENT_ID, LATCHKEY_CLIENT_SECRET and LATCHKEY_URL from the environment' }),
  },
  { $id: 'CodeTemplate' },
);

export interface CodeTemplateDeps {
  readonly db: Kysely<Database>;
  readonly registry: AppRegistry;
  readonly auth: Authenticator;
  readonly publicUrl: string;
}

/** Apps without credentials have nothing for latchkey to hand a program. */
function templatableApp(app: RegistryApp | undefined): RegistryApp {
  if (app === undefined) throw notFound('app');
  if (app.auth_type === 'none') throw new ApiError('conflict', 'the app has no credentials (auth_type none): call its API directly');
  // A program would need the consumer secret to sign each request, and that secret never leaves latchkey.
  if (app.auth_type === 'oauth1') {
    throw new ApiError(
      'conflict',
      'the app signs each request with OAuth 1.0a: send its requests through the Connect proxy (/v1/connect/{project_id}/proxy/{url_64})',
      {
        details: { reason: 'oauth1_requires_proxy' },
      },
    );
  }
  return app;
}

export function codeTemplateRoutes(deps: CodeTemplateDeps): FastifyPluginAsyncTypebox {
  const security = [{ bearerAuth: [] }];
  const tags = ['code templates'];
  const errors = { '4xx': ErrorResponseSchema };
  return async (app) => {
    app.get(
      '/v1/connect/:project_id/accounts/:account_id/code_template',
      {
        onRequest: deps.auth.requireProjectScope('connect:accounts:read'),
        schema: {
          tags,
          summary: "A runnable program that calls the account's app with its fresh credentials",
          description:
            'Node.js (standard library fetch), Python 3 (standard library) or bash with curl and jq. The program gets a token with LATCHKEY_CLIENT_ID / LATCHKEY_CLIENT_SECRET (its client needs connect:credentials:read), fetches the account with include_credentials=true, makes the app test request and prints the status and body. No secret is written into it.',
          security,
          headers: EnvironmentHeaderSchema,
          params: Type.Object({ project_id: ProjectIdParamsSchema.properties.project_id, account_id: AccountIdSchema }),
          querystring: TemplateQuerySchema,
          response: { 200: CodeTemplateSchema, ...errors },
        },
      },
      async (request) => {
        const row = await findAccountById(deps.db, request.params.account_id);
        if (!accountInScope(row, { projectId: request.params.project_id, environment: request.environment })) throw notFound('account');
        return codeTemplateOf({
          app: templatableApp(deps.registry.get(row.app_slug)),
          language: request.query.language ?? 'nodejs',
          latchkeyUrl: deps.publicUrl,
          projectId: row.project_id,
          accountId: row.id,
          environment: row.environment,
          secrets: secretNamesOf(request.query.secrets),
        });
      },
    );

    app.get(
      '/v1/connect/apps/:app_id/code_template',
      {
        onRequest: deps.auth.requireClient(),
        schema: {
          tags,
          summary: "The app's code template without an account: the program reads LATCHKEY_ACCOUNT_ID from the environment",
          description:
            "The same program as an account's code template, for the caller's project and environment, with the account id left to LATCHKEY_ACCOUNT_ID.",
          security,
          headers: EnvironmentHeaderSchema,
          params: Type.Object({ app_id: Type.String({ pattern: `^(?:app_)?${SLUG_REGEX.source.slice(1)}`, description: 'the app slug or id (app_…)' }) }),
          querystring: TemplateQuerySchema,
          response: { 200: CodeTemplateSchema, ...errors },
        },
      },
      async (request) => {
        const principal = request.principal;
        return codeTemplateOf({
          app: templatableApp(findApp(deps.registry, request.params.app_id)),
          language: request.query.language ?? 'nodejs',
          latchkeyUrl: deps.publicUrl,
          projectId: principal !== null && principal.kind === 'client' ? principal.projectId : undefined,
          accountId: undefined,
          environment: request.environment,
          secrets: secretNamesOf(request.query.secrets),
        });
      },
    );
  };
}
