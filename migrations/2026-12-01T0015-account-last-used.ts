import type { Kysely } from 'kysely';

// When an account's credentials were last read (or used through the proxy): written in batches
// and coarsely (see src/accounts/account-usage.ts), never by the credential read itself.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('last_used_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('last_used_at').execute();
}
