// The OAuth 1.0a three-legged flow (RFC 5849 §2) on the hosted page, as named steps beside the
// OAuth 2.0 ones of connect-flow.service.ts, with the same defences:
//   start    — client configured, fields valid, a state (≥ 128 bits, single-use, ≤ 10 min) and
//              the browser binding cookie; the request token obtained with oauth_callback =
//              our callback carrying the state; the request token and its secret sealed with the
//              state; the user sent to the provider's authorization URL;
//   callback — cookie, state consumed once, same browser, not expired (the shared checks), the
//              user did not deny, the callback names our request token, a verifier; the token
//              credentials obtained once; the test request signed with them; then the same
//              finish as OAuth 2.0 (account sealed, token consumed, events, result).
// The consumer key is stored with the account (it is sent in every request anyway); the
// consumer secret stays with the project's OAuth app.
import type { Kysely } from 'kysely';
import type { CredentialValues } from '../accounts/account-secrets.ts';
import { digestToken } from '../crypto/tokens.ts';
import type { Database } from '../db/types.ts';
import { ConnectFlowError, flowError } from '../errors.ts';
import type { SealContext } from '../keys/vault.ts';
import { oauth1CallbackUrl, resolveOAuthClient, type ResolvedOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import type { CallbackQuery } from '../oauth/callback-checks.ts';
import { buildOAuth1AuthorizationUrl } from '../oauth/oauth1-authorization-url.ts';
import { checkNotDenied, checkRequestToken, requireVerifier } from '../oauth/oauth1-callback-checks.ts';
import { obtainRequestToken, obtainTokenCredentials, type TokenCredentials } from '../oauth/oauth1-token-requests.ts';
import { insertOAuthState } from '../oauth/oauth-state.repository.ts';
import { STATE_TTL_SECONDS, cookieNonceFor, mintState } from '../oauth/state.ts';
import { runTestRequest } from '../oauth/test-request.ts';
import { providerDisplayText } from '../oauth/provider-text.ts';
import type { RegistryApp, RegistryOAuth1App } from '../registry/registry.ts';
import { hasControlCharacter } from '../registry/templates.ts';
import { findConnectTokenByDigest } from './connect-token.repository.ts';
import {
  checkTokenStillUsable,
  proveCallbackState,
  requireOwnOAuthAppRow,
  failConnection,
  finishConnection,
  recordConnectionError,
  withOrigins,
  type Attempt,
  type AuthorizationStart,
  type ConnectFlowDeps,
  type ConnectOutcome,
  type ConnectSession,
  type EmbedMode,
  type TestedIdentity,
} from './connect-flow.service.ts';
import { checkFieldValues } from './field-values.ts';

/** Sealed with the state: nothing the callback may supply itself, and the request token's secret. */
interface OAuth1StateMeta {
  fields: Record<string, string>;
  embed: EmbedMode | null;
  scopes: string[];
  requestToken: string;
  requestTokenSecret: string;
}

const metaContext = (digest: Buffer, at: { project_id: string; environment: string }): SealContext => ({
  table: 'oauth_states',
  column: 'fields_enc',
  rowId: digest.toString('hex'),
  projectId: at.project_id,
  environment: at.environment,
});

// ─── start ───────────────────────────────────────────────────────────────────────────────────

export async function startOAuth1Authorization(
  deps: ConnectFlowDeps,
  session: ConnectSession,
  submitted: Readonly<Record<string, string | undefined>>,
  browserNonce: string | undefined,
): Promise<AuthorizationStart> {
  const { tokenRow } = session;
  try {
    const app = requireOAuth1App(session.app);
    const client = await requireOAuth1Client(deps.db, deps, tokenRow.project_id, app, session.oauthAppId);
    const fields = checkFieldValues(app.fields, submitted);
    const scopes = requestedScopes(app, client);
    const { state, digest } = mintState();
    const cookieNonce = cookieNonceFor(browserNonce);
    const callbackBase = oauth1CallbackUrl(deps.publicUrl);
    const requestToken = await requestTokenOrReport(deps, session, {
      oauth1: app.oauth1,
      consumer: { consumerKey: client.clientId, consumerSecret: client.clientSecret },
      fields,
      callbackUrl: `${callbackBase}?state=${encodeURIComponent(state)}`,
      egress: deps.egress,
    });
    const authorizeUrl = buildOAuth1AuthorizationUrl({ oauth1: app.oauth1, requestToken: requestToken.token, scopes, fields });
    const meta: OAuth1StateMeta = { fields, embed: session.embed, scopes, requestToken: requestToken.token, requestTokenSecret: requestToken.tokenSecret };
    await insertOAuthState(deps.db, {
      digest,
      cookie_digest: digestToken(cookieNonce),
      connect_token_digest: tokenRow.digest,
      project_id: tokenRow.project_id,
      environment: tokenRow.environment,
      external_user_id: tokenRow.external_user_id,
      app_slug: app.slug,
      oauth_app_id: client.id,
      account_id: session.accountId,
      redirect_uri: callbackBase,
      issuer: null,
      code_verifier_enc: null,
      fields_enc: await deps.vault.seal(metaContext(digest, tokenRow), JSON.stringify(meta)),
      expires_at: new Date((deps.now?.() ?? new Date()).getTime() + STATE_TTL_SECONDS * 1000),
    });
    return { authorizeUrl: authorizeUrl.toString(), cookieNonce };
  } catch (err) {
    throw withOrigins(err, tokenRow);
  }
}

/** The provider's failure to hand out a request token ends the attempt here: the backend hears of it (CONNECTION_ERROR). */
async function requestTokenOrReport(deps: ConnectFlowDeps, session: ConnectSession, step: Parameters<typeof obtainRequestToken>[0]) {
  try {
    return await obtainRequestToken(step);
  } catch (err) {
    if (err instanceof ConnectFlowError)
      await recordConnectionError(deps, { tokenRow: session.tokenRow, appSlug: session.app.slug, embed: session.embed }, err.kind);
    throw err;
  }
}

function requireOAuth1App(app: RegistryApp | undefined): RegistryOAuth1App {
  if (app === undefined) throw flowError('app_unknown');
  if (app.auth_type !== 'oauth1') throw flowError('app_not_connectable');
  return app;
}

async function requireOAuth1Client(
  db: Kysely<Database>,
  deps: Pick<ConnectFlowDeps, 'vault'>,
  projectId: string,
  app: RegistryOAuth1App,
  oauthAppId: string | null,
): Promise<ResolvedOAuthClient> {
  const client = await resolveOAuthClient(db, deps.vault, projectId, app.slug, oauthAppId);
  if (client === undefined) throw flowError('app_not_configured');
  return client;
}

function requestedScopes(app: RegistryOAuth1App, client: Pick<ResolvedOAuthClient, 'scopes' | 'additionalScopes'>): string[] {
  return [...new Set([...(client.scopes ?? app.oauth1.scopes), ...(client.additionalScopes ?? [])])];
}

/** For the hosted page: "not configured" before the user clicks (no secret opened), and the scopes to show. */
export async function oauth1ScopesOnPage(deps: ConnectFlowDeps, session: ConnectSession): Promise<readonly string[]> {
  const app = requireOAuth1App(session.app);
  const row = await requireOwnOAuthAppRow(deps, session);
  return requestedScopes(app, { scopes: row.scopes, additionalScopes: row.additional_scopes });
}

// ─── callback ────────────────────────────────────────────────────────────────────────────────

/**
 * The provider's redirect back (RFC 5849 §2.2). As with OAuth 2.0: failures before the state is
 * proven ours throw (a 400 page, nothing sent anywhere); later ones end the attempt, reported.
 */
export async function completeOAuth1Authorization(deps: ConnectFlowDeps, query: CallbackQuery, cookie: string | undefined): Promise<ConnectOutcome> {
  const entry = await proveCallbackState(deps, query, cookie);
  const now = deps.now?.() ?? new Date();
  const meta = JSON.parse(await deps.vault.openString(metaContext(entry.digest, entry), entry.fields_enc)) as OAuth1StateMeta;

  const tokenRow = await findConnectTokenByDigest(deps.db, entry.connect_token_digest);
  if (tokenRow === undefined) throw flowError('token_invalid');
  const attempt: Attempt = { tokenRow, appSlug: entry.app_slug, embed: meta.embed };
  try {
    checkNotDenied(query);
    checkRequestToken(query, meta.requestToken);
    const verifier = requireVerifier(query);
    checkTokenStillUsable(tokenRow, now);
    const app = requireOAuth1App(deps.registry.get(entry.app_slug));
    const client = await requireOAuth1Client(deps.db, deps, entry.project_id, app, entry.oauth_app_id);
    const tokens = await obtainTokenCredentials({
      oauth1: app.oauth1,
      consumer: { consumerKey: client.clientId, consumerSecret: client.clientSecret },
      fields: meta.fields,
      requestToken: { token: meta.requestToken, tokenSecret: meta.requestTokenSecret },
      verifier,
      egress: deps.egress,
    });
    const credentials: CredentialValues = {
      ...meta.fields,
      ...keptValues(app, tokens),
      oauth_token: tokens.token,
      oauth_token_secret: tokens.tokenSecret,
      oauth_consumer_key: client.clientId,
    };
    const tested = await verifySignedCredentials(deps, app, credentials, client.clientSecret);
    return await finishConnection(deps, attempt, entry, {
      app,
      oauthAppId: client.id,
      credentials: tested.uid === null ? credentials : { ...credentials, oauth_uid: tested.uid },
      // RFC 5849 token credentials do not expire and have no refresh (providers revoke them instead).
      refreshToken: null,
      authorizedScopes: meta.scopes,
      expiresAt: null,
      name: accountName(app, tokens) ?? tested.name,
    });
  } catch (err) {
    if (err instanceof ConnectFlowError) return failConnection(deps, attempt, err);
    deps.logger?.error({ err }, 'oauth1 callback failed after the state was consumed');
    return failConnection(deps, attempt, flowError('internal_error', err));
  }
}

/** The entry's token_response_extra: values of the token-credential answer kept as credentials (cleaned like any provider text). */
function keptValues(app: RegistryOAuth1App, tokens: TokenCredentials): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, param] of Object.entries(app.oauth1.token_response_extra)) {
    const value = tokens.parameters.get(param);
    if (value !== null && value !== '' && value.length <= 2048 && !hasControlCharacter(value)) out[name] = value;
  }
  return out;
}

function accountName(app: RegistryOAuth1App, tokens: TokenCredentials): string | null {
  const param = app.oauth1.account_name_param;
  if (param === undefined) return null;
  return providerDisplayText(tokens.parameters.get(param) ?? undefined);
}

/** The entry's test request, signed with the new token credentials: they must work before they are stored. */
async function verifySignedCredentials(
  deps: ConnectFlowDeps,
  app: RegistryOAuth1App,
  values: CredentialValues,
  consumerSecret: string,
): Promise<TestedIdentity> {
  const testRequest = app.test_request;
  if (testRequest === undefined) return { name: null, uid: null };
  const outcome = await runTestRequest({
    app: { ...app, test_request: testRequest },
    values,
    egress: deps.egress,
    oauth1: { consumerSecret, signatureMethod: app.oauth1.signature_method, ...(app.oauth1.realm === undefined ? {} : { realm: app.oauth1.realm }) },
  });
  if (!outcome.ok) throw new ConnectFlowError('test_request_failed', { cause: new Error(`test request failed: ${outcome.reason}`) });
  return { name: outcome.accountName, uid: outcome.accountUid };
}
