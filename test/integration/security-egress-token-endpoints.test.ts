// Security catalogue 59 (egress to internal hosts) and issue 10, Medium 4 ("every outbound
// request latchkey makes"): the authorization-code exchange, the refresh and revoke calls to
// token endpoints and the key form's test request now go through the egress guard. Their hosts
// lead to 127.0.0.1, where a listener counts connections — a public name that resolves there
// (the exchange), the literal address (refresh and revoke), `localhost` (the test request) — with
// the guard as production runs it (LATCHKEY_INSECURE_LOOPBACK unset; config.ts refuses it in
// production): each request is refused before a socket opens, and the flow fails cleanly.
import t, { type Test } from 'tap';
import { normalizeApp } from '../../src/registry/normalize.ts';
import type { HostResolver } from '../../src/egress/resolver.ts';
import { startCountingListener, type CountingListener } from '../fixtures/counting-listener.ts';
import { oauthTestApp, seedAccount, seedProject, type Seeded } from '../fixtures/refresh-seed.ts';

const PUBLIC_URL = 'https://latchkey.example.com';

/** A resolver that answers 127.0.0.1 for every provider name, as a hostile or misconfigured DNS would. */
function loopbackResolver(asked: string[]): HostResolver {
  return async (hostname) => {
    asked.push(hostname);
    return [{ address: '127.0.0.1', family: 4 }];
  };
}

async function setup(t: Test) {
  const listener: CountingListener = await startCountingListener();
  t.teardown(() => listener.close());
  const named = `https://provider.example.com:${listener.port}`;
  const literal = `https://127.0.0.1:${listener.port}`;
  const api = `https://localhost:${listener.port}`;
  const asked: string[] = [];
  const keysApp = normalizeApp(
    {
      slug: 'private-keys',
      name: 'Private Keys',
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'API key', secret: true }],
      api: { base_url: api, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      test_request: { url: `${api}/me` },
    },
    'test:private-keys',
  );
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('private-token', named, { refresh_url: `${literal}/token`, revoke_url: `${literal}/revoke` }), keysApp],
    oauthApp: { slug: 'private-token', clientId: 'client-1', clientSecret: 'secret-s3cr3t-value' },
    app: { env: { PUBLIC_URL, LATCHKEY_INSECURE_LOOPBACK: 'false' }, resolveHost: loopbackResolver(asked), privateDatabase: true },
  });
  return { listener, asked, seeded };
}

function clientHeaders(seeded: Seeded) {
  return { authorization: `Bearer ${seeded.client.accessToken}`, 'x-pd-environment': 'production' };
}

async function mint(seeded: Seeded): Promise<string> {
  const res = await seeded.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${seeded.client.projectId}/tokens`,
    headers: clientHeaders(seeded),
    payload: { external_user_id: 'user-1' },
  });
  return res.json<{ token: string }>().token;
}

/** The Connect Link page in one browser: its binding cookie and form token. */
async function openPage(seeded: Seeded, token: string, app: string) {
  const page = await seeded.testApp.app.server.inject({ method: 'GET', url: `/connect?token=${token}&app=${app}` });
  return { cookie: (page.headers['set-cookie'] as string).split(';')[0]!, formToken: /name="form_token" value="([^"]+)"/.exec(page.body)![1]! };
}

t.test('59. the authorization-code exchange with a token endpoint that resolves to loopback: refused, the flow ends as provider_error', async (t) => {
  const { listener, asked, seeded } = await setup(t);
  const server = seeded.testApp.app.server;
  const token = await mint(seeded);
  const { cookie, formToken } = await openPage(seeded, token, 'private-token');
  const start = await server.inject({
    method: 'POST',
    url: '/connect/oauth/start',
    headers: { cookie },
    payload: { form_token: formToken, token, app: 'private-token' },
  });
  t.equal(start.statusCode, 303);
  const state = new URL(start.headers.location as string).searchParams.get('state')!;
  const back = await server.inject({ method: 'GET', url: `/connect/oauth/callback?code=code-1&state=${state}`, headers: { cookie } });
  t.equal(back.statusCode, 303, 'the callback ends on the result page, not a 500');
  const result = await seeded.testApp.database.handle.db
    .selectFrom('connect_results')
    .select(['outcome', 'error'])
    .where('project_id', '=', seeded.client.projectId)
    .executeTakeFirstOrThrow();
  t.same(result, { outcome: 'error', error: 'provider_error' });
  t.ok(asked.includes('provider.example.com'), 'the token host was judged by the guard');
  t.equal(listener.connections(), 0, 'nothing connected to the token endpoint');
  t.notMatch(seeded.testApp.logs(), 'secret-s3cr3t-value');
});

t.test('59. a refresh against a token endpoint at a loopback address: refused, the caller is told to retry', async (t) => {
  const { listener, seeded } = await setup(t);
  const id = await seedAccount(seeded, { appSlug: 'private-token', expiresInSeconds: -60 });
  const res = await seeded.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${seeded.client.projectId}/accounts/${id}?include_credentials=true`,
    headers: clientHeaders(seeded),
  });
  t.equal(res.statusCode, 503);
  t.equal(res.json<{ error: { code: string } }>().error.code, 'provider_unavailable');
  const row = await seeded.testApp.database.handle.db
    .selectFrom('accounts')
    .select(['error_code', 'error', 'dead'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  t.equal(row.error_code, 'provider_unavailable');
  t.match(row.error, '(destination refused (address_loopback))');
  t.equal(row.dead, false, 'a refused destination never condemns the account');
  t.equal(listener.connections(), 0, 'nothing connected to the token endpoint');
});

t.test('59. revocation at a revoke endpoint at a loopback address: refused, the account is deleted locally anyway', async (t) => {
  const { listener, seeded } = await setup(t);
  const id = await seedAccount(seeded, { appSlug: 'private-token' });
  const res = await seeded.testApp.app.server.inject({
    method: 'DELETE',
    url: `/v1/connect/${seeded.client.projectId}/accounts/${id}`,
    headers: clientHeaders(seeded),
  });
  t.equal(res.statusCode, 204);
  t.equal(await seeded.testApp.database.handle.db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst(), undefined);
  t.match(seeded.testApp.logs(), /"reason":"destination refused \(address_loopback\)".*revocation at the provider failed/);
  t.equal(listener.connections(), 0, 'nothing connected to the revoke endpoint');
});

t.test('59. the key form’s test request to an API at localhost: refused, nothing stored', async (t) => {
  const { listener, asked, seeded } = await setup(t);
  const server = seeded.testApp.app.server;
  const token = await mint(seeded);
  const { cookie, formToken } = await openPage(seeded, token, 'private-keys');
  const res = await server.inject({
    method: 'POST',
    url: '/connect/keys',
    headers: { cookie },
    payload: { form_token: formToken, token, app: 'private-keys', f_api_key: 'k-123456' },
  });
  t.equal(res.statusCode, 400);
  t.match(res.body, 'Test request failed.');
  t.same(asked, [], 'localhost is refused by name, never looked up');
  t.equal(listener.connections(), 0, 'nothing connected to the API');
  t.equal((await seeded.testApp.database.handle.db.selectFrom('accounts').select('id').execute()).length, 0);
});
