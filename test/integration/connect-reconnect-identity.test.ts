// A reconnect must come back as the same provider user (the ID token's sub, oauth_uid), unless
// the connect token was minted with allow_different_account: otherwise the account — its id,
// the backend's references to it — would silently change hands.
import t from 'tap';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';
import { callback, connectProject, startConnectServices, startOAuth, startServer, type ConnectEnv, type ConnectServices } from '../fixtures/connect-env.ts';

let services: Promise<ConnectServices> | undefined;
const sharedServices = (): Promise<ConnectServices> => (services ??= startConnectServices(t));

/** A connect token minted over HTTP, with latchkey's own option (the SDK sends only Pipedream's fields). */
async function mintToken(env: ConnectEnv, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'content-type': 'application/json', 'x-pd-environment': 'development' },
    body: JSON.stringify({ external_user_id: 'user-1', ...extra }),
  });
  if (res.status !== 200) throw new Error(`tokens answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Connects oidc-test signing in as `login`, reconnecting `accountId` when given; answers the page the user lands on. */
async function connectAs(env: ConnectEnv, login: string, token: string, accountId?: string): Promise<{ location: string; title: string }> {
  const { authorizeUrl, jar } = await startOAuth(env, token, accountId === undefined ? {} : { accountId });
  const done = await callback(await authorizeHeadless(authorizeUrl.toString(), login), jar);
  if (done.status !== 303) throw new Error(`callback answered ${done.status}`);
  const location = done.headers.get('location')!;
  const page = await (await fetch(new URL(location, env.publicUrl))).text();
  return { location, title: /<title>([^<]*)<\/title>/.exec(page)![1]! };
}

async function storedUid(env: ConnectEnv, accountId: string): Promise<string | undefined> {
  const row = await env.testApp.database.handle.db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
  return (await openAccountSecrets(env.testApp.app.vault, row)).values['oauth_uid'];
}

t.test('a reconnect as another provider user is refused with a clear page, and the account is left as it was', async (t) => {
  const env = await connectProject(await sharedServices());
  await connectAs(env, 'alice', await env.mint());
  const [account] = (await env.pd.accounts.list({ app: 'oidc-test' })).data;
  const before = await env.pd.accounts.retrieve(account!.id, { includeCredentials: true });

  const refused = await connectAs(env, 'bob', await mintToken(env), account!.id);
  t.equal(refused.title, 'This is a different account');
  t.equal(await storedUid(env, account!.id), 'alice', 'still alice’s account');
  const after = await env.pd.accounts.retrieve(account!.id, { includeCredentials: true });
  t.equal(after.credentials?.oauthAccessToken, before.credentials?.oauthAccessToken, 'the credentials were not replaced');

  const same = await connectAs(env, 'alice', await mintToken(env), account!.id);
  t.equal(same.title, 'OIDC Test connected', 'the same user reconnects');
  t.not((await env.pd.accounts.retrieve(account!.id, { includeCredentials: true })).credentials?.oauthAccessToken, before.credentials?.oauthAccessToken);
});

t.test('a token minted with allow_different_account lets the reconnect switch provider users', async (t) => {
  const env = await connectProject(await sharedServices());
  await connectAs(env, 'alice', await env.mint());
  const [account] = (await env.pd.accounts.list({ app: 'oidc-test' })).data;
  const switched = await connectAs(env, 'bob', await mintToken(env, { allow_different_account: true }), account!.id);
  t.equal(switched.title, 'OIDC Test connected');
  t.equal(await storedUid(env, account!.id), 'bob');
});

t.test('allow_different_account must be a boolean', async (t) => {
  const env = await connectProject(await sharedServices());
  const res = await fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'content-type': 'application/json', 'x-pd-environment': 'development' },
    body: JSON.stringify({ external_user_id: 'user-1', allow_different_account: 'yes' }),
  });
  t.equal(res.status, 400);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'validation_failed');
});

t.test('without an ID token, the test request’s uid_path names the provider user, and a reconnect is held to it', async (t) => {
  // A resource server that says who holds the bearer by introspecting it at the authorization server.
  let as = { issuer: '', clientId: '', clientSecret: '' };
  const whoami = await startServer(t, (req, res) => {
    void (async () => {
      const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const answer = await fetch(`${as.issuer}/token/introspection`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${as.clientId}:${as.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: bearer }),
      });
      const { sub } = (await answer.json()) as { sub?: string };
      res.writeHead(sub === undefined ? 401 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(sub === undefined ? {} : { user: { id: sub, login: `${sub}-login` } }));
    })();
  });
  const services = await startConnectServices(t, {
    extraApps: (origins) => {
      return [
        {
          slug: 'oidc-no-id-token',
          name: 'No ID Token',
          auth_type: 'oauth',
          // No openid scope: oidc-provider issues no ID token, so only the test request can say who this is.
          oauth: { authorize_url: `${origins.as}/auth`, token_url: `${origins.as}/token`, scopes: ['api:read'], issuer: origins.as },
          api: { base_url: whoami.origin },
          test_request: { url: `${whoami.origin}/whoami`, account_name_path: 'user.login', uid_path: 'user.id' },
        },
      ];
    },
  });
  as = services.oidc;
  const env = await connectProject(services);
  await env.pd.oauthApps.create({ app: 'oidc-no-id-token', clientId: env.oidc.clientId, clientSecret: env.oidc.clientSecret });
  const connectNoId = async (login: string, token: string, accountId?: string) => {
    const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'oidc-no-id-token', ...(accountId === undefined ? {} : { accountId }) });
    const done = await callback(await authorizeHeadless(authorizeUrl.toString(), login), jar);
    const page = await (await fetch(new URL(done.headers.get('location')!, env.publicUrl))).text();
    return /<title>([^<]*)<\/title>/.exec(page)![1]!;
  };
  t.equal(await connectNoId('carol', await env.mint()), 'No ID Token connected');
  const [account] = (await env.pd.accounts.list({ app: 'oidc-no-id-token' })).data;
  t.equal(await storedUid(env, account!.id), 'carol', 'oauth_uid from the test request');
  t.equal(account!.name, 'carol-login');
  t.equal(await connectNoId('dave', await mintToken(env), account!.id), 'This is a different account');
  t.equal(await storedUid(env, account!.id), 'carol');
});
