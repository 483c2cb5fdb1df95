// API clients: a project's backends, authenticated at /v1/oauth/token (secret as an argon2id hash).
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from '../db/types.ts';

export type ClientRow = Selectable<Database['api_clients']>;

export async function insertClient(db: Kysely<Database>, client: Omit<ClientRow, 'created_at' | 'revoked_at'>): Promise<ClientRow> {
  return db.insertInto('api_clients').values(client).returningAll().executeTakeFirstOrThrow();
}

export function findClientById(db: Kysely<Database>, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom('api_clients').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listClientsOfProject(db: Kysely<Database>, projectId: string): Promise<ClientRow[]> {
  return db.selectFrom('api_clients').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
}

/**
 * Marks the client revoked and drops its tokens; returns false when there was nothing to revoke.
 * Every statement is scoped by the project named in the path, not only the client id: an admin
 * call on project A naming a client of project B must change nothing of B (it answers 404).
 */
export async function revokeClient(db: Kysely<Database>, projectId: string, clientId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('api_clients')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', clientId)
      .where('project_id', '=', projectId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    await trx.deleteFrom('api_access_tokens').where('client_id', '=', clientId).where('project_id', '=', projectId).execute();
    return Number(result.numUpdatedRows) > 0;
  });
}
