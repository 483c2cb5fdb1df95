// Security suite, configuration: production refuses secrets that were typed rather than generated
// (security catalogue §5 item 37, KEK missing or wrong, extended to weak ones) and the embedded
// database unless chosen explicitly; no admin token is said loudly at start, and the banner then
// never tells the user to curl with a token that does not exist (issue 14).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { weakTokenReason } from '../../src/crypto/secret-strength.ts';
import { NO_ADMIN_TOKEN_WARNING, startupBanner } from '../../src/runtime.ts';
import { processEnv, runServerToExit, startServer } from '../fixtures/latchkey-process.ts';

t.setTimeout(300_000);

const STRONG_KEY = `k1:${randomBytes(32).toString('base64')}`;
const STRONG_TOKEN = randomBytes(32).toString('hex');
const PRODUCTION = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://keys.example.com',
  DATABASE_URL: 'postgres://latchkey@db.example.com/latchkey',
  LATCHKEY_KEYS: STRONG_KEY,
  LATCHKEY_ADMIN_TOKEN: STRONG_TOKEN,
};

function refusal(t: Test, env: Record<string, string>, variable: string, secret: string, why: RegExp): void {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    error = err;
  }
  t.type(error, ConfigError, `${variable} refused`);
  t.equal((error as ConfigError).variable, variable);
  t.match((error as Error).message, why);
  t.notOk((error as Error).message.includes(secret), 'the message does not echo the secret');
}

