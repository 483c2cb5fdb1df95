// `npm run registry:check`: the loader's checks alone. A valid folder reports each entry and
// exits 0; a broken one prints every problem as `file: /pointer message` and exits 1.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function check(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/registry-check.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

t.test('a valid extra folder: one line per entry, exit 0', async (t) => {
  const result = await check('test/fixtures/registry/valid');
  t.equal(result.code, 0);
  t.equal(result.stderr, '');
  const lines = result.stdout.split('\n');
  t.match(lines[0], /^entry +auth +templated +credential +test request$/);
  t.match(
    lines.find((line) => line.startsWith('acme_keys ')),
    /^acme_keys +keys +- +header Authorization: Bearer \{api_key\} +GET https:\/\/api\.acme\.example\/v1\/me$/,
  );
  t.match(
    lines.find((line) => line.startsWith('acme ')),
    /^acme +oauth +- +- \(no api\) +-$/,
  );
  t.match(
    lines.find((line) => line.startsWith('twilio ')),
    /^twilio +keys +AccountSid +basic \{AccountSid\}:\{AuthToken\} +GET https:\/\/api\.twilio\.com\//,
  );
  t.match(result.stdout, /\n\d+ entries valid \(\d+ oauth, \d+ oauth1, \d+ keys, \d+ none, \d+ mcp\); 0 problems\n$/);
});

t.test('a broken folder: every problem on stderr, exit 1', async (t) => {
  const result = await check('--quiet', 'test/fixtures/registry/several-broken');
  t.equal(result.code, 1);
  const folder = 'test/fixtures/registry/several-broken';
  t.same(result.stderr.trimEnd().split('\n'), [
    `${folder}/alpha.yaml: /oauth/pkce must be true or false (PKCE is always S256; plain is never allowed)`,
    `${folder}/beta.yaml: /api/auth/headers/Authorization placeholder {api_key} is not a declared field`,
    `${folder}/beta.yaml: /test_request/url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])`,
    `${folder}/gamma.yaml: /auth_type must be oauth, oauth1, keys, none or mcp`,
  ]);
  t.match(result.stdout, /^\d+ entries valid \(.*\); 4 problems\n$/, '--quiet: the summary only');
  t.equal((await check('--bogus')).code, 2, 'an unknown option');
});
