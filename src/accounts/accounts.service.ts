// Account use cases: list, retrieve (with fresh credentials), list one user's, delete.
//
// The credential hot path (retrieve with include_credentials, token fresh) is: one primary-key
// SELECT, the app from the in-memory registry, the opened credentials (two AES-GCM opens with the
// cached data key, skipped while the row's ciphertexts are unchanged since a recent read: see
// RecentCredentials). No join, no argon2, no write; the audit entry is buffered and written in
// batches elsewhere.
//
// The provider calls this needs (refresh, revocation) are the refresh engine's, above this
// folder: app.ts passes them in, so the read goes route → here → repository / secrets → view.
import type { Kysely } from 'kysely';
import type { AppViews } from '../apps/app-view.ts';
import type { Database } from '../db/types.ts';
import { ApiError, notFound } from '../errors.ts';
import { DEFAULT_PAGE_LIMIT, toPage, type PageInfo, type PageRequest } from '../http/page-info.ts';
import type { AppRegistry, RegistryApp } from '../registry/registry.ts';
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
  versionOf,
} from './account.repository.ts';
import { CREDENTIALS_UNREADABLE_MESSAGE, type RecentCredentials } from './account-secrets.ts';
import { credentialsView, toAccountView, type AccountView } from './account-view.ts';
import type { RefreshAccount, RefreshFailure } from './refresh-outcome.ts';
import { isFresh, isOAuthApp } from './token-schedule.ts';

/** Revokes an account's grant at its provider (RFC 7009), best effort; never throws for the provider's answer. */
export type RevokeAccount = (row: AccountRow) => Promise<unknown>;

export interface AccountsDeps {
  readonly db: Kysely<Database>;
  readonly registry: AppRegistry;
  readonly appViews: AppViews;
  /** The app's recently-opened credentials (one instance per app). */
  readonly credentials: RecentCredentials;
  readonly refresh: RefreshAccount;
  /**
   * The API refused the token (a proxied 401): refresh whatever the margin, through the same
   * single-flight and lease, unless a sibling already replaced the token that was refused.
   */
  readonly refreshRejected: RefreshAccount;
  readonly revoke: RevokeAccount;
  readonly now: () => Date;
}

/**
 * When a refresh fails for a reason that may pass (provider down, another replica still busy),
 * a token that is past the margin but still valid this long is returned rather than an error:
 * it works, and a 503 would not.
 */
export const STILL_USABLE_MS = 60_000;
/** Refreshes (or revocations) a list runs at once. */
const LIST_CONCURRENCY = 4;

export type { AccountScope } from './account.repository.ts';

/** A credential read: the account with usable credentials, or why there are none. */
export type CredentialRead = { readonly ok: true; readonly view: AccountView } | { readonly ok: false; readonly failure: RefreshFailure };

/** The row whose token is usable now (as read when fresh, else after a refresh), or why there is none. */
async function usableRow(
  deps: AccountsDeps,
  row: AccountRow,
  app: RegistryApp | undefined,
): Promise<{ ok: true; row: AccountRow } | { ok: false; failure: RefreshFailure }> {
  if (!isOAuthApp(app)) return { ok: true, row };
  // An expired token that cannot be refreshed is never handed out as if it worked.
  if (row.dead) return { ok: false, failure: { kind: 'dead', code: row.error_code ?? 'grant_revoked' } };
  const nowMs = deps.now().getTime();
  if (isFresh(row, app, nowMs)) return { ok: true, row };
  const outcome = await deps.refresh(row);
  if (outcome.kind === 'fresh' || outcome.kind === 'refreshed') return { ok: true, row: outcome.row };
  const transient = outcome.kind === 'busy' || (outcome.kind === 'unavailable' && outcome.code === 'provider_unavailable');
  if (transient && row.expires_at !== null && row.expires_at.getTime() - deps.now().getTime() >= STILL_USABLE_MS) return { ok: true, row };
  return { ok: false, failure: outcome };
}

async function readCredentials(deps: AccountsDeps, row: AccountRow, app: RegistryApp | undefined): Promise<CredentialRead> {
  const usable = await usableRow(deps, row, app);
  if (!usable.ok) return usable;
  const opened = await deps.credentials.open(usable.row);
  const view = toAccountView(usable.row, deps.appViews.of(app, usable.row.app_slug), credentialsView(usable.row, opened.values, opened.refreshToken, app));
  return { ok: true, view };
}

/** An account's usable credentials, opened, for a request made on its behalf (the Connect proxy). */
export type UsableAccount =
  | { readonly ok: true; readonly row: AccountRow; readonly app: RegistryApp | undefined; readonly values: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly failure: RefreshFailure };

async function openUsable(deps: AccountsDeps, row: AccountRow, app: RegistryApp | undefined): Promise<UsableAccount> {
  const opened = await deps.credentials.open(row);
  return { ok: true, row, app, values: opened.values };
}

/**
 * The proxy's read: the account of this end user in this project environment (anyone else's is
 * the same 404 as an unknown one), with a token fresh by the credential fetch's own rules.
 */
