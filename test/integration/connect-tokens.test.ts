import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { resolveConnectToken } from '../../src/connect/connect-tokens.service.ts';
import { digestToken } from '../../src/crypto/tokens.ts';
import { buildTestApp, createProjectClient, type ProjectClient, type TestApp } from '../fixtures/app.ts';

function sdkFor(baseUrl: string, client: ProjectClient, projectEnvironment: 'development' | 'production' = 'development'): PipedreamClient {
  return new PipedreamClient({ baseUrl, clientId: client.clientId, clientSecret: client.clientSecret, projectId: client.projectId, projectEnvironment });
}

function mint(testApp: TestApp, client: ProjectClient, payload: unknown, headers: Record<string, string> = {}) {
  return testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/tokens`,
    headers: { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'development', ...headers },
    payload: payload as Record<string, unknown>,
  });
}

t.test('tokens.create through @pipedream/sdk, validate through the SDK and directly', async (t) => {
  const testApp = await buildTestApp(t);
  const baseUrl = await testApp.listen();
  const client = await createProjectClient(testApp);
  const pd = sdkFor(baseUrl, client);

  const before = Date.now();
  const created = await pd.tokens.create({
    externalUserId: 'user-1',
    successRedirectUri: 'https://app.example.com/connected?x=1',
    errorRedirectUri: 'https://app.example.com/failed',
    webhookUri: 'https://hooks.example.com/latchkey',
    allowedOrigins: ['https://app.example.com', 'HTTPS://App.Example.com:443/'],
    expiresIn: 600,
  });
  t.match(created.token, /^ctok_[A-Za-z0-9]{36}$/);
  t.ok(created.expiresAt instanceof Date);
  t.ok(Math.abs(created.expiresAt.getTime() - (before + 600_000)) < 5_000, 'expires in 10 minutes');
  t.equal(created.connectLinkUrl, `${testApp.config.publicUrl}/connect?token=${created.token}`);

  const db = testApp.database.handle.db;
  const rows = await db.selectFrom('connect_tokens').selectAll().where('project_id', '=', client.projectId).execute();
  t.equal(rows.length, 1);
  const row = rows[0]!;
  t.same(row.digest, digestToken(created.token), 'stored as its digest');
  t.match(row.id, /^ctid_[A-Za-z0-9]{24}$/);
  t.equal(row.environment, 'development');
  t.same(row.allowed_origins, ['https://app.example.com'], 'origins normalised and deduplicated');
  t.equal(row.success_redirect_uri, 'https://app.example.com/connected?x=1');
  const dump = JSON.stringify(await db.selectFrom('connect_tokens').selectAll().execute(), (_k, v: unknown) =>
    v instanceof Buffer ? v.toString('latin1') : v,
  );
  t.notOk(dump.includes(created.token), 'no plaintext token in the table');
  const user = await db.selectFrom('external_users').selectAll().where('project_id', '=', client.projectId).executeTakeFirstOrThrow();
  t.hasStrict(user, { external_id: 'user-1', project_id: client.projectId, environment: 'development' });
  t.match(user.id, /^exu_/);
  t.equal(row.external_user_id, user.id);

  const validated = await pd.tokens.validate(created.token, { appId: 'github' });
  t.equal(validated.success, true);
  t.equal(validated.projectId, client.projectId);
  t.equal(validated.projectEnvironment, 'development');
  t.equal(validated.successRedirectUri, 'https://app.example.com/connected?x=1');
  t.equal(validated.app?.nameSlug, 'github');

  // The hosted page calls validate without any bearer: the token authenticates itself.
  const direct = await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/tokens/${created.token}/validate` });
  t.equal(direct.statusCode, 200);
  t.hasStrict(direct.json(), { success: true, error: null, project_id: client.projectId, external_user_id: 'user-1' });
  t.equal(direct.headers['cache-control'], 'no-store');
  t.notOk(testApp.logs().includes(created.token), 'the token never reaches the logs');

  // A second token for the same user reuses the external user row.
  await pd.tokens.create({ externalUserId: 'user-1' });
  t.equal((await db.selectFrom('external_users').selectAll().where('project_id', '=', client.projectId).execute()).length, 1);
});

