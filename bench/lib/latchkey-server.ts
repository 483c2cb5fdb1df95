// latchkey as users run it: built with `npm run build`, migrated with the CLI, started as
// `node dist/src/server.js` with its configuration in the environment and its log going to a
// file. The benchmark talks to it over HTTP only.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, startNode, waitUntilReady, type RunningProcess } from './child-process.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const SERVER = path.join(REPO_ROOT, 'dist', 'src', 'server.js');
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

/**
 * NODE_ENV=production needs an https PUBLIC_URL (a name nobody resolves: only redirect URIs and
 * Connect Links are made from it) and refuses LATCHKEY_INSECURE_LOOPBACK, which a fake provider
 * on 127.0.0.1 needs; such scenarios run in development mode, which changes nothing else on the
 * paths measured (same logger, same level, same routes).
 */
export type LatchkeyMode = 'production' | 'development-with-loopback-provider';

export interface LatchkeySettings {
  mode: LatchkeyMode;
  /** Undefined: the embedded database in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  keys: string;
  adminToken: string;
  registryDir: string;
  backgroundJobs: boolean;
  logFile: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: readonly string[];
  /** Further settings (the proxy benchmark lifts LATCHKEY_PROXY_RATE_LIMIT). */
  extraEnv?: Readonly<Record<string, string>>;
}

export interface LatchkeyProcess extends RunningProcess {
  readonly origin: string;
}

/** /metrics is not public (LATCHKEY_METRICS_TOKEN): the benchmarks read memory through it. */
export const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789abcdefghij';

export function latchkeyEnvironment(settings: LatchkeySettings, port: number): Record<string, string> {
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LATCHKEY_KEYS: settings.keys,
    LATCHKEY_ADMIN_TOKEN: settings.adminToken,
    LATCHKEY_APP_REGISTRY_DIRS: settings.registryDir,
    LATCHKEY_DATA_DIR: settings.dataDir,
    LATCHKEY_BACKGROUND_JOBS: String(settings.backgroundJobs),
    LATCHKEY_METRICS_TOKEN: BENCH_METRICS_TOKEN,
  };
  if (settings.databaseUrl !== undefined) env['DATABASE_URL'] = settings.databaseUrl;
  Object.assign(env, settings.extraEnv);
  if (settings.mode === 'production') {
    env['NODE_ENV'] = 'production';
    env['PUBLIC_URL'] = 'https://latchkey.bench.invalid';
    // `--database pglite` measures the embedded database on purpose; production refuses it otherwise.
    if (settings.databaseUrl === undefined) env['LATCHKEY_ALLOW_EMBEDDED_DATABASE'] = 'true';
  } else {
    env['NODE_ENV'] = 'development';
    env['LATCHKEY_INSECURE_LOOPBACK'] = 'true';
  }
  return env;
}

export async function startLatchkey(settings: LatchkeySettings): Promise<LatchkeyProcess> {
  const port = await freePort();
  const running = startNode({
    args: [...(settings.nodeFlags ?? []), ...profilingFlags(), SERVER],
    env: latchkeyEnvironment(settings, port),
    logFile: settings.logFile,
    cwd: REPO_ROOT,
  });
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(running, `${origin}/healthz`);
  } catch (err) {
    await running.stop();
    throw new Error(`latchkey did not start (see ${settings.logFile})`, { cause: err });
  }
  return { ...running, origin };
}

/**
 * BENCH_CPU_PROF=<dir>: every latchkey process writes a V8 CPU profile there when it stops
 * (summarise one with bench/profile-summary.ts, or open it in Chrome's DevTools).
 */
function profilingFlags(): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`];
}

export function buildLatchkey(): Promise<void> {
  return run('npm', ['run', 'build', '--silent'], {});
}

/** `latchkey migrate`, as a deploy runs it once before the replicas start. */
export function migrateLatchkey(databaseUrl: string): Promise<void> {
  return run(process.execPath, [CLI, 'migrate'], { DATABASE_URL: databaseUrl });
}

function run(command: string, args: readonly string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}
