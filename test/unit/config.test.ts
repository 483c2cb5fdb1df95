// Configuration: every bad value stops the start with a ConfigError naming the variable (and
// never echoing a secret); the result is frozen. What the real server process does with it at
// start is in config-startup.test.ts.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

const ADMIN = 'a-perfectly-fine-admin-token-of-40-chars!';

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
