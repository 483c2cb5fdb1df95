// Reads and deletes of connected accounts. Writes of credentials live in account-store.ts (the
// connect flow's contract) and in refresh/refresh.repository.ts (leases and refresh results).
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';
import type { PageRequest } from '../users/page-info.ts';
import { keysetPage } from '../db/keyset-page.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type AccountRow = Selectable<Database['accounts']>;

export interface AccountScope {
  projectId: string;
  environment: EnvironmentName;
}

/**
 * The credential hot path's only query: one primary-key lookup, no join. The caller checks the
 * project and environment (a foreign account is a 404, like an unknown one).
 */
export function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export function accountInScope(row: AccountRow | undefined, scope: AccountScope): row is AccountRow {
  return row !== undefined && row.project_id === scope.projectId && row.environment === scope.environment;
}

export interface AccountFilter {
  appSlug?: string | undefined;
  /** The customer's id for the end user (external_users.external_id). */
  externalUserId?: string | undefined;
  oauthAppId?: string | undefined;
}

function scoped(db: Db, scope: AccountScope, filter: AccountFilter) {
  let query = db.selectFrom('accounts').where('project_id', '=', scope.projectId).where('environment', '=', scope.environment);
  if (filter.appSlug !== undefined) query = query.where('app_slug', '=', filter.appSlug);
  if (filter.oauthAppId !== undefined) query = query.where('oauth_app_id', '=', filter.oauthAppId);
  if (filter.externalUserId !== undefined) {
    // Through external_users: accounts.external_user_id is latchkey's row id for the user.
    const externalId = filter.externalUserId;
    query = query.where('external_user_id', 'in', (eb) =>
      eb
        .selectFrom('external_users')
        .select('id')
        .where('project_id', '=', scope.projectId)
        .where('environment', '=', scope.environment)
        .where('external_id', '=', externalId),
    );
  }
  return query;
}

/**
 * One page in (created_at, id) order; `rows` holds limit + 1 rows in the direction of travel
 * (see users/page-info.ts toPage). A cursor is an account id of the same project environment.
 */
export async function listAccountRows(db: Db, scope: AccountScope, filter: AccountFilter, page: PageRequest): Promise<{ rows: AccountRow[]; total: number }> {
  const cursor = (id: string) =>
    db
      .selectFrom('accounts as c')
      .select(['c.created_at', 'c.id'])
      .where('c.id', '=', id)
      .where('c.project_id', '=', scope.projectId)
      .where('c.environment', '=', scope.environment);
  return keysetPage(scoped(db, scope, filter), cursor, page, (query) => query.selectAll());
}

/** Every account matching the filter, oldest first (one user's accounts, one app's accounts). */
export function listAllAccountRows(db: Db, scope: AccountScope, filter: AccountFilter): Promise<AccountRow[]> {
  return scoped(db, scope, filter).selectAll().orderBy('created_at').orderBy('id').execute();
}

/** Accounts of one external_users row (latchkey's id), for deleting a user. */
export function listAccountRowsOfUser(db: Db, externalUserRowId: string): Promise<AccountRow[]> {
  return db.selectFrom('accounts').selectAll().where('external_user_id', '=', externalUserRowId).orderBy('created_at').execute();
}

export async function deleteAccountRow(db: Db, scope: AccountScope, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('accounts')
    .where('id', '=', id)
    .where('project_id', '=', scope.projectId)
    .where('environment', '=', scope.environment)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function deleteAccountRows(db: Db, scope: AccountScope, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .deleteFrom('accounts')
    .where('id', 'in', ids)
    .where('project_id', '=', scope.projectId)
    .where('environment', '=', scope.environment)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** credentials_version is a bigint: pg returns it as a string, PGlite as a number. */
export function versionOf(row: { credentials_version: string | number }): string {
  return String(row.credentials_version);
}
