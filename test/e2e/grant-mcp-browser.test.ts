// A remote MCP server connected in headless Chromium: the hosted page (its CSP must let the form
// lead to the authorization server it discovered), oidc-provider's login and consent, the
// callback, the backend's success page; then the credential through @pipedream/sdk and a
// proxied MCP tools/list with it. No CSP violation on the way.
import t from 'tap';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { connectProject, startConnectServices, startServer } from '../fixtures/connect-env.ts';
import { MCP_TOOLS, mcpAppDefinition, startMcpServer } from '../fixtures/mcp-server.ts';

const skip = browserSkipReason();

t.test('MCP server in Chromium: Connect Link → discovery and registration → consent → success; SDK credential; proxied tools/list', { skip }, async (t) => {
  const mcp = await startMcpServer(t);
  const services = await startConnectServices(t, { extraApps: () => [mcpAppDefinition('test_mcp', mcp.serverUrl)] });
  const env = await connectProject(services);
  const backend = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>backend</title><h1>Back at the backend</h1>');
  });
  const token = await env.mint({ successRedirectUri: `${backend.origin}/connected` });

  const { page, errors } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect?token=${token}&app=test_mcp&connectLink=true`);
  t.equal(await page.locator('h1').textContent(), 'Connect Test MCP test_mcp');
  await page.getByRole('button', { name: 'Continue to Test MCP test_mcp' }).click();

  await page.waitForURL(`${mcp.issuer}/interaction/**`);
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.waitForSelector('button:has-text("Continue")');
  await page.locator('button:has-text("Continue")').click();

  await page.waitForURL(`${backend.origin}/connected?**`);
  const accountId = new URL(page.url()).searchParams.get('account_id')!;
  t.match(accountId, /^apn_[A-Za-z0-9]+$/);
  t.equal(await page.locator('h1').textContent(), 'Back at the backend');
  // oidc-provider's development pages load outside resources (no DNS here); only CSP refusals count.
  t.same(
    errors.filter((e) => /Content Security Policy|Refused/.test(e)),
    [],
    'no CSP violation on the way (the form led to the discovered authorization server)',
  );
  t.equal(mcp.asRequests.filter((r) => r.path === '/reg' && r.status === 201).length, 1, 'one registration');

  const account = await env.pd.accounts.retrieve(accountId, { includeCredentials: true });
  t.equal(account.app?.authType, 'oauth');
  const accessToken = (account.credentials as Record<string, unknown>)['oauthAccessToken'];
  t.equal(accessToken, mcp.issued.accessTokens.at(-1));
  const tools = (await env.pd.proxy.post({
    externalUserId: 'user-1',
    accountId,
    url: mcp.serverUrl,
    headers: { Accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  })) as unknown as Record<string, unknown>;
  t.same(tools, { jsonrpc: '2.0', id: 1, result: { tools: MCP_TOOLS } });
  t.equal(mcp.mcpRequests.at(-1)!.authorization, `Bearer ${accessToken}`);
});
