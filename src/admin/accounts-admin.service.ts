// Admin use cases on accounts: list by health across a project, rename, force a refresh, and a
// reconnect link bound to one account. Nothing here reads or returns a credential.
import type { Kysely } from 'kysely';
import {
  findAccountById,
  findAdminAccount,
  listAdminAccounts,
  renameAccount,
  type AccountHealth,
  type AdminAccountRow,
} from '../accounts/account.repository.ts';
import type { RefreshAccount, RefreshFailure } from '../accounts/refresh-outcome.ts';
import { createConnectToken, type ConnectTokenDeps, type CreatedConnectToken } from '../connect/connect-tokens.service.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { notFound } from '../errors.ts';
import { toPage, type PageInfo } from '../http/page-info.ts';
import { requireProject } from './admin.service.ts';

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
): Promise<{ data: AdminAccountView[]; page_info: PageInfo }> {
  await requireProject(db, projectId);
  const page = { limit: query.limit ?? ADMIN_DEFAULT_LIMIT, after: query.after };
  const filter = { projectId, environment: query.environment, health: query.health, appSlug: query.app };
  const { rows, total } = await listAdminAccounts(db, filter, page);
  const result = toPage(rows, page, total);
  return { data: result.data.map(toAdminAccountView), page_info: result.page_info };
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

/**
 * Forces a refresh (the engine's, passed in by app.ts): the account's state afterwards, or the
 * refresh failure for the route to report.
 */
export async function forceRefreshForAdmin(
  db: Kysely<Database>,
  forceRefresh: RefreshAccount,
  projectId: string,
  accountId: string,
): Promise<{ ok: true; account: AdminAccountView } | { ok: false; failure: RefreshFailure }> {
  await requireAccount(db, projectId, accountId);
  const row = await findAccountById(db, accountId);
  if (row === undefined) throw notFound('account');
  const outcome = await forceRefresh(row);
  if (outcome.kind !== 'fresh' && outcome.kind !== 'refreshed') return { ok: false, failure: outcome };
  return { ok: true, account: toAdminAccountView(await requireAccount(db, projectId, accountId)) };
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
