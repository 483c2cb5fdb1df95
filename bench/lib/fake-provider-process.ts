// Starts bench/fake-token-endpoint.ts as a process of its own and reads its counters.
import path from 'node:path';
import type { ExpiryPlan } from './bench-accounts.ts';
import { freePort, startNode, waitUntilReady, type RunningProcess } from './child-process.ts';
import type { FakeProviderStats } from '../fake-token-endpoint.ts';

const FAKE = path.join(import.meta.dirname, '..', 'fake-token-endpoint.ts');

export interface FakeProvider extends RunningProcess {
  /** The token URL replica `k` (1-based) is configured with. */
  tokenUrl(replica: number): string;
  stats(): Promise<FakeProviderStats>;
}

export async function startFakeProvider(options: { plan: ExpiryPlan; delayMs: number; expiresInSeconds: number; logFile: string }): Promise<FakeProvider> {
  const port = await freePort();
  const running = startNode({
    args: ['--import', 'tsx', FAKE],
    env: { PORT: String(port), DELAY_MS: String(options.delayMs), EXPIRES_IN: String(options.expiresInSeconds), PLAN: JSON.stringify(options.plan) },
    logFile: options.logFile,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilReady(running, `${origin}/healthz`);
  return {
    ...running,
    tokenUrl: (replica) => `${origin}/r${replica}/token`,
    stats: async () => (await (await fetch(`${origin}/stats`)).json()) as FakeProviderStats,
  };
}
