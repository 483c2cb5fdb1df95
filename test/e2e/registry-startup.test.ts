// A broken file in an operator's extra registry folder stops the start, before keys or the
// database are touched, with a readable `file: /pointer message` — in prepareRuntime and in
// the real server process.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/http/logger.ts';
import { BUILTIN_REGISTRY_DIR, RegistryError, loadRegistry } from '../../src/registry/loader.ts';
import { prepareRuntime } from '../../src/runtime.ts';
import { entryArgs } from '../fixtures/latchkey-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BROKEN = path.join(ROOT, 'test', 'fixtures', 'registry', 'several-broken');
const VALID = path.join(ROOT, 'test', 'fixtures', 'registry', 'valid');

async function tempDataDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-startup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('extra folders are added to the shipped registry', async (t) => {
  const builtin = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });
  const both = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR, VALID], insecureLoopback: false });
  t.equal(both.list().length, builtin.list().length + 2);
  t.equal(both.get('acme_keys')?.auth_type, 'keys');
  t.ok(both.get('github'));
});

t.test('prepareRuntime refuses a broken extra folder before opening keys or the database', async (t) => {
  const dataDir = await tempDataDir(t);
  const config = loadConfig({ LATCHKEY_APP_REGISTRY_DIRS: BROKEN, LATCHKEY_DATA_DIR: dataDir, NODE_ENV: 'development' });
  const error = await prepareRuntime(config, createLogger('silent'), { migrate: true }).catch((err: unknown) => err);
  t.type(error, RegistryError);
  t.equal((error as RegistryError).problems.length, 4);
  t.match((error as Error).message, `${path.relative(process.cwd(), path.join(BROKEN, 'alpha.yaml'))}: /oauth/pkce must be true or false`);
  t.same(await readdir(dataDir), [], 'no key file and no database were created');
});

t.test('the server process exits non-zero and prints every problem', async (t) => {
  const dataDir = await tempDataDir(t);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', LATCHKEY_APP_REGISTRY_DIRS: BROKEN, LATCHKEY_DATA_DIR: dataDir, PORT: '0' };
  delete env['DATABASE_URL'];
  delete env['LATCHKEY_KEYS'];
  const child = spawn(process.execPath, entryArgs('src/server.ts'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);

  t.not(code, 0, 'exit code is not 0');
  t.not(code, null, 'the process exited by itself');
  t.match(stderr, /latchkey: cannot start: app registry is invalid \(4 problems\):/);
  const relative = (file: string): string => path.relative(ROOT, path.join(BROKEN, file));
  t.match(stderr, `${relative('alpha.yaml')}: /oauth/pkce must be true or false (PKCE is always S256; plain is never allowed)`);
  t.match(stderr, `${relative('beta.yaml')}: /api/auth/headers/Authorization placeholder {api_key} is not a declared field`);
  t.match(stderr, `${relative('gamma.yaml')}: /auth_type must be oauth, oauth1, keys, none or mcp`);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  t.notMatch(stdout, /listening/);
  t.same(await readdir(dataDir), [], 'nothing was created');
});
