// A project environment's own webhook: its URL and its sealed Standard Webhooks signing key
// (the environments table's only columns besides its key; projects.repository creates the rows).
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type EnvironmentRow = Selectable<Database['environments']>;

export interface EnvironmentKey {
  projectId: string;
  environment: EnvironmentName;
}

export function findEnvironment(db: Db, key: EnvironmentKey): Promise<EnvironmentRow | undefined> {
  return db.selectFrom('environments').selectAll().where('project_id', '=', key.projectId).where('name', '=', key.environment).executeTakeFirst();
}

/** Where the environment's own events go; undefined when none is set (or no such environment). */
export async function findWebhookUrl(db: Db, key: EnvironmentKey): Promise<string | undefined> {
  const row = await db
    .selectFrom('environments')
    .select('webhook_url')
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .executeTakeFirst();
  return row?.webhook_url ?? undefined;
}

/** Sets the URL; stores `signingKeyIfAbsent` only when the environment has no key yet. */
export async function setWebhookUrl(db: Db, key: EnvironmentKey, url: string, signingKeyIfAbsent: Buffer): Promise<EnvironmentRow | undefined> {
  return db
    .updateTable('environments')
    .set({
      webhook_url: url,
      webhook_signing_key_enc: sql<Buffer>`coalesce(webhook_signing_key_enc, ${signingKeyIfAbsent})`,
      updated_at: sql`now()`,
    })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .returningAll()
    .executeTakeFirst();
}

export async function clearWebhookUrl(db: Db, key: EnvironmentKey): Promise<boolean> {
  const result = await db
    .updateTable('environments')
    .set({ webhook_url: null, updated_at: sql`now()` })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .where('webhook_url', 'is not', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Stores the key only if none exists (a concurrent replica may have won); returns the row that stands. */
export async function setSigningKeyIfAbsent(db: Db, key: EnvironmentKey, sealed: Buffer): Promise<EnvironmentRow | undefined> {
  await db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: sealed, updated_at: sql`now()` })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .where('webhook_signing_key_enc', 'is', null)
    .execute();
  return findEnvironment(db, key);
}

/**
 * Claims the one showing of the current signing key: true for exactly one caller per key (the
 * update is conditional), false when it was shown already or there is none.
 */
export async function claimSigningKeyReveal(db: Db, key: EnvironmentKey): Promise<boolean> {
  const result = await db
    .updateTable('environments')
    .set({ webhook_signing_key_revealed_at: sql`now()` })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .where('webhook_signing_key_enc', 'is not', null)
    .where('webhook_signing_key_revealed_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Stores a rotated key, shown in the rotation's response (so marked as revealed). */
export async function replaceSigningKey(db: Db, key: EnvironmentKey, sealed: Buffer): Promise<EnvironmentRow | undefined> {
  return db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: sealed, webhook_signing_key_revealed_at: sql`now()`, updated_at: sql`now()` })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .returningAll()
    .executeTakeFirst();
}
