import t from 'tap';
import { insertAccount } from '../../src/accounts/account.repository.ts';
import { openAccountSecrets } from '../../src/accounts/account-secrets.ts';
import { sealNewAccount } from '../../src/accounts/stored-account.ts';
import { mintId } from '../../src/crypto/tokens.ts';
import type { EnvironmentName } from '../../src/db/types.ts';
import { normalizeApp } from '../../src/registry/normalize.ts';
import { registryOf } from '../../src/registry/registry.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient, type TestApp } from '../fixtures/app.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const HOUR = 3600 * 1000;

interface Seeded {
  id: string;
  externalId: string;
  environment: EnvironmentName;
  app: string;
}

async function seedAccount(
  testApp: TestApp,
  projectId: string,
  spec: {
    environment: EnvironmentName;
    app: string;
    externalId: string;
    state: 'healthy' | 'unhealthy' | 'dead';
    name?: string;
    credentials?: Record<string, string>;
  },
): Promise<Seeded> {
  const database = testApp.database.handle.db;
  const userId = mintId('exu_');
  await database
    .insertInto('external_users')
    .values({ id: userId, project_id: projectId, environment: spec.environment, external_id: spec.externalId })
    .onConflict((oc) => oc.columns(['project_id', 'environment', 'external_id']).doNothing())
    .execute();
  const user = await database
    .selectFrom('external_users')
    .select('id')
    .where('project_id', '=', projectId)
    .where('environment', '=', spec.environment)
    .where('external_id', '=', spec.externalId)
    .executeTakeFirstOrThrow();
  const id = mintId('apn_');
  await insertAccount(
    database,
    await sealNewAccount(testApp.app.vault, {
      id,
      projectId,
      environment: spec.environment,
      externalUserId: user.id,
      externalId: spec.externalId,
      appSlug: spec.app,
      oauthAppId: null,
      name: spec.name ?? null,
      credentials: spec.credentials ?? { oauth_access_token: `SECRET-ACCESS-${id}` },
      refreshToken: spec.credentials === undefined ? `SECRET-REFRESH-${id}` : null,
      authorizedScopes: ['repo'],
      expiresAt: new Date(Date.now() + HOUR),
    }),
  );
  if (spec.state === 'unhealthy') {
    await database.updateTable('accounts').set({ healthy: false, error: 'provider answered 503', refresh_failures: 3 }).where('id', '=', id).execute();
  }
  if (spec.state === 'dead') {
    // healthy stays true on purpose: a dead account must be listed as dead only.
    await database.updateTable('accounts').set({ dead: true, error: 'invalid_grant' }).where('id', '=', id).execute();
  }
  return { id, externalId: spec.externalId, environment: spec.environment, app: spec.app };
}

async function newProject(testApp: TestApp, name = 'p'): Promise<string> {
  const res = await testApp.app.server.inject({ method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name } });
  return res.json<{ id: string }>().id;
}

