// The connect flow over HTTP (fetch, no browser) against the real oidc-provider: pages, headers,
// the OAuth round trip, the stored account, the webhooks, key forms and reconnects.
import t from 'tap';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';
import { loadTestApps } from '../fixtures/test-apps/index.ts';
import { CookieJar, GOOD_KEY, callback, connectProject, pageFormToken, postForm, startConnectServices, startOAuth } from '../fixtures/connect-env.ts';

// The servers are built once for the file; each test works in a project of its own.
const services = await startConnectServices(t);

t.test('OAuth: page, authorize URL, callback, stored account, webhook payloads', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint({ successRedirectUri: 'http://127.0.0.1:9/done?keep=1' });

  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-test&connectLink=true`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.equal(page.headers.get('referrer-policy'), 'no-referrer');
  t.equal(page.headers.get('cache-control'), 'no-store');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const csp = page.headers.get('content-security-policy')!;
  t.match(csp, /default-src 'none'; script-src 'nonce-[A-Za-z0-9_-]+'; style-src 'nonce-[A-Za-z0-9_-]+'/);
  t.match(csp, new RegExp(`form-action 'self' ${env.oidc.issuer}(;|$)`), 'the page may post to us and be redirected to the provider');
  t.match(csp, /frame-ancestors 'none'/);
  t.match(csp, /base-uri 'none'/);
  const body = await page.text();
  t.match(body, /<html lang="en">/);
  t.match(body, /<h1[^>]*>Connect OIDC Test<\/h1>/);
  t.match(body, /action="\/connect\/oauth\/start"/);
  const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
  t.match(body, `<script nonce="${nonce}">`, 'the script carries this response’s nonce');

  const again = await fetch(`${env.publicUrl}/_static/connect.html?token=${token}&app=oidc-test`);
  t.equal(again.status, 200, 'Pipedream’s path serves the same page');
  t.not(/'nonce-([^']+)'/.exec(again.headers.get('content-security-policy')!)![1], nonce, 'a fresh nonce per response');

  const { authorizeUrl, jar } = await startOAuth(env, token);
  t.equal(authorizeUrl.origin + authorizeUrl.pathname, `${env.oidc.issuer}/auth`);
  const q = authorizeUrl.searchParams;
  t.equal(q.get('response_type'), 'code');
  t.equal(q.get('client_id'), env.oidc.clientId);
  t.equal(q.get('redirect_uri'), `${env.publicUrl}/connect/oauth/callback`);
  t.equal(q.get('scope'), 'openid api:read offline_access');
  t.equal(q.get('prompt'), 'consent', 'authorize_params are passed');
  t.equal(q.get('code_challenge_method'), 'S256');
  t.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  t.match(q.get('state'), /^lkst_[A-Za-z0-9]{36}$/);
  t.equal(jar.size, 1, 'the browser binding cookie is set');

  const back = await authorizeHeadless(authorizeUrl.toString());
  t.equal(back.searchParams.get('iss'), env.oidc.issuer, 'the AS sends RFC 9207 iss');
  const done = await callback(back, jar);
  t.equal(done.status, 303);
  t.equal(done.headers.get('referrer-policy'), 'no-referrer');
  t.equal(done.headers.get('cache-control'), 'no-store');
  const location = new URL(done.headers.get('location')!);
  t.equal(location.origin + location.pathname, 'http://127.0.0.1:9/done');
  t.equal(location.searchParams.get('keep'), '1', 'the backend’s own query is kept');
  const accountId = location.searchParams.get('account_id')!;
  t.match(accountId, /^apn_[A-Za-z0-9]+$/);

  const db = env.testApp.database.handle.db;
  const account = await db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
  t.equal(account.app_slug, 'oidc-test');
  t.equal(account.oauth_app_id, env.oauthAppId);
  t.equal(account.project_id, env.client.projectId);
  t.equal(account.environment, 'development');
  t.equal(account.external_id, 'user-1');
  t.equal(account.name, 'alice', 'named by the test request (userinfo sub)');
  t.same(account.authorized_scopes, ['openid', 'api:read', 'offline_access']);
  t.ok(account.expires_at !== null && account.expires_at.getTime() > Date.now() + 200_000, 'expires_in → expires_at');
  // The refresher's schedule: a 300 s token against a 300 s margin is renewed at about half
  // its life (not at once, which a plain `expires_at - margin` would say).
  const nextRefresh = account.next_refresh_at?.getTime() ?? 0;
  t.ok(nextRefresh > Date.now() + 60_000 && nextRefresh < account.expires_at!.getTime(), 'next_refresh_at planned by the refresher schedule');
  const credentials = (await openAccountSecrets(env.testApp.app.vault, account)).values;
  t.equal(credentials['oauth_access_token'], env.oidc.issued.accessTokens[0]);
  t.equal(credentials['oauth_client_id'], env.oidc.clientId);
  t.equal((await openAccountSecrets(env.testApp.app.vault, account)).refreshToken, env.oidc.issued.refreshTokens[0]);

  const tokenRow = await db.selectFrom('connect_tokens').select(['used_at', 'id']).where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.ok(tokenRow.used_at !== null, 'the connect token is used');
  t.equal(env.oidc.tokenRequests().length, 1, 'one token request');
  t.equal(
    await db
      .selectFrom('oauth_states')
      .select('digest')
      .where('project_id', '=', env.client.projectId)
      .execute()
      .then((r) => r.length),
    0,
    'the state is consumed',
  );

  const events = await db.selectFrom('webhook_outbox').selectAll().where('project_id', '=', env.client.projectId).execute();
  t.equal(events.length, 1);
  t.equal(events[0]!.event, 'CONNECTION_SUCCESS');
  t.equal(events[0]!.url, `${env.webhooks.origin}/hook`);
  t.hasStrict(events[0]!.payload, {
    event: 'CONNECTION_SUCCESS',
    connect_token: tokenRow.id,
    environment: 'development',
    account: { id: accountId, name: 'alice', external_id: 'user-1', healthy: true, dead: false, app: { name_slug: 'oidc-test', name: 'OIDC Test' } },
  });
  const payloadText = JSON.stringify(events[0]!.payload);
  t.notOk(payloadText.includes(token), 'the connect token never travels');
  t.notOk(payloadText.includes(env.oidc.issued.accessTokens[0]!), 'no credential in the webhook');

  const replay = await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-test`);
  t.equal(replay.status, 410, 'the link is single-use');
  t.match(await replay.text(), /already used/);
});

