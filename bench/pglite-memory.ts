// What the embedded database (PGlite) costs in memory, and which options lower it. For each
// variant, PGlite opens a fresh data dir (initdb) in one process and reopens it in another
// (memory a process once took is not given back), with the RSS, the peak (VmHWM), the WASM heap
// and V8's external memory read once it answers. PGlite alone, to separate its share of
// latchkey's embedded start.
// Usage: tsx bench/pglite-memory.ts            (runs every variant as a child process)
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { peakRssBytes, rssBytes } from './lib/proc-stats.ts';
import { formatMegabytes } from './lib/stats.ts';

// PGlite's own start parameters (0.4.x), which startParams replaces rather than extends.
const PGLITE_DEFAULT_START_PARAMS = [
  '--single',
  '-F',
  '-O',
  '-j',
  '-c',
  'search_path=public',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
];

interface Variant {
  pglite: PGliteOptions;
  /** Flags of the node process (V8's WebAssembly compilation is where much of the memory goes). */
  nodeFlags: readonly string[];
}

const SMALL_SHARED_BUFFERS = [...PGLITE_DEFAULT_START_PARAMS, '-c', 'shared_buffers=16MB'];
// initialMemory cannot go below the module's own minimum (2048 pages, 128 MB): PGlite then fails
// with "memory import is smaller than initial", so it is not a variant here.
const VARIANTS: Record<string, Variant> = {
  default: { pglite: {}, nodeFlags: [] },
  'shared_buffers=16MB': { pglite: { startParams: SMALL_SHARED_BUFFERS }, nodeFlags: [] },
  'node --wasm-lazy-compilation': { pglite: {}, nodeFlags: ['--wasm-lazy-compilation'] },
  'node --no-wasm-tier-up (Liftoff only)': { pglite: {}, nodeFlags: ['--no-wasm-tier-up'] },
  'lazy compilation + shared_buffers=16MB': { pglite: { startParams: SMALL_SHARED_BUFFERS }, nodeFlags: ['--wasm-lazy-compilation'] },
};

async function probe(name: string, phase: string, dir: string): Promise<void> {
  const options = VARIANTS[name]!.pglite;
  const before = rssBytes(process.pid);
  const started = performance.now();
  const db = await PGlite.create(dir, options);
  const settings = await db.query<{ shared_buffers: string }>('select current_setting($1) as shared_buffers', ['shared_buffers']);
  const seconds = (performance.now() - started) / 1000;
  const wasmHeap = (db as unknown as { mod?: { HEAP8?: Int8Array } }).mod?.HEAP8?.byteLength;
  const memory = process.memoryUsage();
  console.log(
    `  ${name.padEnd(40)} ${phase.padEnd(8)} RSS ${formatMegabytes(rssBytes(process.pid)).padEnd(7)} peak ${formatMegabytes(peakRssBytes(process.pid)).padEnd(7)} ` +
      `${seconds.toFixed(1)} s; shared_buffers ${settings.rows[0]?.shared_buffers}; WASM heap ${wasmHeap === undefined ? '?' : formatMegabytes(wasmHeap)}; ` +
      `external ${formatMegabytes(memory.external)} (array buffers ${formatMegabytes(memory.arrayBuffers)}); node alone ${formatMegabytes(before)}`,
  );
  await db.close();
}

function runChild(name: string, phase: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...VARIANTS[name]!.nodeFlags, '--import', 'tsx', import.meta.filename, name, phase, dir], { stdio: 'inherit' });
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`variant ${name} (${phase}) exited with ${code}`))));
  });
}

const [variant, phase, dataDir] = process.argv.slice(2);
if (variant !== undefined && phase !== undefined && dataDir !== undefined) {
  await probe(variant, phase, dataDir);
} else {
  console.log('PGlite memory by option: a fresh data dir (initdb), then a reopen of it, each in a new process:');
  for (const name of Object.keys(VARIANTS)) {
    const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-pglite-'));
    try {
      await runChild(name, 'fresh', dir);
      await runChild(name, 'reopen', dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