t.test('list accounts by health, environment and app; never credentials; keyset pages', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const projectId = await newProject(testApp);
  const otherProject = await newProject(testApp, 'other');
  const healthy = await seedAccount(testApp, projectId, { environment: 'production', app: 'github', externalId: 'user-1', state: 'healthy' });
  const unhealthy = await seedAccount(testApp, projectId, { environment: 'production', app: 'slack', externalId: 'user-1', state: 'unhealthy' });
  const dead = await seedAccount(testApp, projectId, { environment: 'production', app: 'github', externalId: 'user-2', state: 'dead' });
  const dev = await seedAccount(testApp, projectId, { environment: 'development', app: 'github', externalId: 'user-1', state: 'healthy' });
  await seedAccount(testApp, otherProject, { environment: 'production', app: 'github', externalId: 'user-1', state: 'healthy' });

  const list = async (query: string) => {
    const res = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/accounts${query}`, headers: admin });
    t.equal(res.statusCode, 200, query);
    t.notMatch(res.body, /SECRET|credentials|oauth_access_token/, 'no credential in the admin list');
    return res.json<{ data: { id: string; [key: string]: unknown }[]; page_info: { count: number; total_count: number; end_cursor: string | null } }>();
  };
  const ids = (page: { data: { id: string }[] }) => page.data.map((a) => a.id).sort();

  const all = await list('');
  t.same(ids(all), [healthy.id, unhealthy.id, dead.id, dev.id].sort(), "both environments, only this project's accounts");
  t.equal(all.page_info.total_count, 4);
  t.same(ids(await list('?health=healthy')), [healthy.id, dev.id].sort());
  t.same(ids(await list('?health=healthy&environment=production')), [healthy.id]);
  t.same(ids(await list('?health=unhealthy')), [unhealthy.id]);
  t.same(ids(await list('?health=dead')), [dead.id]);
  t.same(ids(await list('?app=slack')), [unhealthy.id]);
  t.same(ids(await list('?environment=development')), [dev.id]);

  const one = (await list('?health=unhealthy')).data[0]!;
  t.same(Object.keys(one).sort(), [
    'app_slug',
    'created_at',
    'dead',
    'environment',
    'error',
    'expires_at',
    'external_id',
    'healthy',
    'id',
    'last_refreshed_at',
    'name',
    'next_refresh_at',
    'refresh_failures',
    'updated_at',
  ]);
  t.hasStrict(one, {
    external_id: 'user-1',
    app_slug: 'slack',
    environment: 'production',
    healthy: false,
    dead: false,
    error: 'provider answered 503',
    refresh_failures: 3,
  });
  t.hasStrict((await list('?health=dead')).data[0], { healthy: false, dead: true, error: 'invalid_grant' });

  const first = await list('?limit=3');
  t.equal(first.data.length, 3);
  t.type(first.page_info.end_cursor, 'string');
  const second = await list(`?limit=3&after=${first.page_info.end_cursor}`);
  t.equal(second.data.length, 1);
  t.equal(second.page_info.end_cursor, null);
  t.same([...ids(first), ...ids(second)].sort(), ids(all), 'pages cover every account once');

  for (const bad of ['?health=sick', '?environment=staging', '?limit=0', '?after=nope', '?app=Bad%20App', '?extra=1']) {
    const res = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/accounts${bad}`, headers: admin });
    t.equal(res.statusCode, 400, bad);
  }
  const missing = await server.inject({ method: 'GET', url: '/v1/admin/projects/proj_doesnotexist/accounts', headers: admin });
  t.equal(missing.statusCode, 404);
  const noToken = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/accounts` });
  t.equal(noToken.statusCode, 401);
});

t.test('rename: PATCH sets the name, audited; foreign or unknown accounts are 404', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const projectId = await newProject(testApp);
  const otherProject = await newProject(testApp, 'other');
  const account = await seedAccount(testApp, projectId, { environment: 'production', app: 'github', externalId: 'u', state: 'healthy' });
  const foreign = await seedAccount(testApp, otherProject, { environment: 'production', app: 'github', externalId: 'u', state: 'healthy' });

  const url = `/v1/admin/projects/${projectId}/accounts/${account.id}`;
  const renamed = await server.inject({ method: 'PATCH', url, headers: admin, payload: { name: 'Work GitHub' } });
  t.equal(renamed.statusCode, 200);
  t.hasStrict(renamed.json(), { id: account.id, name: 'Work GitHub', healthy: true });
  const row = await testApp.database.handle.db
    .selectFrom('accounts')
    .select(['name', 'credentials_version'])
    .where('id', '=', account.id)
    .executeTakeFirstOrThrow();
  t.equal(row.name, 'Work GitHub');
  t.equal(Number(row.credentials_version), 1, 'a rename does not touch the credentials');

  const again = await server.inject({ method: 'PATCH', url, headers: admin, payload: { name: 'Personal GitHub' } });
  t.equal(again.json().name, 'Personal GitHub');

  for (const payload of [{}, { name: '' }, { name: null }, { name: 'x'.repeat(201) }, { name: 'ok', extra: 1 }]) {
    t.equal((await server.inject({ method: 'PATCH', url, headers: admin, payload })).statusCode, 400, JSON.stringify(payload).slice(0, 40));
  }
  const crossProject = await server.inject({
    method: 'PATCH',
    url: `/v1/admin/projects/${projectId}/accounts/${foreign.id}`,
    headers: admin,
    payload: { name: 'x' },
  });
  t.equal(crossProject.statusCode, 404);
  const unknown = await server.inject({ method: 'PATCH', url: `/v1/admin/projects/${projectId}/accounts/apn_nope`, headers: admin, payload: { name: 'x' } });
  t.equal(unknown.statusCode, 404);
  const foreignName = await testApp.database.handle.db.selectFrom('accounts').select('name').where('id', '=', foreign.id).executeTakeFirstOrThrow();
  t.equal(foreignName.name, null, 'the foreign account is untouched');

  const audit = await server.inject({ method: 'GET', url: `/v1/admin/audit?account_id=${account.id}&action=account.rename`, headers: admin });
  const entries = audit.json<{ data: { actor: string; result: string; details: Record<string, unknown> }[] }>().data;
  t.equal(entries.length, 2);
  t.hasStrict(entries[0], { actor: 'admin', result: 'ok', details: { name: 'Personal GitHub', environment: 'production' } });
  t.hasStrict(entries[1], { actor: 'admin', result: 'ok', details: { name: 'Work GitHub' } });
  const notFound = await server.inject({ method: 'GET', url: `/v1/admin/audit?project_id=${projectId}&account_id=apn_nope`, headers: admin });
  t.hasStrict(notFound.json().data, [{ action: 'account.rename', result: 'not_found', details: { error_code: 'not_found' } }]);
});

t.test('reconnect: a Connect Link bound to the account, its token valid for that user, app and environment', async (t) => {
  const testApp = await buildTestApp(t, { env: { PUBLIC_URL: 'https://latchkey.example.test' } });
  const server = testApp.app.server;
  const projectId = await newProject(testApp);
  const account = await seedAccount(testApp, projectId, { environment: 'development', app: 'github', externalId: 'customer-42', state: 'dead' });
  const url = `/v1/admin/projects/${projectId}/accounts/${account.id}/reconnect`;

  const res = await server.inject({ method: 'POST', url, headers: admin, payload: { expires_in: 600, success_redirect_uri: 'https://app.example.test/done' } });
  t.equal(res.statusCode, 201);
  const body = res.json<{ token: string; expires_at: string; connect_link_url: string }>();
  t.match(body.token, /^ctok_[A-Za-z0-9]+$/);
  const expiresIn = (Date.parse(body.expires_at) - Date.now()) / 1000;
  t.ok(expiresIn > 590 && expiresIn <= 600, 'expires_in honoured');
  const link = new URL(body.connect_link_url);
  t.equal(link.origin, 'https://latchkey.example.test');
  t.equal(link.pathname, '/connect');
  t.equal(link.searchParams.get('token'), body.token);
  t.equal(link.searchParams.get('app'), 'github');
  t.equal(link.searchParams.get('accountId'), account.id);

  const validation = await server.inject({ method: 'GET', url: `/v1/connect/tokens/${body.token}/validate?app_id=github` });
  t.equal(validation.statusCode, 200);
  t.hasStrict(validation.json(), {
    success: true,
    project_id: projectId,
    project_environment: 'development',
    external_user_id: 'customer-42',
    success_redirect_uri: 'https://app.example.test/done',
  });
  const wrongApp = await server.inject({ method: 'GET', url: `/v1/connect/tokens/${body.token}/validate?app_id=slack` });
  t.equal(wrongApp.json().success, false, 'the token is pinned to the account app');
  const stored = await testApp.database.handle.db
    .selectFrom('connect_tokens as c')
    .innerJoin('accounts as a', 'a.external_user_id', 'c.external_user_id')
    .select(['c.app_slug', 'c.environment', 'a.id'])
    .where('a.id', '=', account.id)
    .execute();
  t.hasStrict(stored, [{ app_slug: 'github', environment: 'development', id: account.id }], "minted for the account's own external user row");
  t.notMatch(JSON.stringify(await testApp.database.handle.db.selectFrom('connect_tokens').selectAll().execute()), body.token, 'only the digest is stored');

  // No body at all is fine; the URI checks are the connect API's own.
  t.equal((await server.inject({ method: 'POST', url, headers: admin })).statusCode, 201);
  for (const payload of [
    { success_redirect_uri: 'javascript:alert(1)' },
    { error_redirect_uri: 'https://user@evil.example' },
    { webhook_uri: 'https:\\\\evil.example' },
    { allowed_origins: ['https://a.example/path'] },
    { expires_in: 10 },
    { expires_in: 5 * 3600 },
    { unknown: true },
  ]) {
    const bad = await server.inject({ method: 'POST', url, headers: admin, payload });
    t.equal(bad.statusCode, 400, JSON.stringify(payload));
  }
  const unknown = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/accounts/apn_nope/reconnect`, headers: admin });
  t.equal(unknown.statusCode, 404);

  const audit = await server.inject({ method: 'GET', url: `/v1/admin/audit?account_id=${account.id}&action=account.reconnect_link`, headers: admin });
  const entries = audit.json<{ data: { result: string }[] }>().data;
  t.ok(entries.some((e) => e.result === 'ok'));
  t.ok(
    entries.some((e) => e.result === 'invalid'),
    'a refused URI is recorded too',
  );
  t.notMatch(audit.body, body.token, 'the link token is not in the audit log');
});

