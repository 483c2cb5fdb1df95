// Every SQL statement on `accounts` but the refresh lease's (account-lease.repository.ts): the
// hot path's primary-key read, listings, ownership, the connect flow's insert and reconnect,
// deletes, and the admin view. Sealed columns arrive sealed (account-secrets.ts): nothing here
// sees a plaintext credential, and no admin query selects a sealed column.
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isLegacySealed } from '../db/sealed-format.ts';
import { compileOnly, declarePreparedStatement } from '../db/prepared-statements.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { keysetPage } from '../http/keyset-page.ts';
import type { PageRequest } from '../http/page-info.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type AccountRow = Selectable<Database['accounts']>;

export interface AccountScope {
  projectId: string;
  environment: EnvironmentName;
}

/** Columns that end a refresh attempt: the lease is free and no attempt is on record. */
export const NO_REFRESH_IN_FLIGHT = {
  refresh_lease_owner: null,
  refresh_lease_until: null,
  refresh_attempt_id: null,
  refresh_attempt_started_at: null,
} as const;

/** Columns of an account whose credentials just proved good (a refresh or a reconnect). */
export const HEALTHY_ACCOUNT = {
  healthy: true,
  dead: false,
  error: null,
  error_code: null,
  refresh_failures: 0,
  refresh_backoff_until: null,
} as const;

// ─── reads ───────────────────────────────────────────────────────────────────────────────────

/**
 * The credential hot path's only query: one primary-key lookup, no join. The caller checks the
 * project and environment (a foreign account is a 404, like an unknown one).
 */
const accountById = (db: Db, id: string) => db.selectFrom('accounts').selectAll().where('id', '=', id);
// The credential fetch's one query: prepared once per connection (see db/prepared-statements.ts).
declarePreparedStatement('account_by_id', accountById(compileOnly, ''));

export function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  return accountById(db, id).executeTakeFirst();
}

export function accountInScope(row: AccountRow | undefined, scope: AccountScope): row is AccountRow {
  return row !== undefined && row.project_id === scope.projectId && row.environment === scope.environment;
}

export type AccountOwner = Pick<AccountRow, 'id' | 'project_id' | 'environment' | 'external_user_id' | 'app_slug' | 'oauth_app_id'>;

