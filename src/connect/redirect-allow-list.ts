// The project's optional allow-list of redirect origins (security catalogue 20, open redirect):
// when an operator sets one, a connect token's success_redirect_uri and error_redirect_uri must
// point at one of its origins, so a leaked API client cannot mint links that end the user's flow
// on a page of its choosing. The one home of projects.allowed_redirect_origins.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { badRequest } from '../errors.ts';
import { checkOrigin, type UriPolicy } from './redirect-uris.ts';

export const MAX_REDIRECT_ORIGINS = 50;

/** The list serves both environments, so http origins are accepted here; production URIs are https-only anyway. */
const LIST_POLICY: UriPolicy = { requireHttps: false, allowLoopbackHttp: true };

/** undefined: no such project; null: no list. */
export async function findAllowedRedirectOrigins(db: Kysely<Database>, projectId: string): Promise<string[] | null | undefined> {
  const row = await db.selectFrom('projects').select('allowed_redirect_origins').where('id', '=', projectId).executeTakeFirst();
  return row === undefined ? undefined : row.allowed_redirect_origins;
}

/** Replaces the list (null removes it); false when the project does not exist. */
export async function saveAllowedRedirectOrigins(db: Kysely<Database>, projectId: string, origins: readonly string[] | null): Promise<boolean> {
  const result = await db
    .updateTable('projects')
    .set({ allowed_redirect_origins: origins === null ? null : JSON.stringify(origins) })
    .where('id', '=', projectId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Each entry a bare origin, normalised (`url.origin`) and deduplicated; a 400 naming the bad entry's index. */
export function normaliseRedirectOrigins(raw: readonly string[]): string[] {
  if (raw.length > MAX_REDIRECT_ORIGINS) throw badRequest(`allowed_redirect_origins must have at most ${MAX_REDIRECT_ORIGINS} entries`);
  const out: string[] = [];
  raw.forEach((entry, index) => {
    const check = checkOrigin(entry, LIST_POLICY);
    if (!check.ok) throw badRequest(`allowed_redirect_origins[${index}] ${check.reason}`);
    if (!out.includes(check.value)) out.push(check.value);
  });
  return out;
}

/** A redirect URI (already checked by checkRedirectUri) is refused when a list exists and its origin is not on it. */
export function checkRedirectAllowed(name: string, uri: string | null, allowList: readonly string[] | null): void {
  if (uri === null || allowList === null) return;
  if (!allowList.includes(new URL(uri).origin)) throw badRequest(`${name} must point at one of the project's allowed redirect origins`);
}
