// The SDK's remaining gaps, through @pipedream/sdk itself: accounts.create for a key-based app
// (the key form's checks and test request), accounts by app id, the connect token's public id
// from tokens.create matching the webhook's, apps.list({hasActions}), oauth_uid from the ID
// token, and 501 not_supported for the resources latchkey does not serve.
import { PipedreamError } from '@pipedream/sdk';
import t from 'tap';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { UNSUPPORTED_RESOURCES } from '../../src/unsupported/unsupported-resources.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';
import { GOOD_KEY, callback, connectProject, startConnectServices, startOAuth, type ConnectEnv } from '../fixtures/connect-env.ts';

const services = await startConnectServices(t);

interface CreatedWithId {
  readonly token: string;
  readonly connect_token_id: string;
}

async function mintWithId(env: ConnectEnv, externalUserId = 'user-1'): Promise<CreatedWithId> {
  const created = await env.pd.tokens.create({ externalUserId, webhookUri: `${env.webhooks.origin}/hook` });
  return created as unknown as CreatedWithId;
}

/** The SDK's error for a non-2xx answer: the status and latchkey's error body. */
async function sdkError(
  call: () => Promise<unknown>,
): Promise<{ status: number | undefined; body: { error: { code: string; message: string; details?: Record<string, unknown> } } }> {
  try {
    await call();
  } catch (err) {
    if (err instanceof PipedreamError) return { status: err.statusCode, body: err.body as { error: { code: string; message: string } } };
    throw err;
  }
  throw new Error('the call succeeded');
}

const outbox = (env: ConnectEnv) =>
  env.testApp.database.handle.db.selectFrom('webhook_outbox').selectAll().where('project_id', '=', env.client.projectId).orderBy('created_at').execute();

t.test('accounts.create stores a key-based account after its test request, and webhooks name the token by the id tokens.create returned', async (t) => {
  const env = await connectProject(services);
  const { token, connect_token_id: tokenId } = await mintWithId(env);
  t.match(tokenId, /^ctid_[A-Za-z0-9]{24}$/, 'tokens.create returns the public id (kept by the SDK as an extra field)');

  // A failed test request stores nothing, reports CONNECTION_ERROR and leaves the token usable.
  const refused = await sdkError(() =>
    env.pd.accounts.create({ appSlug: 'keys-test', cfmapJson: JSON.stringify({ api_key: 'sk_wrongkey99' }), connectToken: token, externalUserId: 'user-1' }),
  );
  t.equal(refused.status, 400);
  t.same(refused.body.error.code, 'validation_failed');
  t.equal(refused.body.error.message, 'the app’s test request refused these credentials');
  t.same(refused.body.error.details, { reason: 'test_request_failed', fields: {} });
  t.notOk(JSON.stringify(refused.body).includes('sk_wrongkey99'), 'the value is not echoed');
  t.equal(env.keyApi.requests.length, 1, 'the test request ran');

  const account = await env.pd.accounts.create({
    appSlug: 'app_keys-test',
    cfmapJson: JSON.stringify({ api_key: ` ${GOOD_KEY}\n`, region: 'eu' }),
    connectToken: token,
    externalUserId: 'user-1',
  });
  t.match(account.id, /^apn_[A-Za-z0-9]+$/);
  t.equal(account.name, 'keys@example.com', 'named by the test request');
  t.equal(account.externalId, 'user-1');
  t.equal(account.app?.nameSlug, 'keys-test');
  t.equal(account.healthy, true);
  t.equal(account.credentials, undefined, 'no credentials in the answer');
  const withCredentials = await env.pd.accounts.retrieve(account.id, { includeCredentials: true });
  t.same(withCredentials.credentials, { api_key: GOOD_KEY, region: 'eu' }, 'stored trimmed, like the form');
  t.equal(env.keyApi.requests[1]?.headers.authorization, `Bearer ${GOOD_KEY}`);

  const events = await outbox(env);
  t.same(
    events.map((e) => e.event),
    ['CONNECTION_ERROR', 'CONNECTION_SUCCESS'],
  );
  for (const event of events) t.equal((event.payload as { connect_token: string }).connect_token, tokenId, `${event.event} names the token by its id`);
  t.equal((events[1]!.payload as { account: { id: string } }).account.id, account.id);

  const again = await sdkError(() => env.pd.accounts.create({ appSlug: 'keys-test', cfmapJson: JSON.stringify({ api_key: GOOD_KEY }), connectToken: token }));
  t.equal(again.status, 410, 'the token is used up');
  t.equal(again.body.error.message, 'connect_token was already used');
});

