// Provider quirks, through the real code exchange (simple-oauth2 over @hapi/wreck), token
// response normalisation and test request runner, against a hand-written fake endpoint.
import t from 'tap';
import { exchangeCode, readTokenResponse } from '../../src/oauth/code-exchange.ts';
import { Readable } from 'node:stream';
import { createEgressGuard, type EgressGuard } from '../../src/egress/egress-guard.ts';
import type { EgressRequestOptions, EgressResponse } from '../../src/egress/egress-request.ts';
import { ConnectFlowError } from '../../src/errors.ts';
import { runTestRequest } from '../../src/oauth/test-request.ts';
import { registryFromDefinitions } from '../../src/registry/loader.ts';
import type { RegistryApp, RegistryOAuthApp } from '../../src/registry/registry.ts';
import { startFakeProvider } from '../fixtures/fake-provider.ts';

const client = { clientId: 'client-1', clientSecret: 'secret-s3cr3t' };
const NOW = new Date('2026-11-22T00:00:00Z');
// The fake provider listens on 127.0.0.1: the guard lets loopback through, as LATCHKEY_INSECURE_LOOPBACK does.
const egress = createEgressGuard({ insecureLoopback: true });
t.teardown(() => egress.close());

function app(definition: Record<string, unknown>): RegistryApp {
  return registryFromDefinitions([{ slug: 'q', name: 'Q', ...definition }], { insecureLoopback: true }).get('q')!;
}

function oauthApp(origin: string, tokenPath: string, oauth: Record<string, unknown> = {}): RegistryOAuthApp {
  return app({
    auth_type: 'oauth',
    oauth: { authorize_url: `${origin}/auth`, token_url: `${origin}${tokenPath}`, scopes: ['read'], ...oauth },
  }) as RegistryOAuthApp;
}

async function exchange(origin: string, tokenPath: string, oauth: Record<string, unknown> = {}, timeoutMs?: number) {
  const definition = oauthApp(origin, tokenPath, oauth);
  const response = await exchangeCode({
    oauth: definition.oauth,
    client,
    fields: {},
    code: 'code-1',
    redirectUri: 'http://127.0.0.1:3000/connect/oauth/callback',
    codeVerifier: 'v'.repeat(43),
    egress,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  return readTokenResponse(definition.oauth, response, ['read'], NOW);
}

async function failure(promise: Promise<unknown>): Promise<ConnectFlowError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConnectFlowError) return err;
    throw err;
  }
  throw new Error('expected a ConnectFlowError');
}

