// Configuration: every bad value stops the start with a ConfigError naming the variable (and
// never echoing a secret); the result is frozen. Then the real server process: production
// refuses to start without keys (or with the wrong ones); development on the embedded database
// creates a 0600 key file, says so loudly, and reuses it on the next start.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createProject } from '../src/admin/admin.service.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { parseKeyring } from '../src/crypto/keyring.ts';
import { openDatabase } from '../src/db/connect.ts';
import { Vault } from '../src/keys/vault.ts';
import { processEnv, runServerToExit, startServer } from './fixtures/latchkey-process.ts';

const ADMIN = 'a-perfectly-fine-admin-token-of-40-chars!';
// The start-up tests run the server as a process several times: minutes on a busy machine.
t.setTimeout(300_000);

t.test('defaults: a development config from an empty environment', async (t) => {
  const config = loadConfig({});
  t.equal(config.mode, 'development');
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.publicUrl, 'http://127.0.0.1:3000');
  t.equal(config.databaseUrl, undefined);
  t.equal(config.dataDir, path.resolve('.latchkey'));
  t.equal(config.keys, undefined);
  t.equal(config.insecureLoopback, false);
  t.equal(config.logLevel, 'info');
  t.same(config.appRegistryDirs, []);
});

t.test('good values are read, trimmed and normalised', async (t) => {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: ' 8080 ',
    HOST: '0.0.0.0',
    PUBLIC_URL: 'https://keys.example.com/',
    DATABASE_URL: 'postgresql://u:p@db:5432/latchkey',
    LATCHKEY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    LATCHKEY_ADMIN_TOKEN: ADMIN,
    LATCHKEY_APP_REGISTRY_DIRS: 'extra-apps,more-apps',
    LOG_LEVEL: 'warn',
    LATCHKEY_INSECURE_LOOPBACK: 'false',
  });
  t.equal(config.mode, 'production');
  t.equal(config.port, 8080);
  t.equal(config.publicUrl, 'https://keys.example.com', 'no trailing slash');
  t.equal(config.databaseUrl, 'postgresql://u:p@db:5432/latchkey');
  t.same(config.appRegistryDirs, [path.resolve('extra-apps'), path.resolve('more-apps')]);
  t.equal(config.logLevel, 'warn');
  t.equal(loadConfig({ HOST: '0.0.0.0', PORT: '4000' }).publicUrl, 'http://127.0.0.1:4000', 'a wildcard host is not a reachable URL');
  t.equal(loadConfig({ NODE_ENV: 'test' }).mode, 'development');
  for (const yes of ['1', 'true', 'YES', 'on']) t.equal(loadConfig({ LATCHKEY_INSECURE_LOOPBACK: yes }).insecureLoopback, true, yes);
});

t.test('the config object is frozen, lists included', async (t) => {
  const config = loadConfig({ LATCHKEY_APP_REGISTRY_DIRS: 'a' });
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config.appRegistryDirs));
  t.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => (config.appRegistryDirs as string[]).push('/etc'), TypeError);
  t.equal(config.port, 3000);
});

t.test('each bad value is a ConfigError naming the variable, never echoing the value', async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ['PORT', { PORT: 'abc' }, 'abc'],
    ['PORT', { PORT: '70000' }, '70000'],
    ['PORT', { PORT: '-1' }, '-1'],
    ['PORT', { PORT: '80.5' }, '80.5'],
    ['PUBLIC_URL', { PUBLIC_URL: 'ftp://x' }, 'ftp://x'],
    ['PUBLIC_URL', { PUBLIC_URL: 'not a url' }, 'not a url'],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://operator:hunter2-password@keys.example.com' }, 'hunter2-password'],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://keys.example.com/?a=1' }, 'a=1'],
    ['PUBLIC_URL', { PUBLIC_URL: 'javascript:alert(1)' }, 'alert(1)'],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root:db-password-123@db/latchkey' }, 'db-password-123'],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:///tmp/x.db' }, '/tmp/x.db'],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'loud'],
    ['LATCHKEY_INSECURE_LOOPBACK', { LATCHKEY_INSECURE_LOOPBACK: 'maybe' }, 'maybe'],
    ['LATCHKEY_BACKGROUND_JOBS', { LATCHKEY_BACKGROUND_JOBS: 'sometimes' }, 'sometimes'],
    ['LATCHKEY_ADMIN_TOKEN', { LATCHKEY_ADMIN_TOKEN: 'short-admin-secret' }, 'short-admin-secret'],
    ['DATABASE_POOL_SIZE', { DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE=0'],
    ['NODE_ENV', { NODE_ENV: 'prod' }, 'prod '],
    ['LATCHKEY_KEYS', { NODE_ENV: 'production' }, 'no-value'],
    [
      'LATCHKEY_INSECURE_LOOPBACK',
      { NODE_ENV: 'production', LATCHKEY_KEYS: 'k1:x', PUBLIC_URL: 'https://k.example', LATCHKEY_INSECURE_LOOPBACK: 'true' },
      'k1:x',
    ],
    ['PUBLIC_URL', { NODE_ENV: 'production', LATCHKEY_KEYS: 'k1:x', PUBLIC_URL: 'http://k.example' }, 'k1:x'],
  ];
  for (const [variable, env, value] of cases) {
    const label = `${variable} from ${JSON.stringify(env)}`;
    const err = t.throws(() => loadConfig(env), ConfigError, label) as unknown as ConfigError;
    if (!(err instanceof ConfigError)) continue;
    t.equal(err.variable, variable, `${label}: names ${variable}`);
    t.ok(err.message.startsWith(`${variable}: `), `${label}: the message starts with the variable`);
    t.notOk(err.message.includes(value), `${label}: the message does not echo the value`);
  }
});

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
    processEnv({ NODE_ENV: 'production', PUBLIC_URL: 'https://keys.example.com', LATCHKEY_KEYS: 'k1:dG9vIHNob3J0', LATCHKEY_DATA_DIR: dataDir }),
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
  const context = { table: 'oauth_apps', column: 'client_secret_enc', rowId: 'oa_config_test' };
  let sealed: Buffer;
  {
    const database = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
    const project = await createProject(database.db, 'config test');
    sealed = await new Vault(database.db, keyring).seal(project.id, context, 'sealed in development');
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
    LATCHKEY_KEYS: `other:${randomBytes(32).toString('base64')}`,
  });
  t.not(missing.code, 0, 'production with a missing KEK stops the start');
  t.match(missing.stderr, /"local1"/);
  t.match(missing.stderr, /LATCHKEY_KEYS/);
});
