// OAuth 1.0a three-legged (RFC 5849) end to end against a strict hand-written provider
// (test/fixtures/oauth1-provider.ts: it recomputes every signature and refuses replays): the
// hosted page's start, the request token bound to our state and the browser cookie, the
// provider's authorize step, the callback, the token credentials sealed, the signed test
// request, the credential fetch through @pipedream/sdk, signed proxy GET (SDK) and POST with a
// form body, the account check, code templates refused; and the faults — denied authorization,
// a bad verifier, a provider 500 or HTML answer, an unconfirmed callback, a revoked token, another
// browser's callback, a replayed callback — each ending in its documented state.
import t from 'tap';
import { signRequest } from '../../src/crypto/oauth1-signature.ts';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { CookieJar, callback, connectProject, postForm, startConnectServices, type ConnectEnv } from '../fixtures/connect-env.ts';
import { CONSUMER_KEY, CONSUMER_SECRET, oauth1TestApp, startOauth1Provider, type Oauth1ProviderFixture } from '../fixtures/oauth1-provider.ts';

const provider = await startOauth1Provider(t);
/** Evernote's documented form: GET requests with the protocol parameters in the query (§3.5.3). */
const queryTransportApp = (() => {
  const app = oauth1TestApp(provider.origin, 'oauth1-query') as { oauth1: Record<string, unknown> } & Record<string, unknown>;
  const { realm: _realm, ...oauth1 } = app.oauth1;
  return { ...app, oauth1: { ...oauth1, token_request_method: 'GET', token_params_in: 'query' } };
})();
const services = await startConnectServices(t, { extraApps: () => [oauth1TestApp(provider.origin), queryTransportApp] });

const APP = 'oauth1-test';
const FAILED = 'http://127.0.0.1:9/failed';
const DONE = 'http://127.0.0.1:9/done';

interface Oauth1Env extends ConnectEnv {
  readonly oauth1AppId: string;
}

async function oauth1Env(): Promise<Oauth1Env> {
  provider.fault = 'none';
  const env = await connectProject(services);
  const created = await env.pd.oauthApps.create({ app: APP, clientId: CONSUMER_KEY, clientSecret: CONSUMER_SECRET, name: 'oauth1 consumer' });
  return { ...env, oauth1AppId: created.id! };
}

/** Clicks Connect on the hosted page; the 303 to the provider's authorization URL. */
async function start(env: Oauth1Env, token: string, jar = new CookieJar(), extra: Record<string, string> = {}): Promise<{ res: Response; jar: CookieJar }> {
  const res = await postForm(env, '/connect/oauth/start', { token, app: APP, ...extra }, jar);
  return { res, jar };
}

/** The whole flow, approved; the account id from the success redirect. */
async function connect(env: Oauth1Env, extra: Record<string, string> = {}): Promise<string> {
  const token = await env.mint({ successRedirectUri: DONE, errorRedirectUri: FAILED });
  const { res, jar } = await start(env, token, new CookieJar(), extra);
  const requestToken = new URL(res.headers.get('location')!).searchParams.get('oauth_token')!;
  const done = await callback(provider.authorize(requestToken, 'approve'), jar);
  const location = new URL(done.headers.get('location')!);
  if (location.origin + location.pathname !== DONE) throw new Error(`connect failed: ${location.href}`);
  return location.searchParams.get('account_id')!;
}

async function outbox(env: Oauth1Env): Promise<Record<string, unknown>[]> {
  const db = env.testApp.database.handle.db;
  const rows = await db.selectFrom('webhook_outbox').select('payload').where('project_id', '=', env.client.projectId).orderBy('created_at').execute();
  return rows.map((row) => row.payload as Record<string, unknown>);
}

function accessTokenOf(provider: Oauth1ProviderFixture): string {
  return [...provider.accessTokens.keys()].at(-1)!;
}