t.test('keys app: the form, a failing test request saves nothing, the right key saves', async (t) => {
  const env = await connectProject(services);
  const db = env.testApp.database.handle.db;
  const token = await env.mint({ allowedOrigins: ['http://127.0.0.1:8123'] });

  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=keys-test`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-security-policy'), /frame-ancestors http:\/\/127\.0\.0\.1:8123(;|$)/, 'framing only by the allowed origin');
  t.equal(page.headers.get('x-frame-options'), null, 'no DENY when an origin may frame');
  t.match(page.headers.get('content-security-policy'), /form-action 'self';/, 'a keys form posts only to us');
  const html = await page.text();
  t.match(html, /<label for="f_api_key">API key<\/label>/);
  t.match(html, /<input id="f_api_key" name="f_api_key" type="password"/);
  t.match(html, /aria-describedby="f_api_key_help"/);
  t.match(html, /<label for="f_region">Region <span class="muted">\(optional\)<\/span><\/label>/);

  const badPattern = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: 'not-a-key', f_region: 'eu' });
  t.equal(badPattern.status, 400);
  const badPatternHtml = await badPattern.text();
  t.match(badPatternHtml, /API key is not in the expected format/);
  t.match(badPatternHtml, /aria-invalid="true"/);
  t.notMatch(badPatternHtml, /not-a-key/, 'a secret is never echoed back');
  t.match(badPatternHtml, /id="f_region"[^>]* value="eu"/, 'non-secret values are kept');
  t.equal(env.keyApi.requests.length, 0, 'no test request for values that fail their pattern');

  const wrongKey = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: 'sk_wrongkey99' });
  t.equal(wrongKey.status, 400);
  const wrongHtml = await wrongKey.text();
  t.match(wrongHtml, /<div class="alert" role="alert">Test request failed\. Please verify your credentials and try again\./);
  t.notMatch(wrongHtml, /sk_wrongkey99/);
  t.equal(env.keyApi.requests.length, 1);
  t.equal(env.keyApi.requests[0]!.headers.authorization, 'Bearer sk_wrongkey99', 'the test request is templated from the fields');
  t.equal((await db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length, 0, 'nothing saved');
  t.equal(
    (await db.selectFrom('connect_tokens').select('used_at').where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow()).used_at,
    null,
    'the token stays usable',
  );
  const errors = await db.selectFrom('webhook_outbox').selectAll().where('project_id', '=', env.client.projectId).execute();
  t.equal(errors.length, 1);
  t.hasStrict(errors[0]!.payload, { event: 'CONNECTION_ERROR', error: 'Test request failed. Please verify your credentials and try again.' });

  const right = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: ` ${GOOD_KEY}\n`, f_region: '' });
  t.equal(right.status, 303);
  const resultPath = right.headers.get('location')!;
  t.match(resultPath, /^\/connect\/result\/cres_[A-Za-z0-9]{24}$/, 'no redirect URI: the result page, without a query');
  const account = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.equal(account.name, 'keys@example.com');
  t.equal(account.oauth_app_id, null);
  t.same((await openAccountSecrets(env.testApp.app.vault, account)).values, { api_key: GOOD_KEY }, 'trimmed; empty optional fields left out');
  t.equal(account.refresh_token_enc, null);

  const result = await fetch(`${env.publicUrl}${resultPath}`);
  t.equal(result.status, 200);
  t.match(result.headers.get('content-security-policy'), /frame-ancestors http:\/\/127\.0\.0\.1:8123(;|$)/);
  const resultHtml = await result.text();
  t.match(resultHtml, /Keys Test is connected/);
  const data = JSON.parse(/<script type="application\/json" id="latchkey-data">(.*?)<\/script>/s.exec(resultHtml)![1]!);
  t.same(data, { origins: ['http://127.0.0.1:8123'], message: { type: 'success', authProvisionId: account.id } });

  await env.testApp.app.auditLog.flush();
  const audit = await db
    .selectFrom('audit_log')
    .select(['actor', 'action', 'account_id', 'result', 'details'])
    .where('project_id', '=', env.client.projectId)
    .where('action', '=', 'account.connect')
    .execute();
  t.hasStrict(
    audit,
    [
      { actor: 'user:user-1', action: 'account.connect', account_id: null, result: 'error', details: { app: 'keys-test', error_code: 'test_request_failed' } },
      { actor: 'user:user-1', action: 'account.connect', account_id: account.id, result: 'ok', details: { app: 'keys-test' } },
    ],
    'the failed attempt and the connection are audited',
  );
  t.notOk(JSON.stringify(audit).includes(GOOD_KEY));

  const again = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY });
  t.equal(again.status, 410, 'a used token cannot save a second account');
  t.equal((await db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length, 1);
});

t.test('clear pages for every broken link', async (t) => {
  const env = await connectProject(services);
  const db = env.testApp.database.handle.db;
  const page = async (query: string) => {
    const res = await fetch(`${env.publicUrl}/connect${query}`);
    return { status: res.status, html: await res.text(), csp: res.headers.get('content-security-policy') ?? '', headers: res.headers };
  };
  const token = await env.mint({ allowedOrigins: ['http://127.0.0.1:8123'] });

  let res = await page('');
  t.equal(res.status, 400);
  t.match(res.html, /This link is incomplete/);
  t.equal(res.headers.get('referrer-policy'), 'no-referrer', 'error pages carry the headers too');
  t.equal(res.headers.get('x-frame-options'), 'DENY');
  t.match(res.csp, /frame-ancestors 'none'/);

  res = await page('?token=garbage&app=keys-test');
  t.equal(res.status, 401);
  t.match(res.html, /This link is not valid/);
  res = await page(`?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}&app=keys-test`);
  t.equal(res.status, 401, 'a bad checksum is an invalid token');
  res = await page(`?token=${token}`);
  t.equal(res.status, 400);
  t.match(res.html, /No app was named/);
  t.match(res.csp, /frame-ancestors http:\/\/127\.0\.0\.1:8123/, 'once the token is known, its origins may frame the error page');
  res = await page(`?token=${token}&app=app_keys-test`);
  t.equal(res.status, 200, 'Pipedream’s app id (app_<slug>) names the app too');
  res = await page(`?token=${token}&app=nope`);
  t.equal(res.status, 404);
  t.match(res.html, /App not found/);
  res = await page(`?token=${token}&app=..%2F..%2Fetc%2Fpasswd`);
  t.equal(res.status, 404);
  res = await page(`?token=${token}&app=unconfigured`);
  t.equal(res.status, 409);
  t.match(res.html, /This app is not configured/, 'said on the page, before any click');
  // A page that shows no form gives no form token: this tab's token comes from the configured app's page (same link).
  const tab = new CookieJar();
  const tabFormToken = (await pageFormToken(env, { token, app: 'oidc-test' }, tab))!;
  const unconfigured = await postForm(env, '/connect/oauth/start', { form_token: tabFormToken, token, app: 'unconfigured' }, tab);
  t.equal(unconfigured.status, 409);
  t.equal(unconfigured.headers.get('location'), null, 'not a broken redirect');
  t.match(await unconfigured.text(), /This app is not configured/);
  res = await page(`?token=${token}&app=keys-test&accountId=apn_doesnotexist`);
  t.equal(res.status, 403);
  t.match(res.html, /This account cannot be reconnected here/);
  res = await page(`?token=${token}&app=oidc-test&oauthAppId=oa_someoneelse`);
  t.equal(res.status, 409, 'an OAuth client that is not this project’s is not configured');
  res = await page(`?token=${token}&app=oidc-test&oauthAppId=${env.oauthAppId}`);
  t.equal(res.status, 200, 'the project’s own OAuth client, named');
  const foreignClient = await postForm(env, '/connect/oauth/start', { form_token: tabFormToken, token, app: 'oidc-test', oauthAppId: 'oa_someoneelse' }, tab);
  t.equal(foreignClient.status, 409);

  const expiring = await env.mint({ expiresIn: 60 });
  await db
    .updateTable('connect_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('project_id', '=', env.client.projectId)
    .where('used_at', 'is', null)
    .where('expires_at', '<', new Date(Date.now() + 120_000))
    .execute();
  res = await page(`?token=${expiring}&app=keys-test`);
  t.equal(res.status, 401);
  t.match(res.html, /This link has expired/);
  const expiredPost = await postForm(env, '/connect/keys', { token: expiring, app: 'keys-test', f_api_key: GOOD_KEY });
  t.equal(expiredPost.status, 401, 'an expired token cannot submit either');
  t.equal(env.keyApi.requests.length, 0);

  const pinned = await env.pd.tokens.create({ externalUserId: 'user-1', appId: 'keys-test' } as never);
  res = await page(`?token=${pinned.token}&app=oidc-test`);
  t.equal(res.status, 403, 'a token pinned to one app cannot open another');
  t.match(res.html, /This link is for another app/);
  res = await page(`?token=${pinned.token}`);
  t.equal(res.status, 200, 'a pinned token names its app itself');

  const tooLong = await fetch(`${env.publicUrl}/connect?token=${'x'.repeat(500)}`);
  t.equal(tooLong.status, 400, 'schema failures are pages too');
  t.match(tooLong.headers.get('content-type'), /^text\/html/);
});

t.test('reconnect replaces the credentials in place; only for the same user, app and environment', async (t) => {
  const env = await connectProject(services);
  const db = env.testApp.database.handle.db;
  const first = await env.mint({ externalUserId: 'alice' });
  t.equal((await postForm(env, '/connect/keys', { token: first, app: 'keys-test', f_api_key: GOOD_KEY, f_region: 'us' })).status, 303);
  const original = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();

  const bobToken = await env.mint({ externalUserId: 'bob' });
  const bobPage = await fetch(`${env.publicUrl}/connect?token=${bobToken}&app=keys-test&accountId=${original.id}`);
  t.equal(bobPage.status, 403, 'another user cannot reconnect alice’s account');
  const bobPost = await postForm(env, '/connect/keys', { token: bobToken, app: 'keys-test', accountId: original.id, f_api_key: GOOD_KEY });
  t.equal(bobPost.status, 403);

  const aliceOtherApp = await env.mint({ externalUserId: 'alice' });
  const otherApp = await fetch(`${env.publicUrl}/connect?token=${aliceOtherApp}&app=oidc-test&accountId=${original.id}`);
  t.equal(otherApp.status, 403, 'nor as another app');

  const prodClient = new (await import('@pipedream/sdk')).PipedreamClient({
    baseUrl: env.publicUrl,
    clientId: env.client.clientId,
    clientSecret: env.client.clientSecret,
    projectId: env.client.projectId,
    projectEnvironment: 'production',
  });
  const prodToken = (await prodClient.tokens.create({ externalUserId: 'alice' })).token;
  const otherEnv = await fetch(`${env.publicUrl}/connect?token=${prodToken}&app=keys-test&accountId=${original.id}`);
  t.equal(otherEnv.status, 403, 'nor from the other environment');

  const again = await env.mint({ externalUserId: 'alice' });
  const reconnectPage = await fetch(`${env.publicUrl}/connect?token=${again}&app=keys-test&accountId=${original.id}`);
  t.match(await reconnectPage.text(), /Reconnect Keys Test/);
  const reconnected = await postForm(env, '/connect/keys', { token: again, app: 'keys-test', accountId: original.id, f_api_key: GOOD_KEY, f_region: 'eu' });
  t.equal(reconnected.status, 303);
  const accounts = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).execute();
  t.equal(accounts.length, 1, 'no second account');
  t.equal(accounts[0]!.id, original.id);
  t.equal(Number(accounts[0]!.credentials_version), 2, 'credentials_version bumped');
  t.same((await openAccountSecrets(env.testApp.app.vault, accounts[0]!)).values, { api_key: GOOD_KEY, region: 'eu' });
});

t.test('fields asked before authorizing; no declared issuer checks iss against the AS origin', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const page = await (await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-tenant`)).text();
  t.match(page, /<label for="f_tenant">Tenant<\/label>/);
  t.match(page, /Continue to OIDC Tenant/);

  const bad = await postForm(env, '/connect/oauth/start', { token, app: 'oidc-tenant', f_tenant: 'Evil.example/' });
  t.equal(bad.status, 400);
  t.match(bad.headers.get('content-security-policy'), new RegExp(`form-action 'self' ${env.oidc.issuer}`), 'the re-rendered form may still go to the provider');
  t.match(await bad.text(), /Tenant is not in the expected format/);
  t.equal(env.oidc.authorizationRequests().length, 0);

  const jar = new CookieJar();
  const start = await postForm(env, '/connect/oauth/start', { token, app: 'oidc-tenant', f_tenant: 'acme-co' });
  t.equal(start.status, 303);
  jar.remember(start);
  const authorizeUrl = new URL(start.headers.get('location')!);
  t.equal(authorizeUrl.searchParams.get('tenant'), 'acme-co', 'the field fills the templated URL');
  const back = await authorizeHeadless(authorizeUrl.toString());
  const done = await callback(back, jar);
  t.equal(done.status, 303);
  const db = env.testApp.database.handle.db;
  const account = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  const credentials = (await openAccountSecrets(env.testApp.app.vault, account)).values;
  t.equal(credentials['tenant'], 'acme-co', 'entered fields are kept as credentials');
  t.same(account.authorized_scopes, ['api:read', 'offline_access']);
});

