// The audit log: who did what to which account, when, and with what result — never a secret.
// record() sits on the credential-fetch hot path, so it is synchronous and O(1): it appends to an
// in-memory ring buffer and returns. A flush writes the buffer with one multi-row INSERT per
// batch, every FLUSH_INTERVAL_MS after the first pending entry or as soon as BATCH_SIZE entries
// are waiting. The buffer is bounded: while the database is unreachable it keeps the newest
// MAX_BUFFERED entries and drops the oldest, counting every drop in the
// latchkey_audit_dropped_total metric and a warning log line, because an audit log that grows
// without bound would take the whole replica down with the database. So a long database outage
// loses audit entries (counted), never requests.
//
// One entry must never stop the log: every string is made storable before it is buffered
// (storable.ts: NUL and lone surrogates, which `jsonb` and `text` refuse), and a batch that still
// fails is retried entry by entry, so a row PostgreSQL refuses as data is isolated, counted in
// latchkey_audit_unwritable_total and logged (without its content), and the rest are written.
import { Counter, type Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { BackgroundJob } from '../jobs.ts';
import { insertAuditRows, type NewAuditRow } from './audit.repository.ts';
import { sanitizeDetails } from './sanitize.ts';
import { storableText } from './storable.ts';

export type AuditResult = 'ok' | 'denied' | 'invalid' | 'not_found' | 'conflict' | 'unavailable' | 'error';

export interface AuditEntry {
  projectId?: string | null | undefined;
  environment?: string | null | undefined;
  /** `admin`, `client:lkc_…`, `system:refresher`, `user:<external_id>` … */
  actor: string;
  /** `credentials.read`, `account.delete`, `account.rename`, `account.refresh`, … */
  action: string;
  accountId?: string | null | undefined;
  result: AuditResult;
  /** Context only; keys that look secret are dropped (see sanitize.ts). */
  details?: Record<string, unknown> | undefined;
}

export interface AuditLogOptions {
  flushIntervalMs?: number;
  batchSize?: number;
  maxBuffered?: number;
  logger?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  metrics?: Registry;
  /** When an entry happened (the app's clock). */
  now?: () => Date;
}

export const FLUSH_INTERVAL_MS = 250;
export const BATCH_SIZE = 500;
export const MAX_BUFFERED = 20_000;
const MAX_RETRY_DELAY_MS = 5_000;

export class AuditLog implements BackgroundJob {
  readonly name = 'audit-log';
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly ring: (NewAuditRow | undefined)[];
  private head = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private stopped = false;
  private droppedTotal = 0;
  private unwritableTotal = 0;
  private lastDropLogMs = 0;
  private readonly droppedCounter: Counter | undefined;
  private readonly failedFlushCounter: Counter | undefined;
  private readonly unwritableCounter: Counter | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: AuditLogOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
    this.batchSize = options.batchSize ?? BATCH_SIZE;
    this.ring = new Array<NewAuditRow | undefined>(Math.max(options.maxBuffered ?? MAX_BUFFERED, this.batchSize));
    if (options.metrics !== undefined) {
      this.droppedCounter = new Counter({
        name: 'latchkey_audit_dropped_total',
        help: 'Audit entries dropped because the buffer was full (database unreachable)',
        registers: [options.metrics],
      });
      this.failedFlushCounter = new Counter({
        name: 'latchkey_audit_flush_failures_total',
        help: 'Audit flushes that failed (entries kept and retried)',
        registers: [options.metrics],
      });
      this.unwritableCounter = new Counter({
        name: 'latchkey_audit_unwritable_total',
        help: 'Audit entries the database refused as data even alone (isolated and dropped so the rest are written)',
        registers: [options.metrics],
      });
    }
  }

  /** Entries waiting for a flush. */
  get pending(): number {
    return this.size;
  }

  /** Entries dropped since start because the buffer was full. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Entries the database refused even when written alone (dropped, counted, logged). */
  get unwritable(): number {
    return this.unwritableTotal;
  }

  record(entry: AuditEntry): void {
    this.push({
      at: this.options.now?.() ?? new Date(),
      project_id: storableText(entry.projectId ?? null),
      environment: storableText(entry.environment ?? null),
      actor: storableText(entry.actor),
      action: storableText(entry.action),
      account_id: storableText(entry.accountId ?? null),
      result: entry.result,
      details: entry.details === undefined ? null : JSON.stringify(sanitizeDetails(entry.details)),
    });
    if (this.stopped) return;
    // While the database is failing, the retry timer alone paces the attempts.
    if (this.size >= this.batchSize && this.failures === 0) this.schedule(0);
    else this.schedule(this.flushIntervalMs);
  }

  /** Writes everything recorded so far (flushes run one at a time). Never rejects. */
  flush(): Promise<void> {
    const run = this.tail.then(() => this.drain());
    this.tail = run;
    return run;
  }

  start(): void {
    this.stopped = false;
    if (this.size > 0) this.schedule(this.flushIntervalMs);
  }

  /**
   * Stops the timer and writes what is buffered (when the server closes, and again in server.ts
   * once the jobs have stopped, before the pool closes). What the database would not take is said.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.flush();
    if (this.size > 0) this.options.logger?.error({ pending: this.size }, 'audit log stopped with entries unwritten: the database is unreachable');
  }

  private push(row: NewAuditRow): void {
    const capacity = this.ring.length;
    if (this.size === capacity) {
      // Full: overwrite the oldest entry.
      this.head = (this.head + 1) % capacity;
      this.size -= 1;
      this.countDrops(1);
    }
    this.ring[(this.head + this.size) % capacity] = row;
    this.size += 1;
  }

  private take(count: number): NewAuditRow[] {
    const n = Math.min(count, this.size);
    const out: NewAuditRow[] = [];
    for (let i = 0; i < n; i++) {
      const index = (this.head + i) % this.ring.length;
      out.push(this.ring[index]!);
      this.ring[index] = undefined;
    }
    this.head = (this.head + n) % this.ring.length;
    this.size -= n;
    return out;
  }

  /** Puts a failed batch back in front; what no longer fits (the oldest) is dropped. */
  private putBack(rows: NewAuditRow[]): void {
    const capacity = this.ring.length;
    const room = capacity - this.size;
    const kept = rows.length <= room ? rows : rows.slice(rows.length - room);
    if (kept.length < rows.length) this.countDrops(rows.length - kept.length);
    for (let i = kept.length - 1; i >= 0; i--) {
      this.head = (this.head - 1 + capacity) % capacity;
      this.ring[this.head] = kept[i];
      this.size += 1;
    }
  }

  private async drain(): Promise<void> {
    this.clearTimer();
    while (this.size > 0) {
      const batch = this.take(this.batchSize);
      let written: boolean;
      try {
        await insertAuditRows(this.db, batch);
        written = true;
      } catch {
        written = await this.writeOneByOne(batch);
      }
      if (!written) {
        this.failures += 1;
        this.failedFlushCounter?.inc();
        if (!this.stopped) this.schedule(Math.min(this.flushIntervalMs * 2 ** this.failures, MAX_RETRY_DELAY_MS));
        return;
      }
      this.failures = 0;
    }
  }

  /**
   * A batch failed: writes its entries one at a time, so one bad row cannot hold back the others.
   * A row refused as data (isRefusedAsData) is dropped and counted; any other
   * failure (the database is unreachable) puts the rest back for a later retry and returns false.
   */
  private async writeOneByOne(batch: NewAuditRow[]): Promise<boolean> {
    for (const [index, row] of batch.entries()) {
      try {
        await insertAuditRows(this.db, [row]);
      } catch (err) {
        if (isRefusedAsData(err)) {
          this.countUnwritable(row, err);
          continue;
        }
        this.putBack(batch.slice(index));
        this.options.logger?.warn({ err, pending: this.size, dropped: this.droppedTotal }, 'audit log flush failed; entries kept for retry');
        return false;
      }
    }
    return true;
  }

  private countUnwritable(row: NewAuditRow, err: unknown): void {
    this.unwritableTotal += 1;
    this.unwritableCounter?.inc();
    // The action and the SQLSTATE only: the row's values are what the database could not take.
    this.options.logger?.error(
      { action: row.action, sqlstate: sqlStateOf(err), unwritableTotal: this.unwritableTotal },
      'audit entry refused by the database; dropped so the rest of the log is written',
    );
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) {
      if (delayMs > 0) return;
      this.clearTimer();
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private countDrops(count: number): void {
    this.droppedTotal += count;
    this.droppedCounter?.inc(count);
    // One line per second at most: a full buffer drops on every request.
    const now = Date.now();
    if (now - this.lastDropLogMs < 1000) return;
    this.lastDropLogMs = now;
    this.options.logger?.warn({ droppedTotal: this.droppedTotal }, 'audit log buffer full: oldest entries dropped');
  }
}

function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9][0-9A-Z]{4}$/.test(code) ? code : undefined;
}

/**
 * The row's fault, not the database's: PostgreSQL's data exception (22…) and integrity violation
 * (23…) classes, or a value the driver could not even serialise (an invalid Date is a RangeError).
 * Anything else (a refused connection, a closed pool) means the database is away: keep the rows.
 */
function isRefusedAsData(err: unknown): boolean {
  if (err instanceof RangeError || err instanceof TypeError) return true;
  const state = sqlStateOf(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}
