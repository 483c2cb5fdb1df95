// The end user's side of the connect flow, as a checklist of named steps:
//   open a session  — token usable, app known and allowed, reconnect target owned by this user;
//   start OAuth     — client configured, fields valid, state + PKCE + browser binding stored, authorize URL;
//   complete OAuth  — cookie, state consumed once, binding, expiry, issuer, provider error, code
//                     exchanged once, token response normalised, test request;
//   finish          — token consumed, account stored, events enqueued, result recorded, all in one
//                     transaction; then a redirect or the result page.
// Nothing slow (no provider call) ever runs inside a database transaction.
import type { Kysely } from 'kysely';
import { toAppView } from '../apps/app-view.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { findAccountOwner, insertAccount, replaceAccountCredentials, type StoredAccountStamp } from '../accounts/account.repository.ts';
import { identitiesDiffer, storedIdentity } from '../accounts/account-identity.ts';
import type { CredentialValues } from '../accounts/account-secrets.ts';
import { sealNewAccount, sealReplacement, type StoredCredentials } from '../accounts/stored-account.ts';
import { planNextRefresh } from '../accounts/token-schedule.ts';
import { digestToken, mintId } from '../crypto/tokens.ts';
import type { Database } from '../db/types.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { ACCOUNT_ID_REGEX } from '../http/schemas.ts';
import type { SealContext, Vault } from '../keys/vault.ts';
import { findNewestOAuthAppForApp } from '../oauth-apps/oauth-apps.repository.ts';
import { oauthAppBelongsTo, oauthCallbackUrl, resolveOAuthClient, type ResolvedOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import { buildAuthorizationUrl } from '../oauth/authorization-url.ts';
import {
  checkAuthorizationError,
  checkBrowserBinding,
  checkIssuer,
  checkStateNotExpired,
  requireBindingCookie,
  requireCode,
  requireState,
  type CallbackQuery,
} from '../oauth/callback-checks.ts';
import { exchangeCode, readTokenResponse } from '../oauth/code-exchange.ts';
import { subjectOfIdToken } from '../oauth/id-token.ts';
import { ConnectFlowError, CONNECT_FLOW_ERRORS, flowError, type ConnectFlowErrorKind } from '../errors.ts';
import { consumeOAuthState, insertOAuthState, type OAuthStateRow } from '../oauth/oauth-state.repository.ts';
import { createPkcePair } from '../oauth/pkce.ts';
import { isMachineGrant } from '../oauth/machine-grant.ts';
import { STATE_TTL_SECONDS, cookieNonceFor, mintState } from '../oauth/state.ts';
import { runTestRequest } from '../oauth/test-request.ts';
import { SLUG_REGEX, type AppRegistry, type RegistryApp, type RegistryOAuthApp } from '../registry/registry.ts';
import { TemplateError, hasControlCharacter, replacePlaceholders } from '../registry/templates.ts';
import { enqueueConnectionEvent } from '../webhooks/events.ts';
import { discoverMcpApp, prepareMcpAuthorization, resumeMcpAuthorization, type McpAuthorizationTarget } from '../mcp/mcp-clients.service.ts';
import { consumeConnectToken, findConnectTokenByDigest, type ConnectTokenRow } from './connect-token.repository.ts';
import { resolveConnectToken } from './connect-tokens.service.ts';
import { deleteExpiredConnectResults, insertConnectResult, type ConnectResultRow } from './connect-flow.repository.ts';
import { FieldValidationError, checkFieldValues, keepNonSecret } from './field-values.ts';

/** How the page was opened by /sdk/connect.js; a plain Connect Link has none. */
export type EmbedMode = 'iframe' | 'popup';

export const RESULT_TTL_SECONDS = 15 * 60;

export interface ConnectFlowDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly registry: AppRegistry;
  readonly publicUrl: string;
  readonly now?: () => Date;
  /** The only way out: the token request and the test request go through it. */
  readonly egress: EgressGuard;
  /** Connections and failed attempts go to the audit trail (never a value). */
  readonly audit?: Pick<AuditLog, 'record'>;
  /** For a failure nobody foresaw after the state was spent (it still ends as CONNECTION_ERROR). */
  readonly logger?: { error(obj: object, msg: string): void };
}

