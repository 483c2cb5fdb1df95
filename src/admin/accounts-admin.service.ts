// Admin use cases on accounts: list by health across a project, rename, force a refresh, and a
// reconnect link bound to one account. Nothing here reads or returns a credential.
import type { Kysely } from 'kysely';
import { createConnectToken, type ConnectTokenDeps, type CreatedConnectToken } from '../connect/connect-tokens.service.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { ApiError, notFound } from '../errors.ts';
import { requireProject } from './admin.service.ts';
import {
  countAdminAccounts,
  findAdminAccount,
  listAdminAccounts,
  renameAccount,
  type AccountHealth,
  type AdminAccountRow,
} from './accounts-admin.repository.ts';

export interface AdminAccountView {
  id: string;
  name: string | null;
  external_id: string;
  app_slug: string;
  environment: EnvironmentName;
  healthy: boolean;
  dead: boolean;
  error: string | null;
  expires_at: string | null;
  last_refreshed_at: string | null;
  next_refresh_at: string | null;
  refresh_failures: number;
  created_at: string;
  updated_at: string;
}

export interface AdminPageInfo {
  count: number;
  total_count: number;
  start_cursor: string | null;
  end_cursor: string | null;
}

export const ADMIN_DEFAULT_LIMIT = 50;
export const ADMIN_MAX_LIMIT = 200;

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

export function toAdminAccountView(row: AdminAccountRow): AdminAccountView {
  return {
    id: row.id,
    name: row.name,
    external_id: row.external_id,
    app_slug: row.app_slug,
    environment: row.environment,
    healthy: row.healthy && !row.dead,
    dead: row.dead,
    error: row.error,
    expires_at: iso(row.expires_at),
    last_refreshed_at: iso(row.last_refreshed_at),
    next_refresh_at: iso(row.next_refresh_at),
    refresh_failures: row.refresh_failures,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export interface ListAdminAccountsQuery {
  environment?: EnvironmentName | undefined;
  health?: AccountHealth | undefined;
  app?: string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

export async function listAccountsForAdmin(
  db: Kysely<Database>,
  projectId: string,
  query: ListAdminAccountsQuery,
): Promise<{ data: AdminAccountView[]; page_info: AdminPageInfo }> {
  await requireProject(db, projectId);
  const limit = query.limit ?? ADMIN_DEFAULT_LIMIT;
  const filter = { projectId, environment: query.environment, health: query.health, appSlug: query.app };
  const [rows, total] = await Promise.all([listAdminAccounts(db, filter, { limit, after: query.after }), countAdminAccounts(db, filter)]);
  const page = rows.slice(0, limit).map(toAdminAccountView);
  return {
    data: page,
    page_info: {
      count: page.length,
      total_count: total,
      start_cursor: page[0]?.id ?? null,
      end_cursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
    },
  };
}

export async function requireAccount(db: Kysely<Database>, projectId: string, accountId: string): Promise<AdminAccountRow> {
  await requireProject(db, projectId);
  const account = await findAdminAccount(db, projectId, accountId);
  if (account === undefined) throw notFound('account');
  return account;
}

export async function renameAccountForAdmin(db: Kysely<Database>, projectId: string, accountId: string, name: string): Promise<AdminAccountView> {
  await requireAccount(db, projectId, accountId);
  if (!(await renameAccount(db, projectId, accountId, name))) throw notFound('account');
  return toAdminAccountView(await requireAccount(db, projectId, accountId));
}

/** The refresh engine's entry point (src/refresh): refreshes now, whatever the margin says. */
export type ForceRefresh = (accountId: string, projectId: string, environment: EnvironmentName) => Promise<unknown>;

/**
 * Forces a refresh and returns the account's state afterwards. The engine's errors already speak
 * the catalogue (account_dead → 409, provider_unavailable / refresh_in_progress → 503); anything
 * else is an internal error and stays one.
 */
export async function forceRefreshForAdmin(
  db: Kysely<Database>,
  forceRefresh: ForceRefresh | undefined,
  projectId: string,
  accountId: string,
): Promise<AdminAccountView> {
  const account = await requireAccount(db, projectId, accountId);
  if (forceRefresh === undefined) throw new ApiError('service_unavailable', 'refresh is not available on this server');
  await forceRefresh(account.id, projectId, account.environment);
  return toAdminAccountView(await requireAccount(db, projectId, accountId));
}

export interface ReconnectInput {
  expires_in?: number | undefined;
  success_redirect_uri?: string | undefined;
  error_redirect_uri?: string | undefined;
  webhook_uri?: string | undefined;
  allowed_origins?: string[] | undefined;
}

/**
 * A connect token for the account's own end user and environment, pinned to its app (and OAuth
 * client, so the new refresh token belongs to the client that refreshes it), with a link that
 * names the account: the connect flow then replaces that account's credentials in place. The
 * URIs go through the connect API's own checks (https in production, no open redirects).
 */
export async function createReconnectLink(
  connect: ConnectTokenDeps,
  projectId: string,
  accountId: string,
  input: ReconnectInput,
): Promise<CreatedConnectToken> {
  const account = await requireAccount(connect.db, projectId, accountId);
  const created = await createConnectToken(
    connect,
    { projectId, environment: account.environment },
    {
      ...input,
      external_user_id: account.external_id,
      app_id: account.app_slug,
      oauth_app_id: account.oauth_app_id ?? undefined,
    },
  );
  const link = new URL(created.connect_link_url);
  link.searchParams.set('app', account.app_slug);
  link.searchParams.set('accountId', account.id);
  return { ...created, connect_link_url: link.toString() };
}
