// External users: a project environment's end users, keyed by the customer's own id.
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';
import type { PageRequest } from '../http/page-info.ts';
import { keysetPage } from '../http/keyset-page.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type ExternalUserRow = Selectable<Database['external_users']>;

export interface UserScope {
  projectId: string;
  environment: EnvironmentName;
}

/** Creates the user on first use; returns its row either way (one statement, race-free). */
export async function upsertExternalUser(db: Db, scope: UserScope, externalId: string, newId: string): Promise<ExternalUserRow> {
  return (
    db
      .insertInto('external_users')
      .values({ id: newId, project_id: scope.projectId, environment: scope.environment, external_id: externalId })
      // A no-op update so RETURNING yields the existing row on conflict.
      .onConflict((oc) => oc.constraint('external_users_identity').doUpdateSet({ external_id: (eb) => eb.ref('excluded.external_id') }))
      .returningAll()
      .executeTakeFirstOrThrow()
  );
}

export function findExternalUser(db: Db, scope: UserScope, externalId: string): Promise<ExternalUserRow | undefined> {
  return db
    .selectFrom('external_users')
    .selectAll()
    .where('project_id', '=', scope.projectId)
    .where('environment', '=', scope.environment)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
}

/** Deletes the user; accounts, connect tokens of the user go with it (ON DELETE CASCADE). */
export async function deleteExternalUserRow(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('external_users').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function listExternalUsers(db: Db, scope: UserScope, page: PageRequest): Promise<{ rows: ExternalUserRow[]; total: number }> {
  const inScope = db.selectFrom('external_users').where('project_id', '=', scope.projectId).where('environment', '=', scope.environment);
  const cursorRow = (id: string) =>
    db
      .selectFrom('external_users as c')
      .select(['c.created_at', 'c.id'])
      .where('c.id', '=', id)
      .where('c.project_id', '=', scope.projectId)
      .where('c.environment', '=', scope.environment);
  return keysetPage(inScope, cursorRow, page, (query) => query.selectAll());
}
