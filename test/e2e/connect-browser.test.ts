// The connect flow in headless Chromium, end to end with real parts: @pipedream/sdk mints the
// token, the browser walks the Connect Link through oidc-provider's login and consent pages (or
// a key form), lands on the backend's success page, the account is read back through the SDK,
// and the signed CONNECTION_SUCCESS webhooks are delivered and verified.
import { createHmac, timingSafeEqual } from 'node:crypto';
import t from 'tap';
import { deliverDueWebhooks } from '../../src/webhooks/delivery.ts';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import {
  GOOD_KEY,
  connectProject,
  startConnectEnv,
  startConnectServices,
  startServer,
  type ConnectEnv,
  type ConnectServices,
  type ReceivedRequest,
} from '../fixtures/connect-env.ts';

const skip = browserSkipReason();

// The servers are built once for the file (when a browser test runs at all); each test works in a
// project of its own.
let services: Promise<ConnectServices> | undefined;
const sharedServices = (): Promise<ConnectServices> => (services ??= startConnectServices(t));

/** The backend's own success/error pages: a tiny local site. */
async function startBackendSite(t: Parameters<typeof startConnectEnv>[0]) {
  return startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
}

/** Standard Webhooks, verified independently of latchkey's signer: v1,base64(HMAC-SHA256(secret, id.timestamp.body)). */
function verifyStandardWebhook(t: Parameters<typeof startConnectEnv>[0], secret: string, request: ReceivedRequest): void {
  const id = request.headers['webhook-id'] as string;
  const timestamp = request.headers['webhook-timestamp'] as string;
  const signatures = String(request.headers['webhook-signature']).split(' ');
  t.match(id, /.+/, 'webhook-id');
  t.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 300, 'webhook-timestamp is now');
  const expected = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${timestamp}.${request.body}`)
    .digest();
  const valid = signatures.some((signature) => {
    const [version, mac] = signature.split(',');
    const given = Buffer.from(mac ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  t.ok(valid, 'webhook-signature verifies with the environment’s signing key');
}

async function enableProjectWebhook(env: ConnectEnv): Promise<string> {
  const created = await env.pd.projectEnvironment.updateWebhook({ url: `${env.webhooks.origin}/project` });
  return created.data.signingKey!;
}

t.test('OAuth in Chromium: Connect Link → oidc-provider login and consent → success redirect; account and signed webhooks', { skip }, async (t) => {
  // Servers and a database of its own: the delivery round below sends every due webhook it finds.
  const env = await startConnectEnv(t, { privateDatabase: true });
  const backend = await startBackendSite(t);
  const signingKey = await enableProjectWebhook(env);
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected`, webhookUri: `${env.webhooks.origin}/hook` });

  const { page, errors, requests } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect?token=${token}&app=oidc-test&connectLink=true`);
  t.equal(await page.locator('h1').textContent(), 'Connect OIDC Test');
  t.equal(await page.evaluate('document.activeElement && document.activeElement.tagName'), 'H1', 'focus starts at the heading');
  await page.getByRole('button', { name: 'Continue to OIDC Test' }).click();

  await page.waitForURL(`${env.oidc.issuer}/interaction/**`);
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.waitForSelector('button:has-text("Continue")');
  await page.locator('button:has-text("Continue")').click();

  await page.waitForURL(`${backend.origin}/connected?**`);
  const landed = new URL(page.url());
  const accountId = landed.searchParams.get('account_id')!;
  t.match(accountId, /^apn_/, 'landed on success_redirect_uri with account_id');
  t.same([...landed.searchParams.keys()], ['account_id'], 'nothing else in the URL (no code, no state)');
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation on the way',
  );

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.externalId, 'user-1');
  t.equal(account.app?.nameSlug, 'oidc-test');
  t.equal(account.name, 'alice');
  t.equal(account.credentials?.oauthAccessToken, env.oidc.issued.accessTokens[0], 'the access token from the AS');
  t.equal(account.credentials?.oauthRefreshToken, env.oidc.issued.refreshTokens[0], 'and its refresh token');
  t.equal(env.oidc.tokenRequests().length, 1);

  // Referer: our responses say no-referrer, so nothing after them (the provider, the backend) learns the URL.
  const afterUs = requests.filter((r) => !r.url.startsWith(env.publicUrl));
  t.ok(afterUs.length > 0);
  for (const request of requests) {
    t.notMatch(request.referer ?? '', /token=|code=|state=/, `no secret in the Referer of ${new URL(request.url).pathname}`);
  }
  t.same(
    requests.filter((r) => r.url.startsWith(backend.origin)).map((r) => r.referer),
    [undefined],
    'the backend’s page gets no Referer at all',
  );

  const report = await deliverDueWebhooks({ db: env.testApp.database.handle.db, vault: env.testApp.app.vault, egress: env.testApp.app.egress });
  t.equal(report.delivered, 2, 'to the token’s webhook_uri and the project webhook');
  const received = env.webhooks.requests.filter((r) => r.method === 'POST');
  t.same(received.map((r) => r.path).sort(), ['/hook', '/project']);
  for (const request of received) {
    verifyStandardWebhook(t, signingKey, request);
    const payload = JSON.parse(request.body) as { event: string; account: { id: string }; connect_token: string };
    t.equal(payload.event, 'CONNECTION_SUCCESS');
    t.equal(payload.account.id, accountId);
    t.match(payload.connect_token, /^ctid_/);
    t.notOk(request.body.includes(env.oidc.issued.accessTokens[0]!), 'no credential in the webhook');
    t.notOk(request.body.includes(token), 'no connect token in the webhook');
  }
});

t.test('keys app in Chromium: a wrong key fails on the form and saves nothing; the right key saves', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const backend = await startBackendSite(t);
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected` });
  const { page, errors } = await openPage(t);

  await page.goto(`${env.publicUrl}/connect?token=${token}&app=keys-test`);
  const key = page.getByLabel('API key');
  t.equal(await key.getAttribute('type'), 'password');
  await key.fill('sk_wrongkey99');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForSelector('.alert');
  t.equal(await page.locator('.alert').textContent(), 'Test request failed. Please verify your credentials and try again.');
  t.equal(await page.getByLabel('API key').inputValue(), '', 'the secret is not filled back in');
  t.equal(
    (await env.testApp.database.handle.db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length,
    0,
    'nothing saved',
  );

  await page.getByLabel('API key').fill(GOOD_KEY);
  await page.getByLabel('Region (optional)').fill('eu');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForURL(`${backend.origin}/connected?**`);
  const accountId = new URL(page.url()).searchParams.get('account_id')!;
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.name, 'keys@example.com', 'named by the test request');
  t.hasStrict(account.credentials, { api_key: GOOD_KEY, region: 'eu' } as never);
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation',
  );
});

/**
 * A customer's page on another origin that loads /sdk/connect.js as a module and writes the
 * callbacks into #out. The token is read when the page is served (it is minted for this origin).
 */