t.test('production refuses weak key-encryption keys in LATCHKEY_KEYS', async (t) => {
  t.equal(loadConfig(PRODUCTION).mode, 'production', 'strong values start');
  const weak: [string, Buffer, RegExp][] = [
    ['all zero', Buffer.alloc(32), /key k2 has too few distinct bytes/],
    ['one byte repeated', Buffer.alloc(32, 0xa5), /too few distinct bytes/],
    ['a short pattern', Buffer.from('0102030405060708'.repeat(4), 'hex'), /too few distinct bytes/],
    ['counting bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), /counting sequence/],
    ['a passphrase', Buffer.from('correct horse battery staple 123', 'utf8'), /is text \(a passphrase\)/],
  ];
  for (const [what, material, why] of weak) {
    const encoded = material.toString('base64');
    t.test(what, async (t) => refusal(t, { ...PRODUCTION, LATCHKEY_KEYS: `${STRONG_KEY},k2:${encoded}` }, 'LATCHKEY_KEYS', encoded, why));
  }
  // Development keeps working with whatever a developer typed (it never holds real credentials).
  t.equal(loadConfig({ LATCHKEY_KEYS: `k1:${Buffer.alloc(32).toString('base64')}` }).mode, 'development');
});

t.test('production refuses weak admin tokens', async (t) => {
  const weak: [string, string, RegExp][] = [
    ['32 identical characters', 'a'.repeat(32), /too few distinct characters/],
    ['a repeated word', 'Summer2026!Pw'.repeat(3), /repeats a short pattern/],
    ['a repeated hex run', '0123456789abcdef'.repeat(2), /repeats a short pattern/],
    ['a counting run', 'abcdefghijklmnopqrstuvwxyz0123456789', /counting or keyboard run/],
    ['low entropy', 'aaaaaaaaaabbbbbbbbbbccccccccccdefghijk', /too little entropy|counting or keyboard run/],
  ];
  for (const [what, token, why] of weak) {
    t.test(what, async (t) => refusal(t, { ...PRODUCTION, LATCHKEY_ADMIN_TOKEN: token }, 'LATCHKEY_ADMIN_TOKEN', token, why));
  }
  // Generated tokens pass: 32 and 64 hex characters, base64url, latchkey's own lkadm_ format.
  for (let i = 0; i < 200; i++) {
    for (const token of [
      randomBytes(16).toString('hex'),
      randomBytes(32).toString('hex'),
      randomBytes(24).toString('base64url'),
      `lkadm_${randomBytes(24).toString('base64url')}`,
    ]) {
      const reason = weakTokenReason(token);
      if (reason !== undefined) t.fail(`a generated token was refused: ${reason}`);
    }
  }
  t.equal(loadConfig({ ...PRODUCTION, LATCHKEY_ADMIN_TOKEN: 'a-perfectly-fine-admin-token-of-40-chars!' }).mode, 'production');
});

t.test('production refuses the embedded database unless LATCHKEY_ALLOW_EMBEDDED_DATABASE=true', async (t) => {
  const embedded: Record<string, string> = { ...PRODUCTION };
  delete embedded['DATABASE_URL'];
  refusal(t, embedded, 'DATABASE_URL', STRONG_TOKEN, /LATCHKEY_ALLOW_EMBEDDED_DATABASE=true/);
  const allowed = loadConfig({ ...embedded, LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'true' });
  t.equal(allowed.databaseUrl, undefined);
  t.equal(allowed.allowEmbeddedDatabase, true);
  refusal(t, { ...embedded, LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'maybe' }, 'LATCHKEY_ALLOW_EMBEDDED_DATABASE', STRONG_TOKEN, /true or false/);
  t.equal(loadConfig({}).allowEmbeddedDatabase, false, 'development needs no setting');
});

t.test('without an admin token the banner names no token to curl with', async (t) => {
  const config = { publicUrl: 'https://keys.example.com', dataDir: '/var/lib/latchkey', adminToken: undefined };
  const postgres = startupBanner(config, 'postgres', undefined);
  t.match(postgres, 'latchkey is listening on https://keys.example.com (PostgreSQL)');
  t.match(postgres, 'Admin token:     none (LATCHKEY_ADMIN_TOKEN is not set)');
  t.match(postgres, 'npm run cli -- setup demo, or set LATCHKEY_ADMIN_TOKEN and restart');
  t.notMatch(postgres, /curl|Bearer/, 'no curl with a token that does not exist');
  const withToken = startupBanner({ ...config, adminToken: STRONG_TOKEN }, 'postgres', undefined);
  t.match(withToken, 'authorization: Bearer $LATCHKEY_ADMIN_TOKEN');
  t.notOk(withToken.includes(STRONG_TOKEN), 'the banner never prints the token itself');
});

t.test('the server process: a weak key stops the start; no admin token starts with a loud warning', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-weak-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const base = { NODE_ENV: 'production', PUBLIC_URL: 'https://keys.example.com', LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'true' };

  const zeroKey = Buffer.alloc(32).toString('base64');
  const refused = await runServerToExit(processEnv({ ...base, LATCHKEY_KEYS: `k1:${zeroKey}`, LATCHKEY_ADMIN_TOKEN: STRONG_TOKEN }));
  t.equal(refused.code, 1);
  t.match(refused.stderr, 'latchkey: configuration error: LATCHKEY_KEYS: key k1 has too few distinct bytes');
  t.notMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  t.notOk(refused.stderr.includes(zeroKey));
  t.notMatch(refused.stdout, /listening/);

  const embeddedRefused = await runServerToExit(processEnv({ ...base, LATCHKEY_ALLOW_EMBEDDED_DATABASE: 'false', LATCHKEY_KEYS: STRONG_KEY }));
  t.equal(embeddedRefused.code, 1);
  t.match(embeddedRefused.stderr, 'latchkey: configuration error: DATABASE_URL: is required when NODE_ENV=production');

  const server = await startServer(processEnv({ ...base, LATCHKEY_KEYS: STRONG_KEY }));
  const stopped = await server.stop();
  const output = `${stopped.stdout}${stopped.stderr}`;
  t.ok(output.includes(NO_ADMIN_TOKEN_WARNING.replace(/"/g, '\\"')), 'the warning is logged at start');
  t.match(output, /"level":40[^\n]*NO ADMIN TOKEN/, 'at warn level');
  t.match(stopped.stdout, 'Admin token:     none');
  t.notMatch(stopped.stdout, /Bearer/, 'no curl with a token that does not exist');
});
