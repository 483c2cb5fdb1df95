import type { Kysely } from 'kysely';

// A connect token allows a handful of key-form attempts (each one sends the app's test request
// and writes a CONNECTION_ERROR event when it fails), then it is burned: used_at set, burned_at
// saying why, so the page can tell "too many attempts" from "already used".
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('connect_tokens')
    .addColumn('key_form_attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('burned_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('connect_tokens').dropColumn('burned_at').dropColumn('key_form_attempts').execute();
}
