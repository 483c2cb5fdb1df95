// Code templates, run for real: the Node.js, Python and curl programs latchkey writes for an
// account are started with `node`, `python3` and `bash` (Debian's, from /usr/bin) with nothing in
// their environment but PATH, LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET, and each must print
// the answer of the app's API: a fake key API that checks the key, and a resource server of the
// oidc-provider that checks the OAuth token by introspection (RFC 7662), also after a refresh.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { GOOD_KEY, callback, connectProject, postForm, startConnectServices, startOAuth, startServer, type ConnectEnv } from '../fixtures/connect-env.ts';
import { authorizeHeadless, type OidcProviderFixture } from '../fixtures/oidc-provider.ts';

const run = promisify(execFile);
const LANGUAGES = [
  { language: 'nodejs', command: 'node' },
  { language: 'python', command: 'python3' },
  { language: 'curl', command: 'bash' },
] as const;

// Registry literals that are code in one of the three languages: quotes, backslashes, $(…),
// backticks, $HOME. The programs must send them as data and run none of them.
const HOSTILE = `'"$(touch PWNED)\\ \`touch PWNED\` $HOME`;
const HOSTILE_QUERY_NAME = `k'"$(touch PWNED)`;
const HOSTILE_WORKSPACE = `ws "'$(touch PWNED)\\`;

// The resource server learns the authorization server once it runs (the registry needs both origins first).
const authorizationServer: { current?: OidcProviderFixture } = {};
const seenTokens: string[] = [];
const resource = await startServer(t, (req, res) => {
  if (req.path.startsWith('/hostile/')) {
    // Echoes what arrived, decoded: every program must have sent exactly the registry's literals.
    const url = new URL(req.path, 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        path: decodeURIComponent(url.pathname),
        q: url.searchParams.get('q'),
        k: url.searchParams.get(HOSTILE_QUERY_NAME),
        header: req.headers['x-quote'],
        authorization: req.headers.authorization,
        body: JSON.parse(req.body) as unknown,
      }),
    );
    return;
  }
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  void (async () => {
    const as = authorizationServer.current!;
    const introspection = await fetch(`${as.issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${as.clientId}:${as.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: token ?? '' }),
    });
    const answer = (await introspection.json()) as { active: boolean; sub?: string };
    if (token !== undefined) seenTokens.push(token);
    res.writeHead(answer.active ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.active ? { active: true, sub: answer.sub } : { active: false }));
  })();
});

const services = await startConnectServices(t, {
  extraApps: (origins) => [
    {
      slug: 'oidc-resource',
      name: 'OIDC Resource',
      auth_type: 'oauth',
      oauth: {
        authorize_url: `${origins.as}/auth`,
        token_url: `${origins.as}/token`,
        scopes: ['openid', 'api:read', 'offline_access'],
        issuer: origins.as,
        authorize_params: { prompt: 'consent' },
        rotates_refresh_token: true,
        // oidc-provider's tokens live 300 s: a shorter margin keeps a fresh one from being refreshed on every read.
        refresh_margin_seconds: 60,
      },
      api: { base_url: `${resource.origin}/api` },
      test_request: { url: `${resource.origin}/api/whoami`, query: { verbose: 'yes' } },
    },
    {
      // No API and no test request: the program has no request to make and prints the field names.
      slug: 'keys-bare',
      name: 'Keys Bare',
      auth_type: 'keys',
      fields: [
        { name: 'server_token', label: 'Server token', secret: true },
        { name: 'account', label: 'Account' },
      ],
    },
    {
      slug: 'keys-hostile',
      // A name that would end a comment and start code, were it written into one as is.
      name: `Hostile\nprocess.exit(3)\u2028import os; os._exit(3)\n$(touch PWNED) ${HOSTILE}`,
      auth_type: 'keys',
      fields: [
        { name: 'api_key', label: 'API key', secret: true },
        { name: 'workspace', label: 'Workspace' },
      ],
      api: { base_url: `${resource.origin}/hostile`, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      test_request: {
        method: 'POST',
        url: `${resource.origin}/hostile/{workspace}/echo?q=${encodeURIComponent(HOSTILE)}`,
        headers: { 'X-Quote': HOSTILE },
        query: { [HOSTILE_QUERY_NAME]: HOSTILE },
        body: `{"literal":${JSON.stringify(HOSTILE)},"workspace":"{workspace}"}`,
      },
    },
  ],
});
authorizationServer.current = services.oidc;

interface TemplateAnswer {
  language: string;
  filename: string;
  code: string;
}

async function template(env: ConnectEnv, accountId: string, language: string, query = ''): Promise<TemplateAnswer> {
  const res = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${env.client.projectId}/accounts/${accountId}/code_template?language=${language}${query}`,
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  if (res.statusCode !== 200) throw new Error(`code_template answered ${res.statusCode}: ${res.body}`);
  return res.json<TemplateAnswer>();
}

/** Runs a program with only PATH and the two client variables (LATCHKEY_URL defaults to PUBLIC_URL). */
async function runProgram(
  t: Test,
  env: ConnectEnv,
  command: string,
  answer: TemplateAnswer,
  extraEnv: Record<string, string> = {},
  dir = t.testdir(),
): Promise<string> {
  const file = path.join(dir, answer.filename);
  writeFileSync(file, answer.code);
  const { stdout } = await run(command, [file], {
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', LATCHKEY_CLIENT_ID: env.client.clientId, LATCHKEY_CLIENT_SECRET: env.client.clientSecret, ...extraEnv },
    timeout: 60_000,
  });
  return stdout;
}

async function connectKeysAccount(env: ConnectEnv): Promise<string> {
  const token = await env.mint();
  const res = await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY });
  if (res.status !== 303) throw new Error(`keys connect answered ${res.status}`);
  const accounts = await env.pd.accounts.list({ app: 'keys-test' });
  return accounts.data[0]!.id;
}

