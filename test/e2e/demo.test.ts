// `npm run demo --auto`: the quickstart's demo connects an account on this machine with nothing
// configured, and fetches its credentials through @pipedream/sdk.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { freePort } from '../fixtures/connect-env.ts';

const run = promisify(execFile);

t.test('the demo starts latchkey and a local API, connects a key account and prints what the backend reads', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-demo-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const { stdout } = await run(process.execPath, ['--import=tsx', 'scripts/demo.ts', '--auto'], {
    cwd: path.resolve(import.meta.dirname, '..', '..'),
    env: { ...process.env, PORT: String(port), LATCHKEY_DATA_DIR: dataDir },
    timeout: 120_000,
  });
  const link = /^ {4}(http:\/\/127\.0\.0\.1:\d+\/connect\?token=ctok_\w+&app=demo_notes)$/m.exec(stdout)?.[1];
  t.equal(new URL(link!).port, String(port), 'the Connect Link points at the demo’s latchkey');
  const read = /What your backend reads:\n(\{[\s\S]*?\n\})\n/.exec(stdout)?.[1];
  const account = JSON.parse(read!) as { id: string; app: string; credentials: Record<string, string> };
  t.match(account.id, /^apn_[A-Za-z0-9]{16}$/);
  t.same({ app: account.app, credentials: account.credentials }, { app: 'demo_notes', credentials: { api_key: 'demo-key-123' } });
  t.match(stdout, new RegExp(`==> Connected demo@example\\.com \\(${account.id}\\)`), 'named by the demo API’s test request');
});
