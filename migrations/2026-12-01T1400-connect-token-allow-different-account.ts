import type { Kysely } from 'kysely';

// A reconnect that comes back as another provider user is refused unless the connect token was
// minted to allow it (the backend knows the user means to switch accounts).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('connect_tokens')
    .addColumn('allow_different_account', 'boolean', (col) => col.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('connect_tokens').dropColumn('allow_different_account').execute();
}
