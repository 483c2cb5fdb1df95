import { sql, type Kysely } from 'kysely';

// When the environment's webhook signing key was last shown to a caller. A key is shown once:
// in the response that created it (the first PUT of a webhook URL, when the key was made for it
// or made earlier for connect-token deliveries and never shown) or that rotated it. Deleting and
// setting the webhook again no longer shows a key that may long since have been seen elsewhere.
// Keys that exist now may have been shown already, and nothing records whether: they count as
// shown (an operator who needs one regenerates it).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('environments').addColumn('webhook_signing_key_revealed_at', 'timestamptz').execute();
  await db
    .updateTable('environments')
    .set({ webhook_signing_key_revealed_at: sql`now()` })
    .where('webhook_signing_key_enc', 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('environments').dropColumn('webhook_signing_key_revealed_at').execute();
}
