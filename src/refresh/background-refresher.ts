// Renews tokens before they expire (next_refresh_at, with jitter, a lookahead ahead of the
// request path's margin) and keeps idle refresh tokens alive. Every few seconds a round claims
// due accounts in batches: FOR UPDATE SKIP LOCKED and the lease in one statement, so replicas
// running the same round take disjoint accounts; the provider calls run outside any
// transaction, a few at a time. An account is handled at most once per round.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import { claimDueAccounts } from '../accounts/account-lease.repository.ts';
import { REFRESH_LOOKAHEAD_MS } from '../accounts/token-schedule.ts';
import type { CredentialRefresher, LogSink } from './refresher.ts';

export interface BackgroundRefresherOptions {
  intervalMs: number;
  lookaheadMs: number;
  /** Provider calls in flight at once; also the claim batch, so no lease waits in a queue. */
  concurrency: number;
  maxPerRound: number;
}

export const DEFAULT_BACKGROUND_OPTIONS: BackgroundRefresherOptions = {
  intervalMs: 5_000,
  lookaheadMs: REFRESH_LOOKAHEAD_MS,
  concurrency: 4,
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

  async function runRefreshRound(): Promise<RoundReport> {
    const report: RoundReport = { claimed: 0, refreshed: 0, failed: 0 };
    const seen: string[] = [];
    while (seen.length < settings.maxPerRound) {
      const batch = await claimDueAccounts(deps.db, {
        owner: deps.refresher.owner,
        leaseMs: deps.refresher.tuning.leaseMs,
        lookaheadMs: settings.lookaheadMs,
        limit: Math.min(settings.concurrency, settings.maxPerRound - seen.length),
        exclude: seen,
      });
      if (batch.length === 0) break;
      report.claimed += batch.length;
      for (const row of batch) seen.push(row.id);
      await Promise.all(
        batch.map((row) =>
          deps.refresher.refreshClaimed(row).then(
            // A failure is already recorded on the account (unhealthy/dead) and logged by the engine.
            (outcome) => (outcome.kind === 'fresh' || outcome.kind === 'refreshed' ? (report.refreshed += 1) : (report.failed += 1)),
            () => (report.failed += 1),
          ),
        ),
      );
    }
    return report;
  }

  const job = intervalJob(
    'token-refresher',
    settings.intervalMs,
    async () => {
      await runRefreshRound();
    },
    (err) => deps.logger?.error({ err }, 'token refresher round failed'),
  );
  return { ...job, runRefreshRound };
}
