// Security suite, API security of the data: an API client can be limited to one environment
// (admin API and CLI); its tokens are refused with 403 for the other environment's
// x-pd-environment (and for the default, production, when limited to development).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { runCli } from '../../src/cli.ts';
import { TEST_ADMIN_TOKEN, TEST_KEYS, buildTestApp } from '../fixtures/app.ts';

t.test('a client limited to development: 403 for production, development works, the registry stays readable', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const projectId = (await server.inject({ method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: 'env limits' } })).json<{ id: string }>()
    .id;

  const created = await server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${projectId}/clients`,
    headers: admin,
    payload: { name: 'dev only', environment: 'development' },
  });
  t.equal(created.statusCode, 201);
  const client = created.json<{ client_id: string; client_secret: string; environment: string | null }>();
  t.equal(client.environment, 'development');
  const both = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/clients`, headers: admin, payload: {} });
  t.equal(both.json<{ environment: string | null }>().environment, null, 'by default a client acts in both');
  const listed = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/clients`, headers: admin });
  t.same(
    listed.json<{ data: { environment: string | null }[] }>().data.map((c) => c.environment),
    ['development', null],
  );
  const bad = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/clients`, headers: admin, payload: { environment: 'staging' } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json<{ error: { code: string } }>().error.code, 'validation_failed');

  const token = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
  });
  const bearer = { authorization: `Bearer ${token.json<{ access_token: string }>().access_token}` };

  for (const environment of ['production', undefined]) {
    const headers = environment === undefined ? bearer : { ...bearer, 'x-pd-environment': environment };
    const list = await server.inject({ method: 'GET', url: `/v1/connect/${projectId}/accounts`, headers });
    t.equal(list.statusCode, 403, `accounts refused for ${environment ?? 'the default environment'}`);
    t.same(list.json<{ error: { code: string; message: string } }>().error, {
      code: 'forbidden',
      message: 'this API client is limited to the development environment (x-pd-environment)',
      request_id: list.headers['x-request-id'],
    });
    const mint = await server.inject({ method: 'POST', url: `/v1/connect/${projectId}/tokens`, headers, payload: { external_user_id: 'alice' } });
    t.equal(mint.statusCode, 403, 'no connect token for production either');
    const webhook = await server.inject({ method: 'GET', url: `/v1/connect/${projectId}/webhook`, headers });
    t.equal(webhook.statusCode, 403, 'nor its webhook');
  }
  t.equal((await server.inject({ method: 'GET', url: '/v1/connect/apps?limit=1', headers: bearer })).statusCode, 200, 'the registry is the same in both');

  // Through the SDK, as a backend configured for development uses it.
  const baseUrl = await testApp.listen();
  const sdk = (projectEnvironment: 'development' | 'production') =>
    new PipedreamClient({ baseUrl, clientId: client.client_id, clientSecret: client.client_secret, projectId, projectEnvironment });
  const minted = await sdk('development').tokens.create({ externalUserId: 'alice' });
  t.match(minted.token, /^ctok_/);
  const accounts: string[] = [];
  for await (const account of await sdk('development').accounts.list({})) accounts.push(account.id);
  t.same(accounts, []);
  const refused = await sdk('production')
    .tokens.create({ externalUserId: 'alice' })
    .then(
      () => undefined,
      (err: unknown) => err as { statusCode?: number },
    );
  t.equal(refused?.statusCode, 403, 'the SDK sees a 403 for production');

  // A client without a limit still acts in both.
  const free = both.json<{ client_id: string; client_secret: string }>();
  for (const projectEnvironment of ['development', 'production'] as const) {
    const pd = new PipedreamClient({ baseUrl, clientId: free.client_id, clientSecret: free.client_secret, projectId, projectEnvironment });
    t.match((await pd.tokens.create({ externalUserId: 'bob' })).token, /^ctok_/, `unlimited client in ${projectEnvironment}`);
  }
});

t.test('the CLI creates an environment-limited client, and refuses an unknown environment', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-client-env-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_KEYS: TEST_KEYS, LATCHKEY_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'silent' };
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { env, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { code, stdout, stderr };
  };
  const projectId = (JSON.parse((await cli(['projects', 'create', 'cli env'])).stdout) as { id: string }).id;
  const created = await cli(['clients', 'create', projectId, '--environment', 'production']);
  t.equal(created.code, 0);
  t.equal((JSON.parse(created.stdout) as { environment: string | null }).environment, 'production');
  const refused = await cli(['clients', 'create', projectId, '--environment', 'staging']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, '--environment must be development or production');
  const listed = JSON.parse((await cli(['clients', 'list', projectId])).stdout) as { environment: string | null }[];
  t.same(
    listed.map((client) => client.environment),
    ['production'],
  );
});
