// Security catalogue 56, forced account linking (issue 10, Medium 1): a page on another site
// auto-submits the hosted pages' OAuth start or key form with the attacker's own connect token,
// so that the victim's grant would land under the attacker's end user. Refused by the form token
// bound to the browser binding cookie and by Sec-Fetch-Site / Origin; no account is stored, the
// provider is never reached, the key API never called. And a GET never starts a flow.
import t from 'tap';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import {
  CookieJar,
  GOOD_KEY,
  connectProject,
  pageFormToken,
  postForm,
  postRawForm,
  startConnectServices,
  startServer,
  type ConnectEnv,
} from '../fixtures/connect-env.ts';

const services = await startConnectServices(t);
const skip = browserSkipReason();

async function accountCount(env: ConnectEnv): Promise<number> {
  return (await env.testApp.database.handle.db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length;
}

async function stateCount(env: ConnectEnv): Promise<number> {
  return (await env.testApp.database.handle.db.selectFrom('oauth_states').select('digest').where('project_id', '=', env.client.projectId).execute()).length;
}

/** The attacker's page: auto-submits a form to latchkey, with the attacker's token and form token. */
async function startAttackerSite(t: Parameters<typeof startServer>[0], action: string, fields: Record<string, string>) {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join('');
  return startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>free prizes</title><form method="post" action="${action}">${inputs}</form><script>document.forms[0].submit()</script>`);
  });
}

/** Loads the attacker's page at `origin` in a victim's browser that already uses latchkey, and returns the page it ends on. */
async function victimVisits(t: Parameters<typeof startServer>[0], env: ConnectEnv, attackerUrl: string, expectedUrl: string) {
  const { page, context } = await openPage(t);
  // The victim has a latchkey binding cookie of their own (an earlier flow).
  await page.goto(`${env.publicUrl}/connect?token=${await env.mint({ externalUserId: 'victim' })}&app=oidc-test`);
  const landed = page.waitForURL(expectedUrl);
  await page.goto(attackerUrl);
  await landed;
  await page.waitForLoadState();
  return { page, context, heading: await page.locator('h1').textContent() };
}

t.test('56. forced account linking in Chromium: a page on localhost auto-posts the OAuth start to latchkey on 127.0.0.1 (cross-site)', { skip }, async (t) => {
  const env = await connectProject(services);
  const attackerToken = await env.mint({ externalUserId: 'attacker' });
  // The attacker opens the page themselves: their form token is bound to their own browser.
  const attackerFormToken = (await pageFormToken(env, { token: attackerToken, app: 'oidc-test' }, new CookieJar()))!;
  const site = await startAttackerSite(t, `${env.publicUrl}/connect/oauth/start`, { form_token: attackerFormToken, token: attackerToken, app: 'oidc-test' });
  const attackerUrl = site.origin.replace('127.0.0.1', 'localhost');
  const { heading } = await victimVisits(t, env, `${attackerUrl}/`, `${env.publicUrl}/connect/oauth/start`);
  t.equal(heading, 'This request was refused');
  t.equal(site.requests.length, 1, 'the attacker’s page was served');
  t.equal(env.oidc.authorizationRequests().length, 0, 'the provider is never reached');
  t.equal(await stateCount(env), 0, 'no OAuth state was stored');
  t.equal(await accountCount(env), 0);
});

t.test('56. forced account linking in Chromium: the key form auto-posted from localhost stores nothing and calls no API', { skip }, async (t) => {
  const env = await connectProject(services);
  const attackerToken = await env.mint({ externalUserId: 'attacker' });
  const attackerFormToken = (await pageFormToken(env, { token: attackerToken, app: 'keys-test' }, new CookieJar()))!;
  const site = await startAttackerSite(t, `${env.publicUrl}/connect/keys`, {
    form_token: attackerFormToken,
    token: attackerToken,
    app: 'keys-test',
    f_api_key: GOOD_KEY,
  });
  const { heading } = await victimVisits(t, env, `${site.origin.replace('127.0.0.1', 'localhost')}/`, `${env.publicUrl}/connect/keys`);
  t.equal(heading, 'This request was refused');
  t.equal(env.keyApi.requests.length, 0, 'no test request');
  t.equal(await accountCount(env), 0);
});

t.test('56. forced account linking in Chromium: 127.0.0.1 on another port is same-site, not same-origin, and refused too', { skip }, async (t) => {
  const env = await connectProject(services);
  const attackerToken = await env.mint({ externalUserId: 'attacker' });
  const attackerFormToken = (await pageFormToken(env, { token: attackerToken, app: 'oidc-test' }, new CookieJar()))!;
  const site = await startAttackerSite(t, `${env.publicUrl}/connect/oauth/start`, { form_token: attackerFormToken, token: attackerToken, app: 'oidc-test' });
  const { heading } = await victimVisits(t, env, `${site.origin}/`, `${env.publicUrl}/connect/oauth/start`);
  t.equal(heading, 'This request was refused');
  t.equal(env.oidc.authorizationRequests().length, 0);
  t.equal(await stateCount(env), 0);
});

t.test('56. the real user in a cross-site frame: a page on localhost frames the key form on 127.0.0.1, and it still connects', { skip }, async (t) => {
  // The browser keeps no SameSite=Lax cookie for a cross-site frame, so the form post arrives
  // without the binding cookie; Sec-Fetch-Site: same-origin vouches that our own page sent it.
  const env = await connectProject(services);
  const site = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>customer</title><iframe id="connect" src="${frameSrc}"></iframe>`);
  });
  const hostOrigin = site.origin.replace('127.0.0.1', 'localhost');
  const token = await env.mint({ allowedOrigins: [hostOrigin] });
  const frameSrc = `${env.publicUrl}/connect?token=${token}&app=keys-test&embed=iframe`;
  const { page, context } = await openPage(t);
  await page.goto(`${hostOrigin}/`);
  const frame = page.frameLocator('#connect');
  await frame.getByLabel('API key').fill(GOOD_KEY);
  await frame.getByRole('button', { name: 'Connect' }).click();
  await frame.locator('h1', { hasText: 'Keys Test is connected' }).waitFor();
  t.equal(await accountCount(env), 1, 'the account is connected');
  t.same(
    (await context.cookies(env.publicUrl)).map((c) => c.name),
    [],
    'no binding cookie was kept for the framed page',
  );
});

