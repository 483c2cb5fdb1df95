import type { Kysely } from 'kysely';

// Pipedream's OAuth app body also carries a description and additional_scopes (scopes requested
// on top of the app's defaults, where `scopes` replaces them).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_apps').addColumn('description', 'text').addColumn('additional_scopes', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_apps').dropColumn('description').dropColumn('additional_scopes').execute();
}
