// Connect tokens are single-use: consumeConnectToken marks one used in a single UPDATE that only
// succeeds while it is unused and unexpired, so two tabs (or replicas) can never both use it.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface NewConnectToken {
  digest: Buffer;
  id: string;
  project_id: string;
  environment: EnvironmentName;
  external_user_id: string;
  success_redirect_uri: string | null;
  error_redirect_uri: string | null;
  webhook_uri: string | null;
  allowed_origins: string[];
  app_slug: string | null;
  oauth_app_id: string | null;
  expires_at: Date;
  /** A reconnect may come back as another provider user. */
  allow_different_account: boolean;
}

export interface ConnectTokenRow extends NewConnectToken {
  /** The end user's id in the customer's system. */
  external_id: string;
  used_at: Date | null;
  key_form_attempts: number;
  burned_at: Date | null;
  created_at: Date;
}

export async function insertConnectToken(db: Db, token: NewConnectToken): Promise<void> {
  await db
    .insertInto('connect_tokens')
    .values({ ...token, allowed_origins: JSON.stringify(token.allowed_origins) })
    .execute();
}

function selectTokens(db: Db) {
  return db
    .selectFrom('connect_tokens as t')
    .innerJoin('external_users as u', 'u.id', 't.external_user_id')
    .select([
      't.digest',
      't.id',
      't.project_id',
      't.environment',
      't.external_user_id',
      'u.external_id',
      't.success_redirect_uri',
      't.error_redirect_uri',
      't.webhook_uri',
      't.allowed_origins',
      't.app_slug',
      't.oauth_app_id',
      't.expires_at',
      't.used_at',
      't.key_form_attempts',
      't.burned_at',
      't.allow_different_account',
      't.created_at',
    ]);
}

/** The token whatever its state (the caller tells expired/used apart for a clear page). */
export function findConnectTokenByDigest(db: Db, digest: Buffer): Promise<ConnectTokenRow | undefined> {
  return selectTokens(db).where('t.digest', '=', digest).executeTakeFirst();
}

/** Marks the token used; undefined when it was already used, expired or unknown. */
export async function consumeConnectToken(db: Db, digest: Buffer): Promise<{ id: string } | undefined> {
  return db
    .updateTable('connect_tokens')
    .set({ used_at: sql`now()` })
    .where('digest', '=', digest)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['id'])
    .executeTakeFirst();
}

/**
 * Counts one key-form attempt, atomically, while the token is usable and has attempts left:
 * the attempt's number, or undefined (used, expired, or out of attempts). Two tabs posting at
 * once cannot both take the last one.
 */
export async function claimKeyFormAttempt(db: Db, digest: Buffer, maxAttempts: number): Promise<number | undefined> {
  const row = await db
    .updateTable('connect_tokens')
    .set({ key_form_attempts: sql<number>`key_form_attempts + 1` })
    .where('digest', '=', digest)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('key_form_attempts', '<', maxAttempts)
    .returning(['key_form_attempts'])
    .executeTakeFirst();
  return row?.key_form_attempts;
}

/** The attempts ran out: the token is used up for good (a no-op on a token already used). */
export async function burnConnectToken(db: Db, digest: Buffer): Promise<void> {
  await db
    .updateTable('connect_tokens')
    .set({ used_at: sql`now()`, burned_at: sql`now()` })
    .where('digest', '=', digest)
    .where('used_at', 'is', null)
    .execute();
}

/**
 * Deletes at most `limit` tokens that expired before `olderThan`. SKIP LOCKED: a token a flow
 * holds right now is left for the next batch, and two replicas' batches never wait on each other.
 */
export async function deleteExpiredConnectTokens(db: Db, olderThan: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('connect_tokens')
    .where('digest', 'in', (eb) => eb.selectFrom('connect_tokens').select('digest').where('expires_at', '<', olderThan).limit(limit).forUpdate().skipLocked())
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