t.test('connect: request token, authorize, verifier, token credentials sealed; credentials through the SDK; signed proxy GET and form POST', async (t) => {
  const env = await oauth1Env();
  const requestsBefore = provider.requests.length;
  const token = await env.mint({ successRedirectUri: DONE, errorRedirectUri: FAILED });
  const page = await fetch(`${env.publicUrl}/connect?token=${encodeURIComponent(token)}&app=${APP}`);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, 'action="/connect/oauth/start"', 'the OAuth start form');
  t.match(html, '<code>read</code>', 'the scopes it asks for are shown');

  const { res, jar } = await start(env, token);
  t.equal(res.status, 303);
  const authorizeUrl = new URL(res.headers.get('location')!);
  t.equal(authorizeUrl.origin + authorizeUrl.pathname, `${provider.origin}/oauth/authorize`);
  const requestToken = authorizeUrl.searchParams.get('oauth_token')!;
  t.match(requestToken, /^rt_[0-9a-f]{24}$/);
  t.equal(authorizeUrl.searchParams.get('scope'), 'read,write', 'scopes on the authorization URL, comma-separated');
  t.equal(authorizeUrl.searchParams.get('name'), 'latchkey', 'authorize_params');
  const issued = provider.requestTokens.get(requestToken)!;
  const callbackUrl = new URL(issued.callback);
  t.equal(callbackUrl.origin + callbackUrl.pathname, `${env.publicUrl}/connect/oauth1/callback`, 'oauth_callback is our OAuth 1.0a callback');
  t.match(callbackUrl.searchParams.get('state'), /^lkst_/, '…carrying the state');
  t.same([...callbackUrl.searchParams.keys()], ['state']);

  const done = await callback(provider.authorize(requestToken, 'approve'), jar);
  t.equal(done.status, 303);
  t.equal(done.headers.get('cache-control'), 'no-store');
  const location = new URL(done.headers.get('location')!);
  t.equal(location.origin + location.pathname, DONE);
  const accountId = location.searchParams.get('account_id')!;
  t.match(accountId, /^apn_/);
  const accessToken = accessTokenOf(provider);
  const accessSecret = provider.accessTokens.get(accessToken)!.secret;
  t.same(provider.refusals, [], 'every request latchkey signed verified at the provider');
  t.same(provider.realms.slice(-3), ['latchkey-fixture', 'latchkey-fixture', 'latchkey-fixture'], 'the realm on each, outside the signature');
  const calls = provider.requests.slice(requestsBefore).map((r) => `${r.method} ${new URL(r.path, 'http://x').pathname}`);
  t.same(calls, ['POST /oauth/request_token', 'POST /oauth/access_token', 'GET /api/me'], 'request token, token credentials, signed test request');

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.name, 'alice_1a', 'the name from the token answer (screen_name)');
  t.equal(account.app?.authType, 'oauth', 'the app view keeps Pipedream’s auth_type');
  t.same(account.credentials, {
    user_id: '4242',
    oauth_token: accessToken,
    oauth_token_secret: accessSecret,
    oauth_consumer_key: CONSUMER_KEY,
    // Pipedream's names for the same two values (its OAuth 1.0a components read these); the SDK camel-cases the ones it knows.
    oauthAccessToken: accessToken,
    oauthRefreshToken: accessSecret,
    // The SDK reads Pipedream's known oauth_uid as oauthUid; the wire name is oauth_uid.
    oauthUid: '4242',
  });
  t.equal(account.expiresAt, undefined, 'token credentials do not expire');

  // Sealed at rest: neither the token secret nor the consumer secret is in the row.
  const db = env.testApp.database.handle.db;
  const row = await db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
  const rowText = JSON.stringify(row);
  t.notMatch(rowText, accessSecret);
  t.notMatch(rowText, accessToken);
  t.same((await openAccountSecrets(env.testApp.app.vault, row)).values['oauth_token_secret'], accessSecret);
  t.equal(row.next_refresh_at, null, 'nothing to refresh');

  const me = await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/me' });
  t.same(me, { id: 4242, username: 'alice_1a' }, 'a signed proxy GET through the SDK');

  const form = new URLSearchParams({ name: 'a b+c', 'tag[]': 'ünï', empty: '' });
  const proxied = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${Buffer.from('/items?list=7').toString('base64url')}?external_user_id=user-1&account_id=${accountId}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    },
  );
  t.equal(proxied.status, 201, 'a signed proxy POST with a form body: the form parameters are part of the signature');
  t.same(await proxied.json(), { created: { name: 'a b+c', 'tag[]': 'ünï', empty: '' } });
  t.same(provider.refusals, []);

  const checked = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/accounts/${accountId}/test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(checked.status, 200);
  t.hasStrict(await checked.json(), { ok: true, status: 200 }, 'the account check signs its test request too');

  const template = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/accounts/${accountId}/code_template?language=nodejs`, {
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(template.status, 409);
  t.hasStrict(await template.json(), { error: { code: 'conflict', details: { reason: 'oauth1_requires_proxy' } } });

  const events = await outbox(env);
  t.hasStrict(events.at(-1), { event: 'CONNECTION_SUCCESS', account: { id: accountId, app: { name_slug: APP, auth_type: 'oauth' } } });
  const verifier = issued.verifier!;
  for (const secret of [accessSecret, CONSUMER_SECRET, issued.secret, verifier])
    t.notMatch(env.testApp.logs(), secret, 'no secret (nor the verifier) in the logs');

  // The token's validation names the OAuth app the page will use, as for OAuth 2.0 apps.
  const validated = await fetch(`${env.publicUrl}/v1/connect/tokens/${encodeURIComponent(await env.mint({}))}/validate?app_id=${APP}`);
  t.hasStrict(await validated.json(), { success: true, app: { name_slug: APP, auth_type: 'oauth' }, oauth_app_id: env.oauth1AppId });
  t.notMatch(JSON.stringify(events), accessSecret);
});

t.test('the provider refuses what a strict provider refuses: a wrong signature, a replayed nonce', async (t) => {
  const env = await oauth1Env();
  const accountId = await connect(env);
  const accessToken = accessTokenOf(provider);
  const tokenSecret = provider.accessTokens.get(accessToken)!.secret;
  const url = new URL(`${provider.origin}/api/me`);
  const signed = (consumerSecret: string, nonce: string) =>
    signRequest(
      { consumerKey: CONSUMER_KEY, consumerSecret, token: accessToken, tokenSecret },
      { method: 'GET', url, signatureMethod: 'HMAC-SHA1', nonce, timestamp: Math.floor(Date.now() / 1000) },
    );
  const refusalsBefore = provider.refusals.length;
  t.equal((await fetch(url, { headers: { authorization: signed('not-the-secret', 'n1') } })).status, 401, 'wrong signature → 401');
  const header = signed(CONSUMER_SECRET, 'n2');
  t.equal((await fetch(url, { headers: { authorization: header } })).status, 200);
  t.equal((await fetch(url, { headers: { authorization: header } })).status, 401, 'the same nonce and timestamp again → 401');
  t.same(provider.refusals.slice(refusalsBefore), ['signature_invalid', 'nonce_used']);
  // latchkey's own requests carry a fresh nonce each: two proxied calls in a row both pass.
  for (let i = 0; i < 2; i++) t.same(await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/me' }), { id: 4242, username: 'alice_1a' });
});

t.test('denied authorization ends as access_denied, reported; no token request', async (t) => {
  const env = await oauth1Env();
  const token = await env.mint({ errorRedirectUri: FAILED });
  const { res, jar } = await start(env, token);
  const requestToken = new URL(res.headers.get('location')!).searchParams.get('oauth_token')!;
  const before = provider.requests.length;
  const denied = await callback(provider.authorize(requestToken, 'deny'), jar);
  t.equal(denied.status, 303);
  t.equal(denied.headers.get('location'), `${FAILED}?error=access_denied`);
  t.equal(provider.requests.length, before, 'no token-credential request');
  t.hasStrict((await outbox(env)).at(-1), { event: 'CONNECTION_ERROR', error: 'You declined the authorization request, so no account was connected.' });

  // A provider that sends the user back without a verifier: the same outcome.
  const second = await start(env, await env.mint({ errorRedirectUri: FAILED }));
  const secondToken = new URL(second.res.headers.get('location')!).searchParams.get('oauth_token')!;
  const noVerifier = provider.authorize(secondToken, 'approve');
  noVerifier.searchParams.delete('oauth_verifier');
  t.equal((await callback(noVerifier, second.jar)).headers.get('location'), `${FAILED}?error=access_denied`);
});

t.test('a bad verifier: the provider refuses the token-credential request, the attempt ends as provider_error', async (t) => {
  const env = await oauth1Env();
  const { res, jar } = await start(env, await env.mint({ errorRedirectUri: FAILED }));
  const requestToken = new URL(res.headers.get('location')!).searchParams.get('oauth_token')!;
  const back = provider.authorize(requestToken, 'approve');
  back.searchParams.set('oauth_verifier', 'v_forged');
  const refusalsBefore = provider.refusals.length;
  const done = await callback(back, jar);
  t.equal(done.headers.get('location'), `${FAILED}?error=provider_error`);
  t.same(provider.refusals.slice(refusalsBefore), ['verifier_invalid']);
  t.hasStrict((await outbox(env)).at(-1), { event: 'CONNECTION_ERROR', error: 'The provider returned an error. Please try again later.' });
  const accounts = await env.pd.accounts.list({});
  t.equal(accounts.data.length, 0, 'no account');
});

t.test('the provider fails the request token (500, HTML, no callback confirmation): an error page, reported, no redirect', async (t) => {
  const env = await oauth1Env();
  for (const fault of ['request_token_500', 'request_token_html', 'request_token_unconfirmed'] as const) {
    provider.fault = fault;
    const { res } = await start(env, await env.mint({}));
    t.equal(res.status, 502, `${fault}: 502`);
    t.equal(res.headers.get('location'), null);
    t.match(await res.text(), 'The provider returned an error. Please try again later.');
    t.hasStrict((await outbox(env)).at(-1), { event: 'CONNECTION_ERROR', error: 'The provider returned an error. Please try again later.' });
  }
  provider.fault = 'none';
});

t.test('the token-credential request fails with a 500: provider_error', async (t) => {
  const env = await oauth1Env();
  const { res, jar } = await start(env, await env.mint({ errorRedirectUri: FAILED }));
  const back = provider.authorize(new URL(res.headers.get('location')!).searchParams.get('oauth_token')!, 'approve');
  provider.fault = 'access_token_500';
  t.equal((await callback(back, jar)).headers.get('location'), `${FAILED}?error=provider_error`);
  provider.fault = 'none';
});

t.test('a revoked token: the proxy passes the 401 back, the account check reports it; a revoked one at connect fails the test request', async (t) => {
  const env = await oauth1Env();
  const accountId = await connect(env);
  provider.revoke(accessTokenOf(provider));
  const proxied = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${Buffer.from('/me').toString('base64url')}?external_user_id=user-1&account_id=${accountId}`,
    { headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' } },
  );
  t.equal(proxied.status, 401, 'the provider’s 401 as it came (no refresh exists for OAuth 1.0a)');
  t.equal(await proxied.text(), 'oauth_problem=token_rejected');
  const checked = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/accounts/${accountId}/test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.hasStrict(await checked.json(), { ok: false, status: 401 });

  // Revoked between the token-credential answer and the test request: nothing is stored.
  const { res, jar } = await start(env, await env.mint({ errorRedirectUri: FAILED }));
  const back = provider.authorize(new URL(res.headers.get('location')!).searchParams.get('oauth_token')!, 'approve');
  provider.fault = 'access_token_revoked';
  const done = await callback(back, jar);
  t.equal(done.headers.get('location'), `${FAILED}?error=test_request_failed`);
  t.hasStrict((await outbox(env)).at(-1), { event: 'CONNECTION_ERROR', error: 'Test request failed. Please verify your credentials and try again.' });
  provider.fault = 'none';
});

