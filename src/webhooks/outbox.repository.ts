// The webhook outbox. A worker claims due rows with one UPDATE … WHERE id IN (SELECT … FOR
// UPDATE SKIP LOCKED) that sets a lease (locked_until): the claim commits at once, the POST
// happens outside any transaction, and the result is written back only while the lease is still
// the one this worker took (a fencing token), so a stalled worker cannot overwrite a newer claim.
import { sql, type Kysely } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

export interface OutboxRow {
  id: string;
  project_id: string;
  environment: EnvironmentName;
  url: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
  locked_until: Date;
  created_at: Date;
}

export async function claimDueWebhooks(db: Kysely<Database>, limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
  const result = await sql<OutboxRow>`
    update webhook_outbox
       -- Millisecond precision, so the lease survives the round trip through a JS Date intact.
       set locked_until = date_trunc('milliseconds', now() + make_interval(secs => ${leaseSeconds}))
     where id in (
       select id from webhook_outbox
        where delivered_at is null and failed_at is null
          and next_attempt_at <= now()
          and (locked_until is null or locked_until < now())
        order by next_attempt_at, id
        limit ${limit}
        for update skip locked)
    returning id, project_id, environment, url, event, payload, attempts, locked_until, created_at`.execute(db);
  return result.rows.map((row) => ({ ...row, locked_until: new Date(row.locked_until) }));
}

export async function markWebhookDelivered(db: Kysely<Database>, id: string, lease: Date): Promise<boolean> {
  const result = await db
    .updateTable('webhook_outbox')
    .set({ delivered_at: sql`now()`, locked_until: null, attempts: sql`attempts + 1`, last_error: null })
    .where('id', '=', id)
    .where('locked_until', '=', lease)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function markWebhookAttemptFailed(
  db: Kysely<Database>,
  id: string,
  lease: Date,
  outcome: { error: string; retryAfterSeconds: number | null },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_outbox')
    .set({
      attempts: sql`attempts + 1`,
      last_error: outcome.error,
      locked_until: null,
      ...(outcome.retryAfterSeconds === null
        ? { failed_at: sql`now()` }
        : { next_attempt_at: sql`now() + make_interval(secs => ${outcome.retryAfterSeconds})` }),
    })
    .where('id', '=', id)
    .where('locked_until', '=', lease)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Retention: delivered rows after `deliveredBefore`, given-up rows after `failedBefore`. */
export async function pruneWebhookOutbox(db: Kysely<Database>, cutoffs: { deliveredBefore: Date; failedBefore: Date }): Promise<number> {
  const result = await db
    .deleteFrom('webhook_outbox')
    .where((eb) =>
      eb.or([
        eb.and([eb('delivered_at', 'is not', null), eb('delivered_at', '<', cutoffs.deliveredBefore)]),
        eb.and([eb('failed_at', 'is not', null), eb('failed_at', '<', cutoffs.failedBefore)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
