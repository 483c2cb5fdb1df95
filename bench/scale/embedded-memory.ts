// (c) Memory of the embedded-database start: latchkey with no DATABASE_URL, first on a fresh
// data dir (PGlite runs initdb, then the migrations) and then reopening it. Reports the RSS once
// ready and the peak (VmHWM) the start went through.
import { peakRssBytes, rssBytes } from '../lib/proc-stats.ts';
import { NEVER_CONTACTED_TOKEN_URL, writeBenchRegistry } from '../lib/bench-registry.ts';
import { startLatchkey } from '../lib/latchkey-server.ts';
import { formatMegabytes } from '../lib/stats.ts';
import type { Workspace } from '../lib/workspace.ts';

export interface EmbeddedStart {
  label: string;
  seconds: number;
  readyRssBytes: number;
  peakRssBytes: number;
}

export async function measureEmbeddedStarts(workspace: Workspace): Promise<EmbeddedStart[]> {
  const registryDir = await writeBenchRegistry(workspace.file('registry-embedded'), NEVER_CONTACTED_TOKEN_URL);
  const dataDir = workspace.file('embedded-data');
  const starts: EmbeddedStart[] = [];
  for (const label of ['first start (fresh data dir: initdb + migrations)', 'reopen of that data dir']) {
    const started = performance.now();
    const server = await startLatchkey({
      mode: 'production',
      databaseUrl: undefined,
      dataDir,
      keys: workspace.keys,
      adminToken: workspace.adminToken,
      registryDir,
      backgroundJobs: true,
      logFile: workspace.file('latchkey-embedded.log'),
    });
    const seconds = (performance.now() - started) / 1000;
    // Let the start's garbage be collected as it would be in a few seconds of service.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    starts.push({ label, seconds, readyRssBytes: rssBytes(server.pid), peakRssBytes: peakRssBytes(server.pid) });
    await server.stop();
  }
  console.log('\n(c) embedded database (PGlite) start, one latchkey process:');
  for (const start of starts) {
    console.log(
      `  ${start.label.padEnd(52)} ready in ${start.seconds.toFixed(1)} s, RSS ${formatMegabytes(start.readyRssBytes)} 3 s later, peak ${formatMegabytes(start.peakRssBytes)}`,
    );
  }
  return starts;
}