export async function openAccountOfUser(deps: AccountsDeps, scope: AccountScope, externalUserId: string, accountId: string): Promise<UsableAccount> {
  const row = await findAccountById(deps.db, accountId);
  if (!accountInScope(row, scope) || row.external_id !== externalUserId) throw notFound('account');
  const app = deps.registry.get(row.app_slug);
  const usable = await usableRow(deps, row, app);
  return usable.ok ? openUsable(deps, usable.row, app) : usable;
}

/**
 * After the API answered 401 to `rejected`'s token: one refresh (or the sibling's newer token).
 * Only an OAuth account whose token changed is worth a retry; anything else says why not.
 */
export async function reopenAfterRejection(deps: AccountsDeps, rejected: AccountRow): Promise<UsableAccount> {
  const app = deps.registry.get(rejected.app_slug);
  if (!isOAuthApp(app) || rejected.dead) return { ok: false, failure: { kind: 'unrefreshable', reason: 'not_oauth' } };
  const outcome = await deps.refreshRejected(rejected);
  if (outcome.kind !== 'fresh' && outcome.kind !== 'refreshed') return { ok: false, failure: outcome };
  if (versionOf(outcome.row) === versionOf(rejected)) return { ok: false, failure: { kind: 'unrefreshable', reason: 'no_refresh_token' } };
  return openUsable(deps, outcome.row, app);
}

export async function retrieveAccount(deps: AccountsDeps, scope: AccountScope, accountId: string): Promise<AccountView> {
  const row = await findAccountById(deps.db, accountId);
  if (!accountInScope(row, scope)) throw notFound('account');
  return toAccountView(row, deps.appViews.of(deps.registry.get(row.app_slug), row.app_slug));
}

/** include_credentials=true: the account with fresh credentials, or the refresh failure the route reports. */
export async function retrieveAccountCredentials(deps: AccountsDeps, scope: AccountScope, accountId: string): Promise<CredentialRead> {
  const row = await findAccountById(deps.db, accountId);
  if (!accountInScope(row, scope)) throw notFound('account');
  return readCredentials(deps, row, deps.registry.get(row.app_slug));
}

/**
 * In a list, an account whose token cannot be made fresh (dead, provider down) comes without
 * `credentials` (its healthy/dead/error say why, as the refresh left them) instead of failing
 * the whole page. A stale token is never included. So does an account whose stored secrets
 * cannot be decrypted (tampered, moved, sealed under a key this deployment lacks): its `error`
 * says so, and the other accounts of the page keep their credentials.
 */
async function viewsOf(deps: AccountsDeps, rows: AccountRow[], includeCredentials: boolean): Promise<AccountView[]> {
  const plain = (row: AccountRow): AccountView => toAccountView(row, deps.appViews.of(deps.registry.get(row.app_slug), row.app_slug));
  if (!includeCredentials) return rows.map(plain);
  const views: AccountView[] = new Array<AccountView>(rows.length);
  await forEachLimited(
    rows.map((row, index) => ({ row, index })),
    LIST_CONCURRENCY,
    async ({ row, index }) => {
      const read = await readCredentialsOrUnreadable(deps, row);
      if (read === 'unreadable') views[index] = { ...plain(row), error: CREDENTIALS_UNREADABLE_MESSAGE };
      else views[index] = read.ok ? read.view : plain((await findAccountById(deps.db, row.id)) ?? row);
    },
  );
  return views;
}

async function readCredentialsOrUnreadable(deps: AccountsDeps, row: AccountRow): Promise<CredentialRead | 'unreadable'> {
  try {
    return await readCredentials(deps, row, deps.registry.get(row.app_slug));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'credential_unreadable') return 'unreadable';
    throw err;
  }
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
  await deps.revoke(row);
  deps.credentials.forget(accountId);
  if (!(await deleteAccountRow(deps.db, scope, accountId))) throw notFound('account');
}

/** Deletes every account of one app in the project environment (204 also when there were none). */
export async function deleteAppAccounts(deps: AccountsDeps, scope: AccountScope, appSlug: string): Promise<number> {
  const rows = await listAllAccountRows(deps.db, scope, { appSlug });
  await revokeAll(deps, rows);
  return deleteAccountRows(
    deps.db,
    scope,
    rows.map((row) => row.id),
  );
}

/**
 * Before an end user is deleted (their rows go by ON DELETE CASCADE): revoke their accounts at
 * the providers. The users feature calls it through the hook app.ts gives it.
 */
export async function revokeAccountsOfUser(deps: AccountsDeps, externalUserRowId: string): Promise<void> {
  await revokeAll(deps, await listAccountRowsOfUser(deps.db, externalUserRowId));
}

async function revokeAll(deps: AccountsDeps, rows: readonly AccountRow[]): Promise<void> {
  await forEachLimited(rows, LIST_CONCURRENCY, (row) => deps.revoke(row));
  for (const row of rows) deps.credentials.forget(row.id);
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
