// Starts bench/baseline-server.ts as a process of its own on a free port.
import path from 'node:path';
import { freePort, startNode, waitUntilReady, type RunningProcess } from './child-process.ts';

const BASELINE = path.join(import.meta.dirname, '..', 'baseline-server.ts');

export interface BaselineProcess extends RunningProcess {
  readonly origin: string;
}

export async function startBaseline(databaseUrl: string, logFile: string): Promise<BaselineProcess> {
  const port = await freePort();
  const running = startNode({ args: ['--import', 'tsx', BASELINE], env: { PORT: String(port), DATABASE_URL: databaseUrl }, logFile });
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(running, `${origin}/healthz`);
  } catch (err) {
    await running.stop();
    throw new Error(`the baseline did not start (see ${logFile})`, { cause: err });
  }
  return { ...running, origin };
}
