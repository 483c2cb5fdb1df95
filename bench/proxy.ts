// The Connect proxy benchmark (part of npm run bench): in one run, against one latchkey process,
//   proxy:  GET /v1/connect/{pid}/proxy/{url_64} of a small JSON body from a local upstream
//           (bench/proxy-upstream.ts, a process of its own) for the seeded OAuth account;
//   direct: the same upstream URL called directly with the account's bearer (what a backend that
//           fetched the token would do; the floor the proxy adds its work to);
//   fetch:  the credential fetch of the same account (include_credentials=true), the path the
//           proxy builds on.
// The three alternate for --rounds rounds (the order rotates) and the medians count. Target: the
// proxy's req/s ≥ 0.5 × the fetch's (exit 1 below): the outbound call must cost no more than the
// fetch itself, which needs a kept-alive connection pool and no per-request client setup.
// Reported: the three throughputs and the latency the proxy adds to the direct call (p50, p99).
//
// latchkey runs built (node dist/src/server.js), LOG_LEVEL=info to a file, background jobs on, in
// development mode: the upstream is plain http on 127.0.0.1, which needs LATCHKEY_INSECURE_LOOPBACK
// (refused in production); nothing else on the measured paths differs. The proxy's rate limit is
// lifted for the run.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchAccessToken, benchAccountId, benchExternalId } from './lib/bench-accounts.ts';
import { NEVER_CONTACTED_TOKEN_URL, writeBenchRegistry } from './lib/bench-registry.ts';
import { createApiClient, issueBearer } from './lib/api-client.ts';
import { freePort, startNode, waitUntilReady } from './lib/child-process.ts';
import { buildLatchkey, migrateLatchkey, startLatchkey } from './lib/latchkey-server.ts';
import { measureLoad, type LoadSpec, type MeasuredRun } from './lib/load.ts';
import { failedRequests, printRuns } from './lib/report.ts';
import { median } from './lib/stats.ts';
import { medianOf, runRotatingRounds, throughputRatios } from './lib/rounds.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';
import { createWorkspace } from './lib/workspace.ts';
import { createBenchProject, openSeedSession, seedAccounts, type SeedTarget } from './seed-accounts.ts';

const TARGET_RATIO = 0.5;
const UPSTREAM_PATH = '/items';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', short: 'c', default: process.env['BENCH_CONNECTIONS'] ?? '50' },
    duration: { type: 'string', short: 'd', default: process.env['BENCH_PROXY_SECONDS'] ?? '5' },
    rounds: { type: 'string', default: process.env['BENCH_ROUNDS'] ?? '3' },
  },
});
const connections = Number(values.connections);
const seconds = Number(values.duration);
const rounds = Math.max(1, Number(values.rounds));

