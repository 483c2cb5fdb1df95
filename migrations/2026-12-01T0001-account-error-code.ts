import { sql, type Kysely } from 'kysely';

// Why an account failed, as a stable code beside the human text in `error`: behaviour (which
// error a caller gets during a backoff, say) switches on the code, so rewording a message never
// changes what happens to rows already stored. Existing rows are backfilled from the texts the
// refresher wrote until now; a text it never wrote keeps a null code.
const TEXTS_BY_CODE: Record<string, string> = {
  grant_revoked: 'the provider no longer accepts the refresh token (invalid_grant); reconnect the account',
  grant_lost_in_interrupted_refresh:
    'a refresh was interrupted before its result could be stored, and the provider no longer accepts the previous refresh token (invalid_grant); reconnect the account',
  expired_without_refresh_token: 'the access token expired and the provider issued no refresh token; reconnect the account',
  client_rejected: 'the provider rejected the oauth client used to refresh this account; an operator must check the oauth app (client id and secret)',
  oauth_app_missing: "the account's oauth app no longer exists or does not match its app; an operator must restore it",
};
// Written with the failure's reason appended: "… retries automatically (timed out)".
const PROVIDER_UNAVAILABLE_PREFIX = 'the provider could not refresh the token; latchkey retries automatically';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('error_code', 'text').execute();
  for (const [code, text] of Object.entries(TEXTS_BY_CODE)) {
    await db.updateTable('accounts').set({ error_code: code }).where('error', '=', text).execute();
  }
  await db
    .updateTable('accounts')
    .set({ error_code: 'provider_unavailable' })
    .where(sql<boolean>`starts_with(error, ${PROVIDER_UNAVAILABLE_PREFIX})`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('error_code').execute();
}
