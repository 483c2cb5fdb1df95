// A 401 from the upstream to an OAuth token: one refresh at the real oidc-provider through the
// refresher's single-flight + lease path, then one retry with the new token — when the request
// body can be replayed. A second 401 goes back as it came; so does a 401 to a streamed body, and
// a keys account's 401 (nothing to refresh). Concurrent 401s to the same token share one refresh.
import t from 'tap';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { findAccountById } from '../../src/accounts/account.repository.ts';
import { seedAccount, type Seeded } from '../fixtures/refresh-seed.ts';
import { binaryBytes, connectOAuthAccount, proxyEnv, startProxyServices, type Upstream } from '../fixtures/proxy-env.ts';

const services = await startProxyServices(t);

const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');

/** The upstream answers 401 to every bearer in `refused` (as if the provider had revoked it early). */
function refuseTokens(upstream: Upstream, refused: Set<string>): void {
  upstream.override = (req, res) => {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined || !refused.has(bearer)) return false;
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"revoked early"}');
    return true;
  };
}

const refreshGrants = (env: Awaited<ReturnType<typeof proxyEnv>>) => env.oidc.tokenRequests().filter((r) => r.params['grant_type'] === 'refresh_token');

async function storedAccessToken(env: Awaited<ReturnType<typeof proxyEnv>>, accountId: string): Promise<string | undefined> {
  const row = await findAccountById(env.testApp.database.handle.db, accountId);
  return (await openAccountSecrets(env.testApp.app.vault, row!)).values['oauth_access_token'];
}

t.test('401 → one refresh → the retry succeeds with the new token; a JSON body is sent twice, the same', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  refuseTokens(env.upstream, new Set([accessToken]));
  t.teardown(() => (env.upstream.override = undefined));
  const seen = env.upstream.requests.length;
  const echo = (await env.pd.proxy.post({ externalUserId: 'user-1', accountId, url: '/echo', body: { n: 1 } })) as unknown as {
    headers: Record<string, string>;
    body_base64: string;
  };
  const fresh = await storedAccessToken(env, accountId);
  t.not(fresh, accessToken, 'the account holds a new token');
  t.equal(echo.headers['authorization'], `Bearer ${fresh}`, 'the retry carried it');
  t.equal(Buffer.from(echo.body_base64, 'base64').toString(), '{"n":1}');
  t.equal(refreshGrants(env).length, 1, 'exactly one refresh at the authorization server');
  const calls = env.upstream.requests.slice(seen);
  t.same(
    calls.map((r) => r.headers.authorization),
    [`Bearer ${accessToken}`, `Bearer ${fresh}`],
    'two upstream calls: refused, then retried',
  );
  t.ok(calls[0]!.body.equals(calls[1]!.body), 'the replayed body is the same bytes');
  t.ok(env.upstream.introspected.at(-1)?.active, 'the new token is active at the oidc-provider');
  await env.testApp.app.auditLog.flush();
  const entry = await env.testApp.database.handle.db
    .selectFrom('audit_log')
    .selectAll()
    .where('project_id', '=', env.client.projectId)
    .where('action', '=', 'proxy.request')
    .executeTakeFirstOrThrow();
  t.hasStrict(entry.details, { status: 200, retried: true, source: 'upstream' });
});

t.test('a second 401 is returned as it came; no third call, no second refresh', async (t) => {
  const env = await proxyEnv(services);
  const { accountId } = await connectOAuthAccount(env);
  env.upstream.override = (req, res) => {
    if (!req.url.startsWith('/v2/')) return false;
    res.writeHead(401, { 'content-type': 'application/problem+json', 'www-authenticate': 'Bearer realm="up"' }).end('{"title":"still no"}');
    return true;
  };
  t.teardown(() => (env.upstream.override = undefined));
  const seen = env.upstream.requests.length;
  const res = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=user-1&account_id=${accountId}`,
    {
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
    },
  );
  t.equal(res.status, 401);
  t.equal(res.headers.get('content-type'), 'application/problem+json');
  t.equal(res.headers.get('www-authenticate'), 'Bearer realm="up"');
  t.equal(await res.text(), '{"title":"still no"}', "the upstream's body, not latchkey's");
  t.equal(env.upstream.requests.length - seen, 2, 'the call and its one retry');
  t.equal(refreshGrants(env).length, 1, 'one refresh');
});

t.test('no retry when the body was streamed, nor for a keys account', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  refuseTokens(env.upstream, new Set([accessToken]));
  t.teardown(() => (env.upstream.override = undefined));
  const seen = env.upstream.requests.length;
  const big = binaryBytes(400_000);
  const res = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=user-1&account_id=${accountId}`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development', 'content-type': 'application/octet-stream' },
      body: big,
    },
  );
  t.equal(res.status, 401, 'a streamed body cannot be sent again: the 401 is the answer');
  t.same(await res.json(), { error: 'revoked early' });
  t.equal(env.upstream.requests.length - seen, 1);
  t.equal(refreshGrants(env).length, 0, 'no refresh for a call that cannot be retried');
  t.equal(await storedAccessToken(env, accountId), accessToken);

  const seeded: Seeded = { testApp: env.testApp, client: env.client, oauthAppId: '', registry: env.testApp.registry };
  const keysId = await seedAccount(seeded, {
    appSlug: 'proxy-keys',
    environment: 'development',
    credentials: { api_key: 'pk_wrong_key_0000' },
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
  });
  const keys = await fetch(
    `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=user-1&account_id=${keysId}`,
    {
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
    },
  );
  t.equal(keys.status, 401, "a keys account's 401 is returned as is");
  t.equal(refreshGrants(env).length, 0, 'and nothing is refreshed');
});

t.test('concurrent 401s to the same token share one refresh', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  refuseTokens(env.upstream, new Set([accessToken]));
  t.teardown(() => (env.upstream.override = undefined));
  const statuses = await Promise.all(
    Array.from({ length: 6 }, () =>
      env.pd.proxy
        .get({ externalUserId: 'user-1', accountId, url: '/echo' }, { maxRetries: 0 })
        .then(() => 200)
        .catch((err: { statusCode?: number }) => err.statusCode),
    ),
  );
  t.same(statuses, [200, 200, 200, 200, 200, 200], 'every call succeeds on its retry');
  t.equal(refreshGrants(env).length, 1, 'one refresh at the authorization server for all of them');
});

t.test('a token inside its refresh margin is refreshed before the call, as a credential fetch would', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  // A 10-minute token in its last 10 seconds: inside the margin, so the credential fetch's rule refreshes it first.
  await env.testApp.database.handle.db
    .updateTable('accounts')
    .set({ expires_at: new Date(Date.now() + 10_000), last_refreshed_at: new Date(Date.now() - 590_000) })
    .where('id', '=', accountId)
    .execute();
  const seen = env.upstream.requests.length;
  const echo = (await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/echo' })) as unknown as { headers: Record<string, string> };
  const fresh = await storedAccessToken(env, accountId);
  t.not(fresh, accessToken);
  t.equal(echo.headers['authorization'], `Bearer ${fresh}`, 'the upstream only ever saw the fresh token');
  t.equal(env.upstream.requests.length - seen, 1, 'one upstream call, no 401 round trip');
  t.equal(refreshGrants(env).length, 1);
});
