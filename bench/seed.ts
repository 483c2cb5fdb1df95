// npm run bench:seed -- [--accounts N] [--project proj_…] [--expire-from-minutes A] [--expire-to-minutes B]
//
// Seeds N connected OAuth accounts (default 1,000,000), one end user each, into the database
// latchkey is configured for (DATABASE_URL; unset: the embedded database in LATCHKEY_DATA_DIR,
// with the server stopped), sealed with LATCHKEY_KEYS as the server will open them. Without
// --project a new project with the bench app's OAuth client is created; with it, accounts are
// appended after the project's existing ones. Account n's token expires A + (B − A)·n/N minutes
// from now (default 60 and 60: every token issued now, valid for an hour). The server must load
// the bench app: LATCHKEY_APP_REGISTRY_DIRS=<--registry-dir> (written here, default <tmpdir>/latchkey-bench-registry).
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeBenchRegistry, NEVER_CONTACTED_TOKEN_URL } from './lib/bench-registry.ts';
import { countAccounts, createBenchProject, findBenchProject, openSeedSession, seedAccounts } from './seed-accounts.ts';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000000' },
    project: { type: 'string' },
    'expire-from-minutes': { type: 'string', default: '60' },
    'expire-to-minutes': { type: 'string', default: '60' },
    'registry-dir': { type: 'string', default: path.join(tmpdir(), 'latchkey-bench-registry') },
    'token-url': { type: 'string', default: NEVER_CONTACTED_TOKEN_URL },
  },
});

const count = wholeNumber('--accounts', values.accounts);
const fromMinutes = Number(values['expire-from-minutes']);
const toMinutes = Number(values['expire-to-minutes']);
if (!Number.isFinite(fromMinutes) || !Number.isFinite(toMinutes) || toMinutes < fromMinutes)
  throw new Error('--expire-from-minutes and --expire-to-minutes: numbers, from ≤ to');
const keys = process.env['LATCHKEY_KEYS'];
if (keys === undefined || keys === '') throw new Error('LATCHKEY_KEYS: required (the keys of the server that will read the accounts)');

const registryDir = await writeBenchRegistry(values['registry-dir'], values['token-url']);
const session = await openSeedSession({
  databaseUrl: process.env['DATABASE_URL'] || undefined,
  dataDir: path.resolve(process.env['LATCHKEY_DATA_DIR'] ?? '.latchkey'),
  keys,
  registryDir,
});
try {
  const project = values.project === undefined ? await createBenchProject(session, 'bench') : await findBenchProject(session, values.project);
  if (project === undefined) throw new Error(`--project ${values.project}: no such project with a ${registryDir} app`);
  const first = values.project === undefined ? 0 : await countAccounts(session, project.projectId);
  const now = Date.now();
  const seconds = await seedAccounts(session, {
    project,
    first,
    count,
    expiresAt: (index) => new Date(now + (fromMinutes + ((toMinutes - fromMinutes) * (index - first)) / Math.max(1, count)) * 60_000),
    onProgress: (written) => {
      if (written % 100_000 === 0) process.stdout.write(`  ${written} accounts\n`);
    },
  });
  console.log(
    `seeded ${count} accounts (${first} … ${first + count - 1}) into project ${project.projectId} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)} accounts/s); ` +
      `start latchkey with LATCHKEY_APP_REGISTRY_DIRS=${registryDir}`,
  );
} finally {
  await session.close();
}

function wholeNumber(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`${flag}: a whole number ≥ 1`);
  return Number(raw);
}
