// Summarises a V8 CPU profile (.cpuprofile, from node --cpu-prof or BENCH_CPU_PROF): self time
// by package (node_modules/<name>, latchkey's own dist/, node: internals) and by function, and
// the inclusive time of latchkey's own functions.
// Usage: tsx bench/profile-summary.ts <file.cpuprofile> [top N]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top N]');
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

// Idle samples are the process waiting (the provider, the database): not CPU, left out.
const isIdle = (id: number): boolean => byId.get(id)!.callFrame.functionName === '(idle)';
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => {
  if (!isIdle(id)) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

function packageOf(url: string): string {
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules !== null) return modules[1]!;
  if (url.includes('/dist/src/')) return `latchkey ${url.slice(url.indexOf('/dist/src/') + '/dist/src/'.length).split('/')[0]}/`;
  if (url.startsWith('node:')) return 'node: internals';
  return url === '' ? '(native, GC, idle)' : url;
}

const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)!.callFrame;
  const pkg = packageOf(frame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
  const name = `${frame.functionName || '(anonymous)'} ${pkg}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
}

// Inclusive time of latchkey's own functions: every sample counts once for each distinct
// latchkey function on its stack (what a use case costs, whatever it calls).
const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (!frame.url.includes('/dist/src/')) continue;
    const name = `${frame.functionName || '(anonymous)'} ${packageOf(frame.url)}:${frame.lineNumber + 1}`;
    if (!seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
    }
  }
}

const print = (title: string, entries: Map<string, number>): void => {
  console.log(title);
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * micros) / total).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s of CPU samples (idle left out)`);
print('self time by package:', byPackage);
print('self time by function:', byFunction);
print("inclusive time of latchkey's functions:", inclusive);
