import { sql, type Kysely } from 'kysely';

// Project secrets (the source documents' "environment variables"): named values per project
// environment for services that have no app. Only the sealed value is stored; its associated
// data binds it to project, environment and name, so a ciphertext copied to another row does not
// open.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('project_secrets')
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value_enc', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('project_secrets_pkey', ['project_id', 'environment', 'name'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('project_secrets').execute();
}
