// The JWT bearer grant (RFC 7523 §2.1) end to end against oidc-provider with the grant
// registered on it: the provider verifies each assertion's signature with the client's
// registered public key, its iss, aud, exp, iat and jti (machine-grant-provider.ts). The hosted
// form takes a PEM private key (RS256) or a JSON key file (ES256, Google's shape), the first
// token is minted on submit, a credential fetch through @pipedream/sdk returns it, a stale one
// is re-minted with a newly signed assertion, and the faults end in the documented states: an
// unregistered key and an unusable key show the form's error and store nothing; a provider 500
// backs off; a revoked key kills the account with credentials_rejected. Last, the shipped Google
// service-account entry's assertion is checked claim by claim.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import t from 'tap';
import { decodeJwt, decodeProtectedHeader, exportJWK, jwtVerify } from 'jose';
import { CONNECT_FLOW_ERRORS } from '../../src/errors.ts';
import { signAssertion } from '../../src/oauth/jwt-bearer-grant.ts';
import { postForm } from '../fixtures/connect-env.ts';
import { dumpDatabase } from '../fixtures/dump.ts';
import { testRegistry } from '../fixtures/app.ts';
import { accountOf, endBackoff, expireToken, fetchCredentials, resultAccountId, startMachineGrantEnv } from '../fixtures/machine-grant-env.ts';

const jwtApp = (tokenUrl: string, api: string) => ({
  slug: 'jwt-test',
  name: 'JWT Test',
  auth_type: 'oauth',
  oauth: {
    grant: 'jwt_bearer',
    token_url: tokenUrl,
    scopes: ['api:read'],
    token_auth_method: 'client_secret_post',
    assertion: {
      algorithm: 'RS256',
      private_key: '{private_key}',
      key_id: '{key_id}',
      iss: '{client_id}',
      aud: tokenUrl,
      lifetime_seconds: 60,
      claims: { box_sub_type: 'enterprise', box_sub_id: '{enterprise_id}' },
    },
  },
  fields: [
    { name: 'client_id', label: 'Client ID' },
    { name: 'client_secret', label: 'Client secret', secret: true },
    { name: 'enterprise_id', label: 'Enterprise ID', pattern: '[0-9]+' },
    { name: 'key_id', label: 'Public key ID' },
    { name: 'private_key', label: 'Private key (PEM)', secret: true },
  ],
  api: { base_url: api },
  test_request: { url: `${api}/me`, account_name_path: 'client_id' },
});

const keyFileApp = (tokenUrl: string, api: string) => ({
  slug: 'jwt-keyfile',
  name: 'JWT Key File',
  auth_type: 'oauth',
  oauth: {
    grant: 'jwt_bearer',
    token_url: tokenUrl,
    scopes: ['api:read', 'api:write'],
    assertion: {
      algorithm: 'ES256',
      key_file: 'key_file',
      key_file_members: ['client_email', 'private_key', 'private_key_id'],
      private_key: '{private_key}',
      key_id: '{private_key_id}',
      iss: '{client_email}',
      sub: '{subject}',
      aud: tokenUrl,
      scope_claim: true,
    },
  },
  fields: [
    { name: 'client_id', label: 'Client ID' },
    { name: 'client_secret', label: 'Client secret', secret: true },
    { name: 'key_file', label: 'Key file (JSON)', secret: true },
    { name: 'subject', label: 'User to act as', optional: true },
  ],
  api: { base_url: api },
  test_request: { url: `${api}/me` },
});

async function publicJwks(key: KeyObject, kid: string, alg: 'RS256' | 'ES256') {
  return { keys: [{ ...(await exportJWK(key)), kid, alg, use: 'sig' }] };
}

