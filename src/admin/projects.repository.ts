import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** What a project is shown as; its redirect allow-list has its own home (src/connect/redirect-allow-list.ts). */
export type ProjectRow = Pick<Selectable<Database['projects']>, 'id' | 'name' | 'created_at'>;

export async function insertProjectWithEnvironments(db: Kysely<Database>, project: { id: string; name: string }): Promise<ProjectRow> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.insertInto('projects').values(project).returning(['id', 'name', 'created_at']).executeTakeFirstOrThrow();
    await trx
      .insertInto('environments')
      .values([
        { project_id: project.id, name: 'development', webhook_url: null, webhook_signing_key_enc: null, webhook_signing_key_revealed_at: null },
        { project_id: project.id, name: 'production', webhook_url: null, webhook_signing_key_enc: null, webhook_signing_key_revealed_at: null },
      ])
      .execute();
    return row;
  });
}

export function listProjects(db: Db): Promise<ProjectRow[]> {
  return db.selectFrom('projects').select(['id', 'name', 'created_at']).orderBy('created_at').orderBy('id').execute();
}

export function findProjectById(db: Db, id: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').select(['id', 'name', 'created_at']).where('id', '=', id).executeTakeFirst();
}
