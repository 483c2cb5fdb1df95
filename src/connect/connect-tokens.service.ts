// Connect tokens: minted by a backend for one end user, used once by the hosted Connect page.
// The token itself is returned once and stored only as its SHA-256 digest, next to a public id
// (`ctid_…`) that logs and webhooks may carry.
import type { Kysely } from 'kysely';
import { TOKEN_PREFIXES, digestToken, hasValidTokenShape, mintId, mintToken } from '../crypto/tokens.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { badRequest } from '../errors.ts';
import { oauthAppBelongsTo } from '../oauth-apps/oauth-apps.service.ts';
import { toAppView, type AppView } from '../apps/app-view.ts';
import { findNewestOAuthAppForApp } from '../oauth-apps/oauth-apps.repository.ts';
import { findAccountOwner } from '../accounts/account.repository.ts';
import { findProjectBranding } from '../branding/branding.repository.ts';
import { SLUG_REGEX, type AppRegistry } from '../registry/registry.ts';
import { ensureExternalUser } from '../users/users.service.ts';
import { findConnectTokenByDigest, insertConnectToken, type ConnectTokenRow } from './connect-token.repository.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { checkRedirectAllowed, findAllowedRedirectOrigins } from './redirect-allow-list.ts';
import { checkOrigin, checkRedirectUri, checkWebhookUri, type UriPolicy } from './redirect-uris.ts';

export const MIN_EXPIRES_IN_SECONDS = 60;
export const MAX_EXPIRES_IN_SECONDS = 4 * 60 * 60;
export const DEFAULT_EXPIRES_IN_SECONDS = MAX_EXPIRES_IN_SECONDS;
export const MAX_ALLOWED_ORIGINS = 20;

/** A registry app by slug or by id (`app_<slug>`, Pipedream's "app ID or slug"). */
function findRegistryApp(registry: AppRegistry, idOrSlug: string) {
  if (!SLUG_REGEX.test(idOrSlug)) return undefined;
  return registry.get(idOrSlug) ?? (idOrSlug.startsWith('app_') ? registry.get(idOrSlug.slice(4)) : undefined);
}

export interface ConnectTokenDeps {
  db: Kysely<Database>;
  registry: AppRegistry;
  publicUrl: string;
  insecureLoopback: boolean;
  now?: (() => Date) | undefined;
  egress: EgressGuard;
}

export interface TokenScope {
  projectId: string;
  environment: EnvironmentName;
}

export interface CreateConnectTokenInput {
  external_user_id: string;
  success_redirect_uri?: string | undefined;
  error_redirect_uri?: string | undefined;
  webhook_uri?: string | undefined;
  allowed_origins?: string[] | undefined;
  expires_in?: number | undefined;
  /** Accepted for compatibility; a connect token only ever allows the Connect flow. */
  scope?: string | undefined;
  allow_progressive_scopes?: boolean | undefined;
  app_id?: string | undefined;
  oauth_app_id?: string | undefined;
  /** latchkey's addition: a reconnect through this token may come back as another provider user. */
  allow_different_account?: boolean | undefined;
}

export interface CreatedConnectToken {
  token: string;
  /** The token's public id: webhooks name the token by it (`connect_token`), so a backend can match them. */
  connect_token_id: string;
  expires_at: string;
  connect_link_url: string;
}

export function uriPolicy(environment: EnvironmentName, insecureLoopback: boolean): UriPolicy {
  return { requireHttps: environment === 'production', allowLoopbackHttp: insecureLoopback };
}

function redirectUriOrNull(name: string, raw: string | undefined, policy: UriPolicy): string | null {
  if (raw === undefined) return null;
  const check = checkRedirectUri(raw, policy);
  if (!check.ok) throw badRequest(`${name} ${check.reason}`);
  return check.value;
}

async function webhookUriOrNull(raw: string | undefined, egress: EgressGuard): Promise<string | null> {
  if (raw === undefined) return null;
  const check = await checkWebhookUri(raw, egress);
  if (!check.ok) throw badRequest(`webhook_uri ${check.reason}`);
  return check.value;
}

