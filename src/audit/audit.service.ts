// Reading the audit log (admin API). The buffer is flushed first so an administrator sees their
// own last action; entries buffered on other replicas appear within their flush interval.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { badRequest } from '../errors.ts';
import type { AuditLog } from './audit-log.ts';
import { queryAuditRows, type AuditRow } from './audit.repository.ts';

export interface AuditEntryView {
  id: string;
  at: string;
  project_id: string | null;
  environment: string | null;
  actor: string;
  action: string;
  account_id: string | null;
  result: string;
  details: Record<string, unknown> | null;
}

export interface AuditListQuery {
  project_id?: string | undefined;
  account_id?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

function toView(row: AuditRow): AuditEntryView {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    project_id: row.project_id,
    environment: row.environment,
    actor: row.actor,
    action: row.action,
    account_id: row.account_id,
    result: row.result,
    details: row.details,
  };
}

/** Newest first; `after` is the end_cursor of the previous page. */
export async function listAuditEntries(
  db: Kysely<Database>,
  auditLog: AuditLog,
  query: AuditListQuery,
): Promise<{ data: AuditEntryView[]; page_info: { count: number; start_cursor: string | null; end_cursor: string | null } }> {
  const since = query.since === undefined ? undefined : new Date(query.since);
  const until = query.until === undefined ? undefined : new Date(query.until);
  if (since !== undefined && until !== undefined && since.getTime() > until.getTime()) throw badRequest('querystring since must not be after until');
  const limit = query.limit ?? AUDIT_DEFAULT_LIMIT;
  await auditLog.flush();
  const rows = await queryAuditRows(db, {
    projectId: query.project_id,
    accountId: query.account_id,
    action: query.action,
    since,
    until,
    beforeId: query.after,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit).map(toView);
  return {
    data: page,
    page_info: {
      count: page.length,
      start_cursor: page[0]?.id ?? null,
      end_cursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
    },
  };
}
