// The token-endpoint variants of the registry (oauth.token_request_format, callback_code_param,
// authorize_url_rewrite) end to end: the hosted page's form, the provider's authorization step,
// the callback, the stored account read back through @pipedream/sdk, and the refresh on the
// credential fetch, each against a small authorization server that checks what it is sent
// exactly (oidc-provider takes form bodies, the code under `code` and RFC 6749's names only).
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { CookieJar, callback, connectProject, startConnectServices, startOAuth, type ConnectEnv } from '../fixtures/connect-env.ts';
import { startVariantProvider, type VariantProvider } from '../fixtures/variant-provider.ts';

// latchkey's clock: a test moves it past a token's expiry, so the next credential fetch
// refreshes (no waiting, no timed assertion).
let clockOffsetMs = 0;
const TOKEN_LIFETIME_SECONDS = 600;
const expireTokens = (): void => void (clockOffsetMs += (TOKEN_LIFETIME_SECONDS + 1) * 1000);

// Notion/Apollo-style: the token endpoint reads JSON only.
const jsonProvider = await startVariantProvider(t, { bodyFormat: 'json', firstExpiresIn: TOKEN_LIFETIME_SECONDS });
// Amazon SP-API-style: the code comes back as spapi_oauth_code beside selling_partner_id.
const codeParamProvider = await startVariantProvider(t, {
  bodyFormat: 'form',
  codeParam: 'spapi_oauth_code',
  callbackExtras: { selling_partner_id: 'A3SELLER9' },
  firstExpiresIn: TOKEN_LIFETIME_SECONDS,
});
// TikTok/Printful/monday/Apollo-style: other names for the standard parameters, no
// response_type, the query behind a fragment route; JSON token requests.
const rewriteProvider = await startVariantProvider(t, {
  bodyFormat: 'json',
  authorizeNames: { clientId: 'client_key', redirectUri: 'redirect_url', responseType: null },
  firstExpiresIn: TOKEN_LIFETIME_SECONDS,
});

// TikTok-style: the client posts its id as client_key (authorize request and token body alike).
const clientKeyProvider = await startVariantProvider(t, {
  bodyFormat: 'form',
  authorizeNames: { clientId: 'client_key' },
  clientParamNames: { id: 'client_key', secret: 'client_secret' },
  firstExpiresIn: TOKEN_LIFETIME_SECONDS,
});

const app = (slug: string, provider: VariantProvider, oauth: Record<string, unknown>, authorizePath = '/authorize') => ({
  slug,
  name: slug,
  auth_type: 'oauth',
  oauth: {
    authorize_url: `${provider.origin}${authorizePath}`,
    token_url: `${provider.origin}/token`,
    scopes: ['read'],
    rotates_refresh_token: true,
    ...oauth,
  },
  api: { base_url: provider.origin },
  test_request: { url: `${provider.origin}/me`, account_name_path: 'user.name' },
});

const services = await startConnectServices(t, {
  tuning: { now: () => new Date(Date.now() + clockOffsetMs) },
  extraApps: () => [
    app('variant-json', jsonProvider, { token_request_format: 'json', revoke_url: `${jsonProvider.origin}/revoke` }),
    // The same JSON-only endpoint, declared as form: the provider refuses it.
    app('variant-json-as-form', jsonProvider, {}),
    app('variant-code-param', codeParamProvider, { callback_code_param: 'spapi_oauth_code', callback_params: { selling_partner_id: 'selling_partner_id' } }),
    app('variant-client-key', clientKeyProvider, {
      token_auth_method: 'client_secret_post',
      token_param_names: { client_id: 'client_key' },
      authorize_url_rewrite: { rename_params: { client_id: 'client_key' } },
    }),
    app(
      'variant-rewrite',
      rewriteProvider,
      {
        token_request_format: 'json',
        authorize_url_rewrite: {
          rename_params: { client_id: 'client_key', redirect_uri: 'redirect_url' },
          omit_params: ['response_type'],
          query_in_fragment: '/oauth/authorize',
        },
      },
      '/',
    ),
  ],
});

const SUCCESS = 'http://127.0.0.1:9/connected';
const FAILURE = 'http://127.0.0.1:9/failed';

async function projectWith(slugs: Record<string, VariantProvider>): Promise<ConnectEnv> {
  const env = await connectProject(services);
  for (const [slug, provider] of Object.entries(slugs)) {
    await env.pd.oauthApps.create({ app: slug, clientId: provider.clientId, clientSecret: provider.clientSecret });
  }
  return env;
}

