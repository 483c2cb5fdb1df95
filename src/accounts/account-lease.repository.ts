// The refresh lease: the SQL of the refresh engine (refresh/refresher.ts). A replica that wants to call a
// provider first takes the account's lease with one atomic UPDATE (no transaction is held while
// the provider answers: PGlite has one connection, and a pool connection per waiter does not
// scale). Every write of a refresh result is fenced by (lease owner, attempt id), so a holder
// whose lease expired can never overwrite the work of the replica that took over.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AccountErrorCode, Database } from '../db/types.ts';
import { HEALTHY_ACCOUNT, NO_REFRESH_IN_FLIGHT, type AccountRow } from './account.repository.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** A row as returned by taking its lease, with the attempt record it replaced. */
export interface LeasedAccount extends AccountRow {
  /** Set when an earlier attempt was interrupted (process died, outcome unknown). */
  previous_attempt_id: string | null;
  previous_attempt_started_at: Date | null;
}

export interface Fence {
  id: string;
  owner: string;
  attemptId: string;
}

/**
 * Takes the lease when it is free or expired, writing the attempt record before any provider
 * call (crash safety: a later attempt can tell "interrupted" from "revoked"). The self-join
 * reads the attempt record being replaced; under READ COMMITTED a concurrent taker blocks on the
 * row lock and then re-checks the lease condition against the committed row, so only one wins.
 */
export async function takeRefreshLease(db: Db, id: string, owner: string, attemptId: string, leaseMs: number): Promise<LeasedAccount | undefined> {
  const result = await sql<LeasedAccount>`
    update accounts as a
       set refresh_lease_owner = ${owner},
           refresh_lease_until = now() + make_interval(secs => ${leaseMs / 1000}),
           refresh_attempt_id = ${attemptId},
           refresh_attempt_started_at = now()
      from accounts as prev
     where a.id = ${id}
       and prev.id = a.id
       and (a.refresh_lease_until is null or a.refresh_lease_until < now())
    returning a.*, prev.refresh_attempt_id as previous_attempt_id, prev.refresh_attempt_started_at as previous_attempt_started_at`.execute(db);
  return result.rows[0];
}

/**
 * The background refresher's claim: due accounts (not dead, not backing off, lease free),
 * locked with SKIP LOCKED so replicas running the same claim take disjoint sets, and leased in
 * the same statement. Each gets its own attempt id.
 */
export async function claimDueAccounts(
  db: Db,
  options: { owner: string; leaseMs: number; lookaheadMs: number; limit: number; exclude: readonly string[] },
): Promise<LeasedAccount[]> {
  const exclude = options.exclude.length === 0 ? sql`true` : sql`not (id = any(${[...options.exclude]}::text[]))`;
  const result = await sql<LeasedAccount>`
    with due as (
      select id from accounts
       where next_refresh_at <= now() + make_interval(secs => ${options.lookaheadMs / 1000})
         and not dead
         and (refresh_backoff_until is null or refresh_backoff_until <= now())
         and (refresh_lease_until is null or refresh_lease_until < now())
         and ${exclude}
       order by next_refresh_at
       limit ${options.limit}
       for update skip locked
    )
    update accounts as a
       set refresh_lease_owner = ${options.owner},
           refresh_lease_until = now() + make_interval(secs => ${options.leaseMs / 1000}),
           refresh_attempt_id = ${options.owner} || ':' || gen_random_uuid()::text,
           refresh_attempt_started_at = now()
      from due, accounts as prev
     where a.id = due.id
       and prev.id = a.id
    returning a.*, prev.refresh_attempt_id as previous_attempt_id, prev.refresh_attempt_started_at as previous_attempt_started_at`.execute(db);
  return result.rows;
}

/**
 * Gives the lease back without a result (the token was already fresh, or nothing could be
 * done). The attempt record it replaced is put back, so an interrupted attempt stays known.
 */