t.test('reconnect in production requires https redirect URIs', async (t) => {
  const testApp = await buildTestApp(t, { env: { LATCHKEY_INSECURE_LOOPBACK: 'false' } });
  const server = testApp.app.server;
  const projectId = await newProject(testApp);
  const account = await seedAccount(testApp, projectId, { environment: 'production', app: 'github', externalId: 'u', state: 'healthy' });
  const url = `/v1/admin/projects/${projectId}/accounts/${account.id}/reconnect`;
  const http = await server.inject({ method: 'POST', url, headers: admin, payload: { success_redirect_uri: 'http://app.example.test/done' } });
  t.equal(http.statusCode, 400);
  t.match(http.json().error.message, /success_redirect_uri/);
});

t.test('a project API client gets 403 on every admin endpoint, and each refusal is audited as denied', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const client = await createProjectClient(testApp);
  const account = await seedAccount(testApp, client.projectId, { environment: 'production', app: 'github', externalId: 'u', state: 'healthy' });
  const bearer = { authorization: `Bearer ${client.accessToken}` };
  const base = `/v1/admin/projects/${client.projectId}`;
  const attempts = [
    { method: 'GET' as const, url: `${base}/accounts` },
    { method: 'PATCH' as const, url: `${base}/accounts/${account.id}`, payload: { name: 'x' } },
    { method: 'POST' as const, url: `${base}/accounts/${account.id}/refresh` },
    { method: 'POST' as const, url: `${base}/accounts/${account.id}/reconnect` },
    { method: 'GET' as const, url: '/v1/admin/audit' },
    { method: 'GET' as const, url: '/v1/admin/keys/status' },
    { method: 'POST' as const, url: '/v1/admin/projects', payload: { name: 'x' } },
  ];
  for (const attempt of attempts) {
    const res = await server.inject({ ...attempt, headers: bearer });
    t.equal(res.statusCode, 403, `${attempt.method} ${attempt.url}`);
    t.equal(res.json().error.code, 'forbidden');
  }
  const name = await testApp.database.handle.db.selectFrom('accounts').select('name').where('id', '=', account.id).executeTakeFirstOrThrow();
  t.equal(name.name, null, 'nothing changed');

  const audit = await server.inject({ method: 'GET', url: `/v1/admin/audit?project_id=${client.projectId}&action=admin.access`, headers: admin });
  const denied = audit.json<{ data: { actor: string; result: string; details: { method: string; route: string } }[] }>().data;
  t.equal(denied.length, attempts.length);
  for (const entry of denied) t.hasStrict(entry, { actor: `client:${client.clientId}`, result: 'denied' });
  t.ok(denied.some((e) => e.details.route === '/v1/admin/projects/:project_id/accounts/:account_id/refresh'));
  t.notMatch(audit.body, client.accessToken);

  // Unauthenticated noise is refused but not recorded (anyone could fill the table with it).
  const before = (await testApp.database.handle.db.selectFrom('audit_log').selectAll().execute()).length;
  const anonymous = await server.inject({ method: 'GET', url: `${base}/accounts`, headers: { authorization: 'Bearer lka_garbage' } });
  t.equal(anonymous.statusCode, 401);
  await testApp.app.auditLog.flush();
  t.equal((await testApp.database.handle.db.selectFrom('audit_log').selectAll().execute()).length, before);
});