t.test('denied consent and provider errors end on the error outcome and are reported', async (t) => {
  const env = await connectProject(services);
  const db = env.testApp.database.handle.db;

  const token = await env.mint({ errorRedirectUri: 'http://127.0.0.1:9/failed' });
  const { authorizeUrl, jar } = await startOAuth(env, token);
  const denied = new URL(`${env.publicUrl}/connect/oauth/callback`);
  denied.searchParams.set('error', 'access_denied');
  denied.searchParams.set('state', authorizeUrl.searchParams.get('state')!);
  denied.searchParams.set('iss', env.oidc.issuer);
  const res = await callback(denied, jar);
  t.equal(res.status, 303);
  t.equal(res.headers.get('location'), 'http://127.0.0.1:9/failed?error=access_denied');
  const events = await db.selectFrom('webhook_outbox').selectAll().where('project_id', '=', env.client.projectId).execute();
  t.hasStrict(events[0]!.payload, { event: 'CONNECTION_ERROR', error: 'You declined the authorization request, so no account was connected.' });
  t.equal(env.oidc.tokenRequests().length, 0);

  const plain = await env.mint({ webhookUri: null });
  const second = await startOAuth(env, plain);
  const back = await authorizeHeadless(second.authorizeUrl.toString());
  back.searchParams.set('code', 'a-code-the-provider-never-issued');
  const failed = await callback(back, second.jar);
  t.equal(failed.status, 303);
  const resultUrl = failed.headers.get('location')!;
  t.match(resultUrl, /^\/connect\/result\/cres_/);
  t.equal(env.oidc.tokenRequests().length, 1, 'the injected code was tried once and refused by the AS');
  t.equal(env.oidc.tokenRequests()[0]!.status, 400);
  const page = await fetch(`${env.publicUrl}${resultUrl}`);
  const html = await page.text();
  t.match(html, /Connection failed/);
  t.match(html, /"message":\{"type":"error","error":"provider_error"\}/);
  t.equal((await db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length, 0);
  t.equal(
    (await db.selectFrom('connect_tokens').select('used_at').where('project_id', '=', env.client.projectId).where('used_at', 'is not', null).execute()).length,
    0,
    'a failed attempt leaves the token usable',
  );
});

t.test('behind https: the binding cookie is __Host-, Secure, HttpOnly, SameSite=Lax, ≤ 10 minutes', async (t) => {
  const registry = loadTestApps({ as: 'http://127.0.0.1:1', api: 'http://127.0.0.1:2' });
  const testApp = await buildTestApp(t, { registry, env: { PUBLIC_URL: 'https://latchkey.example' } });
  const client = await createProjectClient(testApp);
  const server = testApp.app.server;
  const headers = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'development' };
  const created = await server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/oauth_apps`,
    headers,
    payload: { app: 'oidc-test', client_id: 'c', client_secret: 's' },
  });
  t.equal(created.statusCode, 201);
  const token = (await server.inject({ method: 'POST', url: `/v1/connect/${client.projectId}/tokens`, headers, payload: { external_user_id: 'u' } })).json<{
    token: string;
  }>().token;
  const page = await server.inject({ method: 'GET', url: `/connect?token=${token}&app=oidc-test` });
  t.match(
    page.headers['set-cookie'],
    /^__Host-latchkey_oauth=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
    'the page sets the binding',
  );
  const pageCookie = (page.headers['set-cookie'] as string).split(';')[0]!;
  const formToken = /name="form_token" value="([^"]+)"/.exec(page.body)![1]!;
  const start = await server.inject({
    method: 'POST',
    url: '/connect/oauth/start',
    headers: { cookie: pageCookie },
    payload: { form_token: formToken, token, app: 'oidc-test' },
  });
  t.equal(start.statusCode, 303);
  t.match(start.headers['set-cookie'], /^__Host-latchkey_oauth=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/);
  const authorize = new URL(start.headers.location as string);
  t.equal(authorize.searchParams.get('redirect_uri'), 'https://latchkey.example/connect/oauth/callback', 'the exact redirect_uri from PUBLIC_URL');

  const nonce = /=([^;]+)/.exec(start.headers['set-cookie'] as string)![1]!;
  const wrongName = await server.inject({
    method: 'GET',
    url: `/connect/oauth/callback?code=c&state=${authorize.searchParams.get('state')}`,
    headers: { cookie: `latchkey_oauth=${nonce}` },
  });
  t.equal(wrongName.statusCode, 400, 'only the __Host- cookie binds (a sibling subdomain cannot plant it)');
});

t.test('malformed posts are pages, not JSON errors or 500s', async (t) => {
  const env = await connectProject(services);
  const notAForm = await fetch(`${env.publicUrl}/connect/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' });
  t.equal(notAForm.status, 400);
  t.match(notAForm.headers.get('content-type'), /^text\/html/);
  const missing = await postForm(env, '/connect/oauth/start', { app: 'oidc-test' });
  t.equal(missing.status, 400);
  t.match(await missing.text(), /This link is not valid/);
  const huge = await postForm(env, '/connect/keys', { token: 'x', app: 'keys-test', f_api_key: 'x'.repeat(2 * 1024 * 1024) });
  t.equal(huge.status, 413, 'too large, said in the status; the page explains');
  t.match(huge.headers.get('content-type'), /^text\/html/);
  t.notMatch(env.testApp.logs(), /"level":50/, 'nothing logged as a server error');
});
