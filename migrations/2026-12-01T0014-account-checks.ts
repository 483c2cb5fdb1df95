import { sql, type Kysely } from 'kysely';

// Scheduled test requests of key-based accounts (a revoked API key is otherwise never noticed:
// such accounts never refresh). next_check_at is both the schedule and the claim: a replica that
// claims an account moves it forward, so no other replica checks it again this round. Existing
// accounts are spread over the first day, so a deployment does not test every key at once.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('last_checked_at', 'timestamptz').addColumn('next_check_at', 'timestamptz').execute();
  await db
    .updateTable('accounts')
    .set({ next_check_at: sql`now() + random() * interval '1 day'` })
    .execute();
  await db.schema.createIndex('accounts_next_check_at').on('accounts').column('next_check_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('accounts_next_check_at').execute();
  await db.schema.alterTable('accounts').dropColumn('last_checked_at').dropColumn('next_check_at').execute();
}
