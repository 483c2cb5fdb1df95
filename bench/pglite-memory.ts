// What the embedded database (PGlite) costs in memory, and which of its options lower it. Each
// variant runs in a fresh process (memory a process once took is not given back): PGlite opens a
// fresh data dir (initdb), runs a query, closes, and is reopened, with the RSS and the peak
// (VmHWM) read after each step. Not a latchkey start: PGlite alone, to separate its share.
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

const VARIANTS: Record<string, PGliteOptions> = {
  default: {},
  'shared_buffers=16MB': { startParams: [...PGLITE_DEFAULT_START_PARAMS, '-c', 'shared_buffers=16MB'] },
  'initialMemory=32MB': { initialMemory: 32 * 1024 * 1024 },
  'shared_buffers=16MB + initialMemory=32MB': { startParams: [...PGLITE_DEFAULT_START_PARAMS, '-c', 'shared_buffers=16MB'], initialMemory: 32 * 1024 * 1024 },
};

async function probe(name: string): Promise<void> {
  const options = VARIANTS[name]!;
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-pglite-'));
  const report = (step: string, extra = '') =>
    console.log(
      `  ${name.padEnd(42)} ${step.padEnd(22)} RSS ${formatMegabytes(rssBytes(process.pid)).padEnd(8)} peak ${formatMegabytes(peakRssBytes(process.pid)).padEnd(8)} ${extra}`,
    );
  try {
    const before = rssBytes(process.pid);
    let db = await PGlite.create(dir, options);
    const settings = await db.query<{ shared_buffers: string }>('select current_setting($1) as shared_buffers', ['shared_buffers']);
    report('fresh dir (initdb)', `shared_buffers ${settings.rows[0]?.shared_buffers}; node alone ${formatMegabytes(before)}`);
    await db.close();
    db = await PGlite.create(dir, options);
    await db.query('select 1');
    report('reopened');
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const variant = process.argv[2];
if (variant !== undefined) {
  await probe(variant);
} else {
  console.log('PGlite memory by option (each variant a fresh process):');
  for (const name of Object.keys(VARIANTS)) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, name], { stdio: 'inherit' });
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`variant ${name} exited with ${code}`))));
    });
  }
}