t.test('redirect and webhook URIs: open-redirect shapes are rejected at mint', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const rejected = [
    '//evil.com',
    'https://good.com@evil.com',
    'https://@evil.com',
    'https://user:pass@good.com/cb',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'https:\\\\evil.com',
    'https:/\\evil.com',
    'https:evil.com',
    'data:text/html,<script>alert(1)</script>',
    '/relative/path',
    'relative',
    'ftp://good.com/cb',
    'https://good.com/cb#frag',
    'https://good.com/c b',
    'https://good.com/cb\n',
    ' https://good.com/cb',
    'https://good.com/\u0000',
    'https://good.com\t/cb',
    'https://',
    'http//evil.com',
  ];
  for (const field of ['success_redirect_uri', 'error_redirect_uri', 'webhook_uri']) {
    for (const value of rejected) {
      const res = await mint(testApp, client, { external_user_id: 'u', [field]: value });
      t.equal(res.statusCode, 400, `${field} = ${JSON.stringify(value)} rejected`);
      t.equal(res.json().error.code, 'validation_failed');
      if (value.length > 3) t.notOk(res.body.includes(value), 'the error does not echo the value');
    }
  }
  for (const value of ['https://evil.com', 'https://app.example.com/cb?next=%2F', 'http://127.0.0.1:8080/cb', 'https://[2001:db8::1]/cb']) {
    const res = await mint(testApp, client, { external_user_id: 'u', success_redirect_uri: value });
    t.equal(res.statusCode, 200, `${value} accepted`);
  }
  for (const origin of ['https://app.example.com/path', 'https://app.example.com?x', 'https://a@app.example.com', '*', 'null', 'app.example.com']) {
    const res = await mint(testApp, client, { external_user_id: 'u', allowed_origins: [origin] });
    t.equal(res.statusCode, 400, `origin ${origin} rejected`);
  }
  t.equal((await mint(testApp, client, { external_user_id: 'u', allowed_origins: 'https://app.example.com' })).statusCode, 400, 'origins must be an array');
  t.equal((await mint(testApp, client, { external_user_id: 'u', success_redirect_uri: ['https://a.example'] })).statusCode, 400, 'array for a string');
  // Nothing was stored for the rejected requests.
  const count = await testApp.database.handle.db
    .selectFrom('connect_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('project_id', '=', client.projectId)
    .executeTakeFirstOrThrow();
  t.equal(Number(count.n), 4);
});

t.test('production requires https (loopback http only with LATCHKEY_INSECURE_LOOPBACK)', async (t) => {
  const testApp = await buildTestApp(t, { env: { LATCHKEY_INSECURE_LOOPBACK: 'false' } });
  const client = await createProjectClient(testApp);
  const prod = { 'x-pd-environment': 'production' };
  t.equal((await mint(testApp, client, { external_user_id: 'u', success_redirect_uri: 'http://app.example.com/cb' }, prod)).statusCode, 400);
  t.equal((await mint(testApp, client, { external_user_id: 'u', webhook_uri: 'http://127.0.0.1:9/hook' }, prod)).statusCode, 400);
  t.equal((await mint(testApp, client, { external_user_id: 'u', allowed_origins: ['http://localhost:3000'] }, prod)).statusCode, 400);
  t.equal((await mint(testApp, client, { external_user_id: 'u', success_redirect_uri: 'https://app.example.com/cb' }, prod)).statusCode, 200);
  // Development keeps http for local work.
  t.equal((await mint(testApp, client, { external_user_id: 'u', success_redirect_uri: 'http://app.example.com/cb' })).statusCode, 200);

  const loopback = await buildTestApp(t);
  const loopbackClient = await createProjectClient(loopback);
  t.equal((await mint(loopback, loopbackClient, { external_user_id: 'u', webhook_uri: 'http://127.0.0.1:9/hook' }, prod)).statusCode, 200);
  t.equal((await mint(loopback, loopbackClient, { external_user_id: 'u', webhook_uri: 'http://example.com/hook' }, prod)).statusCode, 400);
});