export interface ConnectRequest {
  readonly token?: string | undefined;
  readonly app?: string | undefined;
  readonly oauthAppId?: string | undefined;
  readonly accountId?: string | undefined;
  readonly embed?: string | undefined;
}

export interface ConnectSession {
  /** The raw token, only to be posted back by the page's own forms. */
  readonly token: string;
  readonly tokenRow: ConnectTokenRow;
  readonly app: RegistryApp;
  /** The OAuth client asked for (pinned by the token, named by the link, or the reconnected account's). */
  readonly oauthAppId: string | null;
  /** Reconnect: the account whose credentials are replaced. */
  readonly accountId: string | null;
  readonly embed: EmbedMode | null;
}

/** Where the browser goes next: a redirect URI of the backend's or our result page. */
export interface ConnectOutcome {
  readonly location: string;
  /** The account stored (success), for callers that answer with it (accounts.create). */
  readonly accountId?: string;
  /** Why the attempt failed (already reported to the backend), for callers that answer with it. */
  readonly failure?: ConnectFlowErrorKind;
}

const now = (deps: ConnectFlowDeps): Date => deps.now?.() ?? new Date();

// ─── open a session ──────────────────────────────────────────────────────────────────────────

export async function openConnectSession(deps: ConnectFlowDeps, request: ConnectRequest): Promise<ConnectSession> {
  const token = requireToken(request.token);
  const tokenRow = await checkTokenUsable(deps.db, token, now(deps));
  try {
    const app = checkAppAllowed(deps.registry, request.app, tokenRow);
    const owner = await checkReconnectTarget(deps.db, tokenRow, app, request.accountId);
    const oauthAppId = checkOAuthAppAllowed(tokenRow, request.oauthAppId, owner?.oauth_app_id ?? null);
    return { token, tokenRow, app, oauthAppId, accountId: owner?.id ?? null, embed: embedMode(request.embed) };
  } catch (err) {
    throw withOrigins(err, tokenRow);
  }
}

function requireToken(token: string | undefined): string {
  if (token === undefined || token === '') throw flowError('token_missing');
  return token;
}

async function checkTokenUsable(db: Kysely<Database>, token: string, at: Date): Promise<ConnectTokenRow> {
  const resolution = await resolveConnectToken(db, token, at);
  switch (resolution.status) {
    case 'ok':
      return resolution.row;
    case 'unknown':
      throw flowError('token_invalid');
    case 'expired':
      throw withOrigins(flowError('token_expired'), resolution.row);
    case 'used':
      throw withOrigins(flowError(resolution.row.burned_at === null ? 'token_used' : 'attempts_exhausted'), resolution.row);
  }
}

function checkAppAllowed(registry: AppRegistry, slug: string | undefined, tokenRow: ConnectTokenRow): RegistryApp {
  const requested = slug === undefined || slug === '' ? (tokenRow.app_slug ?? undefined) : slug;
  if (requested === undefined) throw flowError('app_missing');
  // A slug, or Pipedream's app id (`app_<slug>`).
  const app = SLUG_REGEX.test(requested)
    ? (registry.get(requested) ?? (requested.startsWith('app_') ? registry.get(requested.slice(4)) : undefined))
    : undefined;
  if (app === undefined) throw flowError('app_unknown');
  if (tokenRow.app_slug !== null && tokenRow.app_slug !== app.slug) throw flowError('app_not_allowed');
  if (app.auth_type === 'none') throw flowError('app_not_connectable');
  return app;
}

function checkOAuthAppAllowed(tokenRow: ConnectTokenRow, requested: string | undefined, reconnecting: string | null): string | null {
  const named = requested === undefined || requested === '' ? null : requested;
  const pinned = tokenRow.oauth_app_id ?? reconnecting;
  if (named !== null && pinned !== null && named !== pinned) throw flowError('app_not_allowed');
  if (tokenRow.oauth_app_id !== null && reconnecting !== null && tokenRow.oauth_app_id !== reconnecting) throw flowError('app_not_allowed');
  return pinned ?? named;
}

