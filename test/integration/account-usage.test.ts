// Where an account is used: last_used_at on the account object (written in batches, coarsely,
// after the reads), the admin API's used_by list (API clients that read the credentials in the
// last 30 days, from the audit log) and the names of the credential fields it holds, and the
// apps API's credential_fields (the `$auth` names an app yields).
import t from 'tap';
import { USAGE_GRANULARITY_MS } from '../../src/accounts/account-usage.ts';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { GOOD_KEY, callback, connectProject, postForm, startConnectServices, startOAuth, type ConnectEnv } from '../fixtures/connect-env.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';

const services = await startConnectServices(t);

interface AccountBody {
  last_used_at: string | null;
}

interface DetailBody {
  last_used_at: string | null;
  last_checked_at: string | null;
  credential_fields: string[];
  used_by: { actor: string; client_id: string | null; last_used_at: string; uses: number }[];
}

const get = (env: ConnectEnv, url: string, token = env.client.accessToken) =>
  env.testApp.app.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, 'x-pd-environment': 'development' } });

async function connectKeys(env: ConnectEnv): Promise<string> {
  const token = await env.mint();
  const res = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY, f_region: 'eu' });
  if (res.status !== 303) throw new Error(`keys connect answered ${res.status}`);
  return (await env.pd.accounts.list({ app: 'keys-test' })).data[0]!.id;
}

t.test('last_used_at: set by a credential read, written after it in a batch, coarse', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeys(env);
  const accountUrl = `/v1/connect/${env.client.projectId}/accounts/${accountId}`;
  const { db } = env.testApp.database.handle;

  t.equal((await get(env, accountUrl)).json<AccountBody>().last_used_at, null, 'never used yet');
  await get(env, accountUrl);
  await env.testApp.app.accountUsage.flush();
  t.equal((await get(env, accountUrl)).json<AccountBody>().last_used_at, null, 'reading the account without credentials is not a use');

  const before = Date.now();
  t.equal((await get(env, `${accountUrl}?include_credentials=true`)).statusCode, 200);
  t.equal((await get(env, accountUrl)).json<AccountBody>().last_used_at, null, 'not written by the read itself');
  await env.testApp.app.accountUsage.flush();
  const first = (await get(env, accountUrl)).json<AccountBody>().last_used_at;
  t.ok(first !== null && Date.parse(first) >= before - 1000, 'written by the batch');

  await get(env, `${accountUrl}?include_credentials=true`);
  await env.testApp.app.accountUsage.flush();
  t.equal((await get(env, accountUrl)).json<AccountBody>().last_used_at, first, `coarse: a read within ${USAGE_GRANULARITY_MS / 60_000} minutes leaves it`);

  // An older stored time is moved on by the next batch.
  await db
    .updateTable('accounts')
    .set({ last_used_at: new Date(Date.now() - 2 * USAGE_GRANULARITY_MS) })
    .where('id', '=', accountId)
    .execute();
  await get(env, `${accountUrl}?include_credentials=true`);
  await env.testApp.app.accountUsage.flush();
  const moved = (await get(env, accountUrl)).json<AccountBody>().last_used_at;
  t.ok(moved !== null && Date.parse(moved) >= before - 1000, 'an old time is replaced');

  const listed = (await get(env, `/v1/connect/${env.client.projectId}/accounts?include_credentials=true`)).json<{ data: AccountBody[] }>();
  t.equal(listed.data[0]!.last_used_at, moved, 'the list shows it too');
});

t.test('admin: used_by from the audit log, the credential field names, never a value', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeys(env);
  const accountUrl = `/v1/connect/${env.client.projectId}/accounts/${accountId}`;
  const detailUrl = `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}`;
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  const unused = await env.testApp.app.server.inject({ method: 'GET', url: detailUrl, headers: admin });
  t.equal(unused.statusCode, 200);
  t.same(unused.json<DetailBody>().used_by, [], 'nobody used it yet');

  for (let i = 0; i < 3; i++) t.equal((await get(env, `${accountUrl}?include_credentials=true`)).statusCode, 200);
  await env.testApp.app.auditLog.flush();
  await env.testApp.app.accountUsage.flush();

  const res = await env.testApp.app.server.inject({ method: 'GET', url: detailUrl, headers: admin });
  t.equal(res.statusCode, 200);
  const detail = res.json<DetailBody>();
  t.same(detail.credential_fields, ['api_key', 'region'], 'the names printing $auth would show');
  t.notOk(res.body.includes(GOOD_KEY), 'no value');
  t.equal(detail.used_by.length, 1);
  t.hasStrict(detail.used_by[0], { actor: `client:${env.client.clientId}`, client_id: env.client.clientId, uses: 3 });
  t.equal(detail.used_by[0]!.last_used_at.slice(0, 10), new Date().toISOString().slice(0, 10));
  t.ok(detail.last_used_at !== null);

  const foreign = await env.testApp.app.server.inject({ method: 'GET', url: `/v1/admin/projects/proj_nosuchproject/accounts/${accountId}`, headers: admin });
  t.equal(foreign.statusCode, 404);
  const asClient = await env.testApp.app.server.inject({ method: 'GET', url: detailUrl, headers: { authorization: `Bearer ${env.client.accessToken}` } });
  t.equal(asClient.statusCode, 403, 'admin only');
});

t.test('an OAuth account holds the token fields; the apps API names what each app yields', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const { authorizeUrl, jar } = await startOAuth(env, token);
  t.equal((await callback(await authorizeHeadless(authorizeUrl.toString()), jar)).status, 303);
  const accountId = (await env.pd.accounts.list({ app: 'oidc-test' })).data[0]!.id;
  const detail = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}`,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  // oidc-provider sends an ID token: its sub is kept as oauth_uid.
  t.same(detail.json<DetailBody>().credential_fields, ['expires_at', 'oauth_access_token', 'oauth_client_id', 'oauth_refresh_token', 'oauth_uid']);

  const oidc = (await get(env, '/v1/connect/apps/oidc-test')).json<{ data: { credential_fields: string[] } }>().data;
  t.same(oidc.credential_fields, ['oauth_access_token', 'oauth_refresh_token', 'oauth_client_id', 'expires_at']);
  const keys = (await get(env, '/v1/connect/apps/keys-test')).json<{ data: { credential_fields: string[] } }>().data;
  t.same(keys.credential_fields, ['api_key', 'region']);
  const account = (await get(env, `/v1/connect/${env.client.projectId}/accounts/${accountId}`)).json<{ app: { credential_fields: string[] } }>();
  t.same(account.app.credential_fields, oidc.credential_fields, 'the account embeds the same app view');
});
