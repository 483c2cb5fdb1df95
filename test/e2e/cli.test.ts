// The CLI end to end: `setup` prints a client that works against a server started on the same
// database; `keys status` / `keys rotate` re-wrap data keys online so a restart with only the
// new KEK opens everything; a missing KEK stops the CLI with its id. The commands that create,
// rotate or refuse run as real processes (exit codes, output streams); the others run the same
// runCli in this process, which saves a process start (seconds) each.
// With LATCHKEY_TEST_DATABASE_URL the CLI and the server share a throwaway PostgreSQL database;
// otherwise they take turns on a file-backed embedded database (PGlite is single-process).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseKeyring } from '../../src/crypto/keyring.ts';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import { runCli as runCliEntry } from '../../src/cli.ts';
import { Vault } from '../../src/keys/vault.ts';
import { createTestDatabase, usingPostgres } from '../fixtures/database.ts';
import { processEnv, runCli, startServer, type ProcessResult } from '../fixtures/latchkey-process.ts';

const ADMIN = 'cli-test-admin-token-0123456789abcdef0123';
// Each CLI run is a process that loads the code and opens the database: minutes on a busy machine.
t.setTimeout(300_000);
const k1 = `k1:${randomBytes(32).toString('base64')}`;

/** `latchkey <args>` through the CLI's own entry function, in this process. */
async function runInProcess(args: string[], env: Record<string, string>): Promise<ProcessResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCliEntry(args, { env, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, signal: null, stdout, stderr };
}

