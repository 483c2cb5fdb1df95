// Webhook delivery from the PostgreSQL outbox. Each tick claims a batch of due rows under a
// lease (see outbox.repository.ts), POSTs them with bounded concurrency outside any transaction,
// signed the Standard Webhooks way with the project environment's key, and records the outcome:
// 2xx → delivered; a destination the egress guard refuses → given up at once (never retried into
// an internal host); anything else → retry with exponential backoff and jitter, up to a limit.
// Any number of replicas may run this: SKIP LOCKED + the lease mean no row is sent by two
// workers at once, and a crashed worker's rows come back when its lease runs out.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { EgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import type { Vault } from '../keys/vault.ts';
import { claimDueWebhooks, markWebhookAttemptFailed, markWebhookDelivered, pruneWebhookOutbox, type OutboxRow } from './outbox.repository.ts';
import { ensureSigningKey, signWebhook } from './signing-key.ts';

export interface DeliveryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DeliveryOptions {
  db: Kysely<Database>;
  vault: Vault;
  /** Every delivery goes through it: the URL was checked when it was registered and is again here. */
  egress: EgressGuard;
  logger?: DeliveryLogger | undefined;
  /** Rows claimed per tick. */
  batchSize?: number;
  /** Requests in flight at once per tick. */
  concurrency?: number;
  /** Whole-request deadline (connect, headers, body). */
  timeoutMs?: number;
  /** How long a claim stays exclusive; must comfortably exceed timeoutMs. */
  leaseSeconds?: number;
  /** Attempts before giving up (failed_at). */
  maxAttempts?: number;
  backoffBaseSeconds?: number;
  backoffCapSeconds?: number;
}

export const DELIVERY_DEFAULTS = {
  batchSize: 20,
  concurrency: 8,
  timeoutMs: 10_000,
  leaseSeconds: 60,
  maxAttempts: 12,
  backoffBaseSeconds: 5,
  backoffCapSeconds: 3600,
} as const;

export interface DeliveryReport {
  claimed: number;
  delivered: number;
  retrying: number;
  gaveUp: number;
}

type AttemptOutcome = { ok: true } | { ok: false; error: string; retryAfterHeaderSeconds?: number; final?: true };

/** One tick: claim, send, record. Returns what happened (tests call this directly). */
export async function deliverDueWebhooks(options: DeliveryOptions): Promise<DeliveryReport> {
  const settings = { ...DELIVERY_DEFAULTS, ...definedOnly(options) };
  const rows = await claimDueWebhooks(options.db, settings.batchSize, settings.leaseSeconds);
  const report: DeliveryReport = { claimed: rows.length, delivered: 0, retrying: 0, gaveUp: 0 };
  if (rows.length === 0) return report;

  // One key lookup per project environment per tick; a regenerated key applies from the next tick.
  const keys = new Map<string, Promise<string | undefined>>();
  const keyFor = (row: OutboxRow): Promise<string | undefined> => {
    const cacheKey = `${row.project_id}/${row.environment}`;
    let key = keys.get(cacheKey);
    if (key === undefined) {
      key = ensureSigningKey(options.db, options.vault, { projectId: row.project_id, environment: row.environment });
      keys.set(cacheKey, key);
    }
    return key;
  };

  const queue = [...rows];
  const worker = async (): Promise<void> => {
    for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
      const outcome = await attempt(row, keyFor, options.egress, settings.timeoutMs);
      if (outcome.ok) {
        if (await markWebhookDelivered(options.db, row.id, row.locked_until)) report.delivered++;
        continue;
      }
      const attemptNumber = row.attempts + 1;
      const giveUp = outcome.final === true || attemptNumber >= settings.maxAttempts;
      const retryAfterSeconds = giveUp
        ? null
        : backoffSeconds(attemptNumber, settings.backoffBaseSeconds, settings.backoffCapSeconds, outcome.retryAfterHeaderSeconds);
      await markWebhookAttemptFailed(options.db, row.id, row.locked_until, { error: outcome.error, retryAfterSeconds });
      if (giveUp) report.gaveUp++;
      else report.retrying++;
      // The URL stays out of the log: customers put tokens in webhook URLs' query strings.
      options.logger?.[giveUp ? 'error' : 'warn'](
        { webhookId: row.id, event: row.event, attempt: attemptNumber, error: outcome.error, retryInSeconds: retryAfterSeconds },
        giveUp ? 'webhook delivery given up' : 'webhook delivery failed; will retry',
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, rows.length) }, worker));
  return report;
}

