// The audit log: who did what to which account, when, and with what result — never a secret.
// record() sits on the credential-fetch hot path, so it is synchronous and O(1): it appends to an
// in-memory ring buffer and returns. A flush writes the buffer with one multi-row INSERT per
// batch, every FLUSH_INTERVAL_MS after the first pending entry or as soon as BATCH_SIZE entries
// are waiting. The buffer is bounded: while the database is unreachable it keeps the newest
// MAX_BUFFERED entries and drops the oldest, counting every drop in the
// latchkey_audit_dropped_total metric and a warning log line, because an audit log that grows
// without bound would take the whole replica down with the database. So a long database outage
// loses audit entries (counted), never requests.
import { Counter, type Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { BackgroundJob } from '../jobs.ts';
import { insertAuditRows, type NewAuditRow } from './audit.repository.ts';
import { sanitizeDetails } from './sanitize.ts';

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
  private lastDropLogMs = 0;
  private readonly droppedCounter: Counter | undefined;
  private readonly failedFlushCounter: Counter | undefined;

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

  record(entry: AuditEntry): void {
    this.push({
      at: this.options.now?.() ?? new Date(),
      project_id: entry.projectId ?? null,
      environment: entry.environment ?? null,
      actor: entry.actor,
      action: entry.action,
      account_id: entry.accountId ?? null,
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

  /** Stops the timer and writes what is buffered (called when the server closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.flush();
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
      try {
        await insertAuditRows(this.db, batch);
        this.failures = 0;
      } catch (err) {
        this.putBack(batch);
        this.failures += 1;
        this.failedFlushCounter?.inc();
        this.options.logger?.warn({ err, pending: this.size, dropped: this.droppedTotal }, 'audit log flush failed; entries kept for retry');
        if (!this.stopped) this.schedule(Math.min(this.flushIntervalMs * 2 ** this.failures, MAX_RETRY_DELAY_MS));
        return;
      }
    }
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