/** Reconnect only the same external user's account of the same app, in the same project environment. */
async function checkReconnectTarget(db: Kysely<Database>, tokenRow: ConnectTokenRow, app: RegistryApp, accountId: string | undefined) {
  if (accountId === undefined || accountId === '') return undefined;
  const owner = ACCOUNT_ID_REGEX.test(accountId) ? await findAccountOwner(db, accountId) : undefined;
  if (
    owner === undefined ||
    owner.project_id !== tokenRow.project_id ||
    owner.environment !== tokenRow.environment ||
    owner.external_user_id !== tokenRow.external_user_id ||
    owner.app_slug !== app.slug
  ) {
    throw flowError('account_not_allowed');
  }
  return owner;
}

function embedMode(raw: string | undefined): EmbedMode | null {
  return raw === 'iframe' || raw === 'popup' ? raw : null;
}

/** What the error page needs of the token once it is known: where it may postMessage, and the backend's error page to return to. */
export function withOrigins(err: unknown, tokenRow: ConnectTokenRow): unknown {
  if (!(err instanceof ConnectFlowError)) return err;
  if (err.allowedOrigins.length === 0) err.allowedOrigins = tokenRow.allowed_origins;
  if (err.returnUrl === null && tokenRow.error_redirect_uri !== null) err.returnUrl = withQuery(tokenRow.error_redirect_uri, 'error', err.kind);
  err.projectId ??= tokenRow.project_id;
  return err;
}

/**
 * For the Connect page itself: an OAuth app without a client for this project gets "this app is
 * not configured" before the user clicks anything (no secret is opened here). Answers the scopes
 * the authorization will ask for, so the page can say what the user is about to allow.
 */
export async function scopesToRequestOnPage(deps: ConnectFlowDeps, session: ConnectSession): Promise<readonly string[]> {
  if (session.app.auth_type !== 'oauth') return [];
  // A machine grant with a client the user enters needs no OAuth app of the project.
  if (isMachineGrant(session.app.oauth) && session.app.oauth.client === 'entered') return session.app.oauth.scopes;
  const row = await requireOwnOAuthAppRow(deps, session);
  return requestedScopes(session.app, { scopes: row.scopes, additionalScopes: row.additional_scopes });
}

/** The project's OAuth app this page would use (the named one, else its newest for the app), or app_not_configured. */
export async function requireOwnOAuthAppRow(deps: ConnectFlowDeps, session: ConnectSession) {
  const projectId = session.tokenRow.project_id;
  const row =
    session.oauthAppId === null
      ? await findNewestOAuthAppForApp(deps.db, projectId, session.app.slug)
      : await oauthAppBelongsTo(deps.db, projectId, session.oauthAppId, session.app.slug);
  if (row === undefined) throw withOrigins(flowError('app_not_configured'), session.tokenRow);
  return row;
}

/** What the page of an app that redirects shows: its OAuth view (an MCP server's, discovered now) and the scopes asked for. */
export interface OAuthPage {
  readonly app: RegistryOAuthApp;
  readonly scopes: readonly string[];
}

/** Undefined for an app whose page is a key form. */
export async function oauthPageOf(deps: ConnectFlowDeps, session: ConnectSession): Promise<OAuthPage | undefined> {
  if (session.app.auth_type === 'mcp') {
    // A server used with the project's own client says "not configured" before any discovery.
    if (session.app.mcp.registration === 'preregistered') await requireOwnOAuthAppRow(deps, session);
    try {
      const app = await discoverMcpApp(deps, session.app);
      return { app, scopes: app.oauth.scopes };
    } catch (err) {
      throw withOrigins(err, session.tokenRow);
    }
  }
  if (session.app.auth_type !== 'oauth') return undefined;
  return { app: session.app, scopes: await scopesToRequestOnPage(deps, session) };
}

// ─── start OAuth ─────────────────────────────────────────────────────────────────────────────

export interface AuthorizationStart {
  readonly authorizeUrl: string;
  /** The browser binding to set as a cookie (the browser's existing one when it had one). */
  readonly cookieNonce: string;
}

