// OAuth 2.0 client credentials (RFC 6749 §4.4) end to end against a real authorization server
// (oidc-provider's clientCredentials feature): the hosted form, the first mint on submit (a wrong
// secret shows the form's error and stores nothing), the test request against a resource server
// that introspects the token, a credential fetch through @pipedream/sdk, the re-mint of a stale
// token (on a fetch and by the background refresher), and the faults: a provider 500 (unhealthy,
// backoff, recovers) and a revoked secret (dead, credentials_rejected).
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ACCOUNT_FAILURE_TEXTS } from '../../src/accounts/refresh-outcome.ts';
import { CONNECT_FLOW_ERRORS } from '../../src/errors.ts';
import { postForm } from '../fixtures/connect-env.ts';
import { dumpDatabase } from '../fixtures/dump.ts';
import { accountOf, endBackoff, expireToken, fetchCredentials, resultAccountId, startMachineGrantEnv, storedValues } from '../fixtures/machine-grant-env.ts';

const ccApp = (tokenUrl: string, api: string) => ({
  slug: 'cc-test',
  name: 'CC Test',
  auth_type: 'oauth',
  oauth: { grant: 'client_credentials', token_url: tokenUrl, scopes: ['api:read'] },
  fields: [
    { name: 'client_id', label: 'Client ID' },
    { name: 'client_secret', label: 'Client secret', secret: true },
  ],
  api: { base_url: api },
  test_request: { url: `${api}/me`, account_name_path: 'client_id' },
});

const operatorApp = (tokenUrl: string, api: string) => ({
  slug: 'cc-operator',
  name: 'CC Operator',
  auth_type: 'oauth',
  oauth: { grant: 'client_credentials', client: 'oauth_app', token_url: tokenUrl, scopes: ['api:read'], token_auth_method: 'client_secret_post' },
  api: { base_url: api },
  test_request: { url: `${api}/me` },
});

