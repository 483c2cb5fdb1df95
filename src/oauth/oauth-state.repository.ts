// In-flight authorization requests. A state is consumed with one DELETE … RETURNING, so of two
// callbacks carrying the same state (a replay, a double submit, two replicas) exactly one gets it.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface OAuthStateRow {
  digest: Buffer;
  cookie_digest: Buffer;
  connect_token_digest: Buffer;
  project_id: string;
  environment: EnvironmentName;
  external_user_id: string;
  app_slug: string;
  oauth_app_id: string;
  account_id: string | null;
  redirect_uri: string;
  issuer: string | null;
  code_verifier_enc: Buffer | null;
  fields_enc: Buffer | null;
  expires_at: Date;
}

export async function insertOAuthState(db: Db, row: OAuthStateRow): Promise<void> {
  await db.insertInto('oauth_states').values(row).execute();
}

export async function consumeOAuthState(db: Db, digest: Buffer): Promise<OAuthStateRow | undefined> {
  return db
    .deleteFrom('oauth_states')
    .where('digest', '=', digest)
    .returning([
      'digest',
      'cookie_digest',
      'connect_token_digest',
      'project_id',
      'environment',
      'external_user_id',
      'app_slug',
      'oauth_app_id',
      'account_id',
      'redirect_uri',
      'issuer',
      'code_verifier_enc',
      'fields_enc',
      'expires_at',
    ])
    .executeTakeFirst();
}

/**
 * Abandoned authorizations (the user never came back) are removed after a grace period, at most
 * `limit` at a time (SKIP LOCKED: a callback consuming one right now is never waited on).
 */
export async function deleteExpiredOAuthStates(db: Db, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('oauth_states')
    .where('digest', 'in', (eb) =>
      eb
        .selectFrom('oauth_states')
        .select('digest')
        .where('expires_at', '<', sql<Date>`now() - interval '1 hour'`)
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
