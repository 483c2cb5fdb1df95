// A rewritten authorization request in headless Chromium: the hosted page's Continue button,
// latchkey's redirect to a provider whose authorize page routes on the fragment
// (`/#/oauth/authorize?…`, Apollo's shape) with renamed parameters and no response_type, the
// provider's script, the callback, and the backend's success page; then the account through
// @pipedream/sdk, with the JSON token exchange the provider checked.
import t from 'tap';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { connectProject, startConnectServices, startServer } from '../fixtures/connect-env.ts';
import { startVariantProvider } from '../fixtures/variant-provider.ts';

const skip = browserSkipReason();

t.test('Chromium: Connect Link → fragment-routed authorize page → callback → success redirect; account with the issued token', { skip }, async (t) => {
  const provider = await startVariantProvider(t, {
    bodyFormat: 'json',
    authorizeNames: { clientId: 'client_key', redirectUri: 'redirect_url', responseType: null },
  });
  const services = await startConnectServices(t, {
    extraApps: () => [
      {
        slug: 'variant-rewrite',
        name: 'Variant Rewrite',
        auth_type: 'oauth',
        oauth: {
          authorize_url: `${provider.origin}/`,
          token_url: `${provider.origin}/token`,
          scopes: ['read'],
          token_request_format: 'json',
          authorize_url_rewrite: {
            rename_params: { client_id: 'client_key', redirect_uri: 'redirect_url' },
            omit_params: ['response_type'],
            query_in_fragment: '/oauth/authorize',
          },
        },
        api: { base_url: provider.origin },
        test_request: { url: `${provider.origin}/me`, account_name_path: 'user.name' },
      },
    ],
  });
  const env = await connectProject(services);
  await env.pd.oauthApps.create({ app: 'variant-rewrite', clientId: provider.clientId, clientSecret: provider.clientSecret });
  const backend = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected` });

  const { page, errors } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect?token=${token}&app=variant-rewrite`);
  await page.getByRole('button', { name: 'Continue to Variant Rewrite' }).click();
  await page.waitForURL(`${backend.origin}/connected?**`);
  const accountId = new URL(page.url()).searchParams.get('account_id')!;
  t.match(accountId, /^apn_[A-Za-z0-9]+$/);
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation on the way',
  );

  const authorizations = provider.requests.filter((r) => r.path.startsWith('/authorize'));
  t.equal(authorizations.length, 1, 'the provider’s script reached its authorization endpoint once');
  const query = new URL(authorizations[0]!.path, provider.origin).searchParams;
  t.same([...query.keys()], ['client_key', 'redirect_url', 'scope', 'state', 'code_challenge', 'code_challenge_method']);
  t.equal(provider.tokenRequests().length, 1);
  t.equal(provider.tokenRequests()[0]!.headers['content-type'], 'application/json');

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.credentials?.oauthAccessToken, provider.issued.accessTokens[0]);
  t.equal(account.credentials?.oauthRefreshToken, provider.issued.refreshTokens[0]);
  t.equal(account.name, 'variant user');
});
