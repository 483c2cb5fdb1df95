// The scheduled health check of key-based accounts: such accounts never refresh, so without it a
// key revoked at the provider is noticed only when a backend's call fails. Each round claims the
// due accounts of key apps that declare a test request (SKIP LOCKED: replicas share the work,
// none checks an account another claimed) and runs their checks a few at a time.
import { claimDueAccountChecks } from '../accounts/account-check.repository.ts';
import type { AccountRow } from '../accounts/account.repository.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import type { LogSink } from '../refresh/refresher.ts';
import { checkAccount, type AccountCheckDeps } from './account-check.service.ts';

export interface AccountCheckOptions {
  /** How often each account is checked (LATCHKEY_ACCOUNT_CHECK_INTERVAL_SECONDS; default a day). */
  readonly intervalSeconds: number;
  /** How often a replica looks for due accounts. */
  readonly tickMs: number;
  /** Accounts claimed per round. */
  readonly batchSize: number;
  /** Test requests in flight at once. */
  readonly concurrency: number;
}

export const DEFAULT_ACCOUNT_CHECK_OPTIONS: AccountCheckOptions = { intervalSeconds: 86_400, tickMs: 60_000, batchSize: 50, concurrency: 4 };

export interface AccountCheckReport {
  readonly claimed: number;
  readonly ok: number;
  readonly failed: number;
  /** Not checked: no fresh credentials, or an error (logged). */
  readonly skipped: number;
}

export interface AccountCheckJob extends BackgroundJob {
  /** One round now (operators, tests). */
  runOnce(): Promise<AccountCheckReport>;
}

export function createAccountCheckJob(deps: AccountCheckDeps & { logger?: LogSink | undefined }, options: Partial<AccountCheckOptions> = {}): AccountCheckJob {
  const settings = { ...DEFAULT_ACCOUNT_CHECK_OPTIONS, ...options };
  const appSlugs = deps.accounts.registry
    .list()
    .filter((app) => app.auth_type === 'keys' && app.test_request !== undefined)
    .map((app) => app.slug);

  const runOnce = async (): Promise<AccountCheckReport> => {
    const rows = await claimDueAccountChecks(deps.db, { appSlugs, limit: settings.batchSize, now: deps.now(), intervalSeconds: settings.intervalSeconds });
    const counts = { ok: 0, failed: 0, skipped: 0 };
    await forEachLimited(rows, settings.concurrency, async (row: AccountRow) => {
      try {
        const result = await checkAccount(deps, row, { keepResponse: false });
        if (result.kind !== 'checked') counts.skipped++;
        else if (result.ok) counts.ok++;
        else counts.failed++;
      } catch (err) {
        counts.skipped++;
        deps.logger?.error({ err, accountId: row.id }, 'account check failed');
      }
    });
    return { claimed: rows.length, ...counts };
  };

  const job = intervalJob(
    'account-checks',
    settings.tickMs,
    async () => {
      await runOnce();
    },
    (err) => deps.logger?.error({ err }, 'account check round failed'),
  );
  return { ...job, runOnce };
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
