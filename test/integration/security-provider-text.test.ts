// Issue 10 (smaller holes: NUL bytes), security catalogue 29 (unicode) and 43 (malformed
// response): a provider-supplied string with `\u0000` or a lone surrogate (an account name in a
// token response or a userinfo answer, a granted scope) must not break the callback. Before, the
// account's insert failed in PostgreSQL: a 500 page, the state consumed, no CONNECTION_ERROR.
// Now the strings are cleaned where the provider's answer is read, and an unforeseen failure
// after the state was spent still ends as CONNECTION_ERROR on the result page.
import t from 'tap';
import { registryFromDefinitions } from '../../src/registry/loader.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';
import { CookieJar, freePort, startServer, type ReceivedRequest } from '../fixtures/connect-env.ts';

type Answer = (request: ReceivedRequest) => unknown;

/** A provider whose token endpoint and userinfo answer what the test says (JSON, escapes intact). */
async function startProvider(t: Parameters<typeof startServer>[0], answers: { token: Answer; me: Answer }) {
  return startServer(t, (req, res) => {
    const answer = req.path.startsWith('/token') ? answers.token(req) : req.path.startsWith('/me') ? answers.me(req) : undefined;
    res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(answer === undefined ? '{}' : JSON.stringify(answer));
  });
}

async function startLatchkey(t: Parameters<typeof startServer>[0], providerOrigin: string) {
  const registry = registryFromDefinitions(
    [
      {
        slug: 'odd-names',
        name: 'Odd Names',
        auth_type: 'oauth',
        oauth: {
          authorize_url: `${providerOrigin}/authorize`,
          token_url: `${providerOrigin}/token`,
          scopes: ['read'],
          token_response: { account_name_path: 'user.name' },
        },
      },
      {
        slug: 'odd-userinfo',
        name: 'Odd Userinfo',
        auth_type: 'oauth',
        oauth: { authorize_url: `${providerOrigin}/authorize`, token_url: `${providerOrigin}/token`, scopes: ['read'] },
        api: { base_url: providerOrigin },
        test_request: { url: `${providerOrigin}/me`, account_name_path: 'name' },
      },
    ],
    { insecureLoopback: true },
  );
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { registry, privateDatabase: true, env: { PUBLIC_URL: publicUrl, PORT: String(port) } });
  await testApp.app.server.listen({ port, host: '127.0.0.1' });
  const client = await createProjectClient(testApp);
  const api = { authorization: `Bearer ${client.accessToken}`, 'content-type': 'application/json', 'x-pd-environment': 'development' };
  for (const app of ['odd-names', 'odd-userinfo']) {
    const created = await fetch(`${publicUrl}/v1/connect/${client.projectId}/oauth_apps`, {
      method: 'POST',
      headers: api,
      body: JSON.stringify({ app, client_id: 'cid', client_secret: 'csecret' }),
    });
    if (created.status !== 201) throw new Error(`oauth app: ${created.status}`);
  }
  // The events are only written when someone is to hear them.
  const webhooks = await startServer(t, (_req, res) => res.writeHead(204).end());
  const mint = async (): Promise<string> => {
    const res = await fetch(`${publicUrl}/v1/connect/${client.projectId}/tokens`, {
      method: 'POST',
      headers: api,
      body: JSON.stringify({ external_user_id: 'u-1', webhook_uri: `${webhooks.origin}/hook` }),
    });
    return ((await res.json()) as { token: string }).token;
  };
  return { testApp, publicUrl, projectId: client.projectId, mint, db: testApp.database.handle.db };
}

/** The browser's part: open the page, click Connect, come back from the provider with a code. */
async function connect(latchkey: Awaited<ReturnType<typeof startLatchkey>>, app: string): Promise<Response> {
  const jar = new CookieJar();
  const token = await latchkey.mint();
  const page = await fetch(`${latchkey.publicUrl}/connect?token=${token}&app=${app}`);
  jar.remember(page);
  const formToken = /name="form_token" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const start = await fetch(`${latchkey.publicUrl}/connect/oauth/start`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ form_token: formToken, token, app }),
  });
  if (start.status !== 303) throw new Error(`start answered ${start.status}`);
  jar.remember(start);
  const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
  return fetch(`${latchkey.publicUrl}/connect/oauth/callback?code=code-1&state=${state}`, { redirect: 'manual', headers: { cookie: jar.header() } });
}

async function events(latchkey: Awaited<ReturnType<typeof startLatchkey>>) {
  const rows = await latchkey.db.selectFrom('webhook_outbox').select('payload').where('project_id', '=', latchkey.projectId).execute();
  return rows.map((row) => row.payload as { event: string; account?: { name: string | null } });
}

t.test('29/43. a token response with NUL and a lone surrogate in the account name and a scope: the account connects, cleaned', async (t) => {
  const provider = await startProvider(t, {
    token: () => ({ access_token: 'at_odd_1', token_type: 'Bearer', expires_in: 3600, scope: 'read\u0000 wri\ud83dte', user: { name: 'Ali\u0000ce \ud83d' } }),
    me: () => ({}),
  });
  const latchkey = await startLatchkey(t, provider.origin);
  const back = await connect(latchkey, 'odd-names');
  t.equal(back.status, 303, 'the callback redirects, it does not fail');
  t.match(back.headers.get('location'), /^\/connect\/result\/cres_/);
  const result = await fetch(`${latchkey.publicUrl}${back.headers.get('location')}`);
  t.equal(result.status, 200);
  t.match(await result.text(), 'Odd Names is connected');
  const account = await latchkey.db
    .selectFrom('accounts')
    .select(['name', 'authorized_scopes'])
    .where('project_id', '=', latchkey.projectId)
    .executeTakeFirstOrThrow();
  t.equal(account.name, 'Alice \ufffd', 'NUL removed, the lone surrogate replaced');
  t.same(account.authorized_scopes, ['read', 'wri\ufffdte']);
  t.same(
    (await events(latchkey)).map((e) => [e.event, e.account?.name]),
    [['CONNECTION_SUCCESS', 'Alice \ufffd']],
  );
});

t.test('29/43. a userinfo answer (test request) naming the account with NUL and a lone low surrogate: the account connects', async (t) => {
  const provider = await startProvider(t, {
    token: () => ({ access_token: 'at_odd_2', token_type: 'Bearer', expires_in: 3600 }),
    me: () => ({ name: '\udc00Bob\u0000' }),
  });
  const latchkey = await startLatchkey(t, provider.origin);
  const back = await connect(latchkey, 'odd-userinfo');
  t.equal(back.status, 303);
  t.match(back.headers.get('location'), /^\/connect\/result\/cres_/);
  const account = await latchkey.db.selectFrom('accounts').select('name').where('project_id', '=', latchkey.projectId).executeTakeFirstOrThrow();
  t.equal(account.name, '\ufffdBob');
  t.equal((await events(latchkey))[0]?.event, 'CONNECTION_SUCCESS');
  t.notMatch(latchkey.testApp.logs(), /"level":50/, 'nothing logged as an error');
});
