// `npm run demo`: a connected account in one command, on a fresh machine, with no provider set up.
// It starts a tiny local "Demo Notes" API that accepts one API key, latchkey (embedded database,
// development mode) with a registry entry for that API, a project and an API client; then it
// prints a Connect Link for you to open, waits until you connect, and fetches the account's fresh
// credentials through @pipedream/sdk the way your backend would. `--auto` fills the form itself
// (what the test does). Opt-in and development only: it allows http to loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PipedreamClient } from '@pipedream/sdk';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_KEY = 'demo-key-123';
const EXTERNAL_USER = 'demo-user';
const auto = process.argv.includes('--auto');
const port = Number(process.env['PORT'] ?? 3000);
const dataDir = path.resolve(process.env['LATCHKEY_DATA_DIR'] ?? path.join(ROOT, '.latchkey', 'demo'));

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((child) => child.kill('SIGTERM')));
process.on('SIGINT', () => process.exit(130));

async function main(): Promise<void> {
  const api = await startDemoApi();
  const registryDir = await writeDemoRegistry(api);
  const adminToken = randomBytes(32).toString('base64url');
  const baseUrl = await startLatchkey(registryDir, adminToken);

  const project = await admin<{ id: string }>(baseUrl, adminToken, '/v1/admin/projects', { name: 'demo' });
  const client = await admin<{ client_id: string; client_secret: string }>(baseUrl, adminToken, `/v1/admin/projects/${project.id}/clients`, {});
  const pd = new PipedreamClient({
    baseUrl,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    projectId: project.id,
    projectEnvironment: 'development',
  });
  const { connectLinkUrl } = await pd.tokens.create({ externalUserId: EXTERNAL_USER });
  const link = `${connectLinkUrl}&app=demo_notes`;
  say(`Open this Connect Link and enter the API key ${DEMO_KEY}:\n\n    ${link}\n`);
  if (auto) await submitKeyForm(link);

  const accountId = await waitForAccount(pd);
  const account = await pd.accounts.retrieve(accountId, { includeCredentials: true });
  say(`Connected ${account.name ?? accountId} (${accountId}). What your backend reads:`);
  process.stdout.write(`${JSON.stringify({ id: account.id, app: account.app?.nameSlug, credentials: account.credentials }, null, 2)}\n`);
  say('Your backend signs in with these (the client secret is shown only now):');
  process.stdout.write(`${JSON.stringify({ projectId: project.id, clientId: client.client_id, clientSecret: client.client_secret })}\n`);
  if (auto) process.exit(0);
  say('latchkey keeps running at ' + baseUrl + ' (Ctrl-C stops the demo).');
}

/** The stand-in provider: GET /me answers who you are when the bearer is the demo key. */
async function startDemoApi(): Promise<string> {
  const server = http.createServer((request, response) => {
    const authorized = request.headers.authorization === `Bearer ${DEMO_KEY}`;
    response.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
    response.end(JSON.stringify(authorized ? { name: 'Demo User', email: 'demo@example.com' } : { error: 'invalid api key' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The demo API's registry entry, written for this run's port. */
async function writeDemoRegistry(apiOrigin: string): Promise<string> {
  const dir = path.join(dataDir, 'registry');
  await mkdir(dir, { recursive: true });
  const entry = [
    'slug: demo_notes',
    'name: Demo Notes (local)',
    'description: A stand-in API started by npm run demo; its only key is printed by the demo.',
    'auth_type: keys',
    'fields:',
    '  - { name: api_key, label: API key, secret: true }',
    'api:',
    `  base_url: ${apiOrigin}`,
    '  auth:',
    '    type: header',
    '    headers:',
    '      Authorization: "Bearer {api_key}"',
    'test_request:',
    '  method: GET',
    `  url: ${apiOrigin}/me`,
    '  account_name_path: email',
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'demo_notes.yaml'), entry);
  return dir;
}

async function startLatchkey(registryDir: string, adminToken: string): Promise<string> {
  const child = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'src', 'server.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(port),
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_ADMIN_TOKEN: adminToken,
      LATCHKEY_APP_REGISTRY_DIRS: registryDir,
      LATCHKEY_INSECURE_LOOPBACK: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  child.on('exit', (code) => {
    if (code !== null && code !== 0) {
      process.stderr.write(`latchkey exited with ${code}\n`);
      process.exit(1);
    }
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 240; attempt++) {
    const up = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return baseUrl;
    await sleep(250);
  }
  throw new Error(`latchkey did not become ready at ${baseUrl}`);
}

async function admin<T>(baseUrl: string, token: string, route: string, body: object): Promise<T> {
  const response = await fetch(`${baseUrl}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${route} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/** --auto: what a browser does with the page: read its form (hidden inputs included), post it with the page's cookie. */
async function submitKeyForm(link: string): Promise<void> {
  const page = await fetch(link, { redirect: 'manual' });
  const html = await page.text();
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const form = /<form method="post" action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (form === null) throw new Error(`no form on the Connect Link page (status ${page.status})`);
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(input[1]!, decodeEntities(input[2]!));
  fields.set('f_api_key', DEMO_KEY);
  const posted = await fetch(new URL(form[1]!, link), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: fields,
  });
  if (posted.status !== 303) throw new Error(`the key form answered ${posted.status}`);
}

function decodeEntities(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
}

async function waitForAccount(pd: PipedreamClient): Promise<string> {
  for (;;) {
    const page = await pd.accounts.list({ externalUserId: EXTERNAL_USER });
    const first = page.data[0];
    if (first?.id !== undefined) return first.id;
    await sleep(1000);
  }
}

function say(text: string): void {
  process.stdout.write(`\n==> ${text}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
