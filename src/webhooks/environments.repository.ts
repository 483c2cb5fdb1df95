// A project environment's own webhook: its URL and its sealed Standard Webhooks signing key
// (the environments table's only columns besides its key; projects.repository creates the rows).
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isLegacySealed } from '../db/sealed-format.ts';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type EnvironmentRow = Selectable<Database['environments']>;

export interface EnvironmentKey {
  projectId: string;
  environment: EnvironmentName;
}

/** The one environment's row, for a SELECT. */
function selectEnvironment(db: Db, key: EnvironmentKey) {
  return db.selectFrom('environments').where('project_id', '=', key.projectId).where('name', '=', key.environment);
}

export function findEnvironment(db: Db, key: EnvironmentKey): Promise<EnvironmentRow | undefined> {
  return selectEnvironment(db, key).selectAll().executeTakeFirst();
}

/** The one environment's row, for an UPDATE: every write below names its row this way. */
function updateEnvironment(db: Db, key: EnvironmentKey) {
  return db.updateTable('environments').where('project_id', '=', key.projectId).where('name', '=', key.environment);
}

/** Where the environment's own events go; undefined when none is set (or no such environment). */
export async function findWebhookUrl(db: Db, key: EnvironmentKey): Promise<string | undefined> {
  const row = await selectEnvironment(db, key).select('webhook_url').executeTakeFirst();
  return row?.webhook_url ?? undefined;
}

/** Sets the URL; stores `signingKeyIfAbsent` only when the environment has no key yet. */
export async function setWebhookUrl(db: Db, key: EnvironmentKey, url: string, signingKeyIfAbsent: Buffer): Promise<EnvironmentRow | undefined> {
  return updateEnvironment(db, key)
    .set({
      webhook_url: url,
      webhook_signing_key_enc: sql<Buffer>`coalesce(webhook_signing_key_enc, ${signingKeyIfAbsent})`,
      updated_at: sql`now()`,
    })
    .returningAll()
    .executeTakeFirst();
}

export async function clearWebhookUrl(db: Db, key: EnvironmentKey): Promise<boolean> {
  const result = await updateEnvironment(db, key)
    .set({ webhook_url: null, updated_at: sql`now()` })
    .where('webhook_url', 'is not', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Stores the key only if none exists (a concurrent replica may have won); returns the row that stands. */
export async function setSigningKeyIfAbsent(db: Db, key: EnvironmentKey, sealed: Buffer): Promise<EnvironmentRow | undefined> {
  await updateEnvironment(db, key)
    .set({ webhook_signing_key_enc: sealed, updated_at: sql`now()` })
    .where('webhook_signing_key_enc', 'is', null)
    .execute();
  return findEnvironment(db, key);
}

/**
 * Claims the one showing of the current signing key: true for exactly one caller per key (the
 * update is conditional), false when it was shown already or there is none.
 */
export async function claimSigningKeyReveal(db: Db, key: EnvironmentKey): Promise<boolean> {
  const result = await updateEnvironment(db, key)
    .set({ webhook_signing_key_revealed_at: sql`now()` })
    .where('webhook_signing_key_enc', 'is not', null)
    .where('webhook_signing_key_revealed_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Stores a rotated key, shown in the rotation's response (so marked as revealed). */
export async function replaceSigningKey(db: Db, key: EnvironmentKey, sealed: Buffer): Promise<EnvironmentRow | undefined> {
  return updateEnvironment(db, key)
    .set({ webhook_signing_key_enc: sealed, webhook_signing_key_revealed_at: sql`now()`, updated_at: sql`now()` })
    .returningAll()
    .executeTakeFirst();
}

// ─── the re-seal migration (reseal/) ──────────────────────────────────────────────────────────

export interface LegacySealedEnvironment {
  project_id: string;
  name: EnvironmentName;
  webhook_signing_key_enc: Buffer;
}

/** Environments whose signing key is of the legacy sealed format, after `after` in key order. */
export async function findLegacySealedEnvironments(db: Db, after: EnvironmentKey | undefined, limit: number): Promise<LegacySealedEnvironment[]> {
  let query = db.selectFrom('environments').select(['project_id', 'name', 'webhook_signing_key_enc']).where(isLegacySealed('webhook_signing_key_enc'));
  if (after !== undefined) query = query.where(sql<boolean>`(project_id, name) > (${after.projectId}, ${after.environment})`);
  const rows = await query.orderBy('project_id').orderBy('name').limit(limit).execute();
  return rows.flatMap((row) => (row.webhook_signing_key_enc === null ? [] : [{ ...row, webhook_signing_key_enc: row.webhook_signing_key_enc }]));
}

/** Compare-and-set: a key rotated meanwhile (already in the new format) is left as it is. */
export async function replaceSigningKeySealing(db: Db, row: LegacySealedEnvironment, resealed: Buffer): Promise<boolean> {
  const result = await db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: resealed })
    .where('project_id', '=', row.project_id)
    .where('name', '=', row.name)
    .where('webhook_signing_key_enc', '=', row.webhook_signing_key_enc)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
