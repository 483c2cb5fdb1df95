// A project's own OAuth clients at providers (Pipedream's "custom OAuth clients"). The client
// secret is sealed on the way in and never leaves again except through resolveOAuthClient, which
// the Connect flow calls to exchange a code.
import type { Kysely } from 'kysely';
import { mintId } from '../crypto/tokens.ts';
import type { Database } from '../db/types.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import type { SealContext, Vault } from '../keys/vault.ts';
import type { AppRegistry } from '../registry/registry.ts';
import { DEFAULT_PAGE_LIMIT, toPage, type PageInfo, type PageRequest } from '../http/page-info.ts';
import { countAccountsUsingOAuthApp } from '../accounts/account.repository.ts';
import { appViewOf, type AppView } from '../apps/app-view.ts';
import {
  deleteOAuthApp,
  findNewestOAuthAppForApp,
  findOAuthApp,
  insertOAuthApp,
  listOAuthApps,
  updateOAuthApp,
  type OAuthAppChanges,
  type OAuthAppRow,
} from './oauth-apps.repository.ts';

export interface OAuthAppDeps {
  db: Kysely<Database>;
  vault: Vault;
  registry: AppRegistry;
  /** For redirect_uri: the one callback every provider must have registered. */
  publicUrl: string;
}

/** Pipedream's OauthApp: the registry app's public fields plus the client's own (never the secret). */
export interface OAuthAppView extends Omit<AppView, 'id' | 'name' | 'description'> {
  id: string;
  app: string;
  name: string;
  description: string | null;
  client_id: string;
  client_secret_set: true;
  scopes: string[] | null;
  additional_scopes: string[] | null;
  redirect_uri: string;
  owner_id: string;
  created_at: string;
  updated_at: string;
}

export interface CreateOAuthAppInput {
  app: string;
  client_id: string;
  client_secret: string;
  name?: string | undefined;
  description?: string | undefined;
  scopes?: string[] | undefined;
  additional_scopes?: string[] | undefined;
}

export type UpdateOAuthAppInput = Partial<CreateOAuthAppInput>;

/** An OAuth app belongs to its project, in both environments (environment: null). */
export function clientSecretContext(projectId: string, oauthAppId: string): SealContext {
  return { table: 'oauth_apps', column: 'client_secret_enc', rowId: oauthAppId, projectId, environment: null };
}

export function oauthCallbackUrl(publicUrl: string): string {
  return `${publicUrl}/connect/oauth/callback`;
}

/** OAuth 1.0a's oauth_callback (RFC 5849 §2.1): its own path, the flow's state in its query. */
export function oauth1CallbackUrl(publicUrl: string): string {
  return `${publicUrl}/connect/oauth1/callback`;
}

function oauthRegistryApp(registry: AppRegistry, slug: string) {
  const app = registry.get(slug);
  // OAuth 1.0a apps take their consumer key and secret as client_id and client_secret; an MCP app
  // with registration: preregistered uses the project's own client, like any OAuth app.
  if (app === undefined || (app.auth_type !== 'oauth' && app.auth_type !== 'oauth1' && app.auth_type !== 'mcp'))
    throw badRequest('app must be the slug of an oauth app in the registry');
  return app;
}