export async function releaseRefreshLease(
  db: Db,
  fence: Fence,
  restore: { attemptId: string | null; attemptStartedAt: Date | null },
  changes: { nextRefreshAt?: Date | null } = {},
): Promise<void> {
  await fencedUpdate(db, fence)
    .set({
      refresh_lease_owner: null,
      refresh_lease_until: null,
      refresh_attempt_id: restore.attemptId,
      refresh_attempt_started_at: restore.attemptStartedAt,
      ...(changes.nextRefreshAt === undefined ? {} : { next_refresh_at: changes.nextRefreshAt }),
    })
    .execute();
}

/** An UPDATE of the leased row that lands only while this attempt still holds its lease: the fence. */
function fencedUpdate(db: Db, fence: Fence) {
  return db.updateTable('accounts').where('id', '=', fence.id).where('refresh_lease_owner', '=', fence.owner).where('refresh_attempt_id', '=', fence.attemptId);
}

export interface RefreshResult {
  credentialsEnc: Buffer;
  /** Undefined keeps the stored refresh token (the provider did not send a new one). */
  refreshTokenEnc: Buffer | undefined;
  /** Undefined keeps the stored scopes (RFC 6749 §5.1: omitted scope = as before). */
  authorizedScopes: string[] | undefined;
  expiresAt: Date | null;
  nextRefreshAt: Date | null;
}

/**
 * Stores a refresh: access token, rotated refresh token and expiry in ONE statement, fenced by
 * the lease. Undefined when the fence no longer holds (the lease was lost or a reconnect
 * replaced the credentials meanwhile).
 */
export function commitRefresh(db: Db, fence: Fence, result: RefreshResult): Promise<AccountRow | undefined> {
  return fencedUpdate(db, fence)
    .set({
      credentials_enc: result.credentialsEnc,
      ...(result.refreshTokenEnc === undefined ? {} : { refresh_token_enc: result.refreshTokenEnc }),
      ...(result.authorizedScopes === undefined ? {} : { authorized_scopes: JSON.stringify(result.authorizedScopes) }),
      credentials_version: sql`credentials_version + 1`,
      expires_at: result.expiresAt,
      next_refresh_at: result.nextRefreshAt,
      last_refreshed_at: sql`now()`,
      ...HEALTHY_ACCOUNT,
      ...NO_REFRESH_IN_FLIGHT,
      updated_at: sql`now()`,
    })
    .returningAll()
    .executeTakeFirst();
}

/** Why an account failed: the stable code behaviour switches on, and the text people read. */
export interface AccountFailure {
  code: AccountErrorCode;
  text: string;
}

/** The account needs a reconnect: no more attempts until replaceAccountCredentials resets it. */
export function markAccountDead(db: Db, fence: Fence, failure: AccountFailure): Promise<AccountRow | undefined> {
  return fencedUpdate(db, fence)
    .set({
      dead: true,
      healthy: false,
      error: failure.text,
      error_code: failure.code,
      next_refresh_at: null,
      refresh_backoff_until: null,
      ...NO_REFRESH_IN_FLIGHT,
      updated_at: sql`now()`,
    })
    .returningAll()
    .executeTakeFirst();
}

/**
 * A failed attempt that may succeed later (provider down, malformed answer, client rejected):
 * unhealthy, backing off, kept. When the outcome is uncertain (timeout after the request went
 * out: the provider may have rotated the token) the attempt record stays, so the next attempt
 * knows a later invalid_grant may be our own doing.
 */
export function markRefreshFailed(
  db: Db,
  fence: Fence,
  failure: AccountFailure & { failures: number; backoffUntil: Date; keepAttempt: boolean },
): Promise<AccountRow | undefined> {
  return fencedUpdate(db, fence)
    .set({
      healthy: false,
      error: failure.text,
      error_code: failure.code,
      refresh_failures: failure.failures,
      refresh_backoff_until: failure.backoffUntil,
      next_refresh_at: failure.backoffUntil,
      refresh_lease_owner: null,
      refresh_lease_until: null,
      ...(failure.keepAttempt ? {} : { refresh_attempt_id: null, refresh_attempt_started_at: null }),
      updated_at: sql`now()`,
    })
    .returningAll()
    .executeTakeFirst();
}
