// Security catalogue 20 (open redirect) and issue 10's smaller hole "success_redirect_uri /
// error_redirect_uri have no allow-list": a project may set a list of allowed redirect origins
// (admin API); while it is set, tokens.create with a redirect URI on any other origin is refused
// with 400 and nothing is stored.
import t from 'tap';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';

const testApp = await buildTestApp(t);
const server = testApp.app.server;
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function setup() {
  const client = await createProjectClient(testApp);
  const api = (environment: 'development' | 'production') => ({ authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': environment });
  const mint = (body: Record<string, unknown>, environment: 'development' | 'production' = 'production') =>
    server.inject({ method: 'POST', url: `/v1/connect/${client.projectId}/tokens`, headers: api(environment), payload: { external_user_id: 'u-1', ...body } });
  const setList = (origins: unknown) =>
    server.inject({
      method: 'PUT',
      url: `/v1/admin/projects/${client.projectId}/allowed_redirect_origins`,
      headers: admin,
      payload: { allowed_redirect_origins: origins },
    });
  const tokenCount = async () =>
    (await testApp.database.handle.db.selectFrom('connect_tokens').select('id').where('project_id', '=', client.projectId).execute()).length;
  return { client, api, mint, setList, tokenCount };
}

t.test('20. open redirect: with an allow-list set, tokens.create with a redirect URI on another origin is refused 400', async (t) => {
  const { client, mint, setList, tokenCount } = await setup();
  t.equal((await mint({ success_redirect_uri: 'https://evil.example/x' })).statusCode, 200, 'no list yet: any valid URI');

  const set = await setList(['https://app.example.com/', 'http://127.0.0.1:3000', 'https://app.example.com']);
  t.equal(set.statusCode, 200);
  t.same(
    set.json(),
    { project_id: client.projectId, allowed_redirect_origins: ['https://app.example.com', 'http://127.0.0.1:3000'] },
    'normalised, deduplicated',
  );
  const read = await server.inject({ method: 'GET', url: `/v1/admin/projects/${client.projectId}/allowed_redirect_origins`, headers: admin });
  t.same(read.json(), set.json());

  const before = await tokenCount();
  for (const [name, uri] of [
    ['success_redirect_uri', 'https://evil.example/x'],
    ['error_redirect_uri', 'https://evil.example/x'],
    ['success_redirect_uri', 'https://app.example.com.evil.example/done'],
    ['success_redirect_uri', 'https://app.example.com:8443/done'],
    ['error_redirect_uri', 'https://app.example.org/done'],
    ['success_redirect_uri', 'https://sub.app.example.com/done'],
  ] as const) {
    const refused = await mint({ success_redirect_uri: 'https://app.example.com/ok', [name]: uri });
    t.equal(refused.statusCode, 400, `${name} ${uri}`);
    t.same(refused.json().error.code, 'validation_failed');
    t.equal(refused.json().error.message, `${name} must point at one of the project's allowed redirect origins`);
  }
  t.equal(await tokenCount(), before, 'nothing stored for a refused token');

  const allowed = await mint({ success_redirect_uri: 'https://app.example.com/done?x=1', error_redirect_uri: 'https://app.example.com/failed' });
  t.equal(allowed.statusCode, 200);
  const dev = await mint({ success_redirect_uri: 'http://127.0.0.1:3000/done' }, 'development');
  t.equal(dev.statusCode, 200, 'the list serves both environments');
  t.equal((await mint({})).statusCode, 200, 'a token without redirect URIs is not affected');

  t.equal((await setList(null)).statusCode, 200);
  t.equal((await mint({ success_redirect_uri: 'https://evil.example/x' })).statusCode, 200, 'null removes the list');
});

t.test('20. the allow-list itself: bare origins only, admin only, a known project', async (t) => {
  const { client, api, setList } = await setup();
  for (const [index, entry] of ['https://a.example/path', 'javascript:alert(1)', '//evil.com', 'https://good.com@evil.com', 'https:\\\\evil.com'].entries()) {
    const res = await setList(['https://ok.example', entry]);
    t.equal(res.statusCode, 400, entry);
    t.match(res.json().error.message, /^allowed_redirect_origins\[1\] /, `${entry}: the entry is named (${index})`);
  }
  t.equal((await setList(Array.from({ length: 51 }, (_, i) => `https://a${i}.example`))).statusCode, 400, 'at most 50');
  t.equal((await setList('https://a.example')).statusCode, 400, 'a list or null');
  const asClient = await server.inject({
    method: 'PUT',
    url: `/v1/admin/projects/${client.projectId}/allowed_redirect_origins`,
    headers: api('production'),
    payload: { allowed_redirect_origins: ['https://a.example'] },
  });
  t.equal(asClient.statusCode, 403, 'a project client cannot set it');
  const unknown = await server.inject({
    method: 'PUT',
    url: '/v1/admin/projects/proj_doesnotexist/allowed_redirect_origins',
    headers: admin,
    payload: { allowed_redirect_origins: [] },
  });
  t.equal(unknown.statusCode, 404);
  t.equal((await server.inject({ method: 'GET', url: '/v1/admin/projects/proj_doesnotexist/allowed_redirect_origins', headers: admin })).statusCode, 404);
});