t.test('56. forced account linking over plain HTTP: no form token, another browser’s, or another origin — refused before anything is stored', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const victim = new CookieJar();
  const victimFormToken = (await pageFormToken(env, { token, app: 'oidc-test' }, victim))!;
  const attacker = new CookieJar();
  const attackerFormToken = (await pageFormToken(env, { token, app: 'oidc-test' }, attacker))!;

  const refused = async (
    name: string,
    path: string,
    fields: Record<string, string>,
    jar: CookieJar | undefined,
    headers: Record<string, string>,
    title: string,
  ) => {
    const res = await postRawForm(env, path, fields, jar, headers);
    t.equal(res.status, 403, name);
    t.equal(res.headers.get('location'), null, `${name}: no redirect`);
    t.match(await res.text(), `<title>${title}</title>`, name);
  };
  const start = { token, app: 'oidc-test' };
  await refused('no form token, no cookie', '/connect/oauth/start', start, undefined, {}, 'This page has expired');
  await refused('no form token, the victim’s cookie', '/connect/oauth/start', start, victim, {}, 'This page has expired');
  await refused(
    'the attacker’s form token, the victim’s cookie',
    '/connect/oauth/start',
    { form_token: attackerFormToken, ...start },
    victim,
    {},
    'This page has expired',
  );
  await refused(
    'a form token for another connect token',
    '/connect/oauth/start',
    { form_token: victimFormToken, token: await env.mint(), app: 'oidc-test' },
    victim,
    {},
    'This page has expired',
  );
  await refused(
    'a forged form token',
    '/connect/oauth/start',
    { form_token: `${'A'.repeat(22)}.${'B'.repeat(43)}`, ...start },
    victim,
    {},
    'This page has expired',
  );
  const valid = { form_token: victimFormToken, ...start };
  await refused('Sec-Fetch-Site: cross-site', '/connect/oauth/start', valid, victim, { 'sec-fetch-site': 'cross-site' }, 'This request was refused');
  await refused('Sec-Fetch-Site: same-site', '/connect/oauth/start', valid, victim, { 'sec-fetch-site': 'same-site' }, 'This request was refused');
  await refused('Origin of another site', '/connect/oauth/start', valid, victim, { origin: 'http://localhost:1' }, 'This request was refused');
  await refused('Origin on another port', '/connect/oauth/start', valid, victim, { origin: env.publicUrl.replace(/:\d+$/, ':1') }, 'This request was refused');
  await refused('the key form without a form token', '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY }, victim, {}, 'This page has expired');
  t.equal(env.oidc.authorizationRequests().length, 0);
  t.equal(env.keyApi.requests.length, 0);
  t.equal(await stateCount(env), 0, 'nothing was stored');

  // A page of ours framed by another site: no cookie kept, the browser vouches same-origin.
  const framed = await postRawForm(env, '/connect/oauth/start', { form_token: victimFormToken, ...start }, undefined, {
    origin: 'null',
    'sec-fetch-site': 'same-origin',
  });
  t.equal(framed.status, 303, 'same-origin without the cookie: the framed page');
  await refused(
    'same-origin without the cookie, and no form token',
    '/connect/oauth/start',
    start,
    undefined,
    { 'sec-fetch-site': 'same-origin' },
    'This page has expired',
  );
  // The victim's own page, posted as Chromium posts it (Origin: null under no-referrer), goes on to the provider.
  const own = await postRawForm(env, '/connect/oauth/start', valid, victim, { origin: 'null', 'sec-fetch-site': 'same-origin' });
  t.equal(own.status, 303);
  t.equal(new URL(own.headers.get('location')!).origin, env.oidc.issuer);
  t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY }, victim)).status, 303, 'the key form from its page');
  t.equal(await accountCount(env), 1);
});

t.test('56. a GET never starts a flow: the form endpoints answer GET with 404 and store nothing', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  for (const path of ['/connect/oauth/start', '/connect/keys']) {
    const res = await fetch(`${env.publicUrl}${path}?token=${token}&app=oidc-test&f_api_key=${GOOD_KEY}`, { redirect: 'manual' });
    t.equal(res.status, 404, path);
  }
  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-test`, { redirect: 'manual' });
  t.equal(page.status, 200, 'the Connect Link shows a page, it does not redirect to the provider');
  t.equal(env.oidc.authorizationRequests().length, 0);
  t.equal(await stateCount(env), 0);
});
