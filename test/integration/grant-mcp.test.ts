// Remote MCP servers as apps, end to end against real parts: oidc-provider as the authorization
// server (dynamic registration, resource indicators), a small MCP resource server in front of it
// (RFC 9728 metadata, 401 challenges, JSON-RPC), latchkey's hosted pages over HTTP, the official
// @pipedream/sdk for the credential fetch and the proxy. Discovery → registration → consent →
// callback → credentials → proxied initialize and tools/list → refresh with resource → faults.
import t from 'tap';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { callback, connectProject, startConnectServices, startOAuth, type ConnectEnv } from '../fixtures/connect-env.ts';
import { MCP_SCOPE, MCP_TOOLS, mcpAppDefinition, startMcpServer } from '../fixtures/mcp-server.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';

const mcp = await startMcpServer(t);
const services = await startConnectServices(t, {
  extraApps: () => [mcpAppDefinition('test_mcp', mcp.serverUrl), mcpAppDefinition('test_mcp_own', mcp.serverUrl, 'preregistered')],
});
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const DONE = 'http://127.0.0.1:9/done';

function resetFaults(): void {
  Object.assign(mcp.faults, {
    resourceMismatch: false,
    registrationRefused: false,
    tokenServerError: false,
    noChallengeParameter: false,
    metadataServerError: false,
    tokenInvalidGrant: false,
  });
}

/** Page → start → consent at oidc-provider → callback; the account id from the success redirect. */
async function connectMcp(env: ConnectEnv, externalUserId = 'user-1', app = 'test_mcp'): Promise<{ accountId: string; authorizeUrl: URL }> {
  const token = await env.mint({ externalUserId, successRedirectUri: DONE });
  const { authorizeUrl, jar } = await startOAuth(env, token, { app });
  const back = await authorizeHeadless(authorizeUrl.toString());
  const done = await callback(back, jar);
  if (done.status !== 303) throw new Error(`callback answered ${done.status}`);
  const location = new URL(done.headers.get('location')!);
  return { accountId: location.searchParams.get('account_id')!, authorizeUrl };
}

const registrations = () => mcp.asRequests.filter((r) => r.path === '/reg' && r.method === 'POST');
const tokenRequests = () => mcp.asRequests.filter((r) => r.path === '/token');

