// Account use cases: list, retrieve (with fresh credentials), list one user's, delete.
//
// The credential hot path (retrieve with include_credentials, token fresh) is: one primary-key
// SELECT, the app from the in-memory registry, the opened credentials (two AES-GCM opens with the
// cached data key, skipped while the row's ciphertexts are unchanged since a recent read: see
// RecentCredentials). No join, no argon2, no write; the audit entry is buffered and written in
// batches elsewhere.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { ApiError, notFound } from '../errors.ts';
import type { Vault } from '../keys/vault.ts';
import type { AppRegistry, RegistryApp } from '../registry/registry.ts';
import { accountDeadError, isOAuthApp, type CredentialRefresher, type LogSink } from '../refresh/refresher.ts';
import { isFresh } from '../refresh/schedule.ts';
import type { ExternalUserRow } from '../users/users.repository.ts';
import { DEFAULT_PAGE_LIMIT, toPage, type PageInfo, type PageRequest } from '../users/page-info.ts';
import { RecentCredentials } from './account-credentials.ts';
import {
  accountInScope,
  deleteAccountRow,
  deleteAccountRows,
  findAccountById,
  listAccountRows,
  listAccountRowsOfUser,
  listAllAccountRows,
  type AccountFilter,
  type AccountRow,
  type AccountScope,
} from './account.repository.ts';
import { credentialsView, toAccountView, type AccountView } from './account-view.ts';
import { forEachLimited, revokeAccountAtProvider } from './revoke-account.ts';

export interface AccountsDeps {
  db: Kysely<Database>;
  vault: Vault;
  registry: AppRegistry;
  refresher: CredentialRefresher;
  logger?: LogSink | undefined;
}

/**
 * When a refresh fails for a reason that may pass (provider down, another replica still busy),
 * a token that is past the margin but still valid this long is returned rather than an error:
 * it works, and a 503 would not.
 */
export const STILL_USABLE_MS = 60_000;
/** Refreshes a list with include_credentials runs at once. */
const LIST_REFRESH_CONCURRENCY = 4;

/** One per vault (that is, per app instance), whatever deps object a route was given. */
const recentByVault = new WeakMap<Vault, RecentCredentials>();

function recentCredentials(vault: Vault): RecentCredentials {
  let recent = recentByVault.get(vault);
  if (recent === undefined) {
    recent = new RecentCredentials(vault);
    recentByVault.set(vault, recent);
  }
  return recent;
}

export type { AccountScope } from './account.repository.ts';

/** The row whose token is usable now: as read when fresh, else after a refresh. */
async function usableRow(deps: AccountsDeps, row: AccountRow, app: RegistryApp | undefined): Promise<AccountRow> {
  if (!isOAuthApp(app)) return row;
  // An expired token that cannot be refreshed is never handed out as if it worked.
  if (row.dead) throw accountDeadError();
  if (isFresh(row, app, Date.now())) return row;
  try {
    return await deps.refresher.ensureFresh(row);
  } catch (err) {
    const transient = err instanceof ApiError && (err.code === 'provider_unavailable' || err.code === 'refresh_in_progress');
    if (transient && row.expires_at !== null && row.expires_at.getTime() - Date.now() >= STILL_USABLE_MS) return row;
    throw err;
  }
}

async function viewWithCredentials(deps: AccountsDeps, row: AccountRow, app: RegistryApp | undefined): Promise<AccountView> {
  const usable = await usableRow(deps, row, app);
  const opened = await recentCredentials(deps.vault).open(usable);
  return toAccountView(usable, app, credentialsView(usable, opened.values, opened.refreshToken, app));
}

export async function retrieveAccount(deps: AccountsDeps, scope: AccountScope, accountId: string, includeCredentials: boolean): Promise<AccountView> {
  const row = await findAccountById(deps.db, accountId);
  if (!accountInScope(row, scope)) throw notFound('account');
  const app = deps.registry.get(row.app_slug);
  return includeCredentials ? viewWithCredentials(deps, row, app) : toAccountView(row, app);
}

