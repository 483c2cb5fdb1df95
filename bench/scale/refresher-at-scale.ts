// (b) The background refresher at scale: N accounts (default 100,000) whose access tokens expire
// within the window (default 60 minutes), a fake token endpoint answering in ~20 ms and rotating
// refresh tokens, latchkey with background jobs on as 1 and then 3 replicas on one database.
// Every token must be renewed before it expires, none twice.
//
// Time, stated honestly: account n's token expires at start + lead + (window − lead)·n/N. The lead
// (9 min) is the refresher's own reach: the refresh margin (300 s), the schedule's jitter (≤ 60 s)
// and the claim lookahead (60 s), plus two minutes to seed and start; so the first accounts come
// due about two minutes in and the demand is even, N / (window − lead) per second, across the run.
// --window-minutes below 60 compresses time (the same accounts in less time: a higher rate); the
// margin stays the refresher's real one. The fake issues tokens valid for twice the window, so a
// renewed account is not due again during the run: any second refresh is a duplicate.
//
// Every --fetch-every seconds, a fetch burst (autocannon against replica 1, accounts drawn from
// 10,000 of them) measures the credential fetch's latency while the refresher works.
import pg from 'pg';
import { benchAccountId, type ExpiryPlan } from '../lib/bench-accounts.ts';
import { writeBenchRegistry } from '../lib/bench-registry.ts';
import { createApiClient, issueBearer, type ApiCredentials } from '../lib/api-client.ts';
import { startFakeProvider } from '../lib/fake-provider-process.ts';
import { migrateLatchkey, startLatchkey, type LatchkeyProcess } from '../lib/latchkey-server.ts';
import { measureLoad, type MeasuredRun } from '../lib/load.ts';
import { RssSampler, cpuMicros } from '../lib/proc-stats.ts';
import { readMemoryBreakdown } from '../lib/process-metrics.ts';
import { printRuns } from '../lib/report.ts';
import { difference, readCounters, type DatabaseCounters } from '../lib/statement-counter.ts';
import { formatMegabytes, median } from '../lib/stats.ts';
import { createThrowawayDatabase } from '../lib/throwaway-database.ts';
import type { Workspace } from '../lib/workspace.ts';
import { createBenchProject, openSeedSession, seedAccounts, type BenchProject } from '../seed-accounts.ts';
import type { ScaleOptions } from './options.ts';

const LEAD_MS = 9 * 60_000;
const MONITOR_INTERVAL_MS = 15_000;
const FETCH_WORKING_SET = 10_000;

export interface RefresherResult {
  ok: boolean;
  replicas: number;
  peakRssBytes: number;
}

export async function runRefresherAtScale(options: ScaleOptions, workspace: Workspace): Promise<RefresherResult[]> {
  const windowMs = options.windowMinutes * 60_000;
  if (windowMs <= LEAD_MS + 60_000) throw new Error(`--window-minutes must exceed ${LEAD_MS / 60_000 + 1}`);
  const results: RefresherResult[] = [];
  for (const replicas of options.replicaCounts) results.push(await runWithReplicas(options, workspace, replicas));
  return results;
}