await buildLatchkey();
const workspace = await createWorkspace();
const database = await createThrowawayDatabase();
const stops: (() => Promise<void>)[] = [];
try {
  const upstreamPort = await freePort();
  const upstream = startNode({
    args: ['--import', 'tsx', path.join(import.meta.dirname, 'proxy-upstream.ts')],
    env: { PORT: String(upstreamPort) },
    logFile: workspace.file('upstream.log'),
  });
  stops.push(() => upstream.stop());
  const upstreamOrigin = `http://127.0.0.1:${upstreamPort}`;
  await waitUntilReady(upstream, `${upstreamOrigin}/healthz`);

  const registryDir = await writeBenchRegistry(workspace.file('registry'), NEVER_CONTACTED_TOKEN_URL, upstreamOrigin);
  await migrateLatchkey(database.url);
  const target: SeedTarget = { databaseUrl: database.url, dataDir: workspace.file('data'), keys: workspace.keys, registryDir };
  const session = await openSeedSession(target);
  const project = await createBenchProject(session, 'bench-proxy');
  const expiresAt = new Date(Date.now() + 3600_000);
  await seedAccounts(session, { project, first: 0, count: 1, expiresAt: () => expiresAt });
  await session.close();

  const latchkey = await startLatchkey({
    mode: 'development-with-loopback-provider',
    databaseUrl: database.url,
    dataDir: target.dataDir,
    keys: workspace.keys,
    adminToken: workspace.adminToken,
    registryDir,
    backgroundJobs: true,
    logFile: workspace.file('latchkey.log'),
    extraEnv: { LATCHKEY_PROXY_RATE_LIMIT: '10000000' },
  });
  stops.push(() => latchkey.stop());

  const bearer = await issueBearer(latchkey.origin, await createApiClient(latchkey.origin, workspace.adminToken, project.projectId));
  const clientHeaders = { authorization: `Bearer ${bearer}` };
  const accountId = benchAccountId(project.projectId, 0);
  const url64 = encodeURIComponent(Buffer.from(UPSTREAM_PATH, 'utf8').toString('base64'));
  const proxyPath = `/v1/connect/${project.projectId}/proxy/${url64}?external_user_id=${benchExternalId(0)}&account_id=${accountId}`;
  const fetchPath = `/v1/connect/${project.projectId}/accounts/${accountId}?include_credentials=true`;
  const upstreamHeaders = { authorization: `Bearer ${benchAccessToken(0, 0)}` };
  await expectOk(`${latchkey.origin}${proxyPath}`, clientHeaders, 'the proxy');
  await expectOk(`${upstreamOrigin}${UPSTREAM_PATH}`, upstreamHeaders, 'the upstream');
  await expectOk(`${latchkey.origin}${fetchPath}`, clientHeaders, 'the credential fetch');

  const spec = (origin: string, requestPath: string, headers: Record<string, string>, runSeconds = seconds): LoadSpec => ({
    origin,
    paths: [requestPath],
    headers,
    connections,
    seconds: runSeconds,
  });
  const scenarios = {
    proxy: () => measureLoad('latchkey: proxy GET (small JSON from the upstream)', spec(latchkey.origin, proxyPath, clientHeaders), latchkey.pid),
    direct: () => measureLoad('upstream called directly (same URL, same bearer)', spec(upstreamOrigin, UPSTREAM_PATH, upstreamHeaders), upstream.pid),
    fetch: () => measureLoad('latchkey: credential fetch of the same account', spec(latchkey.origin, fetchPath, clientHeaders), latchkey.pid),
  };
  const order = ['proxy', 'direct', 'fetch'] as const;

  console.log(
    `proxy benchmark: latchkey on PostgreSQL (throwaway database ${database.name}), upstream bench/proxy-upstream.ts; ` +
      `autocannon -c ${connections} -d ${seconds}, ${rounds} rotating rounds; latchkey LOG_LEVEL=info (log to a file), background jobs on`,
  );
  await measureLoad('warm-up', spec(latchkey.origin, proxyPath, clientHeaders, 3), latchkey.pid);
  await measureLoad('warm-up', spec(latchkey.origin, fetchPath, clientHeaders, 2), latchkey.pid);

  const runs = await runRotatingRounds(scenarios, order, rounds);
  const ratios = throughputRatios(runs.proxy, runs.fetch);
  printRuns([...runs.proxy, ...runs.direct, ...runs.fetch]);
  const throughput = (name: (typeof order)[number]) => medianOf(runs[name], (run) => run.reqPerSec);
  const ratio = median(ratios);
  console.log(
    `req/s (median): proxy ${throughput('proxy').toFixed(0)}, direct ${throughput('direct').toFixed(0)}, credential fetch ${throughput('fetch').toFixed(0)}`,
  );
  console.log(
    `proxy / credential fetch, req/s per round: ${ratios.map((r) => r.toFixed(2)).join(', ')} → median ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'})`,
  );
  const added = (pick: (run: MeasuredRun) => number) => medianOf(runs.proxy, pick) - medianOf(runs.direct, pick);
  console.log(
    `latency the proxy adds to the direct call (median over rounds, at -c ${connections}): p50 +${added((run) => run.p50)} ms, p99 +${added((run) => run.p99)} ms`,
  );
  console.log(
    `server CPU per request: proxy ${medianOf(runs.proxy, (run) => run.cpuMicrosPerRequest).toFixed(0)} µs, credential fetch ${medianOf(runs.fetch, (run) => run.cpuMicrosPerRequest).toFixed(0)} µs (latchkey), upstream ${medianOf(runs.direct, (run) => run.cpuMicrosPerRequest).toFixed(0)} µs`,
  );
  if (failedRequests([...runs.proxy, ...runs.direct, ...runs.fetch])) {
    console.log('some requests failed: the figures are not valid');
    process.exitCode = 1;
  }
  if (ratio < TARGET_RATIO) process.exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop();
  await database.drop();
  await workspace.remove();
}

async function expectOk(url: string, headers: Record<string, string>, what: string): Promise<void> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) throw new Error(`${what} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
}