/** What the state entry keeps sealed besides the verifier: nothing a callback may supply itself. */
interface StateMeta {
  fields: Record<string, string>;
  embed: EmbedMode | null;
  scopes: string[];
  /** RFC 9207 fallback when the registry declares no issuer: the authorization server's origin. */
  authorizeOrigin: string;
}

export async function startAuthorization(
  deps: ConnectFlowDeps,
  session: ConnectSession,
  submitted: Readonly<Record<string, string | undefined>>,
  browserNonce: string | undefined,
): Promise<AuthorizationStart> {
  try {
    const { app, client } = await authorizationTarget(deps, session);
    const fields = checkFieldValues(app.fields, submitted);
    const scopes = requestedScopes(app, client);
    const { state, digest } = mintState();
    const pkce = app.oauth.pkce ? createPkcePair() : undefined;
    const cookieNonce = cookieNonceFor(browserNonce);
    const redirectUri = oauthCallbackUrl(deps.publicUrl);
    const authorizeUrl = authorizationUrlOrFieldError(app, { oauth: app.oauth, clientId: client.clientId, redirectUri, state, scopes, pkce, fields });
    const stateLocation: StateLocation = { rowId: digest.toString('hex'), project_id: session.tokenRow.project_id, environment: session.tokenRow.environment };
    const meta: StateMeta = { fields, embed: session.embed, scopes, authorizeOrigin: authorizeUrl.origin };
    await insertOAuthState(deps.db, {
      digest,
      cookie_digest: digestToken(cookieNonce),
      connect_token_digest: session.tokenRow.digest,
      project_id: session.tokenRow.project_id,
      environment: session.tokenRow.environment,
      external_user_id: session.tokenRow.external_user_id,
      app_slug: app.slug,
      oauth_app_id: client.id,
      account_id: session.accountId,
      redirect_uri: redirectUri,
      issuer: app.oauth.issuer === undefined ? null : fillIssuer(app.oauth.issuer, fields),
      code_verifier_enc: pkce === undefined ? null : await deps.vault.seal(verifierContext(stateLocation), pkce.verifier),
      fields_enc: await deps.vault.seal(metaContext(stateLocation), JSON.stringify(meta)),
      expires_at: new Date(now(deps).getTime() + STATE_TTL_SECONDS * 1000),
    });
    return { authorizeUrl: authorizeUrl.toString(), cookieNonce };
  } catch (err) {
    throw withOrigins(err, session.tokenRow);
  }
}

/** The registry's OAuth app and the project's client for it; for a remote MCP server, the discovered ones (src/mcp/). */
async function authorizationTarget(deps: ConnectFlowDeps, session: ConnectSession): Promise<McpAuthorizationTarget> {
  const scope = { projectId: session.tokenRow.project_id, environment: session.tokenRow.environment };
  if (session.app.auth_type === 'mcp') return prepareMcpAuthorization(deps, scope, session.app, session.oauthAppId);
  const app = requireOAuthApp(session.app);
  return { app, client: await requireOAuthClient(deps, scope.projectId, app, session.oauthAppId) };
}

function requireOAuthApp(app: RegistryApp): RegistryOAuthApp {
  // The machine grants have no authorization step: their form (grant-form.service.ts) mints instead.
  if (app.auth_type !== 'oauth' || isMachineGrant(app.oauth)) throw flowError('app_not_connectable');
  return app;
}

/** A project must register its own OAuth client for the app; without one there is nothing to redirect to. */
async function requireOAuthClient(deps: ConnectFlowDeps, projectId: string, app: RegistryOAuthApp, oauthAppId: string | null): Promise<ResolvedOAuthClient> {
  const client = await resolveOAuthClient(deps.db, deps.vault, projectId, app.slug, oauthAppId);
  if (client === undefined) throw flowError('app_not_configured');
  return client;
}

/** A value can pass its field's pattern and still not fit its place in a URL (a host label). */
function authorizationUrlOrFieldError(app: RegistryOAuthApp, request: Parameters<typeof buildAuthorizationUrl>[0]): URL {
  try {
    return buildAuthorizationUrl(request);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const field = app.fields.find((f) => f.name === err.placeholder);
    throw new FieldValidationError(
      field === undefined ? {} : { [field.name]: `${field.label} is not in the expected format.` },
      keepNonSecret(app.fields, request.fields),
      undefined,
      err,
    );
  }
}

