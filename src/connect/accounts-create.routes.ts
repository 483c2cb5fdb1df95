// POST /v1/connect/{project_id}/accounts — @pipedream/sdk's accounts.create: a backend stores a
// key-based app's credentials for the end user a connect token names, without the hosted page.
// It is the key form by another door: the same session checks (token usable, app allowed,
// reconnect target owned), the same field checks and test request, the same transaction that
// consumes the token and sends CONNECTION_SUCCESS / CONNECTION_ERROR (key-form.service.ts).
// OAuth apps connect only through the Connect Link: there is no code to exchange here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AccountSchema } from '../accounts/account-view.ts';
import { retrieveAccount, type AccountsDeps } from '../accounts/accounts.service.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { ApiError, CONNECT_FLOW_ERRORS, ConnectFlowError, badRequest, type ConnectFlowErrorKind } from '../errors.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema, ExternalUserIdSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { openConnectSession, type ConnectFlowDeps, type ConnectSession } from './connect-flow.service.ts';
import { FieldValidationError, fieldInputName } from './field-values.ts';
import { submitKeyForm } from './key-form.service.ts';
import { parseCfmap } from './cfmap.ts';

const CreateAccountBodySchema = Type.Object(
  {
    app_slug: Type.String({ minLength: 1, maxLength: 64, description: 'the app slug or id (app_<slug>); a key-based app' }),
    cfmap_json: Type.String({ minLength: 2, maxLength: 64 * 1024, description: 'a JSON object of the app’s field values, as a string' }),
    connect_token: Type.String({ minLength: 1, maxLength: 200, description: 'the end user’s connect token (ctok_…); it is used up' }),
    name: Type.Optional(Type.String({ maxLength: 200, description: 'accepted for compatibility; the test request names the account' })),
    account_id: Type.Optional(Type.String({ maxLength: 80, description: 'reconnect: replace this account’s credentials' })),
    app_override_id: Type.Optional(Type.String({ maxLength: 80, description: 'accepted for compatibility; ignored' })),
  },
  { additionalProperties: false },
);

const CreateAccountQuerySchema = Type.Object(
  {
    external_user_id: Type.Optional(ExternalUserIdSchema),
    oauth_app_id: Type.Optional(Type.String({ maxLength: 80, description: 'accepted for compatibility; key-based apps have no OAuth client' })),
  },
  { additionalProperties: false },
);

/** API messages for the flow's refusals: lower-case, naming the parameter (the pages have their own sentences). */
const API_MESSAGES: Partial<Record<ConnectFlowErrorKind, string>> = {
  token_missing: 'connect_token is required',
  token_invalid: 'connect_token is invalid',
  token_expired: 'connect_token has expired',
  token_used: 'connect_token was already used',
  app_unknown: 'app_slug names no app in the registry',
  app_not_allowed: 'connect_token does not allow this app',
  app_not_connectable: 'app_slug must name a key-based app; OAuth apps connect through the Connect Link',
  account_not_allowed: 'account_id does not name an account of this connect token’s user and app',
  fields_invalid: 'cfmap_json has missing or invalid field values',
  test_request_failed: 'the app’s test request refused these credentials',
};

function apiErrorOf(kind: ConnectFlowErrorKind, code: ApiError['code'], details?: Record<string, unknown>): ApiError {
  return new ApiError(code, API_MESSAGES[kind] ?? 'the account could not be connected', { details: { reason: kind, ...details } });
}

export function accountsCreateRoutes(deps: ConnectFlowDeps & { accounts: AccountsDeps; auth: Authenticator }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/connect/:project_id/accounts',
      {
        onRequest: deps.auth.requireProjectScope('connect:accounts:write'),
        schema: {
          tags: ['accounts'],
          summary: 'Connect a key-based account for the user of a connect token (the key form, as an API)',
          description:
            'The values are checked like the hosted key form and proven by the app’s test request before anything is stored; the connect token is used up and the token’s webhook gets CONNECTION_SUCCESS or CONNECTION_ERROR. A failed test request stores nothing and leaves the token usable.',
          security: [{ bearerAuth: [] }],
          headers: EnvironmentHeaderSchema,
          params: ProjectIdParamsSchema,
          querystring: CreateAccountQuerySchema,
          body: CreateAccountBodySchema,
          response: { 200: AccountSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const scope = { projectId: request.params.project_id, environment: request.environment };
        const { body } = request;
        const session = await openSession(deps, { token: body.connect_token, app: body.app_slug, accountId: body.account_id });
        checkSessionScope(session, scope, request.query.external_user_id);
        if (session.app.auth_type !== 'keys') throw apiErrorOf('app_not_connectable', 'bad_request');
        const values = parseCfmap(body.cfmap_json);
        const submitted = Object.fromEntries(Object.entries(values).map(([name, value]) => [fieldInputName({ name }), value]));
        checkKnownFields(session, Object.keys(values));
        let outcome;
        try {
          outcome = await submitKeyForm(deps, session, submitted);
        } catch (err) {
          if (err instanceof FieldValidationError) {
            const kind = err.formMessage === CONNECT_FLOW_ERRORS.test_request_failed.message ? 'test_request_failed' : 'fields_invalid';
            throw apiErrorOf(kind, 'validation_failed', { fields: err.fieldErrors });
          }
          if (err instanceof ConnectFlowError) throw apiErrorOf(err.kind, err.code);
          throw err;
        }
        if (outcome.accountId === undefined) {
          const kind = outcome.failure ?? 'internal_error';
          throw apiErrorOf(kind, kind === 'token_used' ? 'gone' : 'internal_error');
        }
        return retrieveAccount(deps.accounts, scope, outcome.accountId);
      },
    );
  };
}

async function openSession(deps: ConnectFlowDeps, request: Parameters<typeof openConnectSession>[1]): Promise<ConnectSession> {
  try {
    return await openConnectSession(deps, request);
  } catch (err) {
    if (err instanceof ConnectFlowError) throw apiErrorOf(err.kind, err.code);
    throw err;
  }
}

/** A connect token of another project or environment is no token here; external_user_id, when sent, must be the token's user. */
function checkSessionScope(session: ConnectSession, scope: { projectId: string; environment: string }, externalUserId: string | undefined): void {
  const row = session.tokenRow;
  if (row.project_id !== scope.projectId || row.environment !== scope.environment) throw apiErrorOf('token_invalid', 'unauthorized');
  if (externalUserId !== undefined && externalUserId !== row.external_id) throw badRequest('external_user_id must be the connect token’s user');
}

/** A key the app does not have is a caller's mistake (a typo would otherwise drop a value silently). */
function checkKnownFields(session: ConnectSession, names: readonly string[]): void {
  const known = new Set(session.app.fields.flatMap((field) => [field.name, ...field.aliases]));
  if (names.some((name) => !known.has(name))) throw badRequest('cfmap_json has a key that is not a field of this app');
}
