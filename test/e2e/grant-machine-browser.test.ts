// The machine grants' hosted form in headless Chromium, end to end with real parts: the SDK
// mints the connect token, the user types a client ID and secret (or pastes a PEM key, whose
// line breaks the one-line field drops), a wrong secret shows the form's error and saves
// nothing, the right one mints the first token at oidc-provider and lands on the backend's
// success page, and the account's fresh token is read back through @pipedream/sdk.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import t from 'tap';
import { exportJWK } from 'jose';
import { CONNECT_FLOW_ERRORS } from '../../src/errors.ts';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { startServer } from '../fixtures/connect-env.ts';
import { startMachineGrantEnv } from '../fixtures/machine-grant-env.ts';

const skip = browserSkipReason();

const apps = ({ grantServer, api }: { grantServer: { tokenUrl: string }; api: string }) => [
  {
    slug: 'cc-browser',
    name: 'CC Browser',
    auth_type: 'oauth',
    oauth: { grant: 'client_credentials', token_url: grantServer.tokenUrl, scopes: ['api:read'] },
    fields: [
      { name: 'client_id', label: 'Client ID' },
      { name: 'client_secret', label: 'Client secret', secret: true },
    ],
    api: { base_url: api },
    test_request: { url: `${api}/me`, account_name_path: 'client_id' },
  },
  {
    slug: 'jwt-browser',
    name: 'JWT Browser',
    auth_type: 'oauth',
    oauth: {
      grant: 'jwt_bearer',
      token_url: grantServer.tokenUrl,
      scopes: ['api:read'],
      assertion: { algorithm: 'RS256', private_key: '{private_key}', iss: '{client_id}', aud: grantServer.tokenUrl },
    },
    fields: [
      { name: 'client_id', label: 'Client ID' },
      { name: 'client_secret', label: 'Client secret', secret: true },
      { name: 'private_key', label: 'Private key', secret: true },
    ],
    api: { base_url: api },
    test_request: { url: `${api}/me` },
  },
];

async function backendSite(t: Parameters<typeof startMachineGrantEnv>[0]) {
  return startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
}

t.test('client credentials in Chromium: a wrong secret stays on the form, the right one connects', { skip }, async (t) => {
  const env = await startMachineGrantEnv(t, apps);
  const backend = await backendSite(t);
  const client = { client_id: `cc-${randomBytes(4).toString('hex')}`, client_secret: randomBytes(24).toString('base64url') };
  await env.grantServer.putClient(client);
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected` });
  const { page, errors } = await openPage(t);

  await page.goto(`${env.publicUrl}/connect?token=${token}&app=cc-browser`);
  t.equal(await page.locator('h1').textContent(), 'Connect CC Browser');
  await page.getByLabel('Client ID').fill(client.client_id);
  await page.getByLabel('Client secret').fill('not-the-secret');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForSelector('.alert');
  t.equal(await page.locator('.alert').textContent(), CONNECT_FLOW_ERRORS.credentials_rejected.message);
  t.equal(await page.getByLabel('Client ID').inputValue(), client.client_id, 'the client ID is kept');
  t.equal(await page.getByLabel('Client secret').inputValue(), '', 'the secret is not filled back in');
  t.same((await env.pd.accounts.list({ externalUserId: 'user-1' })).data, [], 'nothing saved');

  await page.getByLabel('Client secret').fill(client.client_secret);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForURL(`${backend.origin}/connected?**`);
  const accountId = new URL(page.url()).searchParams.get('account_id')!;
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.name, client.client_id);
  t.equal(account.credentials?.oauthAccessToken, env.grantServer.issued.at(-1), 'the token oidc-provider issued');
  t.same(
    env.grantServer.tokenRequests.map((r) => r.status),
    [401, 200],
  );
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation',
  );
});

t.test('JWT bearer in Chromium: a pasted PEM key (line breaks dropped by the field) signs the assertion', { skip }, async (t) => {
  const env = await startMachineGrantEnv(t, apps);
  const backend = await backendSite(t);
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const client = { client_id: `jwt-${randomBytes(4).toString('hex')}`, client_secret: randomBytes(24).toString('base64url') };
  await env.grantServer.putClient({ ...client, jwks: { keys: [{ ...(await exportJWK(keys.publicKey)), alg: 'RS256', use: 'sig' }] } });
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected` });
  const { page } = await openPage(t);

  await page.goto(`${env.publicUrl}/connect?token=${token}&app=jwt-browser`);
  await page.getByLabel('Client ID').fill(client.client_id);
  await page.getByLabel('Client secret').fill(client.client_secret);
  await page.getByLabel('Private key').fill(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForURL(`${backend.origin}/connected?**`);
  const accountId = new URL(page.url()).searchParams.get('account_id')!;
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.credentials?.oauthAccessToken, env.grantServer.issued.at(-1));
  t.equal(env.grantServer.tokenRequests.at(-1)?.params['grant_type'], 'urn:ietf:params:oauth:grant-type:jwt-bearer');
});