function requestedScopes(app: RegistryOAuthApp, client: Pick<ResolvedOAuthClient, 'scopes' | 'additionalScopes'>): string[] {
  return [...new Set([...(client.scopes ?? app.oauth.scopes), ...(client.additionalScopes ?? [])])];
}

function fillIssuer(template: string, fields: Readonly<Record<string, string>>): string {
  return replacePlaceholders(template, (name) => fields[name] ?? '');
}

/** What an OAuth state's sealed columns are bound to: the state (its digest), its project and environment. */
interface StateLocation {
  rowId: string;
  project_id: string;
  environment: string;
}
const stateContext = (column: string, at: StateLocation): SealContext => ({
  table: 'oauth_states',
  column,
  rowId: at.rowId,
  projectId: at.project_id,
  environment: at.environment,
});
const verifierContext = (at: StateLocation): SealContext => stateContext('code_verifier_enc', at);
const metaContext = (at: StateLocation): SealContext => stateContext('fields_enc', at);

// ─── complete OAuth ──────────────────────────────────────────────────────────────────────────

/** A callback's state entry once proven ours, with the sealed request details it must carry. */
export type ProvenState = OAuthStateRow & { readonly fields_enc: Buffer };

/**
 * The first steps of every callback, OAuth 2.0 and OAuth 1.0a alike: the binding cookie, the
 * state spent once, set in this browser, not expired, with its sealed request details. Each
 * failure throws state_invalid: a 400 page, nothing sent anywhere.
 */
export async function proveCallbackState(deps: ConnectFlowDeps, query: CallbackQuery, cookie: string | undefined): Promise<ProvenState> {
  const cookieNonce = requireBindingCookie(cookie);
  const state = requireState(query);
  const entry = await consumeOAuthState(deps.db, digestToken(state));
  if (entry === undefined) throw flowError('state_invalid', new Error('state unknown or already used'));
  checkBrowserBinding(entry.cookie_digest, digestToken(cookieNonce));
  checkStateNotExpired(entry.expires_at, now(deps));
  const fieldsEnc = entry.fields_enc;
  if (fieldsEnc === null) throw flowError('state_invalid', new Error('state entry without its sealed request details'));
  return { ...entry, fields_enc: fieldsEnc };
}

/**
 * The provider's redirect back to us. Failures before the state is proven ours (no cookie,
 * unknown or replayed state, another browser's state, expired, wrong issuer) throw: no token
 * request, no account, a 400 page. Later failures are the user's attempt failing: they are
 * reported to the backend and end on the result page or error_redirect_uri.
 */