export async function createConnectToken(deps: ConnectTokenDeps, scope: TokenScope, input: CreateConnectTokenInput): Promise<CreatedConnectToken> {
  const policy = uriPolicy(scope.environment, deps.insecureLoopback);
  const successRedirectUri = redirectUriOrNull('success_redirect_uri', input.success_redirect_uri, policy);
  const errorRedirectUri = redirectUriOrNull('error_redirect_uri', input.error_redirect_uri, policy);
  if (successRedirectUri !== null || errorRedirectUri !== null) {
    const allowList = (await findAllowedRedirectOrigins(deps.db, scope.projectId)) ?? null;
    checkRedirectAllowed('success_redirect_uri', successRedirectUri, allowList);
    checkRedirectAllowed('error_redirect_uri', errorRedirectUri, allowList);
  }
  const allowedOrigins = normaliseOrigins(input.allowed_origins ?? [], policy);
  const webhookUri = await webhookUriOrNull(input.webhook_uri, deps.egress);
  const expiresIn = input.expires_in ?? DEFAULT_EXPIRES_IN_SECONDS;
  if (!Number.isInteger(expiresIn) || expiresIn < MIN_EXPIRES_IN_SECONDS || expiresIn > MAX_EXPIRES_IN_SECONDS) {
    throw badRequest(`expires_in must be a whole number of seconds from ${MIN_EXPIRES_IN_SECONDS} to ${MAX_EXPIRES_IN_SECONDS}`);
  }
  const { appSlug, oauthAppId } = await pinnedApp(deps, scope.projectId, input);

  const user = await ensureExternalUser(deps.db, scope, input.external_user_id);
  const token = mintToken(TOKEN_PREFIXES.connectToken);
  const expiresAt = new Date((deps.now?.() ?? new Date()).getTime() + expiresIn * 1000);
  const id = mintId('ctid_', 24);
  await insertConnectToken(deps.db, {
    digest: digestToken(token),
    id,
    project_id: scope.projectId,
    environment: scope.environment,
    external_user_id: user.id,
    success_redirect_uri: successRedirectUri,
    error_redirect_uri: errorRedirectUri,
    webhook_uri: webhookUri,
    allowed_origins: allowedOrigins,
    app_slug: appSlug,
    oauth_app_id: oauthAppId,
    expires_at: expiresAt,
    allow_different_account: input.allow_different_account ?? false,
  });
  return { token, connect_token_id: id, expires_at: expiresAt.toISOString(), connect_link_url: connectLinkUrl(deps.publicUrl, token) };
}

