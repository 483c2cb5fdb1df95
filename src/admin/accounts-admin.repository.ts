// The admin view of accounts: metadata and health only. No query here selects a sealed column,
// so nothing on this path can ever return or decrypt a credential.
import { sql, type Kysely } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

export type AccountHealth = 'healthy' | 'unhealthy' | 'dead';

export interface AdminAccountRow {
  id: string;
  project_id: string;
  environment: EnvironmentName;
  external_user_id: string;
  external_id: string;
  app_slug: string;
  oauth_app_id: string | null;
  name: string | null;
  healthy: boolean;
  dead: boolean;
  error: string | null;
  expires_at: Date | null;
  last_refreshed_at: Date | null;
  next_refresh_at: Date | null;
  refresh_failures: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = [
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

function filtered(db: Kysely<Database>, filter: AdminAccountFilter) {
  let q = db.selectFrom('accounts as a').innerJoin('external_users as u', 'u.id', 'a.external_user_id').where('a.project_id', '=', filter.projectId);
  if (filter.environment !== undefined) q = q.where('a.environment', '=', filter.environment);
  if (filter.appSlug !== undefined) q = q.where('a.app_slug', '=', filter.appSlug);
  // A dead account is reported as dead only, whatever its healthy flag says.
  if (filter.health === 'dead') q = q.where('a.dead', '=', true);
  if (filter.health === 'healthy') q = q.where('a.dead', '=', false).where('a.healthy', '=', true);
  if (filter.health === 'unhealthy') q = q.where('a.dead', '=', false).where('a.healthy', '=', false);
  return q;
}

/** Oldest first, keyset-paged on (created_at, id); fetches limit + 1 to tell whether more follow. */
export async function listAdminAccounts(
  db: Kysely<Database>,
  filter: AdminAccountFilter,
  page: { limit: number; after?: string | undefined },
): Promise<AdminAccountRow[]> {
  let q = filtered(db, filter).select(COLUMNS);
  if (page.after !== undefined) {
    // An unknown cursor compares with NULL and yields an empty page.
    q = q.where(
      sql<boolean>`(a.created_at, a.id) > (select c.created_at, c.id from accounts c where c.id = ${page.after} and c.project_id = ${filter.projectId})`,
    );
  }
  const rows = await q
    .orderBy('a.created_at')
    .orderBy('a.id')
    .limit(page.limit + 1)
    .execute();
  return rows.map(normalize);
}

export async function countAdminAccounts(db: Kysely<Database>, filter: AdminAccountFilter): Promise<number> {
  const row = await filtered(db, filter)
    .select(sql<string>`count(*)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findAdminAccount(db: Kysely<Database>, projectId: string, accountId: string): Promise<AdminAccountRow | undefined> {
  const row = await db
    .selectFrom('accounts as a')
    .innerJoin('external_users as u', 'u.id', 'a.external_user_id')
    .select(COLUMNS)
    .where('a.project_id', '=', projectId)
    .where('a.id', '=', accountId)
    .executeTakeFirst();
  return row === undefined ? undefined : normalize(row);
}

export async function renameAccount(db: Kysely<Database>, projectId: string, accountId: string, name: string | null): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ name, updated_at: sql`now()` })
    .where('project_id', '=', projectId)
    .where('id', '=', accountId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

function normalize(row: Omit<AdminAccountRow, 'refresh_failures'> & { refresh_failures: number | string }): AdminAccountRow {
  return { ...row, refresh_failures: Number(row.refresh_failures) };
}
