// The real server process at start: production refuses to start without keys (or with the wrong
// ones); development on the embedded database creates a 0600 key file, says so loudly, and
// reuses it on the next start. (loadConfig itself is in config.test.ts.)
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createProject } from '../../src/admin/admin.service.ts';
import { parseKeyring } from '../../src/crypto/keyring.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { Vault, type SealContext } from '../../src/keys/vault.ts';
import { processEnv, runServerToExit, startServer } from '../fixtures/latchkey-process.ts';

const ADMIN = 'a-perfectly-fine-admin-token-of-40-chars!';
// The server runs as a process several times: minutes on a busy machine.
t.setTimeout(300_000);

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the server refuses to start without keys in production or with DATABASE_URL', async (t) => {
  const dataDir = await tempDir(t);
  const production = await runServerToExit(processEnv({ NODE_ENV: 'production', LATCHKEY_DATA_DIR: dataDir }));
  t.not(production.code, 0, 'production without LATCHKEY_KEYS exits non-zero');
  t.equal(production.signal, null);
  t.match(production.stderr, /LATCHKEY_KEYS/, 'stderr names LATCHKEY_KEYS');
  t.notMatch(production.stdout, /listening/);
  t.notMatch(production.stderr, /\n\s+at /, 'no stack trace');

  // Development mode, but a shared PostgreSQL: replicas could not share a local key file.
  const shared = await runServerToExit(processEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none', LATCHKEY_DATA_DIR: dataDir }));
  t.not(shared.code, 0, 'DATABASE_URL without LATCHKEY_KEYS exits non-zero');
  t.match(shared.stderr, /LATCHKEY_KEYS/);
  t.notMatch(shared.stderr, /\n\s+at /, 'no stack trace');

  const badConfig = await runServerToExit(processEnv({ PORT: 'abc', LATCHKEY_DATA_DIR: dataDir }));
  t.not(badConfig.code, 0);
  t.match(badConfig.stderr, /PORT/);

  const badKeys = await runServerToExit(
    processEnv({
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://keys.example.com',
      LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'true',
      LATCHKEY_KEYS: 'k1:dG9vIHNob3J0',
      LATCHKEY_DATA_DIR: dataDir,
    }),
  );
  t.not(badKeys.code, 0, 'a malformed LATCHKEY_KEYS exits non-zero');
  t.match(badKeys.stderr, /LATCHKEY_KEYS/);
  t.notMatch(badKeys.stderr, /dG9vIHNob3J0/, 'and does not print the key');
  t.same(await readdir(dataDir), [], 'nothing was created in the data dir');
});

t.test('development on the embedded database: a 0600 key file, a loud warning, reused on restart', async (t) => {
  const dataDir = await tempDir(t);
  const env = processEnv({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ADMIN_TOKEN: ADMIN });
  const keyFile = path.join(dataDir, 'keyring');

  const first = await startServer(env);
  const health = await fetch(`${first.url}/readyz`);
  t.equal(health.status, 200, 'the server is ready');
  const firstExit = await first.stop();
  t.equal(firstExit.code, 0, 'SIGTERM stops it cleanly');
  const output = firstExit.stdout + firstExit.stderr;
  t.match(output, /DEVELOPMENT ONLY/, 'a loud warning');
  t.match(output, /LATCHKEY_KEYS/, 'the warning says how to do it properly');
  t.match(output, new RegExp(keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'and names the file');
  const mode = (await stat(keyFile)).mode & 0o777;
  t.equal(mode.toString(8), '600', 'the key file is readable by its owner only');
  const keyText = (await readFile(keyFile, 'utf8')).trim();
  t.match(keyText, /^local1:[A-Za-z0-9+/]{43}=$/);
  t.notOk(output.includes(keyText.split(':')[1]!), 'the key itself is not printed');

  // Seal a value with the generated keyring, as the running service would.
  const keyring = parseKeyring(keyText);
  let context: SealContext;
  let sealed: Buffer;
  {
    const database = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
    const project = await createProject(database.db, 'config test');
    context = { table: 'oauth_apps', column: 'client_secret_enc', rowId: 'oa_config_test', projectId: project.id, environment: null };
    sealed = await new Vault(database.db, keyring).seal(context, 'sealed in development');
    await database.close();
  }

  const second = await startServer(env);
  const secondExit = await second.stop();
  t.equal(secondExit.code, 0);
  t.match(secondExit.stdout + secondExit.stderr, /using the local key file/, 'the second start says it reuses the file');
  t.equal((await readFile(keyFile, 'utf8')).trim(), keyText, 'the key file is unchanged');
  {
    const database = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
    t.equal(await new Vault(database.db, keyring).openString(context, sealed), 'sealed in development', 'the data still opens');
    await database.close();
  }

  // A key file replaced by another key with the same id: the start is refused, not every request.
  await writeFile(keyFile, `local1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const wrong = await runServerToExit(env);
  t.not(wrong.code, 0, 'a wrong key under the same id stops the start');
  t.match(wrong.stderr, /"local1"/);
  t.notMatch(wrong.stdout, /listening/);

  // Production with keys that do not include the one the data needs: refused, naming it.
  const missing = await runServerToExit({
    ...env,
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://keys.example.com',
    LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'true',
    LATCHKEY_KEYS: `other:${randomBytes(32).toString('base64')}`,
  });
  t.not(missing.code, 0, 'production with a missing KEK stops the start');
  t.match(missing.stderr, /"local1"/);
  t.match(missing.stderr, /LATCHKEY_KEYS/);
});
