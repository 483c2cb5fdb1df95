// The only SQL on audit_log. The table is append-only (a trigger refuses UPDATE and DELETE), so
// there is an insert and a query and nothing else.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Database } from '../db/types.ts';

export type AuditRow = Selectable<Database['audit_log']>;
/** An entry is stamped with the app's clock when it is recorded, not when its batch is written. */
export type NewAuditRow = Insertable<Database['audit_log']> & { at: Date };

/**
 * One INSERT for the whole batch, its columns passed as eight arrays: the statement text is the
 * same for every batch (a multi-row VALUES list would be a new text of 8 × n parameters, built
 * node by node and parsed by the server on every flush, at one flush per 250 ms under load).
 */
export async function insertAuditRows(db: Kysely<Database>, rows: readonly NewAuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (row: NewAuditRow) => T): T[] => rows.map(pick);
  await sql`
    insert into audit_log (at, project_id, environment, actor, action, account_id, result, details)
    select * from unnest(
      ${column((row) => row.at.toISOString())}::timestamptz[],
      ${column((row) => row.project_id ?? null)}::text[],
      ${column((row) => row.environment ?? null)}::text[],
      ${column((row) => row.actor)}::text[],
      ${column((row) => row.action)}::text[],
      ${column((row) => row.account_id ?? null)}::text[],
      ${column((row) => row.result)}::text[],
      ${column((row) => jsonText(row.details))}::jsonb[]
    )`.execute(db);
}

// Both drivers serialise an array parameter element by element; the elements go as text so that
// pg and PGlite read them alike.
function jsonText(details: NewAuditRow['details']): string | null {
  if (details === null || details === undefined) return null;
  return typeof details === 'string' ? details : JSON.stringify(details);
}

export interface AuditQuery {
  projectId?: string | undefined;
  accountId?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Keyset cursor: rows with a smaller id (the list runs newest first). */
  beforeId?: string | undefined;
  limit: number;
}

/** Newest first; ids are a bigserial, so id order is insertion order. */
export async function queryAuditRows(db: Kysely<Database>, query: AuditQuery): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (query.projectId !== undefined) q = q.where('project_id', '=', query.projectId);
  if (query.accountId !== undefined) q = q.where('account_id', '=', query.accountId);
  if (query.action !== undefined) q = q.where('action', '=', query.action);
  if (query.since !== undefined) q = q.where('at', '>=', query.since);
  if (query.until !== undefined) q = q.where('at', '<', query.until);
  if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
  return q.orderBy('id', 'desc').limit(query.limit).execute();
}

/** The audit actions that mean "used this account's credentials" (a read, a proxied request). */
export const ACCOUNT_USE_ACTIONS = ['credentials.read', 'proxy.request'] as const;

export interface AccountUserRow {
  actor: string;
  last_used_at: Date;
  uses: number;
}

/**
 * Who used an account since a time, with their last use: one grouped query on the
 * (account_id, at) index, for the admin API only (never the credential path).
 */
export async function listAccountUsers(db: Kysely<Database>, accountId: string, since: Date): Promise<AccountUserRow[]> {
  const rows = await db
    .selectFrom('audit_log')
    .select((eb) => ['actor', eb.fn.max('at').as('last_used_at'), eb.fn.countAll().as('uses')])
    .where('account_id', '=', accountId)
    .where('at', '>=', since)
    .where('action', 'in', [...ACCOUNT_USE_ACTIONS])
    .where('result', '=', 'ok')
    .groupBy('actor')
    .orderBy('last_used_at', 'desc')
    .execute();
  return rows.map((row) => ({ actor: row.actor, last_used_at: new Date(row.last_used_at as Date | string), uses: Number(row.uses) }));
}