t.test('forced linking and replays: another browser’s callback and a replayed callback are refused before any token request', async (t) => {
  const env = await oauth1Env();
  const { res, jar } = await start(env, await env.mint({ errorRedirectUri: FAILED }));
  const back = provider.authorize(new URL(res.headers.get('location')!).searchParams.get('oauth_token')!, 'approve');
  const before = provider.requests.length;

  const otherBrowser = new CookieJar();
  await fetch(`${env.publicUrl}/connect?token=x`, { redirect: 'manual' }).then((page) => otherBrowser.remember(page));
  const victim = await callback(back, otherBrowser);
  t.equal(victim.status, 400, 'no binding cookie (or another one) → refused');
  t.match(await victim.text(), 'This sign-in could not be verified');

  const wrongToken = new URL(back);
  wrongToken.searchParams.set('oauth_token', 'rt_someone_elses');
  const mismatched = await callback(wrongToken, jar);
  t.equal(mismatched.headers.get('location'), `${FAILED}?error=state_invalid`, 'a callback for another request token spends the state and fails');
  t.equal(provider.requests.length, before, 'no token-credential request for either');

  const replay = await callback(back, jar);
  t.equal(replay.status, 400, 'the state is single-use');
});

t.test('an OAuth app is required, and the OAuth app view names the OAuth 1.0a callback', async (t) => {
  const env = await connectProject(services);
  const page = await fetch(`${env.publicUrl}/connect?token=${encodeURIComponent(await env.mint({}))}&app=${APP}`);
  t.equal(page.status, 409);
  t.match(await page.text(), 'This app has no OAuth client set up for this project yet.');
  const created = await env.pd.oauthApps.create({ app: APP, clientId: CONSUMER_KEY, clientSecret: CONSUMER_SECRET });
  t.equal((created as { redirectUri?: string }).redirectUri, `${env.publicUrl}/connect/oauth1/callback`);
});

