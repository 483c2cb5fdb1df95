// Key-based apps: the form's values are checked against the registry's fields, then proven by the
// app's test request, and only then stored. A failed test request saves nothing: the user sees
// the form again with the reason, the backend gets CONNECTION_ERROR, the token stays usable —
// for KEY_FORM_MAX_ATTEMPTS attempts (security catalogue 62): each one sends a request to the
// app's API with whatever the holder of the token typed, so a token is not an unlimited oracle
// for trying keys. After the last failed attempt the token is burned.
import { ConnectFlowError, CONNECT_FLOW_ERRORS, flowError, type ConnectFlowErrorKind } from '../errors.ts';
import type { RegistryApp } from '../registry/registry.ts';
import {
  failConnection,
  finishConnection,
  recordConnectionError,
  verifyCredentials,
  type Attempt,
  type ConnectFlowDeps,
  type ConnectOutcome,
  type ConnectSession,
} from './connect-flow.service.ts';
import { burnConnectToken, claimKeyFormAttempt, findConnectTokenByDigest } from './connect-token.repository.ts';
import { FieldValidationError, checkFieldValues, keepNonSecret } from './field-values.ts';

/** Attempts per connect token: a submission whose values are well-formed (it would send the test request). */
export const KEY_FORM_MAX_ATTEMPTS = 5;

export async function submitKeyForm(
  deps: ConnectFlowDeps,
  session: ConnectSession,
  submitted: Readonly<Record<string, string | undefined>>,
): Promise<ConnectOutcome> {
  const app = requireKeysApp(session.app);
  const values = checkFieldValues(app.fields, submitted);
  const attempt = { tokenRow: session.tokenRow, appSlug: app.slug, embed: session.embed };
  const attemptNumber = await claimAttempt(deps, session);
  // Another tab (or replica) finished with this token first: the late one stores nothing, as finishConnection would decide.
  if (attemptNumber === 'token_used') return failConnection(deps, attempt, flowError('token_used'));
  const name = await testKeys(deps, attempt, app, values, attemptNumber);
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

/** Takes one attempt: its number, 'token_used' when the token was used meanwhile; none left burns the token and ends the flow. */
export async function claimAttempt(deps: ConnectFlowDeps, session: ConnectSession): Promise<number | 'token_used'> {
  const digest = session.tokenRow.digest;
  const claimed = await claimKeyFormAttempt(deps.db, digest, KEY_FORM_MAX_ATTEMPTS);
  if (claimed !== undefined) return claimed;
  // Why not: used by another tab, expired meanwhile, or out of attempts.
  const current = await findConnectTokenByDigest(deps.db, digest);
  if (current !== undefined && current.used_at !== null && current.burned_at === null) return 'token_used';
  if (current !== undefined && current.used_at === null && current.key_form_attempts < KEY_FORM_MAX_ATTEMPTS) {
    const expired = flowError('token_expired');
    expired.allowedOrigins = session.tokenRow.allowed_origins;
    throw expired;
  }
  await burnConnectToken(deps.db, digest);
  throw attemptsExhausted(session.tokenRow.allowed_origins);
}

/** The page may still tell the embedding page (postMessage) that the flow ended. */
function attemptsExhausted(allowedOrigins: readonly string[], cause?: unknown): ConnectFlowError {
  const error = flowError('attempts_exhausted', cause);
  error.allowedOrigins = allowedOrigins;
  return error;
}

async function testKeys(
  deps: ConnectFlowDeps,
  attempt: Attempt,
  app: RegistryApp,
  values: Record<string, string>,
  attemptNumber: number,
): Promise<string | null> {
  try {
    return (await verifyCredentials(deps, app, values)).name;
  } catch (err) {
    if (!(err instanceof ConnectFlowError) || err.kind !== 'test_request_failed') throw err;
    return refuseAttempt(deps, attempt, app, values, attemptNumber, 'test_request_failed', err.cause);
  }
}

/** A well-formed submission the provider refused: tell the backend, burn the token after the last attempt, else show the form again. */
export async function refuseAttempt(
  deps: ConnectFlowDeps,
  attempt: Attempt,
  app: RegistryApp,
  values: Record<string, string>,
  attemptNumber: number,
  kind: ConnectFlowErrorKind,
  cause: unknown,
): Promise<never> {
  await recordConnectionError(deps, attempt, kind);
  if (attemptNumber >= KEY_FORM_MAX_ATTEMPTS) {
    await burnConnectToken(deps.db, attempt.tokenRow.digest);
    throw attemptsExhausted(attempt.tokenRow.allowed_origins, cause);
  }
  throw new FieldValidationError({}, keepNonSecret(app.fields, values), CONNECT_FLOW_ERRORS[kind].message, cause);
}
