// accounts.last_used_at without a query on the hot path: a credential read only notes the
// account in memory (a Map.set); a timer writes the notes in one UPDATE per batch. The write is
// coarse on purpose: a row is touched only when its stored time is older than
// USAGE_GRANULARITY_MS, so an account read a thousand times a minute costs one row version per
// granule, not a thousand. A replica that dies before its flush loses at most one interval of
// notes, which only makes last_used_at a little older than it should be.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { BackgroundJob } from '../jobs.ts';

export const USAGE_GRANULARITY_MS = 5 * 60_000;
export const USAGE_FLUSH_INTERVAL_MS = 30_000;
/** Notes kept at most before a flush is forced (bounds memory when the database is slow). */
const MAX_PENDING = 10_000;
const UPDATE_BATCH = 1_000;

export interface AccountUsageOptions {
  readonly flushIntervalMs?: number;
  readonly now?: () => Date;
  readonly logger?: { error(obj: object, msg: string): void };
}

export class AccountUsage implements BackgroundJob {
  readonly name = 'account-usage';
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: AccountUsageOptions = {},
  ) {}

  /** The hot path's part: remember that the account was used now. */
  noteUse(accountId: string): void {
    this.pending.set(accountId, (this.options.now ?? (() => new Date()))());
    if (this.pending.size >= MAX_PENDING) {
      void this.flush();
      return;
    }
    if (this.timer === undefined && !this.stopped) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushIntervalMs ?? USAGE_FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Writes every note taken so far (tests, shutdown). */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending = new Map();
    this.flushing = this.flushing.then(() => this.write(batch)).catch((err: unknown) => this.options.logger?.error({ err }, 'last_used_at write failed'));
    return this.flushing;
  }

  private async write(uses: readonly (readonly [string, Date])[]): Promise<void> {
    for (let start = 0; start < uses.length; start += UPDATE_BATCH) {
      await touchLastUsed(this.db, uses.slice(start, start + UPDATE_BATCH));
    }
  }

  start(): void {
    this.stopped = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }
}

/** One UPDATE for the batch; rows whose last_used_at is within the granularity are left alone. */
async function touchLastUsed(db: Kysely<Database>, uses: readonly (readonly [string, Date])[]): Promise<void> {
  if (uses.length === 0) return;
  const values = sql.join(uses.map(([id, at]) => sql`(${id}::text, ${at.toISOString()}::timestamptz)`));
  await sql`
    update accounts set last_used_at = used.at
    from (values ${values}) as used(id, at)
    where accounts.id = used.id
      and (accounts.last_used_at is null or accounts.last_used_at < used.at - ${USAGE_GRANULARITY_MS} * interval '1 millisecond')`.execute(db);
}
