// npm run bench: the credential-fetch benchmark first, then every other bench/*.ts, each in a
// process of its own (a benchmark must not inherit another's heap, JIT state or open handles).
// Exits non-zero when any of them missed its target or failed.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const dir = import.meta.dirname;
const FIRST = 'credentials-fetch.ts';
const files = (await readdir(dir))
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .sort((a, b) => (a === FIRST ? -1 : b === FIRST ? 1 : a.localeCompare(b)));

const failed: string[] = [];
for (const file of files) {
  console.log(`\n=== bench/${file}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(dir, file)], { stdio: 'inherit' });
    child.once('close', resolve);
  });
  if (code !== 0) failed.push(file);
}
if (failed.length > 0) {
  console.log(`\nmissed or failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