export async function completeAuthorization(deps: ConnectFlowDeps, query: CallbackQuery, cookie: string | undefined): Promise<ConnectOutcome> {
  const entry = await proveCallbackState(deps, query, cookie);
  const stateLocation: StateLocation = { rowId: entry.digest.toString('hex'), project_id: entry.project_id, environment: entry.environment };
  const meta = JSON.parse(await deps.vault.openString(metaContext(stateLocation), entry.fields_enc)) as StateMeta;
  checkIssuer(query, { declared: entry.issuer, fallback: meta.authorizeOrigin });

  const tokenRow = await findConnectTokenByDigest(deps.db, entry.connect_token_digest);
  if (tokenRow === undefined) throw flowError('token_invalid');
  const attempt: Attempt = { tokenRow, appSlug: entry.app_slug, embed: meta.embed };
  try {
    checkAuthorizationError(query);
    const { app, client } = await callbackTarget(deps, entry);
    const code = requireCode(query, app.oauth.callback_code_param);
    checkTokenStillUsable(tokenRow, now(deps));
    const codeVerifier = entry.code_verifier_enc === null ? undefined : await deps.vault.openString(verifierContext(stateLocation), entry.code_verifier_enc);
    const response = await exchangeCode({
      oauth: app.oauth,
      client,
      fields: meta.fields,
      code,
      redirectUri: entry.redirect_uri,
      codeVerifier,
      egress: deps.egress,
    });
    const tokens = readTokenResponse(app.oauth, response, meta.scopes, now(deps));
    const uid = subjectOfIdToken(response, { issuer: entry.issuer, clientId: client.clientId });
    const credentials: CredentialValues = {
      ...meta.fields,
      ...tokens.extras,
      ...callbackValues(app, query),
      oauth_access_token: tokens.accessToken,
      oauth_client_id: client.clientId,
      ...(uid === undefined ? {} : { oauth_uid: uid }),
    };
    const tested = await verifyCredentials(deps, app, credentials);
    // The ID token's sub when there is one, else the id the test request read (GitHub's /user id).
    const identified = uid === undefined && tested.uid !== null ? { ...credentials, oauth_uid: tested.uid } : credentials;
    return await finishConnection(deps, attempt, entry, {
      app,
      oauthAppId: client.id,
      credentials: identified,
      refreshToken: tokens.refreshToken,
      authorizedScopes: tokens.authorizedScopes,
      expiresAt: tokens.expiresAt,
      name: tokens.accountName ?? tested.name,
    });
  } catch (err) {
    if (err instanceof ConnectFlowError) return failConnection(deps, attempt, err);
    // The state and the code are spent: whatever broke, the attempt ends as a failure the backend
    // hears of (CONNECTION_ERROR) and the user sees on the result page, never as a bare 500.
    deps.logger?.error({ err }, 'connect callback failed after the state was consumed');
    return failConnection(deps, attempt, flowError('internal_error', err));
  }
}

/** The app and client the authorization started with (an MCP server's as stored with its client). */
async function callbackTarget(deps: ConnectFlowDeps, entry: OAuthStateRow): Promise<McpAuthorizationTarget> {
  const registered = deps.registry.get(entry.app_slug) ?? failWith('app_unknown');
  const scope = { projectId: entry.project_id, environment: entry.environment };
  if (registered.auth_type === 'mcp') return resumeMcpAuthorization(deps, scope, registered, entry.oauth_app_id);
  const app = requireOAuthApp(registered);
  return { app, client: await requireOAuthClient(deps, scope.projectId, app, entry.oauth_app_id) };
}

function failWith(kind: ConnectFlowErrorKind): never {
  throw flowError(kind);
}

/** Checked before the code is spent; consumeConnectToken re-checks atomically at the end. */
export function checkTokenStillUsable(tokenRow: ConnectTokenRow, at: Date): void {
  if (tokenRow.used_at !== null) throw flowError('token_used');
  if (tokenRow.expires_at.getTime() <= at.getTime()) throw flowError('token_expired');
}

/** Values the provider appends to the callback (QuickBooks' realmId), kept as credentials. */
function callbackValues(app: RegistryOAuthApp, query: CallbackQuery): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, param] of Object.entries(app.oauth.callback_params)) {
    const value = query[param];
    if (value !== undefined && value !== '' && value.length <= 512 && !hasControlCharacter(value)) out[name] = value;
  }
  return out;
}

/** Runs the entry's test_request, if any: the credential must work, and it may name the account. */
/** Who the test request says the account is: its name, and the provider's user id where the entry says where it is. */
export interface TestedIdentity {
  readonly name: string | null;
  readonly uid: string | null;
}

export async function verifyCredentials(deps: ConnectFlowDeps, app: RegistryApp, values: CredentialValues): Promise<TestedIdentity> {
  const testRequest = app.test_request;
  if (testRequest === undefined) return { name: null, uid: null };
  const outcome = await runTestRequest({ app: { ...app, test_request: testRequest }, values, egress: deps.egress });
  if (!outcome.ok) throw new ConnectFlowError('test_request_failed', { cause: new Error(`test request failed: ${outcome.reason}`) });
  return { name: outcome.accountName, uid: outcome.accountUid };
}

// ─── finish ──────────────────────────────────────────────────────────────────────────────────

/** One attempt of one connect token, for the result and the events. */
export interface Attempt {
  readonly tokenRow: ConnectTokenRow;
  readonly appSlug: string;
  readonly embed: EmbedMode | null;
}

