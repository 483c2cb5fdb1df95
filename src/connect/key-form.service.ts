// Key-based apps: the form's values are checked against the registry's fields, then proven by the
// app's test request, and only then stored. A failed test request saves nothing: the user sees
// the form again with the reason, the backend gets CONNECTION_ERROR, the token stays usable.
import { ConnectFlowError, CONNECT_FLOW_ERRORS, flowError } from '../errors.ts';
import type { RegistryApp } from '../registry/registry.ts';
import {
  finishConnection,
  recordConnectionError,
  verifyCredentials,
  type Attempt,
  type ConnectFlowDeps,
  type ConnectOutcome,
  type ConnectSession,
} from './connect-flow.service.ts';
import { FieldValidationError, checkFieldValues, keepNonSecret } from './field-values.ts';

export async function submitKeyForm(
  deps: ConnectFlowDeps,
  session: ConnectSession,
  submitted: Readonly<Record<string, string | undefined>>,
): Promise<ConnectOutcome> {
  const app = requireKeysApp(session.app);
  const values = checkFieldValues(app.fields, submitted);
  const attempt = { tokenRow: session.tokenRow, appSlug: app.slug, embed: session.embed };
  const name = await testKeys(deps, attempt, app, values);
  return finishConnection(
    deps,
    attempt,
    { account_id: session.accountId },
    { app, oauthAppId: null, credentials: values, refreshToken: null, authorizedScopes: [], expiresAt: null, name },
  );
}

function requireKeysApp(app: RegistryApp): RegistryApp {
  if (app.auth_type !== 'keys') throw flowError('app_not_connectable');
  return app;
}

async function testKeys(deps: ConnectFlowDeps, attempt: Attempt, app: RegistryApp, values: Record<string, string>): Promise<string | null> {
  try {
    return await verifyCredentials(deps, app, values);
  } catch (err) {
    if (!(err instanceof ConnectFlowError) || err.kind !== 'test_request_failed') throw err;
    await recordConnectionError(deps, attempt, 'test_request_failed');
    throw new FieldValidationError({}, keepNonSecret(app.fields, values), CONNECT_FLOW_ERRORS.test_request_failed.message, err.cause);
  }
}