t.test('accounts.create refuses what the key form refuses, with catalogue errors', async (t) => {
  const env = await connectProject(services);
  const { token } = await mintWithId(env);
  const create = (body: Record<string, unknown>, query = '') =>
    env.testApp.app.server.inject({
      method: 'POST',
      url: `/v1/connect/${env.client.projectId}/accounts${query}`,
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
      payload: { app_slug: 'keys-test', cfmap_json: JSON.stringify({ api_key: GOOD_KEY }), connect_token: token, ...body },
    });
  const cases: [string, Record<string, unknown>, string, number, string, string][] = [
    ['a bad field value', { cfmap_json: '{"api_key":"nope"}' }, '', 400, 'validation_failed', 'cfmap_json has missing or invalid field values'],
    ['a missing field', { cfmap_json: '{}' }, '', 400, 'validation_failed', 'cfmap_json has missing or invalid field values'],
    [
      'an unknown field',
      { cfmap_json: JSON.stringify({ api_key: GOOD_KEY, apikey: 'x' }) },
      '',
      400,
      'validation_failed',
      'cfmap_json has a key that is not a field of this app',
    ],
    ['cfmap_json that is not an object', { cfmap_json: '["a"]' }, '', 400, 'validation_failed', 'cfmap_json must be a JSON object'],
    ['cfmap_json that is not JSON', { cfmap_json: '{api_key' }, '', 400, 'validation_failed', 'cfmap_json must be a JSON object'],
    ['a nested value', { cfmap_json: '{"api_key":{"a":1}}' }, '', 400, 'validation_failed', 'cfmap_json values must be strings'],
    ['an OAuth app', { app_slug: 'oidc-test' }, '', 400, 'bad_request', 'app_slug must name a key-based app; OAuth apps connect through the Connect Link'],
    ['an unknown app', { app_slug: 'no-such-app' }, '', 404, 'not_found', 'app_slug names no app in the registry'],
    ['a junk token', { connect_token: 'ctok_junk' }, '', 401, 'unauthorized', 'connect_token is invalid'],
    ['another user', {}, '?external_user_id=someone-else', 400, 'validation_failed', 'external_user_id must be the connect token’s user'],
    [
      'a foreign account id',
      { account_id: 'apn_doesnotexist' },
      '',
      403,
      'forbidden',
      'account_id does not name an account of this connect token’s user and app',
    ],
  ];
  for (const [name, body, query, status, code, message] of cases) {
    const res = await create(body, query);
    t.equal(res.statusCode, status, name);
    t.equal(res.json().error.code, code, name);
    t.equal(res.json().error.message, message, name);
  }
  t.equal(env.keyApi.requests.length, 0, 'no test request for a refused call');

  // A token of this project's other environment is no token here.
  const prod = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${env.client.projectId}/accounts`,
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'production' },
    payload: { app_slug: 'keys-test', cfmap_json: JSON.stringify({ api_key: GOOD_KEY }), connect_token: token },
  });
  t.equal(prod.statusCode, 401);
  t.equal(prod.json().error.message, 'connect_token is invalid');
  const anonymous = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${env.client.projectId}/accounts`,
    payload: { app_slug: 'keys-test', cfmap_json: JSON.stringify({ api_key: GOOD_KEY }), connect_token: token },
  });
  t.equal(anonymous.statusCode, 401, 'an API client is needed first');
  t.same((await outbox(env)).length, 0, 'nothing was reported: no attempt reached the test request');
});