async function runWithReplicas(options: ScaleOptions, workspace: Workspace, replicas: number): Promise<RefresherResult> {
  const count = options.refreshAccounts;
  const windowMs = options.windowMinutes * 60_000;
  const plan: ExpiryPlan = { startMs: Date.now(), leadMs: LEAD_MS, spanMs: windowMs - LEAD_MS, count };
  const demand = count / (plan.spanMs / 1000);
  console.log(
    `\n(b) refresher: ${count} accounts, tokens expiring evenly from +${LEAD_MS / 60_000} to +${options.windowMinutes} min ` +
      `(demand ${demand.toFixed(1)} refreshes/s), fake provider answering in ${options.providerDelayMs} ms, ${replicas} replica(s) with background jobs on`,
  );
  const database = await createThrowawayDatabase();
  const monitor = new pg.Client({ connectionString: database.url });
  const stops: (() => Promise<void>)[] = [];
  try {
    await migrateLatchkey(database.url);
    await monitor.connect();
    const seedRegistry = await writeBenchRegistry(workspace.file('registry-seed'), 'http://127.0.0.1:9/token');
    const session = await openSeedSession({ databaseUrl: database.url, dataDir: workspace.file('unused'), keys: workspace.keys, registryDir: seedRegistry });
    let project: BenchProject;
    try {
      project = await createBenchProject(session, `bench-refresher-${replicas}`);
      const seconds = await seedAccounts(session, {
        project,
        first: 0,
        count,
        expiresAt: (index) => new Date(plan.startMs + plan.leadMs + (plan.spanMs * index) / count),
      });
      console.log(`seeded ${count} accounts in ${seconds.toFixed(1)} s`);
    } finally {
      await session.close();
    }
    await monitor.query('vacuum analyze accounts');

    const provider = await startFakeProvider({
      plan,
      delayMs: options.providerDelayMs,
      expiresInSeconds: (2 * windowMs) / 1000,
      logFile: workspace.file('fake-provider.log'),
    });
    stops.push(() => provider.stop());
    const servers: LatchkeyProcess[] = [];
    for (let replica = 1; replica <= replicas; replica++) {
      const registryDir = await writeBenchRegistry(workspace.file(`registry-r${replica}`), provider.tokenUrl(replica));
      const server = await startLatchkey({
        mode: 'development-with-loopback-provider',
        databaseUrl: database.url,
        dataDir: workspace.file('unused'),
        keys: workspace.keys,
        adminToken: workspace.adminToken,
        registryDir,
        backgroundJobs: true,
        logFile: workspace.file(`latchkey-refresher-${replicas}-r${replica}.log`),
      });
      servers.push(server);
      stops.push(() => server.stop());
    }
    const first = servers[0]!;
    const rss = new RssSampler(first.pid, 1000);
    const api = await createApiClient(first.origin, workspace.adminToken, project.projectId);
    // Warm replica 1 up (JIT, pools, the opened-credentials cache) before the first burst, which
    // runs before any account is due: the reference the later bursts compare with.
    await fetchDuringRun(first, api, project, { ...options, seconds: 3 }, count, -1);
    const cpuAtStart = servers.map((server) => cpuMicros(server.pid));
    const countersAtStart = await readCounters(monitor, database.name);

    const bursts: MeasuredRun[] = [];
    let burstCounters: DatabaseCounters = { transactions: 0, rowsUpdated: 0, rowsInserted: 0, rowsFetched: 0 };
    let burstRefreshes = 0;
    const fetchBurst = async (): Promise<void> => {
      const before = await readCounters(monitor, database.name);
      const refreshedBefore = (await provider.stats()).refreshed;
      bursts.push(await fetchDuringRun(first, api, project, options, count, bursts.length));
      const delta = difference(await readCounters(monitor, database.name), before);
      burstCounters = {
        transactions: burstCounters.transactions + delta.transactions,
        rowsUpdated: burstCounters.rowsUpdated + delta.rowsUpdated,
        rowsInserted: burstCounters.rowsInserted + delta.rowsInserted,
        rowsFetched: burstCounters.rowsFetched + delta.rowsFetched,
      };
      burstRefreshes += (await provider.stats()).refreshed - refreshedBefore;
    };

    const deadline = plan.startMs + windowMs + 60_000;
    let nextBurst = Date.now();
    let lastPrinted = 0;
    let maxBacklog = 0;
    let maxLagSeconds = 0;
    for (;;) {
      if (Date.now() >= nextBurst) {
        await fetchBurst();
        nextBurst = Date.now() + options.fetchEverySeconds * 1000;
      }
      const due = await monitor.query<{ backlog: string; oldest: Date | null }>(
        'select count(*) as backlog, min(next_refresh_at) as oldest from accounts where next_refresh_at <= now() and not dead',
      );
      const backlog = Number(due.rows[0]!.backlog);
      const oldest = due.rows[0]!.oldest;
      maxBacklog = Math.max(maxBacklog, backlog);
      if (oldest !== null) maxLagSeconds = Math.max(maxLagSeconds, (Date.now() - oldest.getTime()) / 1000);
      const stats = await provider.stats();
      if (Date.now() - lastPrinted >= 60_000) {
        lastPrinted = Date.now();
        console.log(
          `  +${((Date.now() - plan.startMs) / 60_000).toFixed(1)} min: refreshed ${stats.refreshed}/${count}, due and waiting ${backlog}, ` +
            `expired unrenewed ${stats.expiredUnrenewed}, duplicates ${stats.accountsByRefreshCount.more + stats.staleTokenUses}`,
        );
      }
      const allRenewed = stats.accountsByRefreshCount.never === 0;
      if (allRenewed || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(MONITOR_INTERVAL_MS, Math.max(0, nextBurst - Date.now()))));
    }
    // Let in-flight work and the statistics settle, then count.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const stats = await provider.stats();
    const counters = difference(await readCounters(monitor, database.name), countersAtStart);
    const cpuSeconds = servers.map((server, i) => (cpuMicros(server.pid) - cpuAtStart[i]!) / 1e6);
    const peakRssBytes = rss.stop();
    const memory = await readMemoryBreakdown(first.origin);
    const accounts = await monitor.query<Record<string, string>>(
      `select count(*) filter (where dead) as dead, count(*) filter (where not healthy) as unhealthy,
              count(*) filter (where expires_at <= now()) as expired, count(*) filter (where last_refreshed_at is null) as never_refreshed
         from accounts`,
    );
    const triggers = await monitor.query<{ trigger: string; outcome: string; n: string }>(
      `select details->>'trigger' as trigger, details->>'outcome' as outcome, count(*) as n from audit_log
        where action = 'account.token_refresh' group by 1, 2 order by 1, 2`,
    );
    const runSeconds = (Date.now() - plan.startMs) / 1000;
    // The rate while there was work: from the first refresh to the last one.
    const renewalSeconds = Math.max(1, ((stats.lastRefreshAtMs ?? 0) - (stats.firstRefreshAtMs ?? 0)) / 1000);
    const refreshesOutsideBursts = stats.refreshed - burstRefreshes;
    const transactionsOutsideBursts = counters.transactions - burstCounters.transactions;
    const duplicates = stats.accountsByRefreshCount.more + stats.staleTokenUses;
    const row = accounts.rows[0]!;

    console.log(
      `results, ${replicas} replica(s), after ${(runSeconds / 60).toFixed(1)} min (renewals from the first to the last took ${(renewalSeconds / 60).toFixed(1)} min):`,
    );
    console.log(
      `  renewed ${stats.accountsByRefreshCount.once + stats.accountsByRefreshCount.more}/${count}; expired unrenewed ${stats.expiredUnrenewed}; renewed only after expiry ${stats.renewedAfterExpiry}`,
    );
    console.log(
      `  duplicates: ${stats.accountsByRefreshCount.more} accounts refreshed twice or more, ${stats.staleTokenUses} uses of a rotated-away refresh token; rejected requests ${stats.rejected}`,
    );
    console.log(
      `  slack before expiry at renewal: min ${stats.slackSeconds.min?.toFixed(0)} s, median ${stats.slackSeconds.median?.toFixed(0)} s (the margin is 300 s)`,
    );
    console.log(`  most accounts due and waiting at once: ${maxBacklog}; oldest wait ${maxLagSeconds.toFixed(0)} s past next_refresh_at`);
    console.log(
      `  refreshes per replica: ${Object.entries(stats.byReplica)
        .sort()
        .map(([replica, n]) => `${replica} ${n} (${(n / renewalSeconds).toFixed(1)}/s)`)
        .join(', ')} between the first and the last refresh; demand ${demand.toFixed(1)}/s`,
    );
    console.log(`  server CPU over the run: ${cpuSeconds.map((s, i) => `r${i + 1} ${s.toFixed(0)} s`).join(', ')} (r1 also served the fetch bursts)`);
    console.log(
      `  SQL per refresh (pg_stat_database transactions, every replica, fetch bursts excluded): ${(transactionsOutsideBursts / Math.max(1, refreshesOutsideBursts)).toFixed(2)} ` +
        `(${transactionsOutsideBursts} transactions / ${refreshesOutsideBursts} refreshes); rows updated per refresh ${((counters.rowsUpdated - burstCounters.rowsUpdated) / Math.max(1, refreshesOutsideBursts)).toFixed(2)}`,
    );
    console.log(`  accounts now: dead ${row['dead']}, unhealthy ${row['unhealthy']}, expired ${row['expired']}, never refreshed ${row['never_refreshed']}`);
    console.log(`  refresh audit entries: ${triggers.rows.map((t) => `${t.trigger}/${t.outcome} ${t.n}`).join(', ')}`);
    console.log(
      `  replica 1 RSS, peak over the run: ${formatMegabytes(peakRssBytes)}; at the end: V8 heap ${formatMegabytes(memory.heapTotalBytes)} (${formatMegabytes(memory.heapUsedBytes)} used), external ${formatMegabytes(memory.externalBytes)}`,
    );
    console.log(
      `  fetch bursts on replica 1 during the run (p99 median ${median(bursts.map((b) => b.p99))} ms, max ${Math.max(...bursts.map((b) => b.p99))} ms):`,
    );
    printRuns(bursts);
    const ok = stats.expiredUnrenewed === 0 && stats.renewedAfterExpiry === 0 && duplicates === 0 && stats.accountsByRefreshCount.never === 0;
    return { ok, replicas, peakRssBytes };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await monitor.end().catch(() => {});
    await database.drop();
  }
}

async function fetchDuringRun(
  server: LatchkeyProcess,
  api: ApiCredentials,
  project: BenchProject,
  options: ScaleOptions,
  count: number,
  burst: number,
): Promise<MeasuredRun> {
  const bearer = await issueBearer(server.origin, api);
  const size = Math.min(count, FETCH_WORKING_SET);
  const paths = Array.from({ length: size }, (_, i) => {
    const id = benchAccountId(project.projectId, Math.floor((i * count) / size));
    return `/v1/connect/${project.projectId}/accounts/${id}?include_credentials=true`;
  });
  return measureLoad(
    `fetch burst ${burst + 1}`,
    { origin: server.origin, paths, headers: { authorization: `Bearer ${bearer}` }, connections: options.connections, seconds: options.seconds },
    server.pid,
  );
}
