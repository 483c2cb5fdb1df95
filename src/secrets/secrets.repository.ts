// The only SQL on project_secrets. A secret is keyed by project, environment and name; the value
// is stored sealed (see secrets.service.ts for the binding).
import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database>;

export type SecretRow = Selectable<Database['project_secrets']>;

export interface SecretKey {
  readonly projectId: string;
  readonly environment: EnvironmentName;
  readonly name: string;
}

export function findSecret(db: Db, key: SecretKey): Promise<SecretRow | undefined> {
  return db
    .selectFrom('project_secrets')
    .selectAll()
    .where('project_id', '=', key.projectId)
    .where('environment', '=', key.environment)
    .where('name', '=', key.name)
    .executeTakeFirst();
}

/** The names and times of one environment's secrets (never the sealed values), by name. */
export function listSecretNames(db: Db, projectId: string, environment: EnvironmentName): Promise<Pick<SecretRow, 'name' | 'created_at' | 'updated_at'>[]> {
  return db
    .selectFrom('project_secrets')
    .select(['name', 'created_at', 'updated_at'])
    .where('project_id', '=', projectId)
    .where('environment', '=', environment)
    .orderBy('name')
    .execute();
}

/** Creates or replaces; answers whether the secret was new. */
export async function upsertSecret(db: Db, key: SecretKey, sealed: Buffer): Promise<{ created: boolean; row: SecretRow }> {
  const row = await db
    .insertInto('project_secrets')
    .values({ project_id: key.projectId, environment: key.environment, name: key.name, value_enc: sealed })
    .onConflict((oc) => oc.columns(['project_id', 'environment', 'name']).doUpdateSet({ value_enc: sealed, updated_at: sql`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return { created: row.created_at.getTime() === row.updated_at.getTime(), row };
}

export async function deleteSecret(db: Db, key: SecretKey): Promise<boolean> {
  const result = await db
    .deleteFrom('project_secrets')
    .where('project_id', '=', key.projectId)
    .where('environment', '=', key.environment)
    .where('name', '=', key.name)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
