// The first hour's signposts: GET / points to the docs, `cli help` lists the commands.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { USAGE, runCli } from '../../src/cli.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

t.test('GET / sends a browser to /docs and gives anything else the links', async (t) => {
  const testApp = await buildTestApp(t);
  // A file whose app never queries its database does not exit (a fixture quirk, see the report): give it one.
  await createProjectClient(testApp);
  const baseUrl = await testApp.listen();
  const browser = await fetch(`${baseUrl}/`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.equal(browser.status, 302);
  t.equal(browser.headers.get('location'), '/docs');
  t.equal((await fetch(`${baseUrl}/docs/`)).status, 200, '/docs is there');

  const curl = await fetch(`${baseUrl}/`, { headers: { accept: '*/*' } });
  t.equal(curl.status, 200);
  t.same(await curl.json(), {
    name: 'latchkey',
    description: 'Self-hosted OAuth credential broker with a Pipedream Connect compatible API',
    docs: '/docs',
    openapi: '/docs/json',
    health: '/healthz',
    apps: '/v1/connect/apps',
  });
  t.equal((await fetch(`${baseUrl}/docs/json`)).status, 200, 'the OpenAPI link works');
});

// A data dir that must never be created: a mistake or help touches no database.
const UNTOUCHED_DATA_DIR = path.join(tmpdir(), `latchkey-untouched-${process.pid}`);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { env: { LATCHKEY_DATA_DIR: UNTOUCHED_DATA_DIR }, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

t.test('cli help lists every command; a mistake answers with the list', async (t) => {
  for (const args of [['help'], ['--help'], ['-h']]) {
    const result = await cli(args);
    t.equal(result.code, 0, args.join(' '));
    t.equal(result.stdout, `${USAGE}\n`, `${args.join(' ')} prints the commands`);
    t.equal(result.stderr, '');
  }
  for (const command of [
    'setup',
    'projects create',
    'projects list',
    'clients create',
    'clients list',
    'keys generate',
    'keys status',
    'keys rotate',
    'migrate',
    'help',
  ]) {
    t.match(USAGE, new RegExp(`^  ${command}\\b`, 'm'), `help lists ${command}`);
  }
  const none = await cli([]);
  t.equal(none.code, 1);
  t.equal(none.stderr, `no command given\n${USAGE}\n`);
  const unknownOption = await cli(['--bogus']);
  t.equal(unknownOption.code, 1);
  t.match(unknownOption.stderr, /^Unknown option '--bogus'.*\nusage: latchkey <command>/s);
  const unknownCommand = await cli(['frobnicate', 'now']);
  t.equal(unknownCommand.code, 1);
  t.equal(unknownCommand.stderr, `unknown command: frobnicate now\n${USAGE}\n`);
  t.notOk(existsSync(UNTOUCHED_DATA_DIR), 'no data dir, key file or database was created for any of these');
});