/**
 * In a list, an account whose token cannot be made fresh (dead, provider down) comes without
 * `credentials` (its healthy/dead/error say why) instead of failing the whole page. A stale
 * token is never included.
 */
async function viewsOf(deps: AccountsDeps, rows: AccountRow[], includeCredentials: boolean): Promise<AccountView[]> {
  const views: AccountView[] = new Array<AccountView>(rows.length);
  if (!includeCredentials) {
    rows.forEach((row, i) => (views[i] = toAccountView(row, deps.registry.get(row.app_slug))));
    return views;
  }
  await forEachLimited(
    rows.map((row, index) => ({ row, index })),
    LIST_REFRESH_CONCURRENCY,
    async ({ row, index }) => {
      const app = deps.registry.get(row.app_slug);
      try {
        views[index] = await viewWithCredentials(deps, row, app);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status === 500) throw err;
        const current = (await findAccountById(deps.db, row.id)) ?? row;
        views[index] = toAccountView(current, app);
      }
    },
  );
  return views;
}

export interface ListAccountsQuery extends AccountFilter {
  includeCredentials: boolean;
  limit?: number | undefined;
  after?: string | undefined;
  before?: string | undefined;
}

export async function listAccounts(deps: AccountsDeps, scope: AccountScope, query: ListAccountsQuery): Promise<{ data: AccountView[]; page_info: PageInfo }> {
  const page: PageRequest = { limit: query.limit ?? DEFAULT_PAGE_LIMIT, after: query.after, before: query.before };
  const { rows, total } = await listAccountRows(deps.db, scope, query, page);
  const result = toPage(rows, page, total);
  return { data: await viewsOf(deps, result.data, query.includeCredentials), page_info: result.page_info };
}

/** One end user's accounts, as a bare array (Pipedream's shape for this endpoint). */
export async function listUserAccounts(
  deps: AccountsDeps,
  scope: AccountScope,
  externalUserId: string,
  query: { appSlug?: string | undefined; includeCredentials: boolean },
): Promise<AccountView[]> {
  const rows = await listAllAccountRows(deps.db, scope, { externalUserId, appSlug: query.appSlug });
  return viewsOf(deps, rows, query.includeCredentials);
}

export async function deleteAccount(deps: AccountsDeps, scope: AccountScope, accountId: string): Promise<void> {
  const row = await findAccountById(deps.db, accountId);
  if (!accountInScope(row, scope)) throw notFound('account');
  await revokeAccountAtProvider(deps, row);
  recentCredentials(deps.vault).forget(accountId);
  if (!(await deleteAccountRow(deps.db, scope, accountId))) throw notFound('account');
}

/** Deletes every account of one app in the project environment (204 also when there were none). */
export async function deleteAppAccounts(deps: AccountsDeps, scope: AccountScope, appSlug: string): Promise<number> {
  const rows = await listAllAccountRows(deps.db, scope, { appSlug });
  await forEachLimited(rows, LIST_REFRESH_CONCURRENCY, (row) => revokeAccountAtProvider(deps, row));
  for (const row of rows) recentCredentials(deps.vault).forget(row.id);
  return deleteAccountRows(
    deps.db,
    scope,
    rows.map((row) => row.id),
  );
}

/** The users feature's hook (deleteExternalUser): revoke a user's accounts before the rows go. */
export function revokeUserAccountsHook(deps: AccountsDeps): (db: Kysely<Database>, user: ExternalUserRow) => Promise<void> {
  return async (db, user) => {
    const rows = await listAccountRowsOfUser(db, user.id);
    await forEachLimited(rows, LIST_REFRESH_CONCURRENCY, (row) => revokeAccountAtProvider(deps, row));
    for (const row of rows) recentCredentials(deps.vault).forget(row.id);
  };
}