t.test("reconnect end to end: the link's form replaces the dead account's credentials in place", async (t) => {
  const keyed = normalizeApp({ slug: 'keyed', name: 'Keyed', auth_type: 'keys', fields: [{ name: 'api_key', label: 'API key', secret: true }] }, 'test:keyed');
  const testApp = await buildTestApp(t, { registry: registryOf([keyed]) });
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const projectId = await newProject(testApp);
  const account = await seedAccount(testApp, projectId, {
    environment: 'production',
    app: 'keyed',
    externalId: 'u-1',
    state: 'dead',
    credentials: { api_key: 'old-key-123' },
  });
  const other = await seedAccount(testApp, projectId, {
    environment: 'production',
    app: 'keyed',
    externalId: 'u-1',
    state: 'healthy',
    credentials: { api_key: 'other-key' },
  });

  const res = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/accounts/${account.id}/reconnect`, headers: admin });
  t.equal(res.statusCode, 201);
  const link = new URL(res.json<{ connect_link_url: string }>().connect_link_url);
  const page = await server.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
  t.equal(page.statusCode, 200);
  t.match(page.body, /name="accountId" value="apn_/, 'the page carries the account to replace');

  const submit = await server.inject({
    method: 'POST',
    url: '/connect/keys',
    // As the browser posts the page's form: with its binding cookie and form token.
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: (page.headers['set-cookie'] as string).split(';')[0]! },
    payload: new URLSearchParams({
      form_token: /name="form_token" value="([^"]+)"/.exec(page.body)![1]!,
      token: link.searchParams.get('token')!,
      app: 'keyed',
      accountId: link.searchParams.get('accountId')!,
      f_api_key: 'new-key-456',
    }).toString(),
  });
  t.equal(submit.statusCode, 303);
  const rows = await db.selectFrom('accounts').selectAll().where('project_id', '=', projectId).orderBy('created_at').execute();
  t.equal(rows.length, 2, 'no new account');
  const replaced = rows.find((r) => r.id === account.id)!;
  t.hasStrict(replaced, { dead: false, healthy: true, error: null });
  t.equal(Number(replaced.credentials_version), 2);
  t.same((await openAccountSecrets(testApp.app.vault, replaced)).values, { api_key: 'new-key-456' });
  const untouched = rows.find((r) => r.id === other.id)!;
  t.same((await openAccountSecrets(testApp.app.vault, untouched)).values, { api_key: 'other-key' });

  const listed = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/accounts?health=dead`, headers: admin });
  t.equal(listed.json().data.length, 0, 'no longer listed as dead');
});
