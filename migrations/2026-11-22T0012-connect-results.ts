import { sql, type Kysely } from 'kysely';

// The outcome of a connect attempt, shown by /connect/result/{id}. The callback answers with a
// 303 to that query-less URL (so code and state never reach a Referer or the history), and the
// result page reads what to postMessage, and to which origins, from here. Short-lived.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('connect_results')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('connect_token_id', 'text', (c) => c.notNull())
    .addColumn('app_slug', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('error', 'text')
    .addColumn('allowed_origins', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('connect_results_expires_idx').on('connect_results').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('connect_results').execute();
}
