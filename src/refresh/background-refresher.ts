// Renews tokens before they expire (next_refresh_at, with jitter, a lookahead ahead of the
// request path's margin) and keeps idle refresh tokens alive. Every few seconds a round claims
// due accounts: FOR UPDATE SKIP LOCKED and the lease in one statement, so replicas running the
// same round take disjoint accounts; the provider calls run outside any transaction.
//
// A round is a pool of `concurrency` refreshes in flight, refilled as they finish (not a batch
// that waits for its slowest member): a claim is made once a quarter of the slots are free, for
// exactly the free slots, so a claimed account starts at once and no lease ticks away in a queue
// while a slow provider holds the others. An account is handled at most once per round; a round
// that reached maxPerRound is followed by the next one at once, not after the interval.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import { claimDueAccounts, type LeasedAccount } from '../accounts/account-lease.repository.ts';
import { REFRESH_LOOKAHEAD_MS } from '../accounts/token-schedule.ts';
import type { CredentialRefresher, LogSink } from './refresher.ts';

export interface BackgroundRefresherOptions {
  intervalMs: number;
  lookaheadMs: number;
  /** Provider calls in flight at once (LATCHKEY_REFRESH_CONCURRENCY). */
  concurrency: number;
  /** Accounts one round claims at most (the exclusion list of a round grows with it). */
  maxPerRound: number;
}

export const DEFAULT_REFRESH_CONCURRENCY = 16;

export const DEFAULT_BACKGROUND_OPTIONS: BackgroundRefresherOptions = {
  intervalMs: 5_000,
  lookaheadMs: REFRESH_LOOKAHEAD_MS,
  concurrency: DEFAULT_REFRESH_CONCURRENCY,
  maxPerRound: 500,
};

export interface RoundReport {
  claimed: number;
  refreshed: number;
  failed: number;
}

export type TokenRefresherJob = BackgroundJob & { runRefreshRound(): Promise<RoundReport> };

export function createBackgroundRefresher(
  deps: { db: Kysely<Database>; refresher: CredentialRefresher; logger?: LogSink | undefined },
  options: Partial<BackgroundRefresherOptions> = {},
): TokenRefresherJob {
  const settings = { ...DEFAULT_BACKGROUND_OPTIONS, ...options };
  // Waiting for a quarter of the slots keeps the claims (one statement each) to a few per
  // `concurrency` refreshes; the slots idle meanwhile for less than one provider call.
  const claimAtLeast = Math.max(1, Math.ceil(settings.concurrency / 4));
  let stopping = false;

  async function runRefreshRound(): Promise<RoundReport> {
    const report: RoundReport = { claimed: 0, refreshed: 0, failed: 0 };
    const seen: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let exhausted = false;

    const start = (row: LeasedAccount): void => {
      const flight = deps.refresher.refreshClaimed(row).then(
        // A failure is already recorded on the account (unhealthy/dead) and logged by the engine.
        (outcome) => {
          if (outcome.kind === 'fresh' || outcome.kind === 'refreshed') report.refreshed += 1;
          else report.failed += 1;
        },
        () => {
          report.failed += 1;
        },
      );
      const tracked = flight.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };

    try {
      for (;;) {
        const room = settings.maxPerRound - seen.length;
        const free = Math.min(settings.concurrency - inFlight.size, room);
        if (!exhausted && !stopping && room > 0 && free >= Math.min(claimAtLeast, room)) {
          const batch = await claimDueAccounts(deps.db, {
            owner: deps.refresher.owner,
            leaseMs: deps.refresher.tuning.leaseMs,
            lookaheadMs: settings.lookaheadMs,
            limit: free,
            exclude: seen,
          });
          // Fewer than asked for: nothing else is due (or the rest is leased by other replicas).
          if (batch.length < free) exhausted = true;
          report.claimed += batch.length;
          for (const row of batch) {
            seen.push(row.id);
            start(row);
          }
          continue;
        }
        if (inFlight.size === 0) break;
        await Promise.race(inFlight);
      }
    } finally {
      // A failed claim (database down) still lets the refreshes already started finish.
      await Promise.all(inFlight);
    }
    return report;
  }

  const job = intervalJob(
    'token-refresher',
    settings.intervalMs,
    async () => {
      // A full round means more may be due: go on at once instead of waiting for the interval.
      while (!stopping && (await runRefreshRound()).claimed >= settings.maxPerRound);
    },
    (err) => deps.logger?.error({ err }, 'token refresher round failed'),
  );
  return {
    ...job,
    start: () => {
      stopping = false;
      job.start();
    },
    stop: async () => {
      stopping = true;
      await job.stop();
    },
    runRefreshRound,
  };
}