t.test('expires_in bounds and type confusion; external_user_id limits', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  for (const expiresIn of [59, 14401, 0, -1, 3600.5, '3600abc', [3600], { s: 1 }, null, true]) {
    const res = await mint(testApp, client, { external_user_id: 'u', expires_in: expiresIn });
    t.equal(res.statusCode, 400, `expires_in ${JSON.stringify(expiresIn)} rejected`);
  }
  for (const expiresIn of [60, 14400]) t.equal((await mint(testApp, client, { external_user_id: 'u', expires_in: expiresIn })).statusCode, 200);
  const defaulted = await mint(testApp, client, { external_user_id: 'u' });
  t.ok(Math.abs(Date.parse(defaulted.json().expires_at) - (Date.now() + 14_400_000)) < 10_000, 'default 4 h');

  for (const bad of ['with\u0000nul', 'x'.repeat(251), '', 'line\nbreak', 'bell\u0007', 'c1\u0085', ['u'], { id: 'u' }]) {
    const res = await mint(testApp, client, { external_user_id: bad });
    t.equal(res.statusCode, 400, `external_user_id ${JSON.stringify(bad).slice(0, 30)} rejected`);
  }
  t.equal((await mint(testApp, client, {})).statusCode, 400, 'external_user_id required');
  t.equal((await mint(testApp, client, { external_user_id: 'u', extra: 1 })).statusCode, 400, 'unknown fields rejected');

  const exotic = ['👩🏽‍💻 user', 'abc\u202Edef', 'Ünïcödé', "' OR 1=1--", '𝒳'.repeat(250)];
  const db = testApp.database.handle.db;
  for (const id of exotic) {
    const res = await mint(testApp, client, { external_user_id: id });
    t.equal(res.statusCode, 200, `external_user_id ${JSON.stringify(id).slice(0, 20)} accepted`);
    const row = await db
      .selectFrom('external_users')
      .select('external_id')
      .where('project_id', '=', client.projectId)
      .where('external_id', '=', id)
      .executeTakeFirst();
    t.equal(Buffer.compare(Buffer.from(row?.external_id ?? '', 'utf8'), Buffer.from(id, 'utf8')), 0, 'stored byte-exact');
  }
});

