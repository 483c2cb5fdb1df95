// The Connect proxy through the official @pipedream/sdk (proxy.get/post/put/patch/delete) against
// a local upstream that checks the credential it gets: an OAuth account's bearer by RFC 7662
// introspection at the real oidc-provider, a keys account's x-api-key + anthropic-version (the
// registry's api.auth). Query strings, JSON and binary bodies both ways (bytes equal), prefixed
// headers, the caller's bearer never upstream, cookies and hop-by-hop headers stripped, 429s
// passed through, ownership (404), the scope, the audit entry, and no token in logs or audit rows.
import { PipedreamClient, TooManyRequestsError } from '@pipedream/sdk';
import t from 'tap';
import { createProjectClient } from '../fixtures/app.ts';
import { seedAccount, type Seeded } from '../fixtures/refresh-seed.ts';
import { ANTHROPIC_VERSION, PROXY_KEY, binaryBytes, connectOAuthAccount, proxyEnv, startProxyServices, type UpstreamRequest } from '../fixtures/proxy-env.ts';

const services = await startProxyServices(t);

/** The echo route's answer: what the upstream received. */
interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body_base64: string;
}

const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');

async function keysAccount(env: Awaited<ReturnType<typeof proxyEnv>>, externalUserId = 'user-1'): Promise<string> {
  const seeded: Seeded = { testApp: env.testApp, client: env.client, oauthAppId: '', registry: env.testApp.registry };
  return seedAccount(seeded, {
    appSlug: 'proxy-keys',
    externalUserId,
    environment: 'development',
    credentials: { api_key: PROXY_KEY },
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
  });
}

t.test('OAuth app: all five methods through the SDK, the bearer verified by introspection', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  const seen = env.upstream.requests.length;
  const introspectedBefore = env.upstream.introspected.length;
  const base = { externalUserId: 'user-1', accountId };

  const got = (await env.pd.proxy.get({
    ...base,
    url: `${env.upstream.origin}/v2/echo`,
    params: { q: 'a b&c', page: '2' },
    headers: { 'X-Custom': 'hello', Accept: 'application/json', Authorization: 'Bearer caller-supplied', 'X-Pd-Environment': 'production' },
  })) as unknown as Echo;
  t.equal(got.method, 'GET');
  t.equal(got.url, '/v2/echo?q=a%20b%26c&page=2', 'the query string arrives as the SDK built it');
  t.equal(got.headers['x-custom'], 'hello', 'x-pd-proxy-x-custom arrives as x-custom');
  t.equal(got.headers['accept'], 'application/json');
  t.equal(got.headers['authorization'], `Bearer ${accessToken}`, "the account's token, not the caller's x-pd-proxy-authorization");
  t.notOk(
    Object.keys(got.headers).some((name) => name.startsWith('x-pd-')),
    'no x-pd-* header reaches the upstream',
  );
  t.equal(got.headers['user-agent'], 'latchkey-proxy');

  const relative = (await env.pd.proxy.get({ ...base, url: '/echo', params: { rel: '1' } })) as unknown as Echo;
  t.equal(relative.url, '/v2/echo?rel=1', 'a relative url is appended to the path of api.base_url');
  const climbing = (await env.pd.proxy.get({ ...base, url: '/../%2e%2e/echo' })) as unknown as Echo;
  t.equal(climbing.url, '/v2/echo', 'dot segments do not climb above the base path');

  const payload = { name: 'Ada', nested: { list: [1, 2, 3], unicode: 'ünïcødé ✓' } };
  for (const method of ['post', 'put', 'patch'] as const) {
    const echo = (await env.pd.proxy[method]({ ...base, url: '/echo', body: payload, headers: { 'X-Request-Kind': method } })) as unknown as Echo;
    t.equal(echo.method, method.toUpperCase(), `${method}: the method`);
    t.same(JSON.parse(Buffer.from(echo.body_base64, 'base64').toString('utf8')), payload, `${method}: the JSON body arrives`);
    t.equal(echo.headers['content-type'], 'application/json', `${method}: its content type`);
    t.equal(echo.headers['x-request-kind'], method);
  }
  const deleted = (await env.pd.proxy.delete({ ...base, url: '/echo?id=7' })) as unknown as Echo;
  t.equal(deleted.method, 'DELETE');
  t.equal(deleted.url, '/v2/echo?id=7');

  const upstreamPort = new URL(env.upstream.origin).port;
  for (const elsewhere of [`http://localhost:${upstreamPort}/v2/echo`, 'http://127.0.0.1:1/v2/echo', 'https://api.example.org/v2/echo']) {
    const status = await env.pd.proxy
      .get({ ...base, url: elsewhere }, { maxRetries: 0 })
      .then(() => 200)
      .catch((err: { statusCode?: number; body?: { error?: { code?: string } } }) => `${err.statusCode} ${err.body?.error?.code}`);
    t.equal(status, '403 host_not_allowed', `only the host of api.base_url: ${elsewhere} is refused`);
  }

  const received = env.upstream.requests.slice(seen);
  t.equal(received.length, 7, 'one upstream request per call');
  t.ok(
    received.every((request: UpstreamRequest) => request.headers.authorization === `Bearer ${accessToken}`),
    'the caller’s bearer never reaches the upstream',
  );
  t.notOk(JSON.stringify(received.map((r) => r.headers)).includes(env.client.accessToken), "latchkey's client bearer appears in no upstream header");
  const introspections = env.upstream.introspected.slice(introspectedBefore);
  t.equal(introspections.length, 7);
  t.ok(
    introspections.every((entry) => entry.active && entry.token === accessToken),
    'the oidc-provider says the token is active each time',
  );
});

