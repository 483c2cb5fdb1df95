// Times loading the whole shipped registry (read, parse, validate, cross-check, normalise):
// one warm-up, then the median of N runs. Target: < 300 ms. Usage: tsx bench/registry-load.ts [N]
// Wall time suffers when other processes share the CPU, so the process's own CPU time is shown too.
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../src/registry/loader.ts';

const TARGET_MS = 300;
const runs = Number(process.argv[2] ?? 15);
const load = () => loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });

const coldCpuStart = process.cpuUsage();
const coldStart = performance.now();
const registry = await load();
const coldMs = performance.now() - coldStart;
const coldCpu = process.cpuUsage(coldCpuStart);

const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < runs; i++) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await load();
  wall.push(performance.now() - start);
  const used = process.cpuUsage(cpuStart);
  cpu.push((used.user + used.system) / 1000);
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const wallMedian = median(wall);

console.log(
  `registry load: ${registry.list().length} apps; median of ${runs} runs after a warm-up: ${wallMedian.toFixed(1)} ms wall ` +
    `(min ${Math.min(...wall).toFixed(1)}, max ${Math.max(...wall).toFixed(1)}), ${median(cpu).toFixed(1)} ms CPU; ` +
    `first (cold) load ${coldMs.toFixed(1)} ms wall, ${((coldCpu.user + coldCpu.system) / 1000).toFixed(1)} ms CPU; target < ${TARGET_MS} ms: ${wallMedian < TARGET_MS ? 'met' : 'MISSED'}`,
);
if (wallMedian >= TARGET_MS) process.exitCode = 1;