async function attempt(
  row: OutboxRow,
  keyFor: (row: OutboxRow) => Promise<string | undefined>,
  egress: EgressGuard,
  timeoutMs: number,
): Promise<AttemptOutcome> {
  let signingKey: string | undefined;
  try {
    signingKey = await keyFor(row);
  } catch {
    return { ok: false, error: 'the signing key could not be read' };
  }
  if (signingKey === undefined) return { ok: false, error: 'the project environment no longer exists' };
  const body = JSON.stringify(row.payload);
  const timestamp = Math.floor(Date.now() / 1000);
  let status: number;
  let retryAfterHeader: string | string[] | undefined;
  try {
    // A redirect is never followed (egressRequest returns it): it could point the signed payload anywhere.
    const response = await egress.request(row.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'latchkey-webhooks/1',
        'webhook-id': row.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(signingKey, row.id, timestamp, body),
      },
      body,
      timeouts: { firstByteMs: timeoutMs, totalMs: timeoutMs },
    });
    status = response.statusCode;
    retryAfterHeader = response.headers['retry-after'];
    // Nothing in the receiver's body matters: a little is drained so the connection can be
    // reused, anything longer is cut off.
    await response.body.dump({ limit: 16 * 1024 }).catch(() => {});
  } catch (err) {
    if (!(err instanceof EgressError)) throw err;
    return describeEgressFailure(err, timeoutMs);
  }
  if (status >= 200 && status < 300) return { ok: true };
  const retryAfter = parseRetryAfter(typeof retryAfterHeader === 'string' ? retryAfterHeader : null);
  return {
    ok: false,
    error: status >= 300 && status < 400 ? `redirect ${status} not followed` : `http ${status}`,
    ...(retryAfter === undefined ? {} : { retryAfterHeaderSeconds: retryAfter }),
  };
}

/** A stable, value-free description for last_error (the URL stays out: it may hold a token). */
function describeEgressFailure(err: EgressError, timeoutMs: number): AttemptOutcome {
  switch (err.code) {
    // The destination is internal, by its URL or by what its name resolves to now: giving up at
    // once means a DNS answer flipped to a private address is never tried again and again.
    case 'host_not_allowed':
      return { ok: false, error: `host not allowed (${err.reason})`, final: true };
    case 'upstream_timeout':
      return { ok: false, error: `timeout after ${timeoutMs} ms` };
    case 'upstream_unreachable':
      return { ok: false, error: `connection failed (${err.reason})` };
    case 'upstream_response_too_large':
      return { ok: false, error: 'response too large' };
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,7}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** base · 2^(n−1), capped, with "equal jitter" (half fixed, half random) so retries spread out. */
export function backoffSeconds(attemptNumber: number, baseSeconds: number, capSeconds: number, retryAfterSeconds?: number): number {
  const ceiling = Math.min(capSeconds, baseSeconds * 2 ** (attemptNumber - 1));
  const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.min(capSeconds, Math.max(jittered, retryAfterSeconds ?? 0));
}

function definedOnly(options: DeliveryOptions): Partial<typeof DELIVERY_DEFAULTS> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(DELIVERY_DEFAULTS) as (keyof typeof DELIVERY_DEFAULTS)[]) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out as Partial<typeof DELIVERY_DEFAULTS>;
}

export const WEBHOOK_DELIVERY_INTERVAL_MS = 500;

/** Delivered rows are kept a week for inspection, given-up rows a month; pruned every 10 minutes. */
export const OUTBOX_RETENTION = { deliveredDays: 7, failedDays: 30, pruneEveryMs: 10 * 60 * 1000 } as const;

export function webhookDeliveryJob(options: DeliveryOptions & { intervalMs?: number }): BackgroundJob {
  let lastPrunedAt = 0;
  const day = 24 * 60 * 60 * 1000;
  return intervalJob(
    'webhook-delivery',
    options.intervalMs ?? WEBHOOK_DELIVERY_INTERVAL_MS,
    async () => {
      // Keep going while full batches come back, so a backlog drains faster than one batch per tick.
      const batchSize = options.batchSize ?? DELIVERY_DEFAULTS.batchSize;
      for (let round = 0; round < 10; round++) {
        const report = await deliverDueWebhooks(options);
        if (report.claimed < batchSize) break;
      }
      if (Date.now() - lastPrunedAt >= OUTBOX_RETENTION.pruneEveryMs) {
        lastPrunedAt = Date.now();
        await pruneWebhookOutbox(options.db, {
          deliveredBefore: new Date(Date.now() - OUTBOX_RETENTION.deliveredDays * day),
          failedBefore: new Date(Date.now() - OUTBOX_RETENTION.failedDays * day),
        });
      }
    },
    (err) => options.logger?.error({ err }, 'webhook delivery tick failed'),
  );
}
