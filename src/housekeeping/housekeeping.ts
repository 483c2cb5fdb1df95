// Deletes the one-time records that outlive their use: expired connect tokens, abandoned OAuth
// states and expired API access tokens. None of them authenticates anything once expired (every
// lookup checks expires_at), so this is about keeping the tables and their indexes small, and about
// not keeping digests of old secrets longer than needed. Each kind is deleted in batches (SKIP
// LOCKED, so replicas running the same job never wait on each other or on a request), a bounded
// number per round, so one round never holds a long transaction on a large backlog.
import type { Kysely } from 'kysely';
import { deleteExpiredAccessTokens } from '../auth/access-token.repository.ts';
import { deleteExpiredConnectTokens } from '../connect/connect-token.repository.ts';
import type { Database } from '../db/types.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import { deleteExpiredOAuthStates } from '../oauth/oauth-state.repository.ts';

export interface HousekeepingOptions {
  intervalMs: number;
  batchSize: number;
  /** Batches of one kind per round; the rest waits for the next round. */
  maxBatchesPerRound: number;
  /**
   * A connect token is kept this long past its expiry: a flow started just before it expired may
   * still be completing (its OAuth state lives up to 10 minutes), and its result pages name it.
   */
  connectTokenGraceMs: number;
}

export const DEFAULT_HOUSEKEEPING_OPTIONS: HousekeepingOptions = {
  intervalMs: 10 * 60 * 1000,
  batchSize: 500,
  maxBatchesPerRound: 20,
  connectTokenGraceMs: 60 * 60 * 1000,
};

export interface HousekeepingReport {
  connectTokens: number;
  oauthStates: number;
  accessTokens: number;
}

export type HousekeepingJob = BackgroundJob & { runHousekeepingRound(): Promise<HousekeepingReport> };

interface LogSink {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export function createHousekeepingJob(
  deps: { db: Kysely<Database>; logger?: LogSink | undefined; now?: (() => Date) | undefined },
  options: Partial<HousekeepingOptions> = {},
): HousekeepingJob {
  const settings = { ...DEFAULT_HOUSEKEEPING_OPTIONS, ...options };
  const now = deps.now ?? (() => new Date());

  /** Runs `deleteBatch` until a batch comes back short (nothing more is due) or the round's cap. */
  async function drain(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < settings.maxBatchesPerRound; batch++) {
      const deleted = await deleteBatch(settings.batchSize);
      total += deleted;
      if (deleted < settings.batchSize) break;
    }
    return total;
  }

  async function runHousekeepingRound(): Promise<HousekeepingReport> {
    const report: HousekeepingReport = {
      connectTokens: await drain((limit) => deleteExpiredConnectTokens(deps.db, new Date(now().getTime() - settings.connectTokenGraceMs), limit)),
      oauthStates: await drain((limit) => deleteExpiredOAuthStates(deps.db, limit)),
      accessTokens: await drain((limit) => deleteExpiredAccessTokens(deps.db, limit)),
    };
    if (report.connectTokens + report.oauthStates + report.accessTokens > 0) deps.logger?.info({ housekeeping: report }, 'expired records deleted');
    return report;
  }

  const job = intervalJob(
    'housekeeping',
    settings.intervalMs,
    async () => {
      await runHousekeepingRound();
    },
    (err) => deps.logger?.error({ err }, 'housekeeping round failed'),
  );
  return { ...job, runHousekeepingRound };
}
