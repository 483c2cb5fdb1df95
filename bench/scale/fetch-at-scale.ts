// (a) The credential fetch at 1M accounts against the same at 10k, same harness: latchkey and
// the bare baseline alternate, each request fetching an account drawn at random from a working
// set spread evenly across the whole table (every account at 10k; every 100th at 1M), so the
// primary-key lookups really walk the larger index and heap. The working set (10,000) fits in
// latchkey's opened-credentials cache either way, so only the database's size differs; one more
// run at 1M draws from 100,000 accounts, beyond that cache (most reads decrypt).
// Tokens are fresh (issued at seeding, valid an hour): no refresh happens.
import pg from 'pg';
import { benchAccountId } from '../lib/bench-accounts.ts';
import { NEVER_CONTACTED_TOKEN_URL, writeBenchRegistry } from '../lib/bench-registry.ts';
import { createApiClient, issueBearer } from '../lib/api-client.ts';
import { startBaseline } from '../lib/baseline-process.ts';
import { printDatabaseSizes, readDatabaseSizes } from '../lib/database-sizes.ts';
import { migrateLatchkey, startLatchkey } from '../lib/latchkey-server.ts';
import { measureLoad, type MeasuredRun } from '../lib/load.ts';
import { failedRequests, printRuns } from '../lib/report.ts';
import { formatMegabytes, median } from '../lib/stats.ts';
import { rssBytes } from '../lib/proc-stats.ts';
import { readMemoryBreakdown } from '../lib/process-metrics.ts';
import { createThrowawayDatabase } from '../lib/throwaway-database.ts';
import type { Workspace } from '../lib/workspace.ts';
import { createBenchProject, openSeedSession, seedAccounts, type BenchProject, type SeedSession } from '../seed-accounts.ts';
import type { ScaleOptions } from './options.ts';

const P99_TARGET = 1.1;

export interface FetchAtScaleResult {
  ok: boolean;
  /** Peak RSS of the latchkey process during the fetch runs at the large size. */
  peakRssBytes: number;
}

/** Indexes of `size` accounts spread evenly over 0 … total-1. */
function spreadIndexes(total: number, size: number): number[] {
  const count = Math.min(total, size);
  return Array.from({ length: count }, (_, i) => Math.floor((i * total) / count));
}

export async function runFetchAtScale(options: ScaleOptions, workspace: Workspace): Promise<FetchAtScaleResult> {
  const database = await createThrowawayDatabase();
  const sizes = new pg.Client({ connectionString: database.url });
  let session: SeedSession | undefined;
  try {
    const registryDir = await writeBenchRegistry(workspace.file('registry-fetch'), NEVER_CONTACTED_TOKEN_URL);
    await migrateLatchkey(database.url);
    await sizes.connect();
    session = await openSeedSession({ databaseUrl: database.url, dataDir: workspace.file('unused'), keys: workspace.keys, registryDir });
    const project = await createBenchProject(session, 'bench-scale');
    const expiresAt = new Date(Date.now() + 3600_000);
    const seed = async (first: number, count: number): Promise<void> => {
      const seconds = await seedAccounts(session!, { project, first, count, expiresAt: () => expiresAt });
      // After a bulk load a DBA (or, later, autovacuum) analyses the table; measure as in steady state.
      await sizes.query('vacuum analyze accounts');
      await sizes.query('vacuum analyze external_users');
      console.log(`seeded accounts ${first} … ${first + count - 1} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)} accounts/s, COPY)`);
    };

    console.log(
      `\n(a) credential fetch at ${options.smallAccounts} and at ${options.accounts} accounts; autocannon -c ${options.connections} -d ${options.seconds}, ${options.rounds} rounds`,
    );
    await seed(0, options.smallAccounts);
    printDatabaseSizes(`${options.smallAccounts}`, await readDatabaseSizes(sizes, database.name), options.smallAccounts);
    const small = await measureAtSize(options, workspace, database.url, registryDir, project, options.smallAccounts, false);

    await seed(options.smallAccounts, options.accounts - options.smallAccounts);
    printDatabaseSizes(`${options.accounts}`, await readDatabaseSizes(sizes, database.name), options.accounts);
    const large = await measureAtSize(options, workspace, database.url, registryDir, project, options.accounts, true);

    const ratio = large.fetchP99 / small.fetchP99;
    console.log(
      `fetch p99 at ${options.accounts} / at ${options.smallAccounts}: ${large.fetchP99} ms / ${small.fetchP99} ms = ${ratio.toFixed(2)} (target ≤ ${P99_TARGET}: ${ratio <= P99_TARGET ? 'met' : 'MISSED'}); ` +
        `baseline ${large.baselineP99} ms / ${small.baselineP99} ms = ${(large.baselineP99 / small.baselineP99).toFixed(2)}`,
    );
    return { ok: ratio <= P99_TARGET && !large.failed && !small.failed, peakRssBytes: large.peakRssBytes };
  } finally {
    await session?.close();
    await sizes.end().catch(() => {});
    await database.drop();
  }
}

