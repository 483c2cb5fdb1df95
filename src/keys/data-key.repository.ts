import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type DataKeyRow = Pick<Selectable<Database['data_keys']>, 'id' | 'project_id' | 'kek_id' | 'wrapped_key'>;

export function findDataKeyById(db: Db, id: string): Promise<DataKeyRow | undefined> {
  return db.selectFrom('data_keys').select(['id', 'project_id', 'kek_id', 'wrapped_key']).where('id', '=', id).executeTakeFirst();
}

export function findDataKeyForProject(db: Db, projectId: string | null): Promise<DataKeyRow | undefined> {
  return db
    .selectFrom('data_keys')
    .select(['id', 'project_id', 'kek_id', 'wrapped_key'])
    .where(sql<string>`coalesce(project_id, '')`, '=', projectId ?? '')
    .executeTakeFirst();
}

/** Inserts unless the project already has a DEK (a concurrent replica won); returns the row that stands. */
export async function insertDataKeyOnce(db: Db, row: DataKeyRow): Promise<DataKeyRow> {
  await sql`insert into data_keys (id, project_id, kek_id, wrapped_key)
            values (${row.id}, ${row.project_id}, ${row.kek_id}, ${row.wrapped_key})
            on conflict do nothing`.execute(db);
  return (await findDataKeyForProject(db, row.project_id))!;
}

export function lockDataKeysNotWrappedBy(trx: Transaction<Database>, kekId: string, limit: number): Promise<DataKeyRow[]> {
  return trx
    .selectFrom('data_keys')
    .select(['id', 'project_id', 'kek_id', 'wrapped_key'])
    .where('kek_id', '<>', kekId)
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function updateWrappedKey(trx: Transaction<Database>, id: string, kekId: string, wrapped: Buffer): Promise<void> {
  await trx
    .updateTable('data_keys')
    .set({ kek_id: kekId, wrapped_key: wrapped, rewrapped_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

export async function countDataKeysByKek(db: Db): Promise<{ kek_id: string; count: number }[]> {
  const rows = await db
    .selectFrom('data_keys')
    .select(['kek_id', (eb) => eb.fn.countAll<string>().as('count')])
    .groupBy('kek_id')
    .execute();
  return rows.map((row) => ({ kek_id: row.kek_id, count: Number(row.count) }));
}

/** One data key per wrapping KEK: the start-up check unwraps each to prove the KEK is the right one. */
export function findOneDataKeyPerKek(db: Db): Promise<DataKeyRow[]> {
  return db.selectFrom('data_keys').distinctOn('kek_id').select(['id', 'project_id', 'kek_id', 'wrapped_key']).orderBy('kek_id').orderBy('id').execute();
}