t.test('keys app: the api.auth headers (x-api-key + anthropic-version), absolute and relative urls', async (t) => {
  const env = await proxyEnv(services);
  const accountId = await keysAccount(env);
  const base = { externalUserId: 'user-1', accountId };
  const absolute = (await env.pd.proxy.get({ ...base, url: `${env.upstream.origin}/keys/echo` })) as unknown as Echo;
  t.equal(absolute.headers['x-api-key'], PROXY_KEY);
  t.equal(absolute.headers['anthropic-version'], ANTHROPIC_VERSION);
  t.equal(absolute.headers['authorization'], undefined, 'no bearer for a header-keyed app');
  const overridden = (await env.pd.proxy.get({
    ...base,
    url: '/echo',
    headers: { 'X-Api-Key': 'caller-key', 'Anthropic-Version': '1999-01-01' },
  })) as unknown as Echo;
  t.equal(overridden.headers['x-api-key'], PROXY_KEY, 'a forwarded header cannot replace the credential');
  t.equal(overridden.headers['anthropic-version'], ANTHROPIC_VERSION);
});

t.test('query-parameter keys on a base path filled from the account: the key replaces any the caller sent', async (t) => {
  const env = await proxyEnv(services);
  const seeded: Seeded = { testApp: env.testApp, client: env.client, oauthAppId: '', registry: env.testApp.registry };
  const accountId = await seedAccount(seeded, {
    appSlug: 'proxy-query',
    environment: 'development',
    credentials: { workspace: 'acme-team', api_key: PROXY_KEY },
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
  });
  const echo = (await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/echo', params: { key: 'caller-key', page: '3' } })) as unknown as Echo;
  t.equal(echo.url, `/query/acme-team/echo?key=${PROXY_KEY}&page=3`, "the account's workspace fills the base path; its key replaces the caller's");
});

t.test('binary bodies both ways are byte for byte, x-pd-proxy-accept makes the SDK return bytes', async (t) => {
  const env = await proxyEnv(services);
  const accountId = await keysAccount(env);
  const download = await env.pd.proxy.get({
    externalUserId: 'user-1',
    accountId,
    url: '/binary',
    params: { size: String(300_000) },
    headers: { Accept: 'application/octet-stream' },
  });
  const bytes = Buffer.from(await (download as unknown as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer());
  t.equal(bytes.length, 300_000);
  t.ok(bytes.equals(binaryBytes(300_000)), 'the downloaded bytes are the upstream’s');

  // The SDK sends JSON bodies only; a backend posting a form or uploading a file calls the route directly.
  const multipart = new FormData();
  multipart.append('field', 'välue');
  multipart.append('file', new Blob([binaryBytes(5000)]), 'f.bin');
  const encoded = new Request('http://x/', { method: 'POST', body: multipart });
  for (const [type, body] of [
    [encoded.headers.get('content-type')!, Buffer.from(await encoded.arrayBuffer())],
    ['application/x-www-form-urlencoded', Buffer.from('a=1&b=%20x&c=%E2%9C%93')],
  ] as const) {
    const seen = env.upstream.requests.length;
    const url = `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=user-1&account_id=${accountId}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development', 'content-type': type },
      body,
    });
    t.equal(res.status, 200, `${type.split(';')[0]}: 200`);
    t.ok(env.upstream.requests[seen]!.body.equals(body), `${type.split(';')[0]}: the bytes arrive unchanged`);
    t.equal(env.upstream.requests[seen]!.headers['content-type'], type, `${type.split(';')[0]}: its content type (boundary included)`);
  }

  for (const size of [1000, 1_500_000]) {
    const upload = binaryBytes(size);
    const seen = env.upstream.requests.length;
    const url = `${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=user-1&account_id=${accountId}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development', 'content-type': 'application/octet-stream' },
      body: upload,
    });
    t.equal(res.status, 200, `${size} bytes: 200`);
    const received = env.upstream.requests[seen]!;
    t.ok(received.body.equals(upload), `${size} bytes arrive unchanged (${size > 256 * 1024 ? 'streamed' : 'buffered'})`);
    t.equal(received.headers['content-type'], 'application/octet-stream');
    t.equal(received.headers['content-length'], String(size));
  }
});

t.test('url_64 in every alphabet; answers pass through minus cookies and hop-by-hop headers; 204; 429 with Retry-After', async (t) => {
  const env = await proxyEnv(services);
  const accountId = await keysAccount(env);
  const auth = { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' };
  const call = (segment: string, init: RequestInit = {}) =>
    fetch(`${env.publicUrl}/v1/connect/${env.client.projectId}/proxy/${segment}?external_user_id=user-1&account_id=${accountId}`, { ...init, headers: auth });
  // `/echo?x=~~~>` encodes with both `+` and `/` in standard base64.
  const target = '/echo?x=~~~>';
  const standard = b64(target);
  t.match(standard, /[+/]/);
  const urlSafe = standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  for (const [label, segment] of [
    ['standard, percent-encoded', encodeURIComponent(standard)],
    ['URL-safe, unpadded', urlSafe],
    ['URL-safe, padded', `${urlSafe}${'='.repeat(standard.length - standard.replace(/=+$/, '').length)}`],
    ['standard with a raw +', standard.replace(/\//g, '%2F')],
  ] as const) {
    const res = await call(segment);
    t.equal(res.status, 200, label);
    t.equal(((await res.json()) as Echo).url, '/keys/echo?x=~~~%3E', label);
  }
  for (const bad of ['!!!!', encodeURIComponent(b64('\u0000/echo')), 'Q', encodeURIComponent(Buffer.from([0xff, 0xfe]).toString('base64'))]) {
    const res = await call(bad);
    t.equal(res.status, 400, `url_64 ${bad}: 400`);
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'validation_failed');
  }

  const cookie = await call(encodeURIComponent(b64('/cookie')));
  t.equal(cookie.status, 200);
  t.equal(cookie.headers.get('set-cookie'), null, 'set-cookie is stripped');
  t.equal(cookie.headers.get('x-upstream'), 'yes', 'other headers pass');
  t.equal(cookie.headers.get('x-drop'), null, 'a header the Connection header names is hop-by-hop');
  t.same(await cookie.json(), { ok: true });
  const empty = await call(encodeURIComponent(b64('/empty')), { method: 'DELETE' });
  t.equal(empty.status, 204);

  const limited = await env.pd.proxy
    .get({ externalUserId: 'user-1', accountId, url: '/limited' }, { maxRetries: 0 })
    .then(() => undefined)
    .catch((err: unknown) => err);
  t.ok(limited instanceof TooManyRequestsError, "the upstream's 429 is the SDK's TooManyRequestsError");
  const rawLimited = await call(encodeURIComponent(b64('/limited')));
  t.equal(rawLimited.status, 429);
  t.equal(rawLimited.headers.get('retry-after'), '7', "the upstream's Retry-After passes through");
  t.same(await rawLimited.json(), { error: 'rate_limited' }, 'its body too');
});

t.test('ownership: another user, project or environment is a 404; the scope connect:proxy is required', async (t) => {
  const env = await proxyEnv(services);
  const accountId = await keysAccount(env, 'owner');
  const proxyCall = (pd: PipedreamClient, externalUserId: string) =>
    pd.proxy
      .get({ externalUserId, accountId, url: '/echo' }, { maxRetries: 0 })
      .then(() => 200)
      .catch((err: { statusCode?: number }) => err.statusCode);
  t.equal(await proxyCall(env.pd, 'owner'), 200, 'positive control');
  t.equal(await proxyCall(env.pd, 'someone-else'), 404, "another user's account is not found");
  const production = new PipedreamClient({
    baseUrl: env.publicUrl,
    clientId: env.client.clientId,
    clientSecret: env.client.clientSecret,
    projectId: env.client.projectId,
    projectEnvironment: 'production',
  });
  t.equal(await proxyCall(production, 'owner'), 404, 'the other environment has no such account');
  const other = await createProjectClient(env.testApp);
  const foreign = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${other.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=owner&account_id=${accountId}`,
    headers: { authorization: `Bearer ${other.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(foreign.statusCode, 404, "another project's client finds nothing");
  t.equal(foreign.json().error.message, 'account not found');

  const narrow = await createProjectClient(env.testApp, ['connect:accounts:read', 'connect:credentials:read']);
  const refused = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${narrow.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=owner&account_id=${accountId}`,
    headers: { authorization: `Bearer ${narrow.accessToken}` },
  });
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().error.message, 'the token lacks scope connect:proxy');
  const wide = await createProjectClient(env.testApp, ['connect:*']);
  const allowed = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${wide.projectId}/proxy/${encodeURIComponent(b64('/echo'))}?external_user_id=owner&account_id=${accountId}`,
    headers: { authorization: `Bearer ${wide.accessToken}` },
  });
  t.equal(allowed.statusCode, 404, 'connect:* includes connect:proxy (then: not this project’s account)');
});

t.test('every call is an audit entry without values; no token in logs or the audit table', async (t) => {
  const env = await proxyEnv(services);
  const { accountId, accessToken } = await connectOAuthAccount(env);
  const keysId = await keysAccount(env);
  await env.pd.proxy.get({ externalUserId: 'user-1', accountId, url: '/echo', params: { secret_query: 'qv-0123456789' } });
  await env.pd.proxy.post({ externalUserId: 'user-1', accountId: keysId, url: '/echo', body: { body_value: 'bv-0123456789' } });
  const refused = await env.pd.proxy
    .get({ externalUserId: 'user-1', accountId: keysId, url: 'https://evil.example.com/steal' }, { maxRetries: 0 })
    .then(() => 200)
    .catch((err: { statusCode?: number }) => err.statusCode);
  t.equal(refused, 403);
  await env.testApp.app.auditLog.flush();
  const rows = await env.testApp.database.handle.db
    .selectFrom('audit_log')
    .selectAll()
    .where('project_id', '=', env.client.projectId)
    .where('action', '=', 'proxy.request')
    .orderBy('id')
    .execute();
  t.equal(rows.length, 3, 'one entry per call');
  const [first, second, third] = rows;
  t.hasStrict(first, { actor: `client:${env.client.clientId}`, environment: 'development', account_id: accountId, result: 'ok' });
  t.hasStrict(first!.details, {
    app: 'proxy-oauth',
    method: 'GET',
    host: new URL(env.upstream.origin).host,
    path: '/echo',
    status: 200,
    source: 'upstream',
    retried: false,
    request_bytes: 0,
  });
  t.ok(Number((first!.details as { response_bytes: number }).response_bytes) > 0, 'the response bytes are counted');
  t.hasStrict(second!.details, { app: 'proxy-keys', method: 'POST', status: 200, request_bytes: 30 });
  t.hasStrict(third, { account_id: keysId, result: 'denied' });
  t.hasStrict(third!.details, { status: 403, source: 'latchkey', error_code: 'host_not_allowed', host: 'evil.example.com', path: '/steal' });
  const everything = JSON.stringify(rows) + env.testApp.logs();
  t.match(env.testApp.logs(), /\/proxy\/\[url_64\]/, 'the logged path names the proxy route…');
  t.notOk(everything.includes(encodeURIComponent(b64('/echo?secret_query=qv-0123456789'))), '…without the encoded target and its query');
  for (const [label, value] of [
    ['the OAuth access token', accessToken],
    ['the API key', PROXY_KEY],
    ["the caller's bearer", env.client.accessToken],
    ['a query value', 'qv-0123456789'],
    ['a body value', 'bv-0123456789'],
  ] as const) {
    t.notOk(everything.includes(value), `${label} is in no audit row and no log line`);
  }
  const metrics = await env.testApp.app.server.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /latchkey_proxy_requests_total\{app="proxy-keys",status_class="4xx",source="latchkey"\} \d+/);
  t.match(metrics.body, /latchkey_proxy_request_duration_seconds_count\{app="proxy-oauth",status_class="2xx"\} \d+/);
});
