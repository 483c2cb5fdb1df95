// A project's own OAuth clients at providers. client_secret_enc is sealed by the vault, bound
// to (oauth_apps, client_secret_enc, id); this file never sees the plaintext.
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isLegacySealed } from '../db/sealed-format.ts';
import type { Database } from '../db/types.ts';
import type { PageRequest } from '../http/page-info.ts';
import { keysetPage } from '../http/keyset-page.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface NewOAuthApp {
  id: string;
  project_id: string;
  app_slug: string;
  name: string | null;
  description: string | null;
  client_id: string;
  client_secret_enc: Buffer;
  scopes: string[] | null;
  additional_scopes: string[] | null;
}

export type OAuthAppRow = Selectable<Database['oauth_apps']>;

export type OAuthAppChanges = Partial<Pick<NewOAuthApp, 'name' | 'description' | 'client_id' | 'client_secret_enc' | 'scopes' | 'additional_scopes'>>;

const jsonOrNull = (value: string[] | null): string | null => (value === null ? null : JSON.stringify(value));

export async function insertOAuthApp(db: Db, app: NewOAuthApp): Promise<OAuthAppRow> {
  return db
    .insertInto('oauth_apps')
    .values({ ...app, scopes: jsonOrNull(app.scopes), additional_scopes: jsonOrNull(app.additional_scopes) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findOAuthApp(db: Db, projectId: string, id: string): Promise<OAuthAppRow | undefined> {
  return db.selectFrom('oauth_apps').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
}

/** The project's most recently created OAuth app for a registry app. */
export function findNewestOAuthAppForApp(db: Db, projectId: string, appSlug: string): Promise<OAuthAppRow | undefined> {
  return db
    .selectFrom('oauth_apps')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('app_slug', '=', appSlug)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function updateOAuthApp(db: Db, projectId: string, id: string, changes: OAuthAppChanges): Promise<OAuthAppRow | undefined> {
  const { scopes, additional_scopes: additionalScopes, ...plain } = changes;
  return db
    .updateTable('oauth_apps')
    .set({
      ...plain,
      ...(scopes === undefined ? {} : { scopes: jsonOrNull(scopes) }),
      ...(additionalScopes === undefined ? {} : { additional_scopes: jsonOrNull(additionalScopes) }),
      updated_at: sql`now()`,
    })
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteOAuthApp(db: Db, projectId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('oauth_apps').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The registry apps a project has OAuth clients for. */
export async function listOAuthAppSlugs(db: Db, projectId: string): Promise<string[]> {
  const rows = await db.selectFrom('oauth_apps').select('app_slug').distinct().where('project_id', '=', projectId).execute();
  return rows.map((row) => row.app_slug);
}

export interface OAuthAppFilter {
  appSlug?: string | undefined;
  /** Case-insensitive substring of the name, the app slug or the client id. */
  q?: string | undefined;
}

export async function listOAuthApps(db: Db, projectId: string, filter: OAuthAppFilter, page: PageRequest): Promise<{ rows: OAuthAppRow[]; total: number }> {
  let inScope = db.selectFrom('oauth_apps').where('project_id', '=', projectId);
  if (filter.appSlug !== undefined) inScope = inScope.where('app_slug', '=', filter.appSlug);
  if (filter.q !== undefined && filter.q !== '') {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    inScope = inScope.where((eb) => eb.or([eb('name', 'ilike', pattern), eb('app_slug', 'ilike', pattern), eb('client_id', 'ilike', pattern)]));
  }
  const cursor = (id: string) => db.selectFrom('oauth_apps as c').select(['c.created_at', 'c.id']).where('c.id', '=', id).where('c.project_id', '=', projectId);
  return keysetPage(inScope, cursor, page, (query) => query.selectAll());
}

// ─── the re-seal migration (reseal/) ──────────────────────────────────────────────────────────

export type LegacySealedOAuthApp = Pick<OAuthAppRow, 'id' | 'project_id' | 'client_secret_enc'>;

export function findLegacySealedOAuthApps(db: Db, afterId: string, limit: number): Promise<LegacySealedOAuthApp[]> {
  return db
    .selectFrom('oauth_apps')
    .select(['id', 'project_id', 'client_secret_enc'])
    .where('id', '>', afterId)
    .where(isLegacySealed('client_secret_enc'))
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Compare-and-set: a secret updated meanwhile (already in the new format) is left as it is. */
export async function replaceOAuthAppSealing(db: Db, row: LegacySealedOAuthApp, resealed: Buffer): Promise<boolean> {
  const result = await db
    .updateTable('oauth_apps')
    .set({ client_secret_enc: resealed })
    .where('id', '=', row.id)
    .where('client_secret_enc', '=', row.client_secret_enc)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