t.test('discovery, registration, consent, callback, credential fetch, proxied MCP calls, refresh with resource', async (t) => {
  resetFaults();
  const env = await connectProject(services);
  const token = await env.mint({ successRedirectUri: DONE });

  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=test_mcp`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-security-policy'), new RegExp(`form-action 'self' ${mcp.issuer}(;|$)`), 'the form may lead to the discovered AS');
  const html = await page.text();
  t.match(html, /<h1[^>]*>Connect Test MCP test_mcp<\/h1>/);
  t.match(html, `<li><code>${MCP_SCOPE}</code></li>`, 'the scope from the protected resource metadata is shown');
  const discovery = mcp.mcpRequests.slice(-2);
  t.same(
    discovery.map((r) => [r.method, r.path, r.status, r.authorization]),
    [
      ['POST', '/mcp', 401, undefined],
      ['GET', '/.well-known/oauth-protected-resource/mcp', 200, undefined],
    ],
    'an unauthenticated probe, then the metadata its challenge names',
  );
  t.same(registrations().length, 0, 'the page registers nothing');

  const before = mcp.asRequests.length;
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'test_mcp' });
  const asCalls = mcp.asRequests.slice(before);
  t.same(
    asCalls.map((r) => [r.method, r.path, r.status]),
    [
      ['GET', '/.well-known/oauth-authorization-server', 200],
      ['GET', '/.well-known/oauth-authorization-server', 200],
      ['POST', '/reg', 201],
    ],
    'the RFC 8414 metadata for the page the form comes from and for the start, then one registration',
  );
  const registration = asCalls[2]!.body!;
  t.same(registration['redirect_uris'], [`${env.publicUrl}/connect/oauth/callback`]);
  t.same(registration['grant_types'], ['authorization_code', 'refresh_token']);
  t.equal(registration['token_endpoint_auth_method'], 'client_secret_basic');
  t.equal(registration['scope'], undefined, 'no scope registered: the authorization server decides per request');
  t.equal(registration['client_name'], 'latchkey');

  t.equal(authorizeUrl.origin + authorizeUrl.pathname, `${mcp.issuer}/auth`);
  const q = authorizeUrl.searchParams;
  t.equal(q.get('resource'), mcp.serverUrl, 'RFC 8707 resource on the authorization request');
  t.equal(q.get('scope'), MCP_SCOPE);
  t.equal(q.get('code_challenge_method'), 'S256');
  t.equal(q.get('redirect_uri'), `${env.publicUrl}/connect/oauth/callback`);
  const db = env.testApp.database.handle.db;
  const client = await db.selectFrom('mcp_clients').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.equal(q.get('client_id'), client.client_id, 'the registered client');
  t.hasStrict(client, {
    environment: 'development',
    issuer: mcp.issuer,
    registration: 'dynamic',
    registration_key: 'dynamic',
    token_auth_method: 'client_secret_basic',
  });
  t.equal(client.token_endpoint, `${mcp.issuer}/token`);
  const secret = mcp.issued.clientSecrets.at(-1)!;
  t.notOk(client.client_secret_enc!.includes(Buffer.from(secret)), 'the client secret is sealed, not stored');

  const back = await authorizeHeadless(authorizeUrl.toString());
  t.equal(back.searchParams.get('iss'), mcp.issuer);
  const done = await callback(back, jar);
  t.equal(done.status, 303);
  const accountId = new URL(done.headers.get('location')!).searchParams.get('account_id')!;
  t.match(accountId, /^apn_[A-Za-z0-9]+$/);
  const exchange = tokenRequests().at(-1)!;
  t.equal(exchange.params['grant_type'], 'authorization_code');
  t.equal(exchange.params['resource'], mcp.serverUrl, 'RFC 8707 resource on the token request');
  t.equal(exchange.status, 200);

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.app?.nameSlug, 'test_mcp');
  t.equal(account.app?.authType, 'oauth', 'the SDK sees an OAuth app');
  t.equal(account.healthy, true);
  const credentials = account.credentials as Record<string, unknown>;
  t.equal(credentials['oauthAccessToken'], mcp.issued.accessTokens.at(-1));
  t.equal(credentials['oauthRefreshToken'], mcp.issued.refreshTokens.at(-1));
  t.equal(credentials['oauthClientId'], client.client_id);
  const row = await db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
  t.equal(row.oauth_app_id, client.id, 'the account names its MCP client');
  t.same(row.authorized_scopes, [MCP_SCOPE]);

  // The Connect proxy: the MCP server's host is the allowed host; the bearer is added there.
  const base = { externalUserId: 'user-1', accountId, url: mcp.serverUrl, headers: { Accept: 'application/json, text/event-stream' } };
  const initialize = (await env.pd.proxy.post({
    ...base,
    body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
  })) as unknown as Record<string, unknown>;
  t.same(initialize, {
    jsonrpc: '2.0',
    id: 1,
    result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'test-mcp', version: '1.0.0' } },
  });
  const tools = (await env.pd.proxy.post({ ...base, body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } })) as unknown as Record<string, unknown>;
  t.same(tools, { jsonrpc: '2.0', id: 2, result: { tools: MCP_TOOLS } });
  const proxied = mcp.mcpRequests.slice(-2);
  t.same(
    proxied.map((r) => [r.status, r.authorization]),
    [
      [200, `Bearer ${credentials['oauthAccessToken']}`],
      [200, `Bearer ${credentials['oauthAccessToken']}`],
    ],
  );
  const elsewhere = await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: `${mcp.issuer}/me` }).then(
    () => 'sent',
    (err: unknown) => (err as { statusCode?: number }).statusCode,
  );
  t.equal(elsewhere, 403, 'the bearer goes to the MCP server’s host only');

  // Refresh through the refresher: the refresh request carries resource too; the new token works.
  const refreshed = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}/refresh`,
    headers: admin,
  });
  t.equal(refreshed.statusCode, 200);
  t.hasStrict(refreshed.json(), { id: accountId, healthy: true, dead: false, error: null });
  const refresh = tokenRequests().at(-1)!;
  t.equal(refresh.params['grant_type'], 'refresh_token');
  t.equal(refresh.params['resource'], mcp.serverUrl, 'RFC 8707 resource on the refresh request');
  t.equal(refresh.status, 200);
  const after = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  const newToken = (after.credentials as Record<string, unknown>)['oauthAccessToken'];
  t.equal(newToken, mcp.issued.accessTokens.at(-1));
  t.not(newToken, credentials['oauthAccessToken']);
  const again = (await env.pd.proxy.post({ ...base, body: { jsonrpc: '2.0', id: 3, method: 'tools/list' } })) as unknown as Record<string, unknown>;
  t.same(again, { jsonrpc: '2.0', id: 3, result: { tools: MCP_TOOLS } });
  t.equal(mcp.mcpRequests.at(-1)!.authorization, `Bearer ${newToken}`);

  // A second user of the same project environment reuses the registration.
  const second = await connectMcp(env, 'user-2');
  t.match(second.accountId, /^apn_/);
  t.equal(second.authorizeUrl.searchParams.get('client_id'), client.client_id);
  t.equal(registrations().filter((r) => r.status === 201).length, 1, 'one registration per authorization server and project environment');

  // Deleting the account revokes its refresh token at the authorization server (RFC 7009).
  t.equal(client.revocation_endpoint, `${mcp.issuer}/token/revocation`);
  await env.pd.accounts.delete(accountId);
  const revocation = mcp.asRequests.at(-1)!;
  t.same([revocation.method, revocation.path, revocation.status], ['POST', '/token/revocation', 200]);
  const afterRevoke = await fetch(mcp.serverUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${String(newToken)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }),
  });
  t.equal(afterRevoke.status, 401, 'the grant is gone at the authorization server: its access token no longer works');

  t.notMatch(env.testApp.logs(), secret, 'the client secret is never logged');
  t.notMatch(env.testApp.logs(), String(newToken), 'no access token in the logs');
});

