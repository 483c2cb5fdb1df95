// The SQL of account checks (the app's test request run against a stored credential): the
// scheduled round's claim and the recording of an outcome. Only key-based accounts get a health
// from a check; an OAuth account's health is the refresh engine's.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/types.ts';
import type { AccountRow } from './account.repository.ts';
import { ACCOUNT_FAILURE_TEXTS } from './refresh-outcome.ts';

/**
 * Claims up to `limit` due accounts of the given apps and moves each one's next_check_at on by
 * the interval (±10 %, so accounts connected together drift apart). The claim is the schedule:
 * SKIP LOCKED lets replicas claim side by side, and a claimed account is not due again this
 * round, so no two replicas test the same key.
 */
export async function claimDueAccountChecks(
  db: Kysely<Database>,
  input: { appSlugs: readonly string[]; limit: number; now: Date; intervalSeconds: number },
): Promise<AccountRow[]> {
  if (input.appSlugs.length === 0) return [];
  const due = db
    .selectFrom('accounts')
    .select('id')
    .where('app_slug', 'in', [...input.appSlugs])
    .where('dead', '=', false)
    .where((eb) => eb.or([eb('next_check_at', 'is', null), eb('next_check_at', '<=', input.now)]))
    .orderBy(sql`next_check_at nulls first`)
    .limit(input.limit)
    .forUpdate()
    .skipLocked();
  return db
    .updateTable('accounts')
    .set({ next_check_at: sql`${input.now}::timestamptz + ${input.intervalSeconds} * (0.9 + random() * 0.2) * interval '1 second'` })
    .where('id', 'in', due)
    .returningAll()
    .execute();
}

export interface CheckRecord {
  readonly ok: boolean;
  readonly checkedAt: Date;
  /** Key-based accounts only: the check decides healthy, error and error_code. */
  readonly setsHealth: boolean;
  /** Why it failed (ours, never the provider's body), for `error`. */
  readonly reason?: string;
}

/**
 * Records a check; answers the row after it and whether its health changed (healthy → unhealthy
 * or back), in the caller's transaction so the webhook it enqueues commits with the change.
 */
export async function recordAccountCheck(
  trx: Transaction<Database>,
  id: string,
  record: CheckRecord,
): Promise<{ row: AccountRow; changed: boolean } | undefined> {
  const before = await trx.selectFrom('accounts').select(['healthy', 'dead']).where('id', '=', id).forUpdate().executeTakeFirst();
  if (before === undefined) return undefined;
  const health =
    record.setsHealth && !before.dead
      ? record.ok
        ? { healthy: true, error: null, error_code: null }
        : { healthy: false, error: `${ACCOUNT_FAILURE_TEXTS.test_request_failed} (${record.reason ?? 'unknown'})`, error_code: 'test_request_failed' as const }
      : {};
  const row = await trx
    .updateTable('accounts')
    .set({ last_checked_at: record.checkedAt, ...health })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, changed: row.healthy !== before.healthy };
}
