// Alternating rounds: every scenario runs once per round, and the order rotates by one each
// round, so no scenario always runs first (on a warm machine) or last (after the others' load).
// The figures come from medians over rounds (stats.ts), never from one run.
import type { MeasuredRun } from './load.ts';
import { median } from './stats.ts';

export type Scenarios<Name extends string> = Record<Name, () => Promise<MeasuredRun>>;

/** Each scenario's runs, in round order. */
export async function runRotatingRounds<Name extends string>(
  scenarios: Scenarios<Name>,
  order: readonly Name[],
  rounds: number,
): Promise<Record<Name, MeasuredRun[]>> {
  const runs = Object.fromEntries(order.map((name) => [name, [] as MeasuredRun[]])) as Record<Name, MeasuredRun[]>;
  for (let round = 0; round < rounds; round++) {
    const shift = round % order.length;
    for (const name of [...order.slice(shift), ...order.slice(0, shift)]) runs[name].push(await scenarios[name]());
  }
  return runs;
}

/** The per-round ratio of two scenarios' throughput (both ran in the same round). */
export function throughputRatios(numerator: readonly MeasuredRun[], denominator: readonly MeasuredRun[]): number[] {
  return numerator.map((run, round) => run.reqPerSec / denominator[round]!.reqPerSec);
}

export function medianOf(runs: readonly MeasuredRun[], pick: (run: MeasuredRun) => number): number {
  return median(runs.map(pick));
}