function json<T>(result: ProcessResult): T {
  const start = result.stdout.indexOf('{');
  const end = result.stdout.lastIndexOf('}');
  if (result.code !== 0 || start < 0) throw new Error(`command failed (${result.code}): ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout.slice(start, end + 1)) as T;
}

interface Status {
  activeKekId: string;
  configuredKekIds: string[];
  dataKeysByKek: { kek_id: string; count: number; configured: boolean }[];
}

t.test('setup, keys status, keys rotate, then a server on the same database', async (t) => {
  // Where the CLI and the server find the database.
  let location: Record<string, string>;
  let openInProcess: () => Promise<DatabaseHandle>;
  if (usingPostgres()) {
    const database = await createTestDatabase();
    t.teardown(() => database.close());
    location = { DATABASE_URL: database.url! };
    openInProcess = async () => ({ ...database.handle, close: async () => {} });
  } else {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-cli-'));
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    location = { LATCHKEY_DATA_DIR: dataDir };
    openInProcess = () => openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
  }
  const env = (keys: string): Record<string, string> => processEnv({ ...location, LATCHKEY_KEYS: keys, LATCHKEY_ADMIN_TOKEN: ADMIN });

  const usage = await runInProcess(['frobnicate'], env(k1));
  t.equal(usage.code, 1, 'an unknown command exits 1');
  t.match(usage.stderr, /usage: latchkey/);

  const setup = json<{ project_id: string; client_id: string; client_secret: string }>(await runCli(['setup', 'demo'], env(k1)));
  t.match(setup.project_id, /^proj_[A-Za-z0-9]+$/);
  t.match(setup.client_id, /^lkc_[A-Za-z0-9]+$/);
  t.match(setup.client_secret, /^lks_[A-Za-z0-9]{36}$/);

  const generated = await runInProcess(['keys', 'generate', 'k2'], processEnv({}));
  t.equal(generated.code, 0);
  const k2 = generated.stdout.trim();
  t.match(k2, /^k2:[A-Za-z0-9+/]{43}=$/, 'keys generate prints a LATCHKEY_KEYS entry');

  // Seal values under k1 (the project's data key and the service-wide one), as the service would.
  const contexts = [
    {
      context: { table: 'oauth_apps', column: 'client_secret_enc', rowId: 'oa_cli1', projectId: setup.project_id, environment: null },
      plaintext: 'project secret',
    },
    { context: { table: 'environments', column: 'webhook_signing_key_enc', rowId: 'global', projectId: null, environment: null }, plaintext: 'service secret' },
  ];
  const sealed: Buffer[] = [];
  {
    const database = await openInProcess();
    const vault = new Vault(database.db, parseKeyring(k1));
    for (const c of contexts) sealed.push(await vault.seal(c.context, c.plaintext));
    await database.close();
  }

  const before = json<Status>(await runInProcess(['keys', 'status'], env(k1)));
  t.same(before, { activeKekId: 'k1', configuredKekIds: ['k1'], dataKeysByKek: [{ kek_id: 'k1', count: 2, configured: true }] });

  const badBatch = await runInProcess(['keys', 'rotate', '--batch-size', '0'], env(`${k2},${k1}`));
  t.equal(badBatch.code, 1, 'a batch size of 0 is refused');
  t.match(badBatch.stderr, /--batch-size/);

  const rotate = await runCli(['keys', 'rotate', '--batch-size', '1'], env(`${k2},${k1}`));
  t.equal(rotate.code, 0, 'keys rotate succeeds');
  t.match(rotate.stdout, /re-wrapped 2 data keys under "k2" in 2 batches/);
  t.same(json<Status>(rotate).dataKeysByKek, [{ kek_id: 'k2', count: 2, configured: true }], 'rotate reports the new status');

  const after = json<Status>(await runInProcess(['keys', 'status'], env(k2)));
  t.same(after.dataKeysByKek, [{ kek_id: 'k2', count: 2, configured: true }], 'k1 is no longer needed');

  const withoutK2 = await runCli(['keys', 'status'], env(k1));
  t.equal(withoutK2.code, 1, 'the CLI refuses to run without the KEK the data needs');
  t.match(withoutK2.stderr, /"k2"/, 'and names it');
  t.notOk(withoutK2.stderr.includes(k1.slice(3)) || withoutK2.stderr.includes(k2.slice(3)), 'without printing key material');
  for (const output of [before, after].map((s) => JSON.stringify(s)).concat(rotate.stdout, rotate.stderr)) {
    t.notOk(output.includes(k1.slice(3)) || output.includes(k2.slice(3)), 'no key material in the output');
  }

  {
    const database = await openInProcess();
    const vault = new Vault(database.db, parseKeyring(k2));
    for (const [i, c] of contexts.entries()) t.equal(await vault.openString(c.context, sealed[i]!), c.plaintext, `${c.plaintext} opens with k2 alone`);
    await database.close();
  }

  // The CLI is done: a server on the same database accepts the client that setup printed.
  const server = await startServer(env(k2));
  try {
    const token = await fetch(`${server.url}/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: setup.client_id, client_secret: setup.client_secret }),
    });
    t.equal(token.status, 200, 'the setup client gets a token');
    const body = (await token.json()) as { access_token: string; token_type: string; expires_in: number };
    t.hasStrict(body, { token_type: 'Bearer', expires_in: 3600 });
    t.match(body.access_token, /^lka_[A-Za-z0-9]{36}$/);

    // The token authenticates (a client is not an admin: 403), a forged one does not (401).
    const asClient = await fetch(`${server.url}/v1/admin/projects`, { headers: { authorization: `Bearer ${body.access_token}` } });
    t.equal(asClient.status, 403);
    const forgedToken = `${body.access_token.slice(0, -1)}${body.access_token.endsWith('x') ? 'y' : 'x'}`;
    const forged = await fetch(`${server.url}/v1/admin/projects`, { headers: { authorization: `Bearer ${forgedToken}` } });
    t.equal(forged.status, 401);
    const projects = await fetch(`${server.url}/v1/admin/projects`, { headers: { authorization: `Bearer ${ADMIN}` } });
    t.hasStrict(await projects.json(), { data: [{ id: setup.project_id, name: 'demo' }] });
  } finally {
    const exit = await server.stop();
    t.equal(exit.code, 0, 'the server stops cleanly');
    t.notOk(exit.stdout.includes(setup.client_secret), 'the server never logs the client secret');
  }
});