/** The provider's redirect back (its authorization endpoint answers at once: no login page to drive). */
async function authorizeAt(url: URL): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

async function fetchAccount(env: ConnectEnv, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/accounts/${id}?include_credentials=true`, {
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** One token request as the provider received it, parsed by its own format. */
function tokenRequest(provider: VariantProvider, index: number, format: 'json' | 'form') {
  const request = provider.tokenRequests()[index]!;
  const params = format === 'json' ? (JSON.parse(request.body) as Record<string, string>) : Object.fromEntries(new URLSearchParams(request.body));
  return { request, params };
}

function connectedAccountId(t: Test, done: Response): string {
  t.equal(done.status, 303);
  const location = new URL(done.headers.get('location')!);
  t.equal(location.origin + location.pathname, SUCCESS);
  return location.searchParams.get('account_id')!;
}

t.test('token_request_format json: the code exchange and the refresh send one JSON object, client authenticated by Basic', async (t) => {
  const env = await projectWith({ 'variant-json': jsonProvider });
  const before = jsonProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-json' });
  t.equal(authorizeUrl.origin + authorizeUrl.pathname, `${jsonProvider.origin}/authorize`);
  t.same([...authorizeUrl.searchParams.keys()], ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']);

  const back = await authorizeAt(authorizeUrl);
  const code = back.searchParams.get('code')!;
  const accountId = connectedAccountId(t, await callback(back, jar));
  t.match(accountId, /^apn_[A-Za-z0-9]+$/);

  t.equal(jsonProvider.tokenRequests().length, before + 1, 'one code exchange');
  const exchange = tokenRequest(jsonProvider, before, 'json');
  t.equal(exchange.request.headers['content-type'], 'application/json');
  t.equal(exchange.request.headers.authorization, `Basic ${Buffer.from(`${jsonProvider.clientId}:${jsonProvider.clientSecret}`).toString('base64')}`);
  t.same(exchange.params, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: `${env.publicUrl}/connect/oauth/callback`,
    code_verifier: exchange.params['code_verifier'],
  });
  t.equal(s256(exchange.params['code_verifier']!), jsonProvider.challengeOf(code), 'the verifier of this authorization request');
  t.equal(exchange.request.body, JSON.stringify(exchange.params), 'nothing but those four members');

  const firstAccess = jsonProvider.issued.accessTokens.at(-1)!;
  const firstRefresh = jsonProvider.issued.refreshTokens.at(-1)!;
  // Past its expiry: the fetch refreshes first, in JSON too.
  expireTokens();
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(jsonProvider.tokenRequests().length, before + 2, 'one refresh');
  const refresh = tokenRequest(jsonProvider, before + 1, 'json');
  t.equal(refresh.request.headers['content-type'], 'application/json');
  t.equal(refresh.request.body, JSON.stringify({ grant_type: 'refresh_token', refresh_token: firstRefresh }));
  t.not(account.credentials?.oauthAccessToken, firstAccess);
  t.equal(account.credentials?.oauthAccessToken, jsonProvider.issued.accessTokens.at(-1), 'the refreshed access token');
  t.equal(account.credentials?.oauthRefreshToken, jsonProvider.issued.refreshTokens.at(-1), 'and the rotated refresh token');
  t.equal(account.name, 'variant user', 'named by the test request');
  t.equal(account.healthy, true);

  const again = await fetchAccount(env, accountId);
  t.equal(again.status, 200);
  t.equal(jsonProvider.tokenRequests().length, before + 2, 'now fresh: no further token request');
});

t.test('token_request_format json: a refused JSON refresh (invalid_grant) leaves the account dead', async (t) => {
  const env = await projectWith({ 'variant-json': jsonProvider });
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-json' });
  const accountId = connectedAccountId(t, await callback(await authorizeAt(authorizeUrl), jar));
  expireTokens();
  jsonProvider.failNext(400, { error: 'invalid_grant' });
  const res = await fetchAccount(env, accountId);
  t.equal(res.status, 409);
  t.equal((res.body['error'] as { code: string }).code, 'account_dead');
  const stored = await env.pd.accounts.retrieve(accountId);
  t.equal(stored.dead, true);
  t.equal(stored.healthy, false);
});

t.test('token_request_format json: a provider 500 on refresh is "try again", the account kept', async (t) => {
  const env = await projectWith({ 'variant-json': jsonProvider });
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-json' });
  const accountId = connectedAccountId(t, await callback(await authorizeAt(authorizeUrl), jar));
  expireTokens();
  jsonProvider.failNext(500, { error: 'server_error' });
  const res = await fetchAccount(env, accountId);
  t.equal(res.status, 503);
  t.equal((res.body['error'] as { code: string }).code, 'provider_unavailable');
  const stored = await env.pd.accounts.retrieve(accountId);
  t.equal(stored.dead, false);
  t.equal(stored.healthy, false);
});

t.test('a form body sent to a JSON-only token endpoint fails as provider_error and stores nothing', async (t) => {
  const env = await projectWith({ 'variant-json-as-form': jsonProvider });
  const before = jsonProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS, errorRedirectUri: FAILURE });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-json-as-form' });
  const done = await callback(await authorizeAt(authorizeUrl), jar);
  t.equal(done.status, 303);
  t.equal(done.headers.get('location'), `${FAILURE}?error=provider_error`);
  t.equal(jsonProvider.tokenRequests().length, before + 1);
  t.equal(jsonProvider.tokenRequests()[before]!.headers['content-type'], 'application/x-www-form-urlencoded');
  const accounts = await env.pd.accounts.list({ app: 'variant-json-as-form' });
  t.equal(accounts.data.length, 0);
});

t.test('callback_code_param: the code is read from spapi_oauth_code, the exchange and refresh are RFC 6749 forms', async (t) => {
  const env = await projectWith({ 'variant-code-param': codeParamProvider });
  const before = codeParamProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-code-param' });
  const back = await authorizeAt(authorizeUrl);
  t.same([...back.searchParams.keys()], ['spapi_oauth_code', 'selling_partner_id', 'state'], 'the provider sends no code parameter');
  const code = back.searchParams.get('spapi_oauth_code')!;
  const accountId = connectedAccountId(t, await callback(back, jar));
  expireTokens();

  const exchange = tokenRequest(codeParamProvider, before, 'form');
  t.equal(exchange.request.headers['content-type'], 'application/x-www-form-urlencoded');
  t.equal(
    exchange.request.body,
    new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: `${env.publicUrl}/connect/oauth/callback`,
      code_verifier: exchange.params['code_verifier']!,
    }).toString(),
    'the code goes to the token endpoint under its standard name',
  );
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  const refresh = tokenRequest(codeParamProvider, before + 1, 'form');
  t.equal(refresh.request.body, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: codeParamProvider.issued.refreshTokens.at(-2)! }).toString());
  t.equal(account.credentials?.oauthAccessToken, codeParamProvider.issued.accessTokens.at(-1));
  t.equal((account.credentials as Record<string, unknown> | undefined)?.['selling_partner_id'], 'A3SELLER9', 'the callback value kept beside the token');
});

t.test('callback_code_param: a callback with the code under `code` only is a provider error, and no token request is made', async (t) => {
  const env = await projectWith({ 'variant-code-param': codeParamProvider });
  const before = codeParamProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS, errorRedirectUri: FAILURE });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-code-param' });
  const back = await authorizeAt(authorizeUrl);
  const standard = new URL(back.origin + back.pathname);
  standard.searchParams.set('code', back.searchParams.get('spapi_oauth_code')!);
  standard.searchParams.set('state', back.searchParams.get('state')!);
  const done = await callback(standard, jar);
  t.equal(done.status, 303);
  t.equal(done.headers.get('location'), `${FAILURE}?error=provider_error`);
  t.equal(codeParamProvider.tokenRequests().length, before, 'the code was never spent');
});

t.test('authorize_url_rewrite: renamed and omitted parameters, the query behind the fragment route; JSON exchange and refresh', async (t) => {
  const env = await projectWith({ 'variant-rewrite': rewriteProvider });
  const before = rewriteProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-rewrite' });
  t.equal(authorizeUrl.origin + authorizeUrl.pathname, `${rewriteProvider.origin}/`);
  t.equal(authorizeUrl.search, '', 'no query before the fragment');
  const [route, query] = authorizeUrl.hash.slice(1).split('?') as [string, string];
  t.equal(route, '/oauth/authorize');
  const params = new URLSearchParams(query);
  t.same([...params.keys()], ['client_key', 'redirect_url', 'scope', 'state', 'code_challenge', 'code_challenge_method']);
  t.equal(params.get('client_key'), rewriteProvider.clientId);
  t.equal(params.get('redirect_url'), `${env.publicUrl}/connect/oauth/callback`);
  t.match(params.get('state'), /^lkst_[A-Za-z0-9]{36}$/);

  // What the provider's single-page app does with the fragment: its API takes the query as is.
  const back = await authorizeAt(new URL(`${rewriteProvider.origin}/authorize?${query}`));
  const code = back.searchParams.get('code')!;
  const accountId = connectedAccountId(t, await callback(back, jar));
  const exchange = tokenRequest(rewriteProvider, before, 'json');
  t.same(exchange.params, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: `${env.publicUrl}/connect/oauth/callback`,
    code_verifier: exchange.params['code_verifier'],
  });
  t.equal(s256(exchange.params['code_verifier']!), params.get('code_challenge'));

  expireTokens();
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(rewriteProvider.tokenRequests().length, before + 2);
  t.equal(
    tokenRequest(rewriteProvider, before + 1, 'json').request.body,
    JSON.stringify({ grant_type: 'refresh_token', refresh_token: rewriteProvider.issued.refreshTokens.at(-2) }),
  );
  t.equal(account.credentials?.oauthAccessToken, rewriteProvider.issued.accessTokens.at(-1));
});

t.test('the hosted page of a rewritten entry still sends the browser to the provider it names', async (t) => {
  const env = await projectWith({ 'variant-rewrite': rewriteProvider });
  const token = await env.mint();
  const jar = new CookieJar();
  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=variant-rewrite`, { headers: { cookie: jar.header() } });
  t.equal(page.status, 200);
  t.match(page.headers.get('content-security-policy'), new RegExp(`form-action 'self' ${rewriteProvider.origin}(;|$)`));
});

