// The token-flood measurement (issue 10, Medium 3): how much an unauthenticated flood of wrong
// client secrets on POST /v1/oauth/token moves a real client's token request and the credential
// fetch. latchkey runs as users run it (built, NODE_ENV=production, PostgreSQL, its own process);
// this process is the attacker and the real client. Two phases of --seconds each: quiet, then
// flooded by --connections concurrent requests from 8 loopback source addresses (127.0.0.10…17),
// half of them for made-up client ids (the decoy hash), half for a wrong secret of a real-looking
// id. In both phases one sequential loop fetches credentials and another asks for a real token
// every second (within the per-client limit of 60 a minute). Prints latencies and the flood's answers; figures only, no target.
//   tsx bench/token-flood.ts [-c 32] [-d 10] [-r 30]   (-r: flood requests/s; default unthrottled)
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { benchAccessToken, benchAccountId } from './lib/bench-accounts.ts';
import { NEVER_CONTACTED_TOKEN_URL, writeBenchRegistry } from './lib/bench-registry.ts';
import { createApiClient, issueBearer, type ApiCredentials } from './lib/api-client.ts';
import { buildLatchkey, migrateLatchkey, startLatchkey } from './lib/latchkey-server.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';
import { createWorkspace } from './lib/workspace.ts';
import { createBenchProject, openSeedSession, seedAccounts } from './seed-accounts.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', short: 'c', default: '32' },
    duration: { type: 'string', short: 'd', default: '10' },
    rate: { type: 'string', short: 'r', default: '0' },
  },
});
const connections = Number(values.connections);
const seconds = Number(values.duration);
/** Flood requests per second over all connections; 0: as fast as they are answered. */
const rate = Number(values.rate);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (ms: number): string => `${ms.toFixed(1)} ms`;
  return `${label.padEnd(38)} n=${String(sorted.length).padStart(5)}  p50 ${f(percentile(sorted, 50))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted[sorted.length - 1] ?? Number.NaN)}`;
}

interface Phase {
  fetches: number[];
  tokens: number[];
  failures: string[];
}

async function measurePhase(origin: string, fetchPath: string, bearer: string, api: ApiCredentials, durationMs: number): Promise<Phase> {
  const real = new Agent({ connections: 2 });
  const phase: Phase = { fetches: [], tokens: [], failures: [] };
  const until = performance.now() + durationMs;
  const fetchLoop = async (): Promise<void> => {
    while (performance.now() < until) {
      const started = performance.now();
      const res = await request(`${origin}${fetchPath}`, { dispatcher: real, headers: { authorization: `Bearer ${bearer}` } });
      const body = (await res.body.json()) as { credentials?: { oauth_access_token?: string } };
      if (res.statusCode !== 200 || body.credentials?.oauth_access_token !== benchAccessToken(0, 0)) phase.failures.push(`fetch ${res.statusCode}`);
      phase.fetches.push(performance.now() - started);
    }
  };
  const tokenLoop = async (): Promise<void> => {
    while (performance.now() < until) {
      const started = performance.now();
      const res = await request(`${origin}/v1/oauth/token`, {
        method: 'POST',
        dispatcher: real,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: api.clientId, client_secret: api.clientSecret }),
      });
      await res.body.dump();
      if (res.statusCode !== 200) phase.failures.push(`token ${res.statusCode}`);
      phase.tokens.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  await Promise.all([fetchLoop(), tokenLoop()]);
  await real.close();
  return phase;
}

async function flood(origin: string, api: ApiCredentials, durationMs: number, answers: Record<number, number>): Promise<number> {
  const attackers = Array.from({ length: 8 }, (_, i) => new Agent({ connections: Math.ceil(connections / 8), localAddress: `127.0.0.${i + 10}` }));
  const until = performance.now() + durationMs;
  let sent = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, n) => {
      while (performance.now() < until) {
        const i = sent++;
        const clientId = i % 2 === 0 ? `lkc_flood${i}` : `${api.clientId.slice(0, -1)}x`;
        const res = await request(`${origin}/v1/oauth/token`, {
          method: 'POST',
          dispatcher: attackers[(n + i) % attackers.length]!,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'lks_wrong' }),
        });
        await res.body.dump();
        answers[res.statusCode] = (answers[res.statusCode] ?? 0) + 1;
        if (rate > 0) await new Promise((resolve) => setTimeout(resolve, (connections / rate) * 1000));
      }
    }),
  );
  await Promise.all(attackers.map((agent) => agent.close()));
  return sent;
}

await buildLatchkey();
const workspace = await createWorkspace();
const database = await createThrowawayDatabase();
try {
  const registryDir = await writeBenchRegistry(workspace.file('registry'), NEVER_CONTACTED_TOKEN_URL);
  await migrateLatchkey(database.url);
  const target = { databaseUrl: database.url, dataDir: workspace.file('data'), keys: workspace.keys, registryDir };
  const session = await openSeedSession(target);
  const project = await createBenchProject(session, 'flood');
  const expiresAt = new Date(Date.now() + 3600_000);
  await seedAccounts(session, { project, first: 0, count: 1, expiresAt: () => expiresAt });
  await session.close();

  const latchkey = await startLatchkey({
    mode: 'production',
    databaseUrl: database.url,
    dataDir: target.dataDir,
    keys: workspace.keys,
    adminToken: workspace.adminToken,
    registryDir,
    backgroundJobs: false,
    logFile: workspace.file('latchkey.log'),
  });
  try {
    const api = await createApiClient(latchkey.origin, workspace.adminToken, project.projectId);
    const bearer = await issueBearer(latchkey.origin, api);
    const fetchPath = `/v1/connect/${project.projectId}/accounts/${benchAccountId(project.projectId, 0)}?include_credentials=true`;
    console.log(
      `token-flood: latchkey NODE_ENV=production on PostgreSQL, default limits; ${seconds} s quiet, then ${seconds} s of a ${connections}-connection flood${rate > 0 ? ` at ${rate}/s` : ''}`,
    );
    await measurePhase(latchkey.origin, fetchPath, bearer, api, 2000); // warm-up
    const quiet = await measurePhase(latchkey.origin, fetchPath, bearer, api, seconds * 1000);
    const answers: Record<number, number> = {};
    const [flooded, sent] = await Promise.all([
      measurePhase(latchkey.origin, fetchPath, bearer, api, seconds * 1000),
      flood(latchkey.origin, api, seconds * 1000, answers),
    ]);
    console.log(summary('credential fetch, quiet', quiet.fetches));
    console.log(summary('credential fetch, during the flood', flooded.fetches));
    console.log(summary('real token request, quiet', quiet.tokens));
    console.log(summary('real token request, during the flood', flooded.tokens));
    console.log(`flood: ${sent} requests (${(sent / seconds).toFixed(0)}/s), answers ${JSON.stringify(answers)}`);
    const failures = [...quiet.failures, ...flooded.failures];
    if (failures.length > 0) {
      console.log(`real requests that failed: ${failures.length} (${[...new Set(failures)].join(', ')})`);
      process.exitCode = 1;
    }
  } finally {
    await latchkey.stop();
  }
} finally {
  await database.drop();
  await workspace.remove();
}