function toView(deps: OAuthAppDeps, row: OAuthAppRow): OAuthAppView {
  // An app removed from the registry after its client was registered still lists, minimally.
  const summary: AppView = appViewOf(deps.registry.get(row.app_slug), row.app_slug, deps.publicUrl);
  return {
    ...summary,
    id: row.id,
    app: row.app_slug,
    name: row.name ?? summary.name,
    description: row.description,
    client_id: row.client_id,
    client_secret_set: true,
    scopes: row.scopes,
    additional_scopes: row.additional_scopes,
    redirect_uri: deps.registry.get(row.app_slug)?.auth_type === 'oauth1' ? oauth1CallbackUrl(deps.publicUrl) : oauthCallbackUrl(deps.publicUrl),
    owner_id: row.project_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function createOAuthApp(deps: OAuthAppDeps, projectId: string, input: CreateOAuthAppInput): Promise<OAuthAppView> {
  oauthRegistryApp(deps.registry, input.app);
  const id = mintId('oa_');
  const row = await insertOAuthApp(deps.db, {
    id,
    project_id: projectId,
    app_slug: input.app,
    name: input.name ?? null,
    description: input.description ?? null,
    client_id: input.client_id,
    client_secret_enc: await deps.vault.seal(clientSecretContext(projectId, id), input.client_secret),
    scopes: input.scopes ?? null,
    additional_scopes: input.additional_scopes ?? null,
  });
  return toView(deps, row);
}

export async function getOAuthApp(deps: OAuthAppDeps, projectId: string, id: string): Promise<OAuthAppView> {
  const row = await findOAuthApp(deps.db, projectId, id);
  if (row === undefined) throw notFound('oauth app');
  return toView(deps, row);
}

export async function listProjectOAuthApps(
  deps: OAuthAppDeps,
  projectId: string,
  query: { app?: string | undefined; q?: string | undefined; limit?: number | undefined; after?: string | undefined; before?: string | undefined },
): Promise<{ data: OAuthAppView[]; page_info: PageInfo }> {
  const page: PageRequest = { limit: query.limit ?? DEFAULT_PAGE_LIMIT, after: query.after, before: query.before };
  const { rows, total } = await listOAuthApps(deps.db, projectId, { appSlug: query.app, q: query.q }, page);
  const result = toPage(rows, page, total);
  return { data: result.data.map((row) => toView(deps, row)), page_info: result.page_info };
}

export async function updateProjectOAuthApp(deps: OAuthAppDeps, projectId: string, id: string, input: UpdateOAuthAppInput): Promise<OAuthAppView> {
  const existing = await findOAuthApp(deps.db, projectId, id);
  if (existing === undefined) throw notFound('oauth app');
  // The provider client belongs to one app; moving it would strand its accounts.
  if (input.app !== undefined && input.app !== existing.app_slug) throw badRequest('app cannot be changed; create a new oauth app');
  const changes: OAuthAppChanges = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.client_id !== undefined) changes.client_id = input.client_id;
  if (input.scopes !== undefined) changes.scopes = input.scopes;
  if (input.additional_scopes !== undefined) changes.additional_scopes = input.additional_scopes;
  if (input.client_secret !== undefined) changes.client_secret_enc = await deps.vault.seal(clientSecretContext(projectId, id), input.client_secret);
  const row = await updateOAuthApp(deps.db, projectId, id, changes);
  if (row === undefined) throw notFound('oauth app');
  return toView(deps, row);
}

export async function deleteProjectOAuthApp(deps: OAuthAppDeps, projectId: string, id: string): Promise<void> {
  if ((await findOAuthApp(deps.db, projectId, id)) === undefined) throw notFound('oauth app');
  // Accounts refresh with this client's secret; deleting it would silently kill them.
  if ((await countAccountsUsingOAuthApp(deps.db, projectId, id)) > 0) {
    throw new ApiError('conflict', 'the oauth app is used by connected accounts; delete them first');
  }
  await deleteOAuthApp(deps.db, projectId, id);
}

export interface ResolvedOAuthClient {
  id: string;
  clientId: string;
  clientSecret: string;
  /** Replaces the registry's default scopes when set. */
  scopes: string[] | null;
  /** Requested on top of the (default or replaced) scopes. */
  additionalScopes: string[] | null;
}

/**
 * The OAuth client the Connect flow uses for `appSlug`: the named one (which must belong to
 * this project and app), else the project's newest for that app; undefined when there is none.
 */
export async function resolveOAuthClient(
  db: Kysely<Database>,
  vault: Vault,
  projectId: string,
  appSlug: string,
  oauthAppId?: string | null,
): Promise<ResolvedOAuthClient | undefined> {
  const row = await findClientRow(db, projectId, appSlug, oauthAppId);
  return row === undefined ? undefined : openClient(vault, row);
}

async function findClientRow(db: Kysely<Database>, projectId: string, appSlug: string, oauthAppId?: string | null): Promise<OAuthAppRow | undefined> {
  const row =
    oauthAppId === undefined || oauthAppId === null || oauthAppId === ''
      ? await findNewestOAuthAppForApp(db, projectId, appSlug)
      : await findOAuthApp(db, projectId, oauthAppId);
  return row === undefined || row.app_slug !== appSlug ? undefined : row;
}

async function openClient(vault: Vault, row: OAuthAppRow): Promise<ResolvedOAuthClient> {
  return Object.freeze({
    id: row.id,
    clientId: row.client_id,
    clientSecret: await vault.openString(clientSecretContext(row.project_id, row.id), row.client_secret_enc),
    scopes: row.scopes,
    additionalScopes: row.additional_scopes,
  });
}

const RECENT_CLIENTS_MAX = 1_000;

/**
 * resolveOAuthClient for the refresh engine, which resolves the same few OAuth apps for every
 * account it renews: the row is still read every time (an update or a secret rotation on any
 * replica is seen at once), but the secret is opened again only when the row changed, so an
 * unchanged app hands back the same frozen object. That identity is what the built-client
 * cache (refresh/token-endpoint.ts) keys on, so a changed app also gets a newly built client.
 */
export class RecentOAuthClients {
  private readonly entries = new Map<string, { row: OAuthAppRow; client: ResolvedOAuthClient }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly vault: Vault,
  ) {}

  async resolve(projectId: string, appSlug: string, oauthAppId?: string | null): Promise<ResolvedOAuthClient | undefined> {
    const row = await findClientRow(this.db, projectId, appSlug, oauthAppId);
    if (row === undefined) return undefined;
    const entry = this.entries.get(row.id);
    if (entry !== undefined && sameClientRow(entry.row, row)) return entry.client;
    const client = await openClient(this.vault, row);
    if (this.entries.size >= RECENT_CLIENTS_MAX) this.entries.clear();
    this.entries.set(row.id, { row, client });
    return client;
  }
}

function sameClientRow(a: OAuthAppRow, b: OAuthAppRow): boolean {
  return (
    a.client_id === b.client_id &&
    a.client_secret_enc.equals(b.client_secret_enc) &&
    JSON.stringify([a.scopes, a.additional_scopes]) === JSON.stringify([b.scopes, b.additional_scopes])
  );
}

/** Whether `oauthAppId` names an OAuth app of this project for `appSlug` (no secret opened). */
export async function oauthAppBelongsTo(db: Kysely<Database>, projectId: string, oauthAppId: string, appSlug?: string): Promise<OAuthAppRow | undefined> {
  const row = await findOAuthApp(db, projectId, oauthAppId);
  if (row === undefined || (appSlug !== undefined && row.app_slug !== appSlug)) return undefined;
  return row;
}
