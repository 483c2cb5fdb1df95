// The only SQL on the projects table's branding columns.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface ProjectBrandingRow {
  readonly id: string;
  readonly name: string;
  readonly app_name: string | null;
  readonly support_email: string | null;
  readonly privacy_url: string | null;
  readonly terms_url: string | null;
  readonly has_logo: boolean;
}

export interface BrandingChanges {
  name?: string;
  app_name?: string | null;
  support_email?: string | null;
  privacy_url?: string | null;
  terms_url?: string | null;
}

export async function findProjectBranding(db: Db, projectId: string): Promise<ProjectBrandingRow | undefined> {
  const row = await db
    .selectFrom('projects')
    .select(['id', 'name', 'app_name', 'support_email', 'privacy_url', 'terms_url'])
    .select((eb) => eb('logo', 'is not', null).as('has_logo'))
    .where('id', '=', projectId)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...row, has_logo: row.has_logo === true };
}

/** Undefined when there is no such project. */
export async function updateProjectBranding(db: Db, projectId: string, changes: BrandingChanges): Promise<ProjectBrandingRow | undefined> {
  if (Object.keys(changes).length > 0) {
    const updated = await db.updateTable('projects').set(changes).where('id', '=', projectId).returning('id').executeTakeFirst();
    if (updated === undefined) return undefined;
  }
  return findProjectBranding(db, projectId);
}

export async function setProjectLogo(db: Db, projectId: string, logo: { bytes: Buffer; type: string }): Promise<boolean> {
  const updated = await db
    .updateTable('projects')
    .set({ logo: logo.bytes, logo_type: logo.type })
    .where('id', '=', projectId)
    .returning('id')
    .executeTakeFirst();
  return updated !== undefined;
}

export function findProjectLogo(db: Db, projectId: string): Promise<{ logo: Buffer | null; logo_type: string | null } | undefined> {
  return db.selectFrom('projects').select(['logo', 'logo_type']).where('id', '=', projectId).executeTakeFirst();
}