t.test('token responses: standard, form-encoded, nested (Slack), and their failures', async (t) => {
  const fake = await startFakeProvider(t);

  const ok = await exchange(fake.origin, '/token/ok');
  t.same(ok, {
    accessToken: 'at_ok_1234',
    refreshToken: 'rt_ok_1234',
    expiresAt: new Date(NOW.getTime() + 3600_000),
    authorizedScopes: ['read', 'write'],
    extras: {},
    accountName: null,
  });
  const request = fake.requests.at(-1)!;
  t.equal(request.headers.authorization, `Basic ${Buffer.from('client-1:secret-s3cr3t').toString('base64')}`, 'client_secret_basic');
  const form = new URLSearchParams(request.body);
  t.same(Object.fromEntries(form), {
    grant_type: 'authorization_code',
    code: 'code-1',
    redirect_uri: 'http://127.0.0.1:3000/connect/oauth/callback',
    code_verifier: 'v'.repeat(43),
  });

  await exchange(fake.origin, '/token/ok', { token_auth_method: 'client_secret_post', token_params: { audience: 'api' } });
  const post = new URLSearchParams(fake.requests.at(-1)!.body);
  t.equal(fake.requests.at(-1)!.headers.authorization, undefined, 'client_secret_post: no Authorization header');
  t.equal(post.get('client_id'), 'client-1');
  t.equal(post.get('client_secret'), 'secret-s3cr3t');
  t.equal(post.get('audience'), 'api', 'token_params are sent');
  t.equal(post.get('code'), 'code-1');

  const github = await exchange(fake.origin, '/token/form');
  t.equal(github.accessToken, 'gho_formtoken123', 'a form-encoded answer is parsed');
  t.same(github.authorizedScopes, ['repo', 'gist'], 'comma-separated scopes');
  t.equal(github.expiresAt, null, 'no expiry');

  const slack = await exchange(fake.origin, '/token/slack-ok', {
    token_response: {
      access_token_path: 'authed_user.access_token',
      scope_path: 'authed_user.scope',
      error_path: 'error',
      extra: { team_id: 'team.id' },
      account_name_path: 'team.name',
    },
  });
  t.hasStrict(slack, { accessToken: 'xoxp-user-1234', authorizedScopes: ['chat:write', 'users:read'], extras: { team_id: 'T1' }, accountName: 'Team One' });
  t.equal(slack.refreshToken, null);

  const defaulted = await exchange(fake.origin, '/token/no-expiry', { default_expires_in_seconds: 7200 });
  t.same(defaulted.expiresAt, new Date(NOW.getTime() + 7200_000), 'default_expires_in_seconds when expires_in is absent');

  for (const [path, oauth] of [
    ['/token/slack-error', { token_response: { error_path: 'error' } }],
    ['/token/html', {}],
    ['/token/bad-json', {}],
    ['/token/mac', {}],
    ['/token/bad-expiry', {}],
    ['/token/invalid-grant', {}],
    ['/token/500', {}],
    ['/token/redirect', {}],
    ['/token/huge', {}],
  ] as const) {
    const error = await failure(exchange(fake.origin, path, oauth));
    t.equal(error.kind, 'provider_error', path);
    const evidence = JSON.stringify({ message: error.message, cause: String(error.cause) });
    t.notMatch(evidence, /at_leaky_secret_99|at_should_not_log|secret-s3cr3t/, `${path}: no secret in the error`);
  }
  t.equal(fake.requests.filter((r) => r.path === '/steal').length, 0, 'a redirect is not followed');
});

t.test('a hanging token endpoint is abandoned at the deadline', async (t) => {
  const fake = await startFakeProvider(t);
  const started = Date.now();
  const error = await failure(exchange(fake.origin, '/token/hang', {}, 300));
  t.equal(error.kind, 'provider_error');
  t.ok(Date.now() - started < 5000, 'gave up quickly');
  t.match(String(error.cause), /status (504|408)/);
});

t.test('test requests: success_path, account name, failures fenced', async (t) => {
  const fake = await startFakeProvider(t);
  const keysApp = (path: string, extra: Record<string, unknown> = {}) =>
    app({
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'API key', secret: true }],
      api: { base_url: fake.origin, auth: { type: 'header', headers: { 'X-Key': '{api_key}' } } },
      test_request: { url: `${fake.origin}${path}`, ...extra },
    });
  const run = (path: string, extra: Record<string, unknown> = {}, timeoutMs?: number) =>
    runTestRequest({ app: withTest(keysApp(path, extra)), values: { api_key: 'k1' }, egress, ...(timeoutMs === undefined ? {} : { timeoutMs }) });

  t.same(await run('/api/ok', { success_path: 'ok', account_name_path: 'user.login' }), { ok: true, accountName: 'octo', accountUid: null });
  t.same(
    await run('/api/ok', { account_name_path: 'user.login', uid_path: 'user.id' }),
    { ok: true, accountName: 'octo', accountUid: '583231' },
    'the provider’s numeric user id, as text',
  );
  t.same(await run('/api/ok', { uid_path: 'user.login' }), { ok: true, accountName: null, accountUid: 'octo' }, 'a string id as it is');
  t.same(await run('/api/ok', { uid_path: 'user' }), { ok: true, accountName: null, accountUid: null }, 'an object is no id');
  t.equal(fake.requests.at(-1)!.headers['x-key'], 'k1', 'the credential is put on by api.auth');
  t.same(await run('/api/ok-false', { success_path: 'ok' }), { ok: false, reason: 'success_path is not truthy' });
  t.same(await run('/api/401'), { ok: false, reason: 'status 401' });
  t.same(await run('/api/redirect'), { ok: false, reason: 'status 302' }, 'a redirect is a failure, not followed');
  t.same(await run('/api/huge', { success_path: 'ok' }), { ok: false, reason: 'response too large' });
  t.same(await run('/api/hang', {}, 300), { ok: false, reason: 'timed out' });

  const oauthTest = app({
    auth_type: 'oauth',
    oauth: { authorize_url: `${fake.origin}/auth`, token_url: `${fake.origin}/token/ok`, scopes: ['read'] },
    api: { base_url: fake.origin },
    test_request: { url: `${fake.origin}/api/ok`, success_path: 'ok' },
  });
  t.same(await runTestRequest({ app: withTest(oauthTest), values: { oauth_access_token: 'at_1' }, egress }), { ok: true, accountName: null, accountUid: null });
  t.equal(fake.requests.at(-1)!.headers.authorization, 'Bearer at_1', 'oauth apps send the token as a bearer by default');

  const posting = app({
    auth_type: 'keys',
    fields: [
      { name: 'api_key', label: 'API key', secret: true },
      { name: 'workspace', label: 'Workspace' },
    ],
    api: { base_url: fake.origin, auth: { type: 'header', headers: { 'X-Key': '{api_key}' } } },
    test_request: { method: 'POST', url: `${fake.origin}/api/ok`, body: '{"workspace":"{workspace}"}' },
  });
  await runTestRequest({ app: withTest(posting), values: { api_key: 'k1', workspace: 'a"b' }, egress });
  t.same(JSON.parse(fake.requests.at(-1)!.body), { workspace: 'a"b' }, 'a value cannot break out of a JSON body');
  t.equal(fake.requests.at(-1)!.headers['content-type'], 'application/json');
});

