// npm run bench:scale -- [--scenario all|fetch|refresher|memory] [flags]
//
//   (a) fetch:     the credential fetch's p99 at --accounts (1,000,000) vs --small-accounts
//                  (10,000), same harness as npm run bench; database and index sizes per account;
//   (b) refresher: --refresh-accounts (100,000) tokens expiring within --window-minutes (60),
//                  a fake provider (--provider-delay-ms 20), on each of --replicas (1,3);
//   (c) memory:    latchkey's RSS under the fetch load (from a) and during the refresher run
//                  (from b), target ≤ 150 MB on PostgreSQL; the embedded-database start.
// -c/-d/--rounds as in npm run bench. Everything runs against throwaway databases on the local
// PostgreSQL (BENCH_DATABASE_URL). Exits non-zero when a target is missed or a run failed.
import { parseArgs } from 'node:util';
import { buildLatchkey } from './lib/latchkey-server.ts';
import { formatMegabytes } from './lib/stats.ts';
import { createWorkspace } from './lib/workspace.ts';
import { measureEmbeddedStarts } from './scale/embedded-memory.ts';
import { runFetchAtScale } from './scale/fetch-at-scale.ts';
import type { ScaleOptions } from './scale/options.ts';
import { runRefresherAtScale } from './scale/refresher-at-scale.ts';

const RSS_TARGET_BYTES = 150 * 1024 * 1024;

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    connections: { type: 'string', short: 'c', default: '50' },
    duration: { type: 'string', short: 'd', default: '10' },
    rounds: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '1000000' },
    'small-accounts': { type: 'string', default: '10000' },
    'working-set': { type: 'string', default: '10000' },
    'refresh-accounts': { type: 'string', default: '100000' },
    'window-minutes': { type: 'string', default: '60' },
    replicas: { type: 'string', default: '1,3' },
    'provider-delay-ms': { type: 'string', default: '20' },
    'fetch-every': { type: 'string', default: '300' },
  },
});

function positive(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${flag}: a positive number`);
  return value;
}

const options: ScaleOptions = {
  connections: positive('connections', values.connections),
  seconds: positive('duration', values.duration),
  rounds: positive('rounds', values.rounds),
  accounts: positive('accounts', values.accounts),
  smallAccounts: positive('small-accounts', values['small-accounts']),
  workingSet: positive('working-set', values['working-set']),
  refreshAccounts: positive('refresh-accounts', values['refresh-accounts']),
  windowMinutes: positive('window-minutes', values['window-minutes']),
  replicaCounts: values.replicas.split(',').map((n) => positive('replicas', n)),
  providerDelayMs: positive('provider-delay-ms', values['provider-delay-ms']),
  fetchEverySeconds: positive('fetch-every', values['fetch-every']),
};
if (options.smallAccounts >= options.accounts) throw new Error('--small-accounts must be below --accounts');
const scenarios = values.scenario === 'all' ? ['fetch', 'refresher', 'memory'] : values.scenario.split(',');

await buildLatchkey();
const workspace = await createWorkspace();
const started = performance.now();
const missed: string[] = [];
const memory: string[] = [];
try {
  if (scenarios.includes('fetch')) {
    const result = await runFetchAtScale(options, workspace);
    if (!result.ok) missed.push('fetch p99 at scale');
    memory.push(`RSS under the fetch load at ${options.accounts} accounts: ${formatMegabytes(result.peakRssBytes)} (peak)`);
    if (result.peakRssBytes > RSS_TARGET_BYTES) missed.push('RSS under the fetch load');
  }
  if (scenarios.includes('refresher')) {
    for (const result of await runRefresherAtScale(options, workspace)) {
      if (!result.ok) missed.push(`refresher on ${result.replicas} replica(s)`);
      memory.push(`RSS of replica 1 during the refresher run on ${result.replicas} replica(s): ${formatMegabytes(result.peakRssBytes)} (peak)`);
      if (result.peakRssBytes > RSS_TARGET_BYTES) missed.push(`RSS during the refresher run on ${result.replicas} replica(s)`);
    }
  }
  if (scenarios.includes('memory')) await measureEmbeddedStarts(workspace);
  if (memory.length > 0) {
    console.log(`\nmemory, target ≤ ${formatMegabytes(RSS_TARGET_BYTES)} on PostgreSQL:`);
    for (const line of memory) console.log(`  ${line}`);
  }
} finally {
  await workspace.remove();
}
console.log(
  `\nbench:scale took ${((performance.now() - started) / 60_000).toFixed(1)} min${missed.length > 0 ? `; missed: ${missed.join(', ')}` : '; every target met'}`,
);
if (missed.length > 0) process.exitCode = 1;
