// Issue 10, smaller holes: NUL bytes reached PostgreSQL and answered 500 (a HTML 500 on the
// hosted page), and a lone surrogate was stored as U+FFFD (or refused by jsonb). Every string the
// API takes is refused once, at the edge (src/http/string-safety.ts): 400 `validation_failed`
// with the catalogue's body (RFC 6749's on the token endpoint, an HTML page on the hosted
// pages), never a 500, never the value echoed. Catalogue §5 items 29 (unicode) and 31.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { keysTestApp, seedAccount, seedProject } from '../fixtures/refresh-seed.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const NUL = '%00';
const LONE_SURROGATE = '\ud83d';

t.test('NUL bytes and lone surrogates are refused at the edge on every route the issue names', async (t) => {
  const seeded = await seedProject(t, { apps: [keysTestApp('keyapp')] });
  const { testApp, client } = seeded;
  const server = testApp.app.server;
  const bearer = { authorization: `Bearer ${client.accessToken}` };
  const p = client.projectId;
  const accountId = await seedAccount(seeded, { appSlug: 'keyapp', credentials: { api_key: 'sk_seeded' } });
  const minted = await server.inject({ method: 'POST', url: `/v1/connect/${p}/tokens`, headers: bearer, payload: { external_user_id: 'alice' } });
  t.equal(minted.statusCode, 200);
  const token = minted.json<{ token: string }>().token;

  const apiCases: [string, InjectOptions][] = [
    ['validate?account_id=%00', { method: 'GET', url: `/v1/connect/tokens/${token}/validate?account_id=${NUL}`, headers: bearer }],
    ['validate?oauth_app_id=%00', { method: 'GET', url: `/v1/connect/tokens/${token}/validate?oauth_app_id=${NUL}`, headers: bearer }],
    ['oauth_apps?q=%00', { method: 'GET', url: `/v1/connect/${p}/oauth_apps?q=${NUL}`, headers: bearer }],
    ['accounts?oauth_app_id=%00', { method: 'GET', url: `/v1/connect/${p}/accounts?oauth_app_id=${NUL}`, headers: bearer }],
    ['accounts?external_user_id=a%00', { method: 'GET', url: `/v1/connect/${p}/accounts?external_user_id=a${NUL}`, headers: bearer }],
    ['a NUL in a path parameter', { method: 'GET', url: `/v1/connect/${p}/users/a${NUL}b/accounts`, headers: bearer }],
    ['an admin project name with a NUL', { method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: 'evil\u0000name' } }],
    ['an admin project name with a lone surrogate', { method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: `evil${LONE_SURROGATE}` } }],
    [
      'an account rename with a NUL',
      { method: 'PATCH', url: `/v1/admin/projects/${p}/accounts/${accountId}`, headers: admin, payload: { name: 'renamed\u0000' } },
    ],
    [
      'an account rename with a lone surrogate',
      { method: 'PATCH', url: `/v1/admin/projects/${p}/accounts/${accountId}`, headers: admin, payload: { name: `renamed${LONE_SURROGATE}` } },
    ],
    [
      'a lone low surrogate deep in a body',
      { method: 'POST', url: `/v1/connect/${p}/tokens`, headers: bearer, payload: { external_user_id: 'bob', allowed_origins: ['https://a.example/\udc00'] } },
    ],
    [
      'a NUL in a body key',
      { method: 'POST', url: `/v1/connect/${p}/tokens`, headers: bearer, payload: { 'external_user_id\u0000': 'x', external_user_id: 'bob' } },
    ],
    [
      'a NUL in a form body',
      {
        method: 'POST',
        url: `/v1/connect/${p}/tokens`,
        headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `external_user_id=bob${NUL}`,
      },
    ],
  ];
  for (const [label, options] of apiCases) {
    const res = await server.inject(options);
    t.equal(res.statusCode, 400, `${label}: 400`);
    t.equal(res.json<{ error: { code: string } }>().error.code, 'validation_failed', `${label}: validation_failed`);
    t.match(res.json<{ error: { message: string } }>().error.message, /must not contain NUL bytes or unpaired surrogates$/, `${label}: says why`);
    t.equal(res.json<{ error: { request_id: string } }>().error.request_id, res.headers['x-request-id'], `${label}: the catalogue's body`);
  }

  // Nothing was stored: the rename did not happen, no project of that name exists.
  const account = await server.inject({ method: 'GET', url: `/v1/connect/${p}/accounts/${accountId}`, headers: bearer });
  t.equal(account.json<{ name: string | null }>().name, null, 'the account keeps its name');
  const projects = await server.inject({ method: 'GET', url: '/v1/admin/projects', headers: admin });
  t.notOk(
    projects.json<{ data: { name: string }[] }>().data.some((project) => project.name.startsWith('evil')),
    'no project was created',
  );

  // The token endpoint answers in RFC 6749's shape.
  const tokenRequest = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: `*${LONE_SURROGATE}` },
  });
  t.equal(tokenRequest.statusCode, 400);
  t.same(tokenRequest.json(), { error: 'invalid_request', error_description: 'body scope must not contain NUL bytes or unpaired surrogates' });

  // The hosted page: an HTML error page with a 400, never a 500.
  const pageCases: [string, string][] = [
    ['/connect?…&oauthAppId=%00', `/connect?token=${token}&app=keyapp&oauthAppId=${NUL}`],
    ['/_static/connect.html?…&accountId=%00', `/_static/connect.html?token=${token}&app=keyapp&accountId=${NUL}`],
    ['/connect with a NUL in an extra parameter', `/connect?token=${token}&app=keyapp&hideClose=${NUL}`],
  ];
  for (const [label, url] of pageCases) {
    const res: LightMyRequestResponse = await server.inject({ method: 'GET', url });
    t.equal(res.statusCode, 400, `${label}: 400`);
    t.match(String(res.headers['content-type']), /^text\/html/, `${label}: a page`);
    t.match(res.body, /This link is not valid/, `${label}: the link-invalid page`);
  }
  const keyForm = await server.inject({
    method: 'POST',
    url: '/connect/keys',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${token}&app=keyapp&f_api_key=sk${NUL}`,
  });
  t.equal(keyForm.statusCode, 400, 'the key form: 400');
  t.match(String(keyForm.headers['content-type']), /^text\/html/, 'the key form: a page');

  // The positive controls: ordinary Unicode (a surrogate pair, RTL, accents) is data.
  const emoji = await server.inject({ method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: 'café 🚀 \u202eabc' } });
  t.equal(emoji.statusCode, 201);
  t.equal(emoji.json<{ name: string }>().name, 'café 🚀 \u202eabc', 'stored byte-exact');
  const page = await server.inject({ method: 'GET', url: `/connect?token=${token}&app=keyapp` });
  t.equal(page.statusCode, 200, 'the link still opens');
  t.notOk(testApp.logs().includes(token), 'the connect token is not logged');
});
