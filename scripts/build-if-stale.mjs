// `npm start`: compile only when the build is missing or older than its inputs. tsc takes most
// of a first start (13 s of 35 s on a small machine) and an unchanged checkout needs none of it.
// Plain JavaScript so it runs on node alone, before anything is compiled.
//   inputs:  src/, migrations/, tsconfig.json, tsconfig.build.json — files and folders (a folder's
//            mtime moves when a file in it is added, removed or renamed);
//   output:  dist/.build-stamp, touched with the time the last successful build *started*, so an
//            edit made while tsc ran still counts as newer.
// Usage: node scripts/build-if-stale.mjs [--check | --force]
//   --check: exit 1 when stale, build nothing;  --force: build regardless (npm run build).
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INPUTS = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json'];
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const ENTRY = path.join(ROOT, 'dist', 'src', 'server.js');

/** The newest mtime (ms) under a file or folder, the folders' own included. */
function newestMtime(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

/** Why a build is needed, or undefined when the build is current. */
export function staleness(root = ROOT) {
  const stamp = path.join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp) || !existsSync(path.join(root, 'dist', 'src', 'server.js'))) return 'no build yet';
  const built = statSync(stamp).mtimeMs;
  const changed = INPUTS.find((input) => newestMtime(path.join(root, input)) > built);
  return changed === undefined ? undefined : `${changed} changed since the last build`;
}

function build() {
  const startedAt = new Date();
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  mkdirSync(path.dirname(STAMP), { recursive: true });
  writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  utimesSync(STAMP, startedAt, startedAt);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const reason = process.argv.includes('--force') ? 'npm run build' : staleness();
  if (process.argv.includes('--check')) {
    if (reason !== undefined) process.stderr.write(`latchkey: the build is stale (${reason})\n`);
    process.exit(reason === undefined ? 0 : 1);
  }
  if (reason !== undefined) {
    process.stderr.write(`latchkey: building (${reason}) ...\n`);
    build();
  }
  if (!existsSync(ENTRY)) process.exit(1);
}