export interface ConnectedCredentials {
  readonly app: RegistryApp;
  readonly oauthAppId: string | null;
  readonly credentials: CredentialValues;
  readonly refreshToken: string | null;
  readonly authorizedScopes: string[];
  readonly expiresAt: Date | null;
  readonly name: string | null;
}

/**
 * Stores the account and consumes the token in one transaction: if the token was used
 * meanwhile (another tab, another replica), nothing is stored. The events and the result row
 * commit with the account, so the backend hears of exactly the accounts that exist.
 */
export async function finishConnection(
  deps: ConnectFlowDeps,
  attempt: Attempt,
  target: Pick<OAuthStateRow, 'account_id'>,
  connected: ConnectedCredentials,
): Promise<ConnectOutcome> {
  const { tokenRow } = attempt;
  const accountId = target.account_id ?? mintId('apn_');
  if (target.account_id !== null && !tokenRow.allow_different_account) {
    // A reconnect must come back as the same provider user, unless the token says the user may switch.
    const stored = await storedIdentity(deps.db, deps.vault, target.account_id);
    const next = { uid: connected.credentials['oauth_uid'], name: connected.name };
    if (stored !== undefined && identitiesDiffer(stored, next)) return failConnection(deps, attempt, flowError('account_mismatch'));
  }
  const stored: StoredCredentials = {
    credentials: connected.credentials,
    refreshToken: connected.refreshToken,
    authorizedScopes: connected.authorizedScopes,
    expiresAt: connected.expiresAt,
    // The refresher's own schedule: margin with jitter, and the idle keep-alive of
    // providers whose refresh tokens die unused (Xero, QuickBooks).
    nextRefreshAt: connected.app.auth_type === 'oauth' ? planNextRefresh(connected.app, connected.expiresAt, now(deps).getTime()) : null,
  };
  // Sealed before the transaction: loading the project's data key may need a query.
  const sealed =
    target.account_id === null
      ? {
          kind: 'insert' as const,
          row: await sealNewAccount(deps.vault, {
            id: accountId,
            projectId: tokenRow.project_id,
            environment: tokenRow.environment,
            externalUserId: tokenRow.external_user_id,
            externalId: tokenRow.external_id,
            appSlug: connected.app.slug,
            oauthAppId: connected.oauthAppId,
            name: connected.name,
            ...stored,
          }),
        }
      : {
          kind: 'replace' as const,
          row: await sealReplacement(
            deps.vault,
            { id: accountId, projectId: tokenRow.project_id, environment: tokenRow.environment, name: connected.name ?? undefined },
            stored,
          ),
        };
  const resultId = mintId('cres_', 24);
  try {
    await deps.db.transaction().execute(async (trx) => {
      if ((await consumeConnectToken(trx, tokenRow.digest)) === undefined) throw flowError('token_used');
      let account: StoredAccountStamp | undefined;
      if (sealed.kind === 'insert') {
        account = await insertAccount(trx, sealed.row);
      } else {
        const owner = await findAccountOwner(trx, accountId);
        if (owner === undefined || owner.external_user_id !== tokenRow.external_user_id) throw flowError('account_not_allowed');
        account = await replaceAccountCredentials(trx, accountId, sealed.row);
      }
      await reportConnection(trx, tokenRow, 'CONNECTION_SUCCESS', {
        account: {
          id: accountId,
          name: account?.name ?? null,
          external_id: tokenRow.external_id,
          healthy: true,
          dead: false,
          app: toAppView(connected.app, deps.publicUrl),
          created_at: account?.created_at.toISOString() ?? null,
          updated_at: account?.updated_at.toISOString() ?? null,
        },
      });
      await insertConnectResult(trx, resultRow(resultId, attempt, 'success', accountId, null, now(deps)));
    });
  } catch (err) {
    if (err instanceof ConnectFlowError) return failConnection(deps, attempt, err);
    throw err;
  }
  deps.audit?.record({
    projectId: tokenRow.project_id,
    environment: tokenRow.environment,
    actor: `user:${tokenRow.external_id}`,
    action: target.account_id === null ? 'account.connect' : 'account.reconnect',
    accountId,
    result: 'ok',
    details: { app: connected.app.slug, connect_token_id: tokenRow.id },
  });
  await deleteExpiredConnectResults(deps.db);
  return { location: successLocation(attempt, resultId, accountId), accountId };
}

