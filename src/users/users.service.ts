// External users: created on first use by a connect token, listed and deleted by the backend.
import type { Kysely } from 'kysely';
import { mintId } from '../crypto/tokens.ts';
import type { Database } from '../db/types.ts';
import { badRequest, notFound } from '../errors.ts';
import { DEFAULT_PAGE_LIMIT, toPage, type PageInfo, type PageRequest } from '../http/page-info.ts';
import { deleteExternalUserRow, findExternalUser, listExternalUsers, upsertExternalUser, type ExternalUserRow, type UserScope } from './users.repository.ts';

export type { UserScope } from './users.repository.ts';

export const MAX_EXTERNAL_USER_ID_LENGTH = 250;

export interface ExternalUserView {
  id: string;
  external_id: string;
  created_at: string;
  updated_at: string;
}

function toView(row: ExternalUserRow): ExternalUserView {
  return { id: row.id, external_id: row.external_id, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

/**
 * The customer's id for an end user: 1–250 characters (code points), no control characters
 * (NUL would be refused by PostgreSQL, and C0/C1 controls or lone surrogates only ever mean
 * trouble in logs and pages); anything else, RTL marks and emoji included, is kept byte-exact.
 */
export function checkExternalUserId(value: string): void {
  const length = [...value].length;
  if (length < 1 || length > MAX_EXTERNAL_USER_ID_LENGTH) throw badRequest(`external_user_id must be 1 to ${MAX_EXTERNAL_USER_ID_LENGTH} characters`);
  if (/[\p{Cc}\p{Cs}]/u.test(value)) throw badRequest('external_user_id must not contain control characters');
}

export async function ensureExternalUser(db: Kysely<Database>, scope: UserScope, externalId: string): Promise<ExternalUserRow> {
  checkExternalUserId(externalId);
  return upsertExternalUser(db, scope, externalId, mintId('exu_'));
}

export async function listUsers(
  db: Kysely<Database>,
  scope: UserScope,
  query: { limit?: number | undefined; after?: string | undefined; before?: string | undefined },
): Promise<{ data: ExternalUserView[]; page_info: PageInfo }> {
  const page: PageRequest = { limit: query.limit ?? DEFAULT_PAGE_LIMIT, after: query.after, before: query.before };
  const { rows, total } = await listExternalUsers(db, scope, page);
  const result = toPage(rows, page, total);
  return { data: result.data.map(toView), page_info: result.page_info };
}

/**
 * Hook for the accounts feature: revoke the user's accounts at their providers (RFC 7009) before
 * the rows go. app.ts passes it to the users routes; without one the rows are simply deleted.
 */
export type RevokeUserAccounts = (db: Kysely<Database>, user: ExternalUserRow) => Promise<void>;

/** Deletes an end user with every account and connect token of theirs (ON DELETE CASCADE). */
export async function deleteExternalUser(db: Kysely<Database>, scope: UserScope, externalId: string, revokeAccounts?: RevokeUserAccounts): Promise<void> {
  const user = await findExternalUser(db, scope, externalId);
  if (user === undefined) throw notFound('external user');
  if (revokeAccounts !== undefined) await revokeAccounts(db, user);
  await deleteExternalUserRow(db, user.id);
}