interface SizeResult {
  fetchP99: number;
  baselineP99: number;
  peakRssBytes: number;
  failed: boolean;
}

async function measureAtSize(
  options: ScaleOptions,
  workspace: Workspace,
  databaseUrl: string,
  registryDir: string,
  project: BenchProject,
  total: number,
  withColdRun: boolean,
): Promise<SizeResult> {
  const latchkey = await startLatchkey({
    mode: 'production',
    databaseUrl,
    dataDir: workspace.file('unused'),
    keys: workspace.keys,
    adminToken: workspace.adminToken,
    registryDir,
    backgroundJobs: true,
    logFile: workspace.file(`latchkey-fetch-${total}.log`),
  });
  const baseline = await startBaseline(databaseUrl, workspace.file(`baseline-${total}.log`));
  try {
    const bearer = await issueBearer(latchkey.origin, await createApiClient(latchkey.origin, workspace.adminToken, project.projectId));
    const headers = { authorization: `Bearer ${bearer}` };
    const ids = spreadIndexes(total, options.workingSet).map((index) => benchAccountId(project.projectId, index));
    const fetchPaths = ids.map((id) => `/v1/connect/${project.projectId}/accounts/${id}?include_credentials=true`);
    const baselinePaths = ids.map((id) => `/accounts/${id}`);
    const load = { connections: options.connections, seconds: options.seconds };
    const fetchName = `latchkey fetch, ${total} accounts, working set ${ids.length}`;
    const baselineName = `baseline, ${total} accounts, working set ${ids.length}`;
    const runFetch = () => measureLoad(fetchName, { origin: latchkey.origin, paths: fetchPaths, headers, ...load }, latchkey.pid);
    const runBaseline = () => measureLoad(baselineName, { origin: baseline.origin, paths: baselinePaths, headers: {}, ...load }, baseline.pid);
    // Warm-up: JIT, pools, the page cache and the opened-credentials cache, as a service in use has them.
    await measureLoad('warm-up', { origin: latchkey.origin, paths: fetchPaths, headers, ...load, seconds: Math.max(3, options.seconds / 2) }, latchkey.pid);
    await measureLoad('warm-up', { origin: baseline.origin, paths: baselinePaths, headers: {}, ...load, seconds: 3 }, baseline.pid);
    const fetchRuns: MeasuredRun[] = [];
    const baselineRuns: MeasuredRun[] = [];
    for (let round = 0; round < options.rounds; round++) {
      if (round % 2 === 0) {
        fetchRuns.push(await runFetch());
        baselineRuns.push(await runBaseline());
      } else {
        baselineRuns.push(await runBaseline());
        fetchRuns.push(await runFetch());
      }
    }
    const runs = [...fetchRuns, ...baselineRuns];
    if (withColdRun) {
      const cold = spreadIndexes(total, 100_000).map(
        (index) => `/v1/connect/${project.projectId}/accounts/${benchAccountId(project.projectId, index)}?include_credentials=true`,
      );
      runs.push(
        await measureLoad(
          `latchkey fetch, ${total} accounts, working set ${cold.length} (decrypting)`,
          { origin: latchkey.origin, paths: cold, headers, ...load },
          latchkey.pid,
        ),
      );
    }
    printRuns(runs);
    const memory = await readMemoryBreakdown(latchkey.origin);
    console.log(
      `latchkey memory after these runs: RSS ${formatMegabytes(rssBytes(latchkey.pid))}, V8 heap ${formatMegabytes(memory.heapTotalBytes)} (${formatMegabytes(memory.heapUsedBytes)} used), external ${formatMegabytes(memory.externalBytes)}`,
    );
    return {
      fetchP99: median(fetchRuns.map((run) => run.p99)),
      baselineP99: median(baselineRuns.map((run) => run.p99)),
      peakRssBytes: Math.max(...runs.map((run) => run.peakRssBytes)),
      failed: failedRequests(runs),
    };
  } finally {
    await latchkey.stop();
    await baseline.stop();
  }
}
