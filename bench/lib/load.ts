// One measured load run: autocannon in its own process against a server process, with the
// server's CPU time (from /proc, before and after) and its largest RSS during the run.
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RssSampler, cpuMicros } from './proc-stats.ts';

export interface LoadSpec {
  origin: string;
  paths: readonly string[];
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  reqPerSec: number;
  total: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface MeasuredRun extends LoadResult {
  name: string;
  /** The server process's user + system CPU time per answered request. */
  cpuMicrosPerRequest: number;
  peakRssBytes: number;
}

const GENERATOR = path.join(import.meta.dirname, 'load-generator.ts');

export async function measureLoad(name: string, spec: LoadSpec, serverPid: number): Promise<MeasuredRun> {
  const specFile = path.join(tmpdir(), `latchkey-bench-load-${randomBytes(4).toString('hex')}.json`);
  await writeFile(specFile, JSON.stringify(spec));
  const cpuBefore = cpuMicros(serverPid);
  const rss = new RssSampler(serverPid);
  let result: LoadResult;
  let peakRssBytes: number;
  try {
    result = await runGenerator(specFile);
  } finally {
    peakRssBytes = rss.stop();
    await rm(specFile, { force: true });
  }
  const cpu = cpuMicros(serverPid) - cpuBefore;
  return { name, ...result, cpuMicrosPerRequest: cpu / Math.max(1, result.total), peakRssBytes };
}

function runGenerator(specFile: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', GENERATOR, specFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the load generator exited with ${code}`));
      const lastLine = out.trim().split('\n').at(-1);
      if (lastLine === undefined) return reject(new Error('the load generator printed nothing'));
      resolve(JSON.parse(lastLine) as LoadResult);
    });
  });
}
