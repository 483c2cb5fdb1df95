// The connect flow over HTTP (fetch, no browser) against the real oidc-provider: pages, headers,
// the OAuth round trip, the stored account, the webhooks, key forms and reconnects.
import t from 'tap';
import { openCredentials, openRefreshToken } from '../src/accounts/account-store.ts';
import { authorizeHeadless } from './fixtures/oidc-provider.ts';
import { CookieJar, startConnectEnv, type ConnectEnv } from './fixtures/connect-env.ts';

interface Started {
  authorizeUrl: URL;
  jar: CookieJar;
}

async function startOAuth(env: ConnectEnv, token: string, extra: Record<string, string> = {}, jar = new CookieJar()): Promise<Started> {
  const res = await fetch(`${env.publicUrl}/connect/oauth/start`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ token, app: 'oidc-test', ...extra }),
  });
  if (res.status !== 303) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  jar.remember(res);
  return { authorizeUrl: new URL(res.headers.get('location')!), jar };
}

async function callback(env: ConnectEnv, url: URL, jar: CookieJar): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
}

t.test('OAuth: page, authorize URL, callback, stored account, webhook payloads', async (t) => {
  const env = await startConnectEnv(t);
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
  const done = await callback(env, back, jar);
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
  const credentials = await openCredentials(env.testApp.app.vault, accountId, account.credentials_enc);
  t.equal(credentials['oauth_access_token'], env.oidc.issued.accessTokens[0]);
  t.equal(credentials['oauth_client_id'], env.oidc.clientId);
  t.equal(await openRefreshToken(env.testApp.app.vault, accountId, account.refresh_token_enc), env.oidc.issued.refreshTokens[0]);

  const tokenRow = await db.selectFrom('connect_tokens').select(['used_at', 'id']).executeTakeFirstOrThrow();
  t.ok(tokenRow.used_at !== null, 'the connect token is used');
  t.equal(env.oidc.tokenRequests().length, 1, 'one token request');
  t.equal(
    await db
      .selectFrom('oauth_states')
      .select('digest')
      .execute()
      .then((r) => r.length),
    0,
    'the state is consumed',
  );

  const events = await db.selectFrom('webhook_outbox').selectAll().execute();
  t.equal(events.length, 1);
  t.equal(events[0]!.event, 'CONNECTION_SUCCESS');
  t.equal(events[0]!.url, `${env.webhooks.origin}/hook`);
  t.match(events[0]!.payload, {
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