t.test('JWT bearer with a PEM key: form, first mint, SDK fetch, re-mint, faults', async (t) => {
  const env = await startMachineGrantEnv(t, ({ grantServer, api }) => [jwtApp(grantServer.tokenUrl, api)]);
  const { grantServer } = env;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const client = {
    client_id: `jwt-${randomBytes(4).toString('hex')}`,
    client_secret: randomBytes(24).toString('base64url'),
    token_endpoint_auth_method: 'client_secret_post' as const,
  };
  await grantServer.putClient({ ...client, jwks: await publicJwks(keys.publicKey, 'key-1', 'RS256') });
  const token = await env.mint({ externalUserId: 'jwt-user' });
  const form = (privateKey: string) => ({
    token,
    app: 'jwt-test',
    f_client_id: client.client_id,
    f_client_secret: client.client_secret,
    f_enterprise_id: '4242',
    f_key_id: 'key-1',
    // A one-line field: the browser drops a pasted key's line breaks, latchkey re-wraps it.
    f_private_key: privateKey.replace(/\n/g, ''),
  });

  const page = await (await fetch(`${env.publicUrl}/connect?token=${token}&app=jwt-test`)).text();
  t.match(page, /name="f_private_key" type="password"/, 'the key field is masked');

  await t.test('an unusable key: the form again, nothing sent, nothing stored', async (t) => {
    const res = await postForm(env, '/connect/keys', form('-----BEGIN PRIVATE KEY-----bm90IGEga2V5-----END PRIVATE KEY-----'));
    t.equal(res.status, 400);
    t.match(await res.text(), CONNECT_FLOW_ERRORS.key_unusable.message);
    t.equal(grantServer.tokenRequests.length, 0, 'no token request');
  });

  await t.test('a key the provider does not know: refused by its signature check, nothing stored', async (t) => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const res = await postForm(env, '/connect/keys', form(stranger));
    t.equal(res.status, 400);
    t.match(await res.text(), CONNECT_FLOW_ERRORS.credentials_rejected.message);
    t.same(
      grantServer.tokenRequests.map((r) => [r.status, r.error]),
      [[400, 'invalid_grant']],
    );
    t.same((await env.pd.accounts.list({ externalUserId: 'jwt-user' })).data, []);
  });

  const done = await postForm(env, '/connect/keys', form(pem));
  t.equal(done.status, 303);
  const id = await resultAccountId(env, done.headers.get('location')!);
  const sent = grantServer.tokenRequests.at(-1)!;
  t.equal(sent.status, 200);
  t.same(Object.keys(sent.params).sort(), ['assertion', 'client_id', 'client_secret', 'grant_type', 'scope']);
  t.equal(sent.params['grant_type'], 'urn:ietf:params:oauth:grant-type:jwt-bearer');
  t.equal(sent.params['scope'], 'api:read', 'the scope as a parameter');
  const assertion = sent.params['assertion']!;
  t.same(decodeProtectedHeader(assertion), { alg: 'RS256', typ: 'JWT', kid: 'key-1' });
  const claims = decodeJwt(assertion);
  t.same(Object.keys(claims).sort(), ['aud', 'box_sub_id', 'box_sub_type', 'exp', 'iat', 'iss', 'jti']);
  t.match(claims, { iss: client.client_id, aud: grantServer.tokenUrl, box_sub_type: 'enterprise', box_sub_id: '4242' });
  t.equal(claims.exp! - claims.iat!, 60, 'the entry’s lifetime');
  t.match(claims.jti, /^[0-9a-f-]{36}$/);
  await jwtVerify(assertion, keys.publicKey, { issuer: client.client_id, audience: grantServer.tokenUrl });
  t.pass('the assertion verifies with the registered public key');

  const account = await env.pd.accounts.retrieve(id, { includeCredentials: true });
  t.equal(account.app?.authType, 'keys');
  t.equal(account.credentials?.oauthAccessToken, grantServer.issued.at(-1));
  t.equal(account.name, client.client_id);

  await t.test('a stale token is re-minted with a newly signed assertion', async (t) => {
    const before = grantServer.issued.length;
    await expireToken(env, id);
    const again = await env.pd.accounts.retrieve(id, { includeCredentials: true });
    t.equal(grantServer.issued.length, before + 1);
    t.equal(again.credentials?.oauthAccessToken, grantServer.issued.at(-1));
    const reminted = grantServer.tokenRequests.at(-1)!.params['assertion']!;
    t.not(reminted, assertion, 'a new assertion');
    t.not(decodeJwt(reminted).jti, claims.jti, 'with a new jti (the provider refuses a replay)');
  });

  await t.test('the background refresher re-mints a due token with a new assertion', async (t) => {
    await expireToken(env, id);
    const before = grantServer.issued.length;
    t.same(await env.testApp.app.tokenRefresher.runRefreshRound(), { claimed: 1, refreshed: 1, failed: 0 });
    t.equal(grantServer.issued.length, before + 1);
    t.equal(grantServer.tokenRequests.at(-1)?.params['grant_type'], 'urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  await t.test('a provider 500: unavailable with backoff, not dead', async (t) => {
    await expireToken(env, id);
    grantServer.fault.status = 500;
    const res = await fetchCredentials(env, id);
    grantServer.fault.status = null;
    t.equal(res.status, 503);
    const row = await accountOf(env, id);
    t.match(row, { healthy: false, dead: false, error_code: 'provider_unavailable' });
    await endBackoff(env, id);
  });

  await t.test('a revoked key: the provider refuses the assertion, the account is dead', async (t) => {
    const replacement = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await grantServer.putClient({ ...client, jwks: await publicJwks(replacement.publicKey, 'key-2', 'RS256') });
    await expireToken(env, id);
    const res = await fetchCredentials(env, id);
    t.equal(res.status, 409);
    t.match(res.body, { error: { code: 'account_dead' } });
    t.match(grantServer.tokenRequests.at(-1), { status: 400, error: 'invalid_grant' });
    t.match(await accountOf(env, id), { dead: true, error_code: 'credentials_rejected' });
  });

  await t.test('no key in the logs or in any database row', async (t) => {
    const logs = env.testApp.logs();
    const body = pem.split('\n')[1]!;
    t.notOk(logs.includes(body), 'private key');
    t.notOk(logs.includes(client.client_secret), 'client secret');
    t.notOk(logs.includes('eyJ'), 'no JWT (assertion or token) at all');
    const dump = await dumpDatabase(env.testApp.database.handle.db);
    t.notOk(dump.includes(body), 'the private key is sealed at rest');
    t.notOk(dump.includes(client.client_secret), 'the client secret is sealed at rest');
  });
});