t.test('reconnect replaces the token credentials in place (same provider user)', async (t) => {
  const env = await oauth1Env();
  const accountId = await connect(env);
  const first = accessTokenOf(provider);
  t.equal(await connect(env, { accountId }), accountId, 'the same account');
  const second = accessTokenOf(provider);
  t.not(second, first);
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.credentials?.['oauth_token'], second, 'the new token credentials');
  t.equal((await env.pd.accounts.list({})).data.length, 1);
});

t.test('a form body the proxy cannot read before sending (chunked) is refused: it could not be signed', async (t) => {
  const env = await oauth1Env();
  const accountId = await connect(env);
  const before = provider.requests.length;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('name=chunked'));
      controller.close();
    },
  });
  const proxied = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${Buffer.from('/items').toString('base64url')}?external_user_id=user-1&account_id=${accountId}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development', 'content-type': 'application/x-www-form-urlencoded' },
      body,
      duplex: 'half',
    } as RequestInit,
  );
  t.equal(proxied.status, 413);
  t.hasStrict(await proxied.json(), { error: { code: 'payload_too_large' } });
  t.equal(provider.requests.length, before, 'nothing reached the provider');
});

t.test('GET token requests with the protocol parameters in the query (§3.5.3), as Evernote documents them', async (t) => {
  const env = await oauth1Env();
  await env.pd.oauthApps.create({ app: 'oauth1-query', clientId: CONSUMER_KEY, clientSecret: CONSUMER_SECRET });
  const before = provider.requests.length;
  const transportsBefore = provider.transports.length;
  const refusalsBefore = provider.refusals.length;
  const token = await env.mint({ successRedirectUri: DONE, errorRedirectUri: FAILED });
  const jar = new CookieJar();
  const res = await postForm(env, '/connect/oauth/start', { token, app: 'oauth1-query' }, jar);
  t.equal(res.status, 303);
  const requestToken = new URL(res.headers.get('location')!).searchParams.get('oauth_token')!;
  const done = await callback(provider.authorize(requestToken, 'approve'), jar);
  t.match(done.headers.get('location'), /^http:\/\/127\.0\.0\.1:9\/done\?account_id=apn_/);
  const calls = provider.requests.slice(before).map((r) => `${r.method} ${new URL(r.path, 'http://x').pathname}`);
  t.same(calls, ['GET /oauth/request_token', 'GET /oauth/access_token', 'GET /api/me']);
  t.same(provider.transports.slice(transportsBefore), ['query', 'query', 'header'], 'the token steps in the query; API calls keep the header');
  t.same(provider.refusals.slice(refusalsBefore), []);
});

t.test('deleting the account revokes its token credentials at the provider (a signed POST to revoke_url)', async (t) => {
  const env = await oauth1Env();
  const accountId = await connect(env);
  const accessToken = accessTokenOf(provider);
  const refusalsBefore = provider.refusals.length;
  await env.pd.accounts.delete(accountId);
  t.equal(provider.accessTokens.get(accessToken)!.revoked, true, 'revoked at the provider');
  t.same(provider.refusals.slice(refusalsBefore), [], 'the revocation was signed with the token it revokes');
  t.equal((await env.pd.accounts.list({})).data.length, 0);
});