async function startHostPage(t: Parameters<typeof startConnectEnv>[0], env: ConnectEnv, settings: { token: string; app: string; mode?: 'iframe' | 'popup' }) {
  return startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><title>host</title>
<button id="go">Connect an account</button><pre id="out"></pre>
<script type="module">
import { connectAccount } from '${env.publicUrl}/sdk/connect.js';
const out = (line) => { document.getElementById('out').textContent += line + '\\n'; };
document.getElementById('go').addEventListener('click', () => {
  connectAccount({
    app: ${JSON.stringify(settings.app)}, token: ${JSON.stringify(settings.token)}, mode: ${JSON.stringify(settings.mode ?? 'iframe')},
    onSuccess: (result) => out('success:' + result.id),
    onError: (error) => out('error:' + error.code),
    onClose: (status) => out('close:' + JSON.stringify(status)),
  });
  // A message from anyone but the Connect frame must be ignored, even one that claims success.
  window.postMessage({ type: 'success', authProvisionId: 'apn_forged' }, '*');
});
</script>`);
  });
}

async function callbackLines(page: import('playwright-core').Page): Promise<string[]> {
  await page.waitForFunction(`document.getElementById('out').textContent.includes('close:')`);
  return (await page.locator('#out').textContent())!.trim().split('\n');
}

t.test('iframe through /sdk/connect.js: a keys app connects and onSuccess gets the account id', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const settings = { token: '', app: 'keys-test' };
  const host = await startHostPage(t, env, settings);
  settings.token = await env.mint({ allowedOrigins: [host.origin] });

  const { page } = await openPage(t);
  await page.goto(`${host.origin}/`);
  await page.click('#go');
  const frameElement = page.locator('iframe[id^="latchkey-connect-iframe-"]');
  await frameElement.waitFor();
  const frame = page.frameLocator('iframe[id^="latchkey-connect-iframe-"]');
  await frame.getByRole('button', { name: 'Cancel' }).click();
  t.same(await callbackLines(page), ['close:{"successful":false,"completed":false}'], 'Cancel closes the frame through onClose');
  t.equal(await frameElement.count(), 0);
  await page.evaluate(`document.getElementById('out').textContent = ''`);

  await page.click('#go');
  await frameElement.waitFor();
  await frame.getByLabel('API key').fill(GOOD_KEY);
  await frame.getByRole('button', { name: 'Connect' }).click();
  const lines = await callbackLines(page);
  const accounts = await env.testApp.database.handle.db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute();
  t.equal(accounts.length, 1);
  t.same(
    lines,
    [`success:${accounts[0]!.id}`, 'close:{"successful":true,"completed":true}'],
    'onSuccess with the account id, then onClose; the forged message was ignored',
  );
  t.equal(await frameElement.count(), 0, 'the iframe is removed');
});

t.test('iframe for an OAuth app: the authorization runs in a popup and the result is relayed to the host page', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const settings = { token: '', app: 'oidc-test' };
  const host = await startHostPage(t, env, settings);
  settings.token = await env.mint({ allowedOrigins: [host.origin] });

  const { page, context } = await openPage(t);
  await page.goto(`${host.origin}/`);
  await page.click('#go');
  const frame = page.frameLocator('iframe[id^="latchkey-connect-iframe-"]');
  const popupPromise = context.waitForEvent('page');
  await frame.getByRole('button', { name: 'Continue to OIDC Test' }).click();
  const popup = await popupPromise;
  await popup.waitForURL(`${env.oidc.issuer}/interaction/**`);
  await popup.locator('input[name="login"]').fill('bob');
  await popup.locator('input[name="password"]').fill('x');
  await popup.locator('button[type="submit"]').click();
  await popup.locator('button:has-text("Continue")').click();
  const lines = await callbackLines(page);
  const accounts = await env.testApp.database.handle.db.selectFrom('accounts').select(['id', 'name']).where('project_id', '=', env.client.projectId).execute();
  t.equal(accounts.length, 1);
  t.equal(accounts[0]!.name, 'bob');
  t.same(lines, [`success:${accounts[0]!.id}`, 'close:{"successful":true,"completed":true}']);
  await popup.waitForEvent('close', { timeout: 5000 }).catch(() => undefined);
  t.ok(popup.isClosed(), 'the popup is closed');
});

t.test('popup mode through /sdk/connect.js: an OAuth app connects in the popup, which reports to its opener', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const settings = { token: '', app: 'oidc-test', mode: 'popup' as const };
  const host = await startHostPage(t, env, settings);
  settings.token = await env.mint({ allowedOrigins: [host.origin] });

  const { page, context } = await openPage(t);
  await page.goto(`${host.origin}/`);
  const popupPromise = context.waitForEvent('page');
  await page.click('#go');
  const popup = await popupPromise;
  await popup.waitForLoadState();
  t.match(popup.url(), /\/connect\?.*embed=popup/);
  await popup.getByRole('button', { name: 'Continue to OIDC Test' }).click();
  await popup.locator('input[name="login"]').fill('carol');
  await popup.locator('input[name="password"]').fill('x');
  await popup.locator('button[type="submit"]').click();
  await popup.locator('button:has-text("Continue")').click();
  const lines = await callbackLines(page);
  const accounts = await env.testApp.database.handle.db.selectFrom('accounts').select(['id', 'name']).where('project_id', '=', env.client.projectId).execute();
  t.same(
    accounts.map((a) => a.name),
    ['carol'],
  );
  t.same(lines, [`success:${accounts[0]!.id}`, 'close:{"successful":true,"completed":true}']);
  await popup.waitForEvent('close', { timeout: 5000 }).catch(() => undefined);
  t.ok(popup.isClosed(), 'the SDK closes the popup');
});

t.test('framing is refused without allowed_origins and for another origin', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const other = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>other</title>');
  });
  const { page, errors } = await openPage(t);
  await page.goto(`${other.origin}/`);
  const cases = [
    { name: 'no allowed_origins', token: await env.mint() },
    { name: 'another origin allowed', token: await env.mint({ allowedOrigins: ['http://127.0.0.1:1'] }) },
    { name: 'this origin allowed (control)', token: await env.mint({ allowedOrigins: [other.origin] }) },
  ];
  for (const { name, token } of cases) {
    const id = `probe-${cases.findIndex((c) => c.token === token)}`;
    const src = `${env.publicUrl}/connect?token=${token}&app=keys-test`;
    await page.evaluate(
      `(() => { const f = document.createElement('iframe'); f.id = ${JSON.stringify(id)}; f.src = ${JSON.stringify(src)}; document.body.appendChild(f); })()`,
    );
    await page.locator(`#${id}`).waitFor();
    await page.waitForTimeout(1500);
    const forms = await page.frameLocator(`#${id}`).locator('form[action="/connect/keys"]').count();
    t.equal(forms, name.includes('control') ? 1 : 0, `${name}: the key form ${name.includes('control') ? 'renders' : 'never renders'} in the frame`);
  }
  t.ok(
    errors.some((e) => /frame-ancestors/.test(e)),
    'Chromium reports the frame-ancestors refusals',
  );
});
