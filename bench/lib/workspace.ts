// What one benchmark run owns: a temporary folder (server logs, the bench app's registry entry,
// an embedded data dir), fresh keys and a fresh admin token. Removed at the end unless
// BENCH_KEEP=1 (to read the server logs afterwards).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Workspace {
  readonly dir: string;
  readonly keys: string;
  readonly adminToken: string;
  file(name: string): string;
  remove(): Promise<void>;
}

export async function createWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-bench-'));
  return {
    dir,
    keys: `bench1:${randomBytes(32).toString('base64')}`,
    adminToken: `lkadm_${randomBytes(24).toString('hex')}`,
    file: (name) => path.join(dir, name),
    remove: async () => {
      if (process.env['BENCH_KEEP'] === '1') {
        console.log(`kept ${dir}`);
        return;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
