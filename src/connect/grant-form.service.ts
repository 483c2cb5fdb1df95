// The hosted form of the machine grants (client credentials, JWT bearer), as named steps:
//   check the fields   — as a keys app's: required, pattern, no control characters, bounded;
//   claim an attempt   — the same per-token budget as the key form (security catalogue 62): each
//                        submission sends the user's input to the provider;
//   mint the token     — the grant's token request; a refusal (a wrong secret, a revoked key)
//                        shows the form again with the reason and stores nothing;
//   test request       — the minted token must work against the API;
//   finish             — the account is stored with its fields sealed like a keys app's, so the
//                        refresher can re-mint from them; the token is consumed in the same
//                        transaction.
import type { CredentialValues } from '../accounts/account-secrets.ts';
import { ConnectFlowError, flowError } from '../errors.ts';
import { resolveOAuthClient, type ResolvedOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import { isMachineGrant, mintMachineToken, type MintOutcome } from '../oauth/machine-grant.ts';
import { normaliseTokenResponse, type NormalisedTokens } from '../oauth/token-response.ts';
import { CLIENT_ID_FIELD } from '../registry/machine-grant-checks.ts';
import type { RegistryApp, RegistryOAuthApp } from '../registry/registry.ts';
import {
  failConnection,
  finishConnection,
  verifyCredentials,
  type Attempt,
  type ConnectFlowDeps,
  type ConnectOutcome,
  type ConnectSession,
} from './connect-flow.service.ts';
import { checkFieldValues } from './field-values.ts';
import { claimAttempt, refuseAttempt } from './key-form.service.ts';

export async function submitGrantForm(
  deps: ConnectFlowDeps,
  session: ConnectSession,
  submitted: Readonly<Record<string, string | undefined>>,
): Promise<ConnectOutcome> {
  const app = requireMachineGrantApp(session.app);
  const values = checkFieldValues(app.fields, submitted);
  const operatorClient = await operatorClientOf(deps, session, app);
  const attempt: Attempt = { tokenRow: session.tokenRow, appSlug: app.slug, embed: session.embed };
  const attemptNumber = await claimAttempt(deps, session);
  if (attemptNumber === 'token_used') return failConnection(deps, attempt, flowError('token_used'));
  const scopes = requestedScopes(app, operatorClient);
  const minted = await mintMachineToken({ app, values, operatorClient, scopes, egress: deps.egress, now: deps.now?.() ?? new Date() });
  const tokens = readMinted(minted, app, scopes, deps.now?.() ?? new Date());
  if (!('accessToken' in tokens)) return refuseAttempt(deps, attempt, app, values, attemptNumber, tokens.refusal, tokens.cause);
  const credentials: CredentialValues = {
    ...values,
    ...tokens.extras,
    oauth_access_token: tokens.accessToken,
    oauth_client_id: operatorClient?.clientId ?? values[CLIENT_ID_FIELD] ?? '',
  };
  const tested = await testMinted(deps, attempt, app, credentials, values, attemptNumber);
  return finishConnection(
    deps,
    attempt,
    { account_id: session.accountId },
    {
      app,
      oauthAppId: operatorClient?.id ?? null,
      credentials: tested.uid === null ? credentials : { ...credentials, oauth_uid: tested.uid },
      // RFC 6749 §4.4.3: no refresh token; the sealed fields re-mint instead.
      refreshToken: null,
      authorizedScopes: tokens.authorizedScopes,
      expiresAt: tokens.expiresAt,
      name: tokens.accountName ?? tested.name,
    },
  );
}

function requireMachineGrantApp(app: RegistryApp): RegistryOAuthApp {
  if (app.auth_type !== 'oauth' || !isMachineGrant(app.oauth)) throw flowError('app_not_connectable');
  return app;
}

/** Step: an entry on the project's OAuth app needs one, as an authorization-code app does (nothing is claimed before). */
async function operatorClientOf(deps: ConnectFlowDeps, session: ConnectSession, app: RegistryOAuthApp): Promise<ResolvedOAuthClient | undefined> {
  if (app.oauth.client !== 'oauth_app') return undefined;
  const client = await resolveOAuthClient(deps.db, deps.vault, session.tokenRow.project_id, app.slug, session.oauthAppId);
  if (client === undefined) {
    const error = flowError('app_not_configured');
    error.allowedOrigins = session.tokenRow.allowed_origins;
    throw error;
  }
  return client;
}

function requestedScopes(app: RegistryOAuthApp, client: ResolvedOAuthClient | undefined): string[] {
  return [...new Set([...(client?.scopes ?? app.oauth.scopes), ...(client?.additionalScopes ?? [])])];
}

type Refusal = { refusal: 'credentials_rejected' | 'key_unusable' | 'provider_error'; cause: Error };

/** Step: the mint's answer as tokens, or why the form is shown again (a code and status for the log, never a body). */
function readMinted(minted: MintOutcome, app: RegistryOAuthApp, scopes: readonly string[], now: Date): NormalisedTokens | Refusal {
  if (minted.kind === 'refused') {
    // Status 0: our own check of the key material refused it before anything was sent.
    const refusal = minted.status === 0 ? 'key_unusable' : 'credentials_rejected';
    return { refusal, cause: new Error(`token request refused: ${minted.code} (status ${minted.status})`) };
  }
  if (minted.kind === 'unavailable') return { refusal: 'provider_error', cause: new Error(`token request failed: ${minted.reason}`) };
  const parsed = normaliseTokenResponse(app.oauth, minted.body, scopes, now);
  if (!parsed.ok) return { refusal: 'provider_error', cause: new Error(parsed.problem) };
  return parsed.tokens;
}

async function testMinted(
  deps: ConnectFlowDeps,
  attempt: Attempt,
  app: RegistryOAuthApp,
  credentials: CredentialValues,
  values: Record<string, string>,
  attemptNumber: number,
): Promise<{ name: string | null; uid: string | null }> {
  try {
    return await verifyCredentials(deps, app, credentials);
  } catch (err) {
    if (!(err instanceof ConnectFlowError) || err.kind !== 'test_request_failed') throw err;
    return refuseAttempt(deps, attempt, app, values, attemptNumber, 'test_request_failed', err.cause);
  }
}
