// OAuth 1.0a in headless Chromium, end to end: @pipedream/sdk mints the token, the browser opens
// the Connect Link, clicks Continue, lands on the provider's authorization page (the strict
// hand-written fixture of test/fixtures/oauth1-provider.ts), allows, comes back through
// /connect/oauth1/callback to the backend's success page; the account is read back through the
// SDK and used through the proxy. A second user denies and lands on the error page.
import t from 'tap';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { connectProject, startConnectServices, startServer, type ConnectServices } from '../fixtures/connect-env.ts';
import { CONSUMER_KEY, CONSUMER_SECRET, oauth1TestApp, startOauth1Provider, type Oauth1ProviderFixture } from '../fixtures/oauth1-provider.ts';

const skip = browserSkipReason();

let shared: Promise<{ provider: Oauth1ProviderFixture; services: ConnectServices }> | undefined;
const sharedServices = () =>
  (shared ??= (async () => {
    const provider = await startOauth1Provider(t);
    const services = await startConnectServices(t, { extraApps: () => [oauth1TestApp(provider.origin)] });
    return { provider, services };
  })());

t.test('Chromium: Connect Link → provider authorization → success redirect; credentials via the SDK, a signed proxy call', { skip }, async (t) => {
  const { provider, services } = await sharedServices();
  const env = await connectProject(services);
  await env.pd.oauthApps.create({ app: 'oauth1-test', clientId: CONSUMER_KEY, clientSecret: CONSUMER_SECRET });
  const backend = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected`, errorRedirectUri: `${backend.origin}/failed` });

  const { page, errors, requests } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect?token=${token}&app=oauth1-test`);
  t.equal(await page.locator('h1').textContent(), 'Connect OAuth1 Test');
  await page.getByRole('button', { name: 'Continue to OAuth1 Test' }).click();

  await page.waitForURL(`${provider.origin}/oauth/authorize?**`);
  t.equal(await page.locator('h1').textContent(), 'Allow latchkey?', 'the provider’s authorization page');
  await page.locator('#allow').click();

  await page.waitForURL(`${backend.origin}/connected?**`);
  const landed = new URL(page.url());
  const accountId = landed.searchParams.get('account_id')!;
  t.match(accountId, /^apn_/);
  t.same([...landed.searchParams.keys()], ['account_id'], 'no oauth_token, verifier or state in the final URL');
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation on the way (form-action allows the provider)',
  );
  for (const request of requests)
    t.notMatch(request.referer ?? '', /oauth_verifier=|state=|token=/, `no secret in the Referer of ${new URL(request.url).pathname}`);
  t.same(provider.refusals, [], 'every signature verified');

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  const accessToken = [...provider.accessTokens.keys()].at(-1)!;
  t.equal(account.name, 'alice_1a');
  t.equal(account.credentials?.['oauth_token'], accessToken);
  t.equal(account.credentials?.['oauth_token_secret'], provider.accessTokens.get(accessToken)!.secret);
  t.same(await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/me' }), { id: 4242, username: 'alice_1a' });
});

t.test('Chromium: the user denies → the backend’s error page with error=access_denied, no account', { skip }, async (t) => {
  const { provider, services } = await sharedServices();
  const env = await connectProject(services);
  await env.pd.oauthApps.create({ app: 'oauth1-test', clientId: CONSUMER_KEY, clientSecret: CONSUMER_SECRET });
  const backend = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
  const token = await env.mint({ externalUserId: 'user-2', errorRedirectUri: `${backend.origin}/failed` });
  const { page } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect?token=${token}&app=oauth1-test`);
  await page.getByRole('button', { name: 'Continue to OAuth1 Test' }).click();
  await page.waitForURL(`${provider.origin}/oauth/authorize?**`);
  await page.locator('#deny').click();
  await page.waitForURL(`${backend.origin}/failed?**`);
  t.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
  t.equal((await env.pd.accounts.list({ externalUserId: 'user-2' })).data.length, 0);
});