t.test('preregistered: the project’s own OAuth app is the client, no registration', async (t) => {
  resetFaults();
  const env = await connectProject(services);
  const token = await env.mint();
  const probes = mcp.mcpRequests.length;
  const missing = await fetch(`${env.publicUrl}/connect?token=${token}&app=test_mcp_own`);
  t.equal(missing.status, 409, 'without an OAuth app the page says the app is not configured');
  t.match(await missing.text(), 'This app is not configured');
  t.equal(mcp.mcpRequests.length, probes, 'and discovers nothing');

  // The operator registers a client at the AS by hand (here: through its registration endpoint).
  const registered = await fetch(`${mcp.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [`${env.publicUrl}/connect/oauth/callback`], grant_types: ['authorization_code', 'refresh_token'] }),
  });
  const own = (await registered.json()) as { client_id: string; client_secret: string };
  await env.pd.oauthApps.create({ app: 'test_mcp_own', clientId: own.client_id, clientSecret: own.client_secret });
  const regsBefore = registrations().length;
  const { accountId, authorizeUrl } = await connectMcp(env, 'user-1', 'test_mcp_own');
  t.equal(authorizeUrl.searchParams.get('client_id'), own.client_id);
  t.equal(authorizeUrl.searchParams.get('resource'), mcp.serverUrl);
  t.equal(registrations().length, regsBefore, 'latchkey registered nothing');
  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal((account.credentials as Record<string, unknown>)['oauthClientId'], own.client_id);
});

t.test('faults end in clear errors and states', async (t) => {
  const env = await connectProject(services);

  t.test('metadata for another resource: the page refuses, nothing is registered', async (t) => {
    resetFaults();
    mcp.faults.resourceMismatch = true;
    const regs = registrations().length;
    const token = await env.mint();
    const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=test_mcp`);
    t.equal(page.status, 502);
    const html = await page.text();
    t.match(html, 'This server cannot be connected');
    t.notMatch(html, mcp.origin, 'no URL on the page');
    t.equal(registrations().length, regs);
    t.match(env.testApp.logs(), 'protected resource metadata is for another resource');
  });

  t.test('the authorization server’s metadata answers 500: the page refuses, no fallback to another document', async (t) => {
    resetFaults();
    mcp.faults.metadataServerError = true;
    const before = mcp.asRequests.length;
    const token = await env.mint();
    const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=test_mcp`);
    t.equal(page.status, 502);
    t.match(await page.text(), 'This server cannot be connected');
    t.same(
      mcp.asRequests.slice(before).map((r) => [r.method, r.path, r.status]),
      [['GET', '/.well-known/oauth-authorization-server', 500]],
      'a 500 stops discovery (only a 404 moves on to the next well-known URI)',
    );
    t.match(env.testApp.logs(), 'metadata answered with status 500');
    resetFaults();
  });

  t.test('a 401 without resource_metadata: the well-known URI is found anyway', async (t) => {
    resetFaults();
    mcp.faults.noChallengeParameter = true;
    const token = await env.mint();
    const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=test_mcp`);
    t.equal(page.status, 200);
    t.same(
      mcp.mcpRequests.slice(-2).map((r) => [r.method, r.path, r.status]),
      [
        ['POST', '/mcp', 401],
        ['GET', '/.well-known/oauth-protected-resource/mcp', 200],
      ],
    );
  });

  t.test('registration refused: the start ends on the error page, nothing is stored', async (t) => {
    resetFaults();
    const fresh = await connectProject(services);
    mcp.faults.registrationRefused = true;
    const token = await fresh.mint();
    const started = await startOAuth(fresh, token, { app: 'test_mcp' }).then(
      () => 'redirected',
      (err: Error) => err.message,
    );
    t.match(started, /^start answered 502: /);
    t.match(started, 'sign-in service did not accept this app');
    t.match(fresh.testApp.logs(), 'answered with status 400 (invalid_client_metadata)');
    const rows = await fresh.testApp.database.handle.db.selectFrom('mcp_clients').selectAll().where('project_id', '=', fresh.client.projectId).execute();
    t.same(rows, []);
  });

  t.test('token endpoint 500: the callback fails as a provider error; a refresh leaves the account unhealthy, not dead', async (t) => {
    resetFaults();
    const { accountId } = await connectMcp(env, 'user-faults');
    mcp.faults.tokenServerError = true;
    const token = await env.mint({ externalUserId: 'user-500', errorRedirectUri: 'http://127.0.0.1:9/failed' });
    const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'test_mcp' });
    const back = await authorizeHeadless(authorizeUrl.toString());
    const done = await callback(back, jar);
    t.equal(done.status, 303);
    t.equal(done.headers.get('location'), 'http://127.0.0.1:9/failed?error=provider_error');

    const refreshed = await env.testApp.app.server.inject({
      method: 'POST',
      url: `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}/refresh`,
      headers: admin,
    });
    t.equal(refreshed.statusCode, 503);
    t.equal(refreshed.json().error.code, 'provider_unavailable');
    const row = await env.testApp.database.handle.db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
    t.hasStrict(row, { healthy: false, dead: false, error_code: 'provider_unavailable' });
    resetFaults();
  });

  t.test('refresh answered invalid_grant: the account is dead and asks for a reconnect', async (t) => {
    resetFaults();
    await env.pd.projectEnvironment.updateWebhook({ url: `${env.webhooks.origin}/project` });
    const { accountId } = await connectMcp(env, 'user-revoked');
    mcp.faults.tokenInvalidGrant = true;
    const refreshed = await env.testApp.app.server.inject({
      method: 'POST',
      url: `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}/refresh`,
      headers: admin,
    });
    t.equal(refreshed.statusCode, 409);
    t.equal(refreshed.json().error.code, 'account_dead');
    const row = await env.testApp.database.handle.db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
    t.hasStrict(row, { dead: true, error_code: 'grant_revoked' });
    const events = await env.testApp.database.handle.db
      .selectFrom('webhook_outbox')
      .select(['event', 'payload'])
      .where('project_id', '=', env.client.projectId)
      .where('event', '=', 'ACCOUNT_DEAD')
      .execute();
    t.same(
      events.map((e) => (e.payload['account'] as { id: string }).id),
      [accountId],
      'ACCOUNT_DEAD enqueued once, for this account',
    );
    resetFaults();
  });
});