t.test('validate: ok, expired, used, unknown, garbage, pinned app and oauth app', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const validate = async (token: string, query = '') =>
    (await server.inject({ method: 'GET', url: `/v1/connect/tokens/${encodeURIComponent(token)}/validate${query}` })).json();

  const expiring = (await mint(testApp, client, { external_user_id: 'u', expires_in: 60 })).json().token as string;
  t.equal((await validate(expiring)).success, true);
  await db
    .updateTable('connect_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('digest', '=', digestToken(expiring))
    .execute();
  t.match(await validate(expiring), { success: false, error: /expired/ });
  t.equal((await resolveConnectToken(db, expiring)).status, 'expired');

  const used = (await mint(testApp, client, { external_user_id: 'u' })).json().token as string;
  await db.updateTable('connect_tokens').set({ used_at: new Date() }).where('digest', '=', digestToken(used)).execute();
  t.match(await validate(used), { success: false, error: /already been used/ });
  t.equal((await resolveConnectToken(db, used)).status, 'used');

  const ok = (await mint(testApp, client, { external_user_id: 'u' })).json().token as string;
  const resolved = await resolveConnectToken(db, ok);
  t.equal(resolved.status, 'ok');
  if (resolved.status === 'ok') t.equal(resolved.row.external_id, 'u');

  // A well-formed token nobody minted, a broken checksum, garbage: all "invalid", never a 500.
  const unknown = `ctok_${'A'.repeat(30)}`;
  const forged = ok.slice(0, -1) + (ok.endsWith('A') ? 'B' : 'A');
  for (const junk of [unknown, forged, 'garbage', "' OR 1=1--", 'ctok_', '%00', 'x'.repeat(150)]) {
    const body = await validate(junk);
    t.match(body, { success: false, error: /invalid/ }, `junk ${junk.slice(0, 12)}`);
    t.equal((await resolveConnectToken(db, junk)).status, 'unknown');
  }

  t.hasStrict(await validate(ok, '?app_id=no-such-app'), { success: false, error: 'app not found' });
  t.hasStrict(await validate(ok, '?app_id=../../etc'), { success: false });
  const pinned = (await mint(testApp, client, { external_user_id: 'u', app_id: 'github' })).json().token as string;
  t.hasStrict(await validate(pinned), { success: true, app: { id: 'app_github', name_slug: 'github' } });
  t.hasStrict(await validate(pinned, '?app_id=app_github'), { success: true }, 'the app id works like the slug');
  t.equal((await mint(testApp, client, { external_user_id: 'u', app_id: 'app_slack' })).statusCode, 200, 'app_id may be an app id');
  t.match(await validate(pinned, '?app_id=slack'), { success: false, error: /not valid for this app/ });
  t.equal((await mint(testApp, client, { external_user_id: 'u', app_id: 'nope-nope' })).statusCode, 400);
  t.equal((await mint(testApp, client, { external_user_id: 'u', oauth_app_id: 'oa_doesnotexist' })).statusCode, 400);

  // An OAuth app of the project: the newest is reported when the link names none.
  const auth = { authorization: `Bearer ${client.accessToken}` };
  const oa = await server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/oauth_apps`,
    headers: auth,
    payload: { app: 'github', client_id: 'gh-client', client_secret: 'gh-secret-123' },
  });
  t.equal(oa.statusCode, 201);
  const oaId = oa.json().id as string;
  t.hasStrict(await validate(ok, '?app_id=github'), { success: true, oauth_app_id: oaId });
  t.hasStrict(await validate(ok, `?app_id=github&oauth_app_id=${oaId}`), { success: true, oauth_app_id: oaId });
  t.hasStrict(await validate(ok, '?app_id=slack&oauth_app_id=' + oaId), { success: false, error: 'oauth app not found' });
  const pinnedOa = await mint(testApp, client, { external_user_id: 'u', oauth_app_id: oaId });
  t.equal(pinnedOa.statusCode, 200);
  t.hasStrict(await validate(pinnedOa.json().token), { success: true, app: { name_slug: 'github' }, oauth_app_id: oaId });
  t.equal((await mint(testApp, client, { external_user_id: 'u', app_id: 'slack', oauth_app_id: oaId })).statusCode, 400, 'oauth app of another app');

  // Reconnect: account_id must name an account of the token's own user, environment and app.
  await mint(testApp, client, { external_user_id: 'someone-else' });
  const owners = await db.selectFrom('external_users').select(['id', 'external_id']).where('project_id', '=', client.projectId).execute();
  const account = (id: string, externalId: string, appSlug: string) => ({
    id,
    project_id: client.projectId,
    environment: 'development' as const,
    external_user_id: owners.find((o) => o.external_id === externalId)!.id,
    external_id: externalId,
    app_slug: appSlug,
    oauth_app_id: null,
    name: null,
    credentials_enc: Buffer.from('x'),
    refresh_token_enc: null,
    authorized_scopes: '[]',
    expires_at: null,
  });
  await db
    .insertInto('accounts')
    .values([account('apn_mine', 'u', 'github'), account('apn_theirs', 'someone-else', 'github')])
    .execute();
  t.hasStrict(await validate(ok, '?app_id=github&account_id=apn_mine'), { success: true });
  t.match(await validate(ok, '?app_id=slack&account_id=apn_mine'), { success: false, error: /cannot reconnect/ }, 'another app');
  t.match(await validate(ok, '?app_id=github&account_id=apn_theirs'), { success: false, error: /cannot reconnect/ }, 'another user');
  t.match(await validate(ok, '?account_id=apn_nope'), { success: false, error: /cannot reconnect/ }, 'unknown account');
});

t.test('authorization: scope, cross-project, environment header, environments separate', async (t) => {
  const testApp = await buildTestApp(t);
  const a = await createProjectClient(testApp);
  const b = await createProjectClient(testApp);
  const readOnly = await createProjectClient(testApp, ['connect:accounts:read']);
  const server = testApp.app.server;

  const cross = await server.inject({
    method: 'POST',
    url: `/v1/connect/${b.projectId}/tokens`,
    headers: { authorization: `Bearer ${a.accessToken}` },
    payload: { external_user_id: 'u' },
  });
  t.equal(cross.statusCode, 404, 'another project is not found');
  t.equal((await mint(testApp, readOnly, { external_user_id: 'u' })).statusCode, 403, 'needs connect:tokens:write');
  const noAuth = await server.inject({ method: 'POST', url: `/v1/connect/${a.projectId}/tokens`, payload: { external_user_id: 'u' } });
  t.equal(noAuth.statusCode, 401);
  t.equal((await mint(testApp, a, { external_user_id: 'u' }, { 'x-pd-environment': 'staging' })).statusCode, 400, 'unknown environment');

  const dev = await mint(testApp, a, { external_user_id: 'same-user' }, { 'x-pd-environment': 'development' });
  const prod = await mint(testApp, a, { external_user_id: 'same-user' }, { 'x-pd-environment': 'production' });
  t.equal(dev.statusCode, 200);
  t.equal(prod.statusCode, 200);
  const users = await testApp.database.handle.db
    .selectFrom('external_users')
    .selectAll()
    .where('project_id', '=', a.projectId)
    .where('external_id', '=', 'same-user')
    .execute();
  t.same(users.map((u) => u.environment).sort(), ['development', 'production'], 'one user per environment');
  t.equal((await server.inject(`/v1/connect/tokens/${prod.json().token}/validate`)).json().project_environment, 'production');

  const list = async (environment: string) =>
    (
      await server.inject({
        method: 'GET',
        url: `/v1/connect/${a.projectId}/users`,
        headers: { authorization: `Bearer ${a.accessToken}`, 'x-pd-environment': environment },
      })
    ).json();
  t.equal((await list('development')).data.length, 1);
  t.equal((await list('production')).data.length, 1);
  t.not((await list('development')).data[0].id, (await list('production')).data[0].id);
});
