import { sql, type Kysely } from 'kysely';

// An API client may be limited to one environment: its tokens are then refused for the other
// environment's x-pd-environment. Null (every existing client) keeps acting in both.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('api_clients')
    .addColumn('environment', 'text', (c) => c.check(sql`environment in ('development', 'production')`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_clients').dropColumn('environment').execute();
}
