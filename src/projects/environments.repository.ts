// A project environment's own webhook: its URL and its sealed Standard Webhooks signing key.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface EnvironmentRow {
  project_id: string;
  name: EnvironmentName;
  webhook_url: string | null;
  webhook_signing_key_enc: Buffer | null;
  created_at: Date;
  updated_at: Date;
}

export interface EnvironmentKey {
  projectId: string;
  environment: EnvironmentName;
}

export function findEnvironment(db: Db, key: EnvironmentKey): Promise<EnvironmentRow | undefined> {
  return db.selectFrom('environments').selectAll().where('project_id', '=', key.projectId).where('name', '=', key.environment).executeTakeFirst();
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

export async function replaceSigningKey(db: Db, key: EnvironmentKey, sealed: Buffer): Promise<EnvironmentRow | undefined> {
  return db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: sealed, updated_at: sql`now()` })
    .where('project_id', '=', key.projectId)
    .where('name', '=', key.environment)
    .returningAll()
    .executeTakeFirst();
}

/** Registry apps this project environment uses: apps with accounts here, or with a project OAuth app. */
export async function listProjectAppSlugs(db: Db, key: EnvironmentKey): Promise<string[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('app_slug')
    .where('project_id', '=', key.projectId)
    .where('environment', '=', key.environment)
    .union(db.selectFrom('oauth_apps').select('app_slug').where('project_id', '=', key.projectId))
    .orderBy('app_slug')
    .execute();
  return rows.map((row) => row.app_slug);
}