/** The attempt failed: tell the backend (CONNECTION_ERROR) and send the user to the error outcome. Nothing else is stored. */
export async function failConnection(deps: ConnectFlowDeps, attempt: Attempt, error: ConnectFlowError): Promise<ConnectOutcome> {
  auditFailure(deps, attempt, error.kind);
  const resultId = mintId('cres_', 24);
  await deps.db.transaction().execute(async (trx) => {
    await reportConnection(trx, attempt.tokenRow, 'CONNECTION_ERROR', { error: CONNECT_FLOW_ERRORS[error.kind].message });
    await insertConnectResult(trx, resultRow(resultId, attempt, 'error', null, error.kind, now(deps)));
  });
  const redirect = attempt.embed === null ? attempt.tokenRow.error_redirect_uri : null;
  if (redirect !== null) return { location: withQuery(redirect, 'error', error.kind), failure: error.kind };
  return { location: resultPath(resultId), failure: error.kind };
}

/** For failures that stay on the page (a key form whose test request failed): the event and the audit entry only. */
export async function recordConnectionError(deps: ConnectFlowDeps, attempt: Attempt, kind: ConnectFlowErrorKind): Promise<void> {
  auditFailure(deps, attempt, kind);
  await deps.db.transaction().execute((trx) => reportConnection(trx, attempt.tokenRow, 'CONNECTION_ERROR', { error: CONNECT_FLOW_ERRORS[kind].message }));
}

function auditFailure(deps: ConnectFlowDeps, attempt: Attempt, kind: ConnectFlowErrorKind): void {
  deps.audit?.record({
    projectId: attempt.tokenRow.project_id,
    environment: attempt.tokenRow.environment,
    actor: `user:${attempt.tokenRow.external_id}`,
    action: 'account.connect',
    result: kind === 'access_denied' ? 'denied' : kind === 'token_used' ? 'conflict' : 'error',
    details: { app: attempt.appSlug, connect_token_id: attempt.tokenRow.id, error_code: kind },
  });
}

/**
 * Pipedream's connection webhook payload, never a credential. `connect_token` is the token's
 * public id (`ctid_…`): the token itself must not travel; a token is one session, so it is the
 * session id too.
 */
async function reportConnection(
  db: Kysely<Database>,
  tokenRow: ConnectTokenRow,
  event: 'CONNECTION_SUCCESS' | 'CONNECTION_ERROR',
  body: Record<string, unknown>,
): Promise<void> {
  await enqueueConnectionEvent(db, { projectId: tokenRow.project_id, environment: tokenRow.environment, webhookUri: tokenRow.webhook_uri }, event, {
    connect_token: tokenRow.id,
    connect_session_id: tokenRow.id,
    ...body,
  });
}

function resultRow(id: string, attempt: Attempt, outcome: 'success' | 'error', accountId: string | null, error: string | null, at: Date): ConnectResultRow {
  return {
    id,
    project_id: attempt.tokenRow.project_id,
    environment: attempt.tokenRow.environment,
    connect_token_id: attempt.tokenRow.id,
    app_slug: attempt.appSlug,
    outcome,
    account_id: accountId,
    error,
    allowed_origins: attempt.tokenRow.allowed_origins,
    expires_at: new Date(at.getTime() + RESULT_TTL_SECONDS * 1000),
  };
}

/** A plain Connect Link ends at the backend's redirect URI when it gave one; an embedded flow always on the result page. */
function successLocation(attempt: Attempt, resultId: string, accountId: string): string {
  const redirect = attempt.embed === null ? attempt.tokenRow.success_redirect_uri : null;
  return redirect === null ? resultPath(resultId) : withQuery(redirect, 'account_id', accountId);
}

export function resultPath(resultId: string): string {
  return `/connect/result/${resultId}`;
}

function withQuery(uri: string, name: string, value: string): string {
  const url = new URL(uri);
  url.searchParams.set(name, value);
  return url.toString();
}