t.test('keys app: the Node.js, Python and curl programs print the fake API answer, which checked the key', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeysAccount(env);
  for (const { language, command } of LANGUAGES) {
    const answer = await template(env, accountId, language);
    t.equal(answer.language, language);
    t.notOk(answer.code.includes(GOOD_KEY), `${language}: no key in the program`);
    t.notOk(answer.code.includes(env.client.clientSecret), `${language}: no client secret in the program`);
    t.ok(answer.code.includes(accountId) && answer.code.includes(env.client.projectId), `${language}: the ids are filled in`);
    const before = env.keyApi.requests.length;
    const stdout = await runProgram(t, env, command, answer);
    t.equal(stdout, 'status: 200\n{"ok":true,"user":{"email":"keys@example.com"}}\n', `${language}: prints the status and the body`);
    const request = env.keyApi.requests[before]!;
    t.equal(request.path, '/v1/me', `${language}: the test request's path`);
    t.equal(request.headers.authorization, `Bearer ${GOOD_KEY}`, `${language}: the key went where api.auth puts it`);
  }
  t.equal(env.keyApi.requests.length, 1 + LANGUAGES.length, 'one test request at connect time, one per program');
});

t.test('basic auth and a field in the path (keys-regional): each program builds the same request as the test request', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const saved = await postForm(env, '/connect/keys', { token, app: 'keys-regional', f_region: 'eu', f_api_key: GOOD_KEY });
  t.equal(saved.status, 303, 'saved, then redirected to the result');
  const accountId = (await env.pd.accounts.list({ app: 'keys-regional' })).data[0]!.id;
  for (const { language, command } of LANGUAGES) {
    const answer = await template(env, accountId, language);
    const before = env.keyApi.requests.length;
    const stdout = await runProgram(t, env, command, answer);
    t.equal(stdout, 'status: 200\n{"ok":true,"user":{"email":"keys@eu.example.com"}}\n', `${language}: prints the answer`);
    const request = env.keyApi.requests[before]!;
    t.equal(request.path, '/eu/me', `${language}: the region filled the path`);
    t.equal(request.headers.authorization, `Basic ${Buffer.from(`${GOOD_KEY}:`).toString('base64')}`, `${language}: RFC 7617 basic auth`);
  }
});

t.test('?secrets= adds code that reads project secrets from latchkey', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeysAccount(env);
  const put = await env.testApp.app.server.inject({
    method: 'PUT',
    url: `/v1/connect/${env.client.projectId}/secrets/GREETING`,
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
    payload: { value: 'hello-secret-value' },
  });
  t.equal(put.statusCode, 201);
  for (const { language, command } of LANGUAGES) {
    const answer = await template(env, accountId, language, '&secrets=GREETING');
    t.notOk(answer.code.includes('hello-secret-value'), `${language}: no secret value in the program`);
    t.ok(answer.code.includes('GREETING'));
    const stdout = await runProgram(t, env, command, answer);
    t.equal(stdout, 'status: 200\n{"ok":true,"user":{"email":"keys@example.com"}}\n', `${language}: still prints the answer`);
  }
  await env.testApp.app.auditLog.flush();
  const reads = await env.testApp.database.handle.db
    .selectFrom('audit_log')
    .select(['result', 'details'])
    .where('project_id', '=', env.client.projectId)
    .where('action', '=', 'secret.read')
    .execute();
  t.same(
    reads.map((entry) => [entry.result, entry.details]),
    LANGUAGES.map(() => ['ok', { name: 'GREETING' }]),
    'each program read the secret once',
  );
  const missing = await env.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${env.client.projectId}/accounts/${accountId}/code_template?secrets=lower`,
    headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(missing.statusCode, 400, 'a bad secret name is refused');
  t.equal(missing.json<{ error: { code: string } }>().error.code, 'validation_failed');
});

t.test('bad input: unknown account, other environment, unknown language, unknown app', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeysAccount(env);
  const get = (url: string, environment = 'development') =>
    env.testApp.app.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': environment } });
  const base = `/v1/connect/${env.client.projectId}/accounts`;
  t.equal((await get(`${base}/apn_doesnotexist/code_template`)).statusCode, 404);
  t.equal((await get(`${base}/${accountId}/code_template`, 'production')).statusCode, 404, 'the account lives in development');
  t.equal((await get(`${base}/${accountId}/code_template?language=ruby`)).statusCode, 400);
  t.equal((await get(`${base}/${accountId}/code_template`)).json<{ language: string }>().language, 'nodejs', 'nodejs by default');
  t.equal((await get('/v1/connect/apps/nope/code_template')).statusCode, 404);
  t.equal((await get('/v1/connect/apps/app_unconfigured/code_template?language=python')).statusCode, 200, 'by app id too');
});

t.test('registry literals and user values that are code in JS, Python or bash are sent as data, never run', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const key = 'hostile-key-1';
  const saved = await postForm(env, '/connect/keys', { token, app: 'keys-hostile', f_api_key: key, f_workspace: HOSTILE_WORKSPACE });
  t.equal(saved.status, 303);
  const accountId = (await env.pd.accounts.list({ app: 'keys-hostile' })).data[0]!.id;
  const expected = JSON.stringify({
    path: `/hostile/${HOSTILE_WORKSPACE}/echo`,
    q: HOSTILE,
    k: HOSTILE,
    header: HOSTILE,
    authorization: `Bearer ${key}`,
    body: { literal: HOSTILE, workspace: HOSTILE_WORKSPACE },
  });
  for (const { language, command } of LANGUAGES) {
    const answer = await template(env, accountId, language);
    t.notOk(answer.code.includes(HOSTILE_WORKSPACE), `${language}: the user's value is not in the program`);
    const dir = t.testdir();
    const stdout = await runProgram(t, env, command, answer, {}, dir);
    t.equal(stdout, `status: 200\n${expected}\n`, `${language}: every literal arrived as written`);
    t.notOk(existsSync(path.join(dir, 'PWNED')), `${language}: nothing was run`);
  }
});

