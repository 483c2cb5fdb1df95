// The table every scenario prints its load runs in.
import type { MeasuredRun } from './load.ts';
import { formatMegabytes } from './stats.ts';

const COLUMNS = ['route', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'CPU µs/req', 'peak RSS', 'non-2xx/errors'] as const;
const WIDTHS = [58, 8, 7, 7, 9, 11, 9, 0];

function line(cells: readonly string[]): string {
  return cells.map((cell, i) => (WIDTHS[i] === 0 ? cell : cell.padEnd(WIDTHS[i]!))).join(' ');
}

export function printRuns(runs: readonly MeasuredRun[]): void {
  console.log(line(COLUMNS));
  for (const run of runs) {
    console.log(
      line([
        run.name,
        run.reqPerSec.toFixed(0),
        String(run.p50),
        String(run.p99),
        String(run.total),
        run.cpuMicrosPerRequest.toFixed(0),
        formatMegabytes(run.peakRssBytes),
        `${run.non2xx}/${run.errors}`,
      ]),
    );
  }
}

export function failedRequests(runs: readonly MeasuredRun[]): boolean {
  return runs.some((run) => run.non2xx > 0 || run.errors > 0);
}