/** Who owns an account: a reconnect (link, validation, the final write) may only name its own user's. */
export function findAccountOwner(db: Db, accountId: string): Promise<AccountOwner | undefined> {
  return db
    .selectFrom('accounts')
    .select(['id', 'project_id', 'environment', 'external_user_id', 'app_slug', 'oauth_app_id'])
    .where('id', '=', accountId)
    .executeTakeFirst();
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

/** One page in (created_at, id) order. A cursor is an account id of the same project environment. */
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

export async function countAccountsUsingOAuthApp(db: Db, projectId: string, oauthAppId: string): Promise<number> {
  const row = await db
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('project_id', '=', projectId)
    .where('oauth_app_id', '=', oauthAppId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The registry apps a project environment has accounts of. */
export async function listAccountAppSlugs(db: Db, scope: AccountScope): Promise<string[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('app_slug')
    .distinct()
    .where('project_id', '=', scope.projectId)
    .where('environment', '=', scope.environment)
    .execute();
  return rows.map((row) => row.app_slug);
}

/** credentials_version is a bigint: pg returns it as a string, PGlite as a number. */
export function versionOf(row: { credentials_version: string | number }): string {
  return String(row.credentials_version);
}

// ─── the connect flow's writes ───────────────────────────────────────────────────────────────

/** A new account as stored: its secrets already sealed to this row (account-secrets.ts). */
export type NewAccountRow = Pick<
  Insertable<Database['accounts']>,
  | 'id'
  | 'project_id'
  | 'environment'
  | 'external_user_id'
  | 'external_id'
  | 'app_slug'
  | 'oauth_app_id'
  | 'name'
  | 'credentials_enc'
  | 'refresh_token_enc'
  | 'authorized_scopes'
  | 'expires_at'
  | 'next_refresh_at'
>;

/** What the connection webhook reports of the account just written. */
export type StoredAccountStamp = Pick<AccountRow, 'name' | 'created_at' | 'updated_at'>;

export function insertAccount(db: Db, row: NewAccountRow): Promise<StoredAccountStamp> {
  return db
    .insertInto('accounts')
    .values({ ...row, last_refreshed_at: null })
    .returning(['name', 'created_at', 'updated_at'])
    .executeTakeFirstOrThrow();
}

export interface ReplacedCredentials {
  credentials_enc: Buffer;
  refresh_token_enc: Buffer | null;
  authorized_scopes: string;
  expires_at: Date | null;
  next_refresh_at: Date | null;
  /** Undefined keeps the account's name. */
  name?: string | null | undefined;
}

/**
 * Reconnect: replaces the credentials of an existing account in place and clears its failure
 * state and any refresh in flight (a refresh holding the old lease then fails its fence). Only
 * the account's own user, app and environment may do this (the caller checked the owner).
 * Undefined when the account no longer exists.
 */
export function replaceAccountCredentials(db: Db, id: string, replaced: ReplacedCredentials): Promise<StoredAccountStamp | undefined> {
  const { name, ...columns } = replaced;
  return db
    .updateTable('accounts')
    .set({
      ...columns,
      credentials_version: sql`credentials_version + 1`,
      ...HEALTHY_ACCOUNT,
      ...NO_REFRESH_IN_FLIGHT,
      updated_at: sql`now()`,
      ...(name === undefined ? {} : { name }),
    })
    .where('id', '=', id)
    .returning(['name', 'created_at', 'updated_at'])
    .executeTakeFirst();
}

// ─── deletes ─────────────────────────────────────────────────────────────────────────────────

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

// ─── the admin view: metadata and health, never a sealed column ──────────────────────────────

export type AccountHealth = 'healthy' | 'unhealthy' | 'dead';

export type AdminAccountRow = Pick<
  AccountRow,
  | 'id'
  | 'project_id'
  | 'environment'
  | 'external_user_id'
  | 'app_slug'
  | 'oauth_app_id'
  | 'name'
  | 'healthy'
  | 'dead'
  | 'error'
  | 'error_code'
  | 'expires_at'
  | 'last_refreshed_at'
  | 'next_refresh_at'
  | 'refresh_failures'
  | 'created_at'
  | 'updated_at'
> & { external_id: string };

const ADMIN_COLUMNS = [
  'a.id',
  'a.project_id',
  'a.environment',
  'a.external_user_id',
  'u.external_id',
  'a.app_slug',
  'a.oauth_app_id',
  'a.name',
  'a.healthy',
  'a.dead',
  'a.error',
  'a.error_code',
  'a.expires_at',
  'a.last_refreshed_at',
  'a.next_refresh_at',
  'a.refresh_failures',
  'a.created_at',
  'a.updated_at',
] as const;

export interface AdminAccountFilter {
  projectId: string;
  environment?: EnvironmentName | undefined;
  health?: AccountHealth | undefined;
  appSlug?: string | undefined;
}

function adminFiltered(db: Db, filter: AdminAccountFilter) {
  let q = db.selectFrom('accounts as a').innerJoin('external_users as u', 'u.id', 'a.external_user_id').where('a.project_id', '=', filter.projectId);
  if (filter.environment !== undefined) q = q.where('a.environment', '=', filter.environment);
  if (filter.appSlug !== undefined) q = q.where('a.app_slug', '=', filter.appSlug);
  // A dead account is reported as dead only, whatever its healthy flag says.
  if (filter.health === 'dead') q = q.where('a.dead', '=', true);
  if (filter.health === 'healthy') q = q.where('a.dead', '=', false).where('a.healthy', '=', true);
  if (filter.health === 'unhealthy') q = q.where('a.dead', '=', false).where('a.healthy', '=', false);
  return q;
}

/** Oldest first, keyset-paged on (created_at, id), with the total of the filter. */
export async function listAdminAccounts(db: Db, filter: AdminAccountFilter, page: PageRequest): Promise<{ rows: AdminAccountRow[]; total: number }> {
  // An unknown cursor compares with NULL and yields an empty page.
  const cursor = (id: string) =>
    db.selectFrom('accounts as c').select(['c.created_at', 'c.id']).where('c.id', '=', id).where('c.project_id', '=', filter.projectId);
  const { rows, total } = await keysetPage(adminFiltered(db, filter), cursor, page, (query) => query.select(ADMIN_COLUMNS), { table: 'a' });
  return { rows: rows.map(withNumericFailures), total };
}

export async function findAdminAccount(db: Db, projectId: string, accountId: string): Promise<AdminAccountRow | undefined> {
  const row = await db
    .selectFrom('accounts as a')
    .innerJoin('external_users as u', 'u.id', 'a.external_user_id')
    .select(ADMIN_COLUMNS)
    .where('a.project_id', '=', projectId)
    .where('a.id', '=', accountId)
    .executeTakeFirst();
  return row === undefined ? undefined : withNumericFailures(row);
}

export async function renameAccount(db: Db, projectId: string, accountId: string, name: string | null): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ name, updated_at: sql`now()` })
    .where('project_id', '=', projectId)
    .where('id', '=', accountId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** refresh_failures is an integer column, but a driver may hand it over as a string. */
function withNumericFailures<T extends { refresh_failures: number | string }>(row: T): T & { refresh_failures: number } {
  return { ...row, refresh_failures: Number(row.refresh_failures) };
}

// ─── the re-seal migration (reseal/): legacy-format values rewritten under the new binding ───

export type LegacySealedAccount = Pick<AccountRow, 'id' | 'project_id' | 'environment' | 'credentials_enc' | 'refresh_token_enc'>;

/** Accounts with a value of the legacy sealed format, after `afterId` in id order (one pass is one scan). */
export function findLegacySealedAccounts(db: Db, afterId: string, limit: number): Promise<LegacySealedAccount[]> {
  return db
    .selectFrom('accounts')
    .select(['id', 'project_id', 'environment', 'credentials_enc', 'refresh_token_enc'])
    .where('id', '>', afterId)
    .where((eb) => eb.or([isLegacySealed('credentials_enc'), isLegacySealed('refresh_token_enc')]))
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * Writes the re-sealed values only if the row still holds the bytes they were made from: a
 * refresh or reconnect that rewrote it meanwhile (already in the new format) wins, and nothing
 * is locked while the values are decrypted and sealed again. The values themselves are unchanged,
 * so credentials_version and updated_at stay as they are.
 */
export async function replaceAccountSealing(
  db: Db,
  row: LegacySealedAccount,
  resealed: { credentials_enc: Buffer; refresh_token_enc: Buffer | null },
): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set(resealed)
    .where('id', '=', row.id)
    .where('credentials_enc', '=', row.credentials_enc)
    .where(sql<boolean>`refresh_token_enc is not distinct from ${row.refresh_token_enc}`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