t.test('a test request whose credential cannot go on is refused before anything is sent', async (t) => {
  const fake = await startFakeProvider(t);
  const keys = app({
    auth_type: 'keys',
    fields: [
      { name: 'api_key', label: 'API key', secret: true },
      { name: 'api_host', label: 'API host', choices: [{ value: 'api.example.com', label: 'US' }] },
    ],
    api: { base_url: 'https://{api_host}', allowed_hosts: ['api.example.com'], auth: { type: 'header', headers: { 'X-Key': '{api_key}' } } },
    test_request: { url: 'https://{api_host}/me' },
  });
  // An egress that records what would be sent and answers 200 {} (api.example.com is not reachable here).
  const sent: { url: string; headers: Readonly<Record<string, string>> }[] = [];
  const recordingEgress: Pick<EgressGuard, 'request'> = {
    request: async (url: string | URL, options: EgressRequestOptions): Promise<EgressResponse> => {
      sent.push({ url: String(url), headers: options.headers ?? {} });
      return { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) as EgressResponse['body'], deadline: new AbortController().signal };
    },
  };
  // A value outside the choices (the form refuses it first) still cannot take the credential elsewhere.
  t.same(await runTestRequest({ app: withTest(keys), values: { api_key: 'k1', api_host: 'evil.example.net' }, egress: recordingEgress }), {
    ok: false,
    reason: 'credential injection refused (host_not_allowed)',
  });
  t.same(await runTestRequest({ app: withTest(keys), values: { api_key: 'k1\r\nX-Evil: 1', api_host: 'api.example.com' }, egress: recordingEgress }), {
    ok: false,
    reason: 'credential injection refused (credential_invalid)',
  });
  t.equal(sent.length, 0, 'nothing was sent');
  t.same(await runTestRequest({ app: withTest(keys), values: { api_key: 'k1', api_host: 'api.example.com' }, egress: recordingEgress }), {
    ok: true,
    accountName: null,
    accountUid: null,
  });
  t.equal(sent.length, 1);
  t.equal(sent[0]!.url, 'https://api.example.com/me');
  t.equal(sent[0]!.headers['x-key'], 'k1');
  t.equal(fake.requests.length, 0, 'the recording egress replaced the network');
});

function withTest(definition: RegistryApp): RegistryApp & { test_request: NonNullable<RegistryApp['test_request']> } {
  const testRequest = definition.test_request;
  if (testRequest === undefined) throw new Error(`${definition.slug} has no test_request`);
  return { ...definition, test_request: testRequest };
}
