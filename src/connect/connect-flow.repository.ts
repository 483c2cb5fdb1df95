// The connect flow's attempt results: what the result page shows and postMessages.
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type ConnectResultRow = Omit<Selectable<Database['connect_results']>, 'created_at'>;

export async function insertConnectResult(db: Db, row: ConnectResultRow): Promise<void> {
  await db
    .insertInto('connect_results')
    .values({ ...row, allowed_origins: JSON.stringify(row.allowed_origins) })
    .execute();
}

export function findConnectResult(db: Db, id: string): Promise<ConnectResultRow | undefined> {
  return db
    .selectFrom('connect_results')
    .select(['id', 'project_id', 'environment', 'connect_token_id', 'app_slug', 'outcome', 'account_id', 'error', 'allowed_origins', 'expires_at'])
    .where('id', '=', id)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

export async function deleteExpiredConnectResults(db: Db): Promise<void> {
  await db
    .deleteFrom('connect_results')
    .where('expires_at', '<', sql<Date>`now()`)
    .execute();
}