t.test('token_param_names: the client id travels as client_key in the code exchange and the refresh', async (t) => {
  const env = await projectWith({ 'variant-client-key': clientKeyProvider });
  const before = clientKeyProvider.tokenRequests().length;
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-client-key' });
  t.same([...authorizeUrl.searchParams.keys()], ['response_type', 'client_key', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']);
  const back = await authorizeAt(authorizeUrl);
  const code = back.searchParams.get('code')!;
  const accountId = connectedAccountId(t, await callback(back, jar));

  const exchange = tokenRequest(clientKeyProvider, before, 'form');
  t.equal(exchange.request.headers.authorization, undefined, 'no Basic credentials');
  t.same(exchange.params, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: `${env.publicUrl}/connect/oauth/callback`,
    code_verifier: exchange.params['code_verifier'],
    client_key: clientKeyProvider.clientId,
    client_secret: clientKeyProvider.clientSecret,
  });
  t.notOk('client_id' in exchange.params, 'no client_id beside client_key');

  expireTokens();
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  const refresh = tokenRequest(clientKeyProvider, before + 1, 'form');
  t.same(refresh.params, {
    grant_type: 'refresh_token',
    refresh_token: clientKeyProvider.issued.refreshTokens.at(-2),
    client_key: clientKeyProvider.clientId,
    client_secret: clientKeyProvider.clientSecret,
  });
  t.equal(account.credentials?.oauthAccessToken, clientKeyProvider.issued.accessTokens.at(-1));
});

t.test('token_request_format json: deleting the account revokes its refresh token with a JSON body too (RFC 7009)', async (t) => {
  const env = await projectWith({ 'variant-json': jsonProvider });
  const token = await env.mint({ successRedirectUri: SUCCESS });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'variant-json' });
  const accountId = connectedAccountId(t, await callback(await authorizeAt(authorizeUrl), jar));
  const refreshToken = jsonProvider.issued.refreshTokens.at(-1)!;
  const before = jsonProvider.revocationRequests().length;
  await env.pd.accounts.delete(accountId);
  t.equal(jsonProvider.revocationRequests().length, before + 1);
  const revocation = jsonProvider.revocationRequests()[before]!;
  t.equal(revocation.headers['content-type'], 'application/json');
  t.equal(revocation.headers.authorization, `Basic ${Buffer.from(`${jsonProvider.clientId}:${jsonProvider.clientSecret}`).toString('base64')}`);
  t.same(JSON.parse(revocation.body), { token: refreshToken, token_type_hint: 'refresh_token' });
  const res = await fetchAccount(env, accountId);
  t.equal(res.status, 404);
});