/** Pipedream's shape: the caller appends `&app=<slug>` (and `&oauthAppId=…`). */
export function connectLinkUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/connect?token=${encodeURIComponent(token)}`;
}

function normaliseOrigins(raw: readonly string[], policy: UriPolicy): string[] {
  if (raw.length > MAX_ALLOWED_ORIGINS) throw badRequest(`allowed_origins must have at most ${MAX_ALLOWED_ORIGINS} entries`);
  const origins = new Set<string>();
  for (const [index, value] of raw.entries()) {
    const check = checkOrigin(value, policy);
    if (!check.ok) throw badRequest(`allowed_origins.${index} ${check.reason}`);
    origins.add(check.value);
  }
  return [...origins];
}

/** app_id pins the token to a registry app; oauth_app_id to one of the project's OAuth clients. */
async function pinnedApp(
  deps: ConnectTokenDeps,
  projectId: string,
  input: CreateConnectTokenInput,
): Promise<{ appSlug: string | null; oauthAppId: string | null }> {
  let appSlug: string | null = null;
  if (input.app_id !== undefined) {
    const app = findRegistryApp(deps.registry, input.app_id);
    if (app === undefined) throw badRequest('app_id must be the slug or id of an app in the registry');
    appSlug = app.slug;
  }
  if (input.oauth_app_id === undefined) return { appSlug, oauthAppId: null };
  const oauthApp = await oauthAppBelongsTo(deps.db, projectId, input.oauth_app_id, appSlug ?? undefined);
  if (oauthApp === undefined) throw badRequest('oauth_app_id must name an oauth app of this project for app_id');
  return { appSlug: oauthApp.app_slug, oauthAppId: oauthApp.id };
}

export type ConnectTokenResolution = { status: 'ok'; row: ConnectTokenRow } | { status: 'expired' | 'used'; row: ConnectTokenRow } | { status: 'unknown' };

/**
 * What a presented connect token is worth. The checksum is checked first, so junk never costs a
 * query. A used token reports `used` even once it has also expired (the more useful message).
 */
export async function resolveConnectToken(db: Kysely<Database>, token: string, now: Date = new Date()): Promise<ConnectTokenResolution> {
  if (!hasValidTokenShape(token, TOKEN_PREFIXES.connectToken)) return { status: 'unknown' };
  const row = await findConnectTokenByDigest(db, digestToken(token));
  if (row === undefined) return { status: 'unknown' };
  if (row.used_at !== null) return { status: 'used', row };
  if (row.expires_at.getTime() <= now.getTime()) return { status: 'expired', row };
  return { status: 'ok', row };
}

export const CONNECT_TOKEN_ERRORS = {
  unknown: 'the connect token is invalid; ask the application for a new link',
  expired: 'this link has expired; ask the application for a new link',
  used: 'this link has already been used; ask the application for a new link',
} as const;

export interface ValidateQuery {
  app_id?: string | undefined;
  oauth_app_id?: string | undefined;
  account_id?: string | undefined;
  app_override_id?: string | undefined;
}

export interface TokenValidation {
  success: boolean;
  error: string | null;
  app?: AppView;
  oauth_app_id: string | null;
  project_id: string | null;
  project_environment: EnvironmentName | null;
  /** Pipedream's names for who is asking (the project's branding). */
  project_app_name: string | null;
  project_support_email: string | null;
  external_user_id: string | null;
  success_redirect_uri: string | null;
  error_redirect_uri: string | null;
  expires_at: string | null;
}

const failed = (error: string): TokenValidation => ({
  success: false,
  error,
  oauth_app_id: null,
  project_id: null,
  project_environment: null,
  project_app_name: null,
  project_support_email: null,
  external_user_id: null,
  success_redirect_uri: null,
  error_redirect_uri: null,
  expires_at: null,
});

/**
 * GET /v1/connect/tokens/{token}/validate: what the hosted page needs to know. Every failure is
 * a `success: false` answer with a message fit for the end user, never an HTTP error.
 */
export async function validateConnectToken(deps: ConnectTokenDeps, token: string, query: ValidateQuery): Promise<TokenValidation> {
  const resolution = await resolveConnectToken(deps.db, token, deps.now?.());
  if (resolution.status !== 'ok') return failed(CONNECT_TOKEN_ERRORS[resolution.status]);
  const row = resolution.row;
  const requestedApp = query.app_id === undefined || query.app_id === '' ? (row.app_slug ?? undefined) : query.app_id;
  const app = requestedApp === undefined ? undefined : findRegistryApp(deps.registry, requestedApp);
  if (requestedApp !== undefined && app === undefined) return failed('app not found');
  if (row.app_slug !== null && app?.slug !== row.app_slug) return failed('this link is not valid for this app');

  // Reconnect (accountId): only an account of this token's own user, environment and app.
  if (query.account_id !== undefined && query.account_id !== '') {
    const owner = await findAccountOwner(deps.db, query.account_id);
    const mine =
      owner !== undefined &&
      owner.project_id === row.project_id &&
      owner.environment === row.environment &&
      owner.external_user_id === row.external_user_id &&
      (app === undefined || owner.app_slug === app.slug);
    if (!mine) return failed('this link cannot reconnect that account');
  }

  let oauthAppId = row.oauth_app_id;
  const requestedOAuthApp = query.oauth_app_id === undefined || query.oauth_app_id === '' ? undefined : query.oauth_app_id;
  if (requestedOAuthApp !== undefined) {
    if (oauthAppId !== null && requestedOAuthApp !== oauthAppId) return failed('this link is not valid for this oauth app');
    const owned = await oauthAppBelongsTo(deps.db, row.project_id, requestedOAuthApp, app?.slug);
    if (owned === undefined) return failed('oauth app not found');
    oauthAppId = owned.id;
  } else if (oauthAppId === null && (app?.auth_type === 'oauth' || app?.auth_type === 'oauth1')) {
    oauthAppId = (await findNewestOAuthAppForApp(deps.db, row.project_id, app.slug))?.id ?? null;
  }

  const branding = await findProjectBranding(deps.db, row.project_id);
  return {
    success: true,
    error: null,
    ...(app === undefined ? {} : { app: toAppView(app, deps.publicUrl) }),
    oauth_app_id: oauthAppId,
    project_id: row.project_id,
    project_environment: row.environment,
    project_app_name: branding?.app_name ?? null,
    project_support_email: branding?.support_email ?? null,
    external_user_id: row.external_id,
    success_redirect_uri: row.success_redirect_uri,
    error_redirect_uri: row.error_redirect_uri,
    expires_at: row.expires_at.toISOString(),
  };
}
