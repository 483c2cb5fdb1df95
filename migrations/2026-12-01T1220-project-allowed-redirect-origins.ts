import type { Kysely } from 'kysely';

// An optional per-project list of the origins a connect token's success_redirect_uri and
// error_redirect_uri may point at (null: no list, any valid URI). Both environments share it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('projects').addColumn('allowed_redirect_origins', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('projects').dropColumn('allowed_redirect_origins').execute();
}