t.test('client credentials: hosted form, first mint, SDK fetch, re-mint, faults', async (t) => {
  const env = await startMachineGrantEnv(t, ({ grantServer, api }) => [ccApp(grantServer.tokenUrl, api), operatorApp(grantServer.tokenUrl, api)]);
  const { grantServer } = env;
  const client = { client_id: `cc-${randomBytes(4).toString('hex')}`, client_secret: randomBytes(24).toString('base64url') };
  await grantServer.putClient(client);
  const token = await env.mint({ externalUserId: 'machine-user' });

  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=cc-test`);
  const html = await page.text();
  t.equal(page.status, 200);
  t.match(html, 'action="/connect/keys"', 'a form, posted to the key form route');
  t.match(html, 'name="f_client_id"');
  t.match(html, /name="f_client_secret" type="password"/, 'the secret is masked');

  const wrong = await postForm(env, '/connect/keys', { token, app: 'cc-test', f_client_id: client.client_id, f_client_secret: 'not-the-secret' });
  t.equal(wrong.status, 400, 'the form again');
  t.match(await wrong.text(), CONNECT_FLOW_ERRORS.credentials_rejected.message);
  t.same(
    grantServer.tokenRequests.map((r) => [r.status, r.error]),
    [[401, 'invalid_client']],
    'one token request, refused by the provider',
  );
  t.same((await env.pd.accounts.list({ externalUserId: 'machine-user' })).data, [], 'nothing stored');

  const done = await postForm(env, '/connect/keys', { token, app: 'cc-test', f_client_id: client.client_id, f_client_secret: client.client_secret });
  t.equal(done.status, 303);
  const id = await resultAccountId(env, done.headers.get('location')!);
  const minted = grantServer.tokenRequests[1]!;
  t.equal(minted.status, 200);
  t.same(minted.params, { grant_type: 'client_credentials', scope: 'api:read' }, 'the grant and the entry’s scope');
  t.equal(minted.authorization, `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`, 'client_secret_basic');
  t.equal(env.resourceServer.requests.filter((r) => r.path === '/me').length, 1, 'the test request ran once, with the minted token');
  const first = grantServer.issued[0]!;

  const account = await env.pd.accounts.retrieve(id, { includeCredentials: true });
  t.equal(account.name, client.client_id, 'named by the test request');
  t.equal(account.app?.authType, 'keys', 'the app view says keys: the user only typed values');
  t.equal(account.credentials?.oauthAccessToken, first, 'the token the provider issued');
  t.equal(account.credentials?.oauthClientId, client.client_id);
  t.equal(account.healthy, true);
  t.same(account.authorizedScopes, ['api:read']);
  const row = await accountOf(env, id);
  t.ok(row.expires_at !== null && Math.abs(row.expires_at.getTime() - Date.now() - 600_000) < 60_000, 'expires_at from expires_in (600 s)');
  t.equal(row.refresh_token_enc, null);
  t.same(
    Object.keys(await storedValues(env, id)).sort(),
    ['client_id', 'client_secret', 'oauth_access_token', 'oauth_client_id'],
    'the inputs sealed with the token',
  );

  await t.test('a fresh token is returned without a token request', async (t) => {
    const before = grantServer.tokenRequests.length;
    const res = await fetchCredentials(env, id);
    t.equal(res.status, 200);
    const credentials = res.body['credentials'] as Record<string, string | null>;
    t.equal(credentials['oauth_access_token'], first);
    t.equal(credentials['oauth_refresh_token'], null, 'no refresh token in this grant');
    t.equal(grantServer.tokenRequests.length, before);
  });

  await t.test('a stale token is re-minted with the sealed client, through the SDK', async (t) => {
    await expireToken(env, id);
    const again = await env.pd.accounts.retrieve(id, { includeCredentials: true });
    const reminted = grantServer.issued.at(-1)!;
    t.not(reminted, first, 'a new token');
    t.equal(again.credentials?.oauthAccessToken, reminted);
    t.same(grantServer.tokenRequests.at(-1)?.params, { grant_type: 'client_credentials', scope: 'api:read' });
    t.equal((await grantServer.introspect(reminted)).active, true, 'the provider says it is live');
    t.ok((await accountOf(env, id)).last_refreshed_at !== null);
  });

  await t.test('the background refresher re-mints a due token', async (t) => {
    await expireToken(env, id);
    const before = grantServer.issued.length;
    const report = await env.testApp.app.tokenRefresher.runRefreshRound();
    t.same(report, { claimed: 1, refreshed: 1, failed: 0 });
    t.equal(grantServer.issued.length, before + 1);
    t.equal((await storedValues(env, id))['oauth_access_token'], grantServer.issued.at(-1));
  });

  await t.test('a provider 500 (an HTML page): unavailable, unhealthy with backoff, then recovers', async (t) => {
    await expireToken(env, id);
    grantServer.fault.status = 500;
    const failed = await fetchCredentials(env, id);
    grantServer.fault.status = null;
    t.equal(failed.status, 503);
    t.match(failed.body, { error: { code: 'provider_unavailable' } });
    const row = await accountOf(env, id);
    t.equal(row.healthy, false);
    t.equal(row.dead, false, 'not dead: the provider was down');
    t.equal(row.error_code, 'provider_unavailable');
    t.ok(row.refresh_backoff_until !== null && row.refresh_backoff_until.getTime() > Date.now(), 'backing off');
    await endBackoff(env, id);
    const recovered = await fetchCredentials(env, id);
    t.equal(recovered.status, 200);
    t.equal((recovered.body['credentials'] as Record<string, string>)['oauth_access_token'], grantServer.issued.at(-1));
    t.equal((await accountOf(env, id)).healthy, true);
  });

  await t.test('a rotated (revoked) secret: the re-mint is refused, the account is dead with a stable code', async (t) => {
    await grantServer.putClient({ ...client, client_secret: randomBytes(24).toString('base64url') });
    await expireToken(env, id);
    const res = await fetchCredentials(env, id);
    t.equal(res.status, 409);
    t.match(res.body, { error: { code: 'account_dead' } });
    t.match(grantServer.tokenRequests.at(-1), { status: 401, error: 'invalid_client' });
    const row = await accountOf(env, id);
    t.equal(row.dead, true);
    t.equal(row.error_code, 'credentials_rejected');
    t.equal(row.error, ACCOUNT_FAILURE_TEXTS.credentials_rejected);
    const before = grantServer.tokenRequests.length;
    t.equal((await fetchCredentials(env, id)).status, 409, 'still dead');
    t.equal(grantServer.tokenRequests.length, before, 'and no further token request');
  });

  await t.test('no secret in the logs or in any database row', async (t) => {
    const logs = env.testApp.logs();
    t.notOk(logs.includes(client.client_secret), 'client secret');
    for (const issued of grantServer.issued) t.notOk(logs.includes(issued), 'access token');
    const dump = await dumpDatabase(env.testApp.database.handle.db);
    const secrets = [client.client_secret, ...grantServer.issued];
    t.same(
      secrets.filter((secret) => dump.includes(secret)),
      [],
      `sealed at rest (${secrets.length} checked)`,
    );
  });
});

t.test('client credentials with the project’s OAuth app: the form asks nothing, the operator’s client mints', async (t) => {
  const env = await startMachineGrantEnv(t, ({ grantServer, api }) => [operatorApp(grantServer.tokenUrl, api)]);
  const client = {
    client_id: `op-${randomBytes(4).toString('hex')}`,
    client_secret: randomBytes(24).toString('base64url'),
    token_endpoint_auth_method: 'client_secret_post' as const,
  };
  await env.grantServer.putClient(client);
  const token = await env.mint({ externalUserId: 'operator-user' });

  const unconfigured = await fetch(`${env.publicUrl}/connect?token=${token}&app=cc-operator`);
  t.equal(unconfigured.status, 409, 'no OAuth app yet: not configured');
  await env.pd.oauthApps.create({ app: 'cc-operator', clientId: client.client_id, clientSecret: client.client_secret });

  const done = await postForm(env, '/connect/keys', { token, app: 'cc-operator' });
  t.equal(done.status, 303);
  const id = await resultAccountId(env, done.headers.get('location')!);
  t.same(env.grantServer.tokenRequests.at(-1)?.params, {
    grant_type: 'client_credentials',
    scope: 'api:read',
    client_id: client.client_id,
    client_secret: client.client_secret,
  });
  const account = await env.pd.accounts.retrieve(id, { includeCredentials: true });
  t.equal(account.credentials?.oauthAccessToken, env.grantServer.issued.at(-1));
  t.equal(account.credentials?.oauthClientId, client.client_id);

  await expireToken(env, id);
  const again = await env.pd.accounts.retrieve(id, { includeCredentials: true });
  t.equal(again.credentials?.oauthAccessToken, env.grantServer.issued.at(-1), 're-minted with the OAuth app’s client');
  t.equal(env.grantServer.issued.length, 2);
});
