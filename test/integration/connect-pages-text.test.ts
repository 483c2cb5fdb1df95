// What the hosted pages tell the end user: the permissions an authorization asks for, a check
// claimed only where one runs, and Reconnect when it is one.
import t from 'tap';
import { GOOD_KEY, connectProject, postForm, startConnectServices, type ConnectEnv, type ConnectServices } from '../fixtures/connect-env.ts';

let services: Promise<ConnectServices> | undefined;
const sharedServices = (): Promise<ConnectServices> =>
  (services ??= startConnectServices(t, {
    extraApps: (origins) => [
      {
        slug: 'keys-unchecked',
        name: 'Unchecked Keys',
        auth_type: 'keys',
        fields: [{ name: 'api_key', label: 'API key', secret: true }],
        api: { base_url: `${origins.api}/v1`, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      },
    ],
  }));

/** The Connect Link page's HTML (which must answer 200). */
async function pageHtml(env: ConnectEnv, query: string): Promise<string> {
  const res = await fetch(`${env.publicUrl}/connect?${query}`);
  const html = await res.text();
  if (res.status !== 200) throw new Error(`/connect?${query} answered ${res.status}: ${html.slice(0, 300)}`);
  return html;
}

const permissions = (html: string): string[] =>
  [...(/<ul class="permissions">(.*?)<\/ul>/s.exec(html)?.[1] ?? '').matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1]!);

t.test('the OAuth page lists what will be asked for: the registry’s descriptions, else the scope itself', async (t) => {
  const env = await connectProject(await sharedServices());
  const html = await pageHtml(env, `token=${await env.mint()}&app=oidc-test`);
  t.match(html, '<h2>OIDC Test will be asked to allow</h2>');
  t.same(permissions(html), ['Confirm who you are', '<code>api:read</code>', 'Stay connected without you signing in again']);
  t.notMatch(html, 'never shared with us', 'no "us" the user cannot place');
});

t.test('an OAuth client’s own scopes replace the defaults on the page, as they do in the authorization', async (t) => {
  const env = await connectProject(await sharedServices());
  const own = await env.pd.oauthApps.create({
    app: 'oidc-test',
    clientId: env.oidc.clientId,
    clientSecret: env.oidc.clientSecret,
    scopes: ['openid'],
    additionalScopes: ['api:write'],
  } as never);
  const html = await pageHtml(env, `token=${await env.mint()}&app=oidc-test&oauthAppId=${own.id}`);
  t.same(permissions(html), ['Confirm who you are', '<code>api:write</code>']);
});

t.test('the key form claims a check only when the app has a test request', async (t) => {
  const env = await connectProject(await sharedServices());
  t.match(
    await pageHtml(env, `token=${await env.mint()}&app=keys-test`),
    '<p>Enter your Keys Test credentials. They are checked with Keys Test and stored encrypted.</p>',
  );
  const unchecked = await pageHtml(env, `token=${await env.mint()}&app=keys-unchecked`);
  t.match(unchecked, '<p>Enter your Unchecked Keys credentials. They are stored encrypted.</p>');
  t.notMatch(unchecked, 'checked with');
});

t.test('a reconnect page is titled Reconnect', async (t) => {
  const env = await connectProject(await sharedServices());
  const saved = await postForm(env, '/connect/keys', { token: await env.mint(), app: 'keys-test', f_api_key: GOOD_KEY });
  t.equal(saved.status, 303);
  const [account] = (await env.pd.accounts.list({ app: 'keys-test' })).data;
  const html = await pageHtml(env, `token=${await env.mint()}&app=keys-test&accountId=${account!.id}`);
  t.match(html, '<title>Reconnect Keys Test</title>');
  t.match(html, '<h1 tabindex="-1" data-autofocus>Reconnect Keys Test</h1>');
  t.match(html, '<button type="submit" class="primary">Reconnect</button>');
  t.match(await pageHtml(env, `token=${await env.mint()}&app=keys-test`), '<title>Connect Keys Test</title>');
});

t.test('the start pages show the app’s logo from latchkey’s own icon route, which the page policy allows', async (t) => {
  const env = await connectProject(await sharedServices());
  for (const app of ['oidc-test', 'keys-test']) {
    const res = await fetch(`${env.publicUrl}/connect?token=${await env.mint()}&app=${app}`);
    t.match(await res.text(), `<img class="app-logo" src="/v1/connect/apps/${app}/icon.svg" alt="" width="48" height="48"><h1`, app);
    t.match(res.headers.get('content-security-policy'), /; img-src 'self';/, `${app}: images from latchkey only`);
  }
});

t.test('the result pages carry the project’s footer: where to get help once connecting is over', async (t) => {
  const env = await connectProject(await sharedServices());
  await env.pd.projects.update(env.client.projectId, { appName: 'Acme', supportEmail: 'help@acme.example' });
  const saved = await postForm(env, '/connect/keys', { token: await env.mint({ webhookUri: null }), app: 'keys-test', f_api_key: GOOD_KEY });
  t.equal(saved.status, 303);
  const success = await (await fetch(new URL(saved.headers.get('location')!, env.publicUrl))).text();
  t.match(success, '<title>Keys Test connected</title>');
  t.match(success, '<footer class="brand"><span>Questions? <a href="mailto:help@acme.example">help@acme.example</a></span></footer>');

  const failed = await (await fetch(`${env.publicUrl}/connect?token=${await env.mint()}&app=no_such_app`)).text();
  t.match(failed, '<title>App not found</title>');
  t.match(failed, '<a href="mailto:help@acme.example">help@acme.example</a>', 'an error page once the token is known');
});