t.test('JWT bearer with a JSON key file (ES256, scope as a claim)', async (t) => {
  const env = await startMachineGrantEnv(t, ({ grantServer, api }) => [keyFileApp(grantServer.tokenUrl, api)]);
  const { grantServer } = env;
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const client = { client_id: `sa-${randomBytes(4).toString('hex')}@example.iam`, client_secret: randomBytes(24).toString('base64url') };
  await grantServer.putClient({ ...client, jwks: await publicJwks(keys.publicKey, 'es-1', 'ES256') });
  const keyFile = JSON.stringify(
    {
      type: 'service_account',
      client_email: client.client_id,
      private_key_id: 'es-1',
      private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    null,
    2,
  );
  const token = await env.mint({ externalUserId: 'sa-user' });
  const res = await postForm(env, '/connect/keys', {
    token,
    app: 'jwt-keyfile',
    f_client_id: client.client_id,
    f_client_secret: client.client_secret,
    f_key_file: keyFile.replace(/\n/g, ''),
  });
  t.equal(res.status, 303);
  await resultAccountId(env, res.headers.get('location')!);
  const sent = grantServer.tokenRequests.at(-1)!;
  t.equal(sent.status, 200);
  t.equal(sent.params['scope'], undefined, 'no scope parameter');
  const claims = decodeJwt(sent.params['assertion']!);
  t.match(claims, { iss: client.client_id, aud: grantServer.tokenUrl, scope: 'api:read api:write' });
  t.equal(claims.sub, undefined, 'no sub: the optional subject was left empty');
  t.same(decodeProtectedHeader(sent.params['assertion']!), { alg: 'ES256', typ: 'JWT', kid: 'es-1' });
  t.equal((await grantServer.introspect(grantServer.issued.at(-1)!)).scope, 'api:read api:write');
});

t.test('the shipped Google service-account entry signs Google’s claims', async (t) => {
  const registry = await testRegistry();
  const app = registry.get('google_service_account');
  if (app?.auth_type !== 'oauth' || app.oauth.assertion === undefined) throw new Error('google_service_account is not a jwt_bearer entry');
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = JSON.stringify({
    type: 'service_account',
    client_email: 'robot@project.iam.gserviceaccount.com',
    private_key_id: 'abc123',
    private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    token_uri: 'https://oauth2.googleapis.com/token',
  });
  const now = new Date('2026-12-01T12:00:00Z');
  const values = { service_account_json: keyFile, subject: 'admin@example.com' };
  const signed = await signAssertion(app, app.oauth.assertion, { values, scopes: ['https://www.googleapis.com/auth/drive'], now, operatorClient: undefined });
  if (typeof signed !== 'string') throw new Error(signed.problem);
  const { payload, protectedHeader } = await jwtVerify(signed, keys.publicKey, { currentDate: now });
  t.same(protectedHeader, { alg: 'RS256', typ: 'JWT', kid: 'abc123' });
  t.same(
    { ...payload, jti: typeof payload.jti },
    {
      scope: 'https://www.googleapis.com/auth/drive',
      iss: 'robot@project.iam.gserviceaccount.com',
      sub: 'admin@example.com',
      aud: 'https://oauth2.googleapis.com/token',
      iat: 1796126400,
      exp: 1796130000,
      jti: 'string',
    },
  );
});
