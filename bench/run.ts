// npm run bench: the credential-fetch benchmark, the registry-load benchmark, then the Connect
// proxy benchmark (proxy GET vs the upstream called directly vs the credential fetch), each in a
// process of its own (a benchmark must not inherit another's heap, JIT state or open handles).
// Arguments go to the credential-fetch benchmark (-c, -d, --rounds, --database pglite).
// Exits non-zero when any of them missed its target or failed.
import { spawn } from 'node:child_process';
import path from 'node:path';

const dir = import.meta.dirname;
const benchmarks: { file: string; args: readonly string[] }[] = [
  { file: 'credential-fetch.ts', args: process.argv.slice(2) },
  { file: 'registry-load.ts', args: [] },
  { file: 'proxy.ts', args: [] },
];

const failed: string[] = [];
for (const { file, args } of benchmarks) {
  console.log(`\n=== bench/${file}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(dir, file), ...args], { stdio: 'inherit' });
    child.once('close', resolve);
  });
  if (code !== 0) failed.push(file);
}
if (failed.length > 0) {
  console.log(`\nmissed or failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