t.test('an app that declares no request: the programs print the credential field names ($auth)', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-bare', f_server_token: 'st-secret-1', f_account: 'acme' })).status, 303);
  const accountId = (await env.pd.accounts.list({ app: 'keys-bare' })).data[0]!.id;
  for (const { language, command } of LANGUAGES) {
    const stdout = await runProgram(t, env, command, await template(env, accountId, language));
    t.equal(stdout, '["server_token","account"]\n', `${language}: the names, never the values`);
  }
});

t.test('the app template without an account reads LATCHKEY_ACCOUNT_ID and runs the same way', async (t) => {
  const env = await connectProject(services);
  const accountId = await connectKeysAccount(env);
  for (const { language, command } of LANGUAGES) {
    const res = await env.testApp.app.server.inject({
      method: 'GET',
      url: `/v1/connect/apps/keys-test/code_template?language=${language}`,
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'development' },
    });
    t.equal(res.statusCode, 200);
    const answer = res.json<TemplateAnswer>();
    t.notOk(answer.code.includes('apn_'), `${language}: no account id`);
    t.ok(answer.code.includes('LATCHKEY_ACCOUNT_ID'));
    const stdout = await runProgram(t, env, command, answer, { LATCHKEY_ACCOUNT_ID: accountId });
    t.equal(stdout, 'status: 200\n{"ok":true,"user":{"email":"keys@example.com"}}\n', `${language}: prints the answer`);
  }
});

t.test('OAuth app: the programs send a live token (introspected by the resource server), also after a refresh', async (t) => {
  const env = await connectProject(services);
  await env.pd.oauthApps.create({ app: 'oidc-resource', clientId: env.oidc.clientId, clientSecret: env.oidc.clientSecret });
  const token = await env.mint();
  const { authorizeUrl, jar } = await startOAuth(env, token, { app: 'oidc-resource' });
  const done = await callback(await authorizeHeadless(authorizeUrl.toString()), jar);
  t.equal(done.status, 303);
  const accountId = (await env.pd.accounts.list({ app: 'oidc-resource' })).data[0]!.id;

  const runAll = async (): Promise<void> => {
    for (const { language, command } of LANGUAGES) {
      const answer = await template(env, accountId, language);
      for (const issued of [...env.oidc.issued.accessTokens, ...env.oidc.issued.refreshTokens])
        t.notOk(answer.code.includes(issued), `${language}: no token in the program`);
      const seen = seenTokens.length;
      const stdout = await runProgram(t, env, command, answer);
      t.equal(stdout, 'status: 200\n{"active":true,"sub":"alice"}\n', `${language}: the resource server found the token active`);
      t.equal(seenTokens.length, seen + 1);
      t.equal(seenTokens.at(-1), env.oidc.issued.accessTokens.at(-1), `${language}: the newest access token was sent`);
      t.equal(resource.requests.at(-1)!.path, '/api/whoami?verbose=yes', `${language}: the test request's path and query`);
    }
  };
  await runAll();
  const firstToken = env.oidc.issued.accessTokens.at(-1);

  const refreshed = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${env.client.projectId}/accounts/${accountId}/refresh`,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'x-pd-environment': 'development' },
  });
  t.equal(refreshed.statusCode, 200, refreshed.body);
  t.not(env.oidc.issued.accessTokens.at(-1), firstToken, 'the refresh issued a new access token');
  await runAll();
});
