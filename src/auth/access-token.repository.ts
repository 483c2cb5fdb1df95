import { sql, type Kysely } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

export interface AccessTokenGrant {
  client_id: string;
  project_id: string;
  scopes: string;
  /** The client's environment limit (read live, so narrowing a client applies to its tokens). */
  environment: EnvironmentName | null;
  expires_at: Date;
}

export async function insertAccessToken(
  db: Kysely<Database>,
  row: { digest: Buffer; client_id: string; project_id: string; scopes: string; expires_at: Date },
): Promise<void> {
  await db.insertInto('api_access_tokens').values(row).execute();
}

/** The grant behind a live token of a client that is not revoked; one indexed read, no write. */
export function findLiveGrantByDigest(db: Kysely<Database>, digest: Buffer): Promise<AccessTokenGrant | undefined> {
  return db
    .selectFrom('api_access_tokens as t')
    .innerJoin('api_clients as c', 'c.id', 't.client_id')
    .select(['t.client_id', 't.project_id', 't.scopes', 'c.environment', 't.expires_at'])
    .where('t.digest', '=', digest)
    .where('t.expires_at', '>', sql<Date>`now()`)
    .where('c.revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Deletes at most `limit` access tokens that expired over an hour ago (they no longer authenticate anyway). */
export async function deleteExpiredAccessTokens(db: Kysely<Database>, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('api_access_tokens')
    .where('digest', 'in', (eb) =>
      eb
        .selectFrom('api_access_tokens')
        .select('digest')
        .where('expires_at', '<', sql<Date>`now() - interval '1 hour'`)
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