t.test('accounts.list, listByExternalUser and deleteByApp take the app id form', async (t) => {
  const env = await connectProject(services);
  const { token } = await mintWithId(env, 'ann');
  const created = await env.pd.accounts.create({ appSlug: 'keys-test', cfmapJson: JSON.stringify({ api_key: GOOD_KEY }), connectToken: token });

  const ids = async (app: string) => {
    const out: string[] = [];
    for await (const account of await env.pd.accounts.list({ app })) out.push(account.id);
    return out;
  };
  t.same(await ids('app_keys-test'), [created.id], 'by app id');
  t.same(await ids('keys-test'), [created.id], 'by slug');
  t.same(await ids('app_oidc-test'), [], 'another app');
  t.same(await ids('app_no-such-app'), [], 'an unknown app id matches nothing');
  const byUser = await env.pd.accounts.listByExternalUser('ann', { app: 'app_keys-test' });
  t.same(
    byUser.map((a) => a.id),
    [created.id],
  );
  await env.pd.accounts.deleteByApp('app_keys-test');
  t.same(await ids('keys-test'), [], 'deleteByApp with the app id deleted it');
});

t.test('apps.list accepts hasActions (latchkey has no component catalogue: the filter is ignored)', async (t) => {
  const env = await connectProject(services);
  const names = async (request: Parameters<ConnectEnv['pd']['apps']['list']>[0]) => {
    const page = await env.pd.apps.list(request);
    return page.data.map((app) => app.nameSlug);
  };
  const all = await names({ limit: 50 });
  t.ok(all.includes('keys-test'));
  t.same(await names({ limit: 50, hasActions: true }), all);
  t.same(await names({ limit: 50, hasActions: false, hasTriggers: true, hasComponents: true }), all);
});

t.test('an OAuth connection keeps the ID token’s sub as oauth_uid', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const { authorizeUrl, jar } = await startOAuth(env, token);
  const done = await callback(await authorizeHeadless(authorizeUrl.toString(), 'bob'), jar);
  t.equal(done.status, 303);
  const db = env.testApp.database.handle.db;
  const row = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.equal((await openAccountSecrets(env.testApp.app.vault, row)).values['oauth_uid'], 'bob');
  const account = await env.pd.accounts.retrieve(row.id, { includeCredentials: true });
  t.equal(account.credentials?.oauthUid, 'bob', 'the SDK sees it as oauthUid');
});

t.test('the resources latchkey does not serve answer 501 not_supported naming the resource', async (t) => {
  const env = await connectProject(services);
  // The SDK retries every 5xx twice, 501 included (each retry gets the same answer); not here.
  const once = { maxRetries: 0 };
  const failed = await sdkError(() => env.pd.actions.list({}, once));
  t.equal(failed.status, 501, 'through the SDK: actions.list');
  t.same(failed.body.error.code, 'not_supported');
  t.equal(failed.body.error.message, 'latchkey does not serve the actions resource of Pipedream Connect (it is a credential broker only)');
  t.same(failed.body.error.details, { resource: 'actions' });
  const deployed = await sdkError(() => env.pd.deployedTriggers.list({ externalUserId: 'user-1' }, once));
  t.equal(deployed.status, 501);
  t.same(deployed.body.error.details, { resource: 'deployedTriggers' });

  const auth = { authorization: `Bearer ${env.client.accessToken}` };
  for (const [resource, paths] of Object.entries(UNSUPPORTED_RESOURCES)) {
    for (const path of paths) {
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', '/run'],
        ['DELETE', '/x/y'],
      ] as const) {
        const url = path.replace(':project_id', env.client.projectId) + suffix;
        const res = await env.testApp.app.server.inject({ method, url, headers: auth, ...(method === 'POST' ? { payload: {} } : {}) });
        t.equal(res.statusCode, 501, `${method} ${url}`);
        t.same(res.json().error.details, { resource }, `${method} ${url} names ${resource}`);
      }
    }
  }
  const anonymous = await env.testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${env.client.projectId}/actions` });
  t.equal(anonymous.statusCode, 401, 'a stranger is not told anything');
  const typo = await env.testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${env.client.projectId}/actionz`, headers: auth });
  t.equal(typo.statusCode, 404, 'anything else is still a 404');
});
