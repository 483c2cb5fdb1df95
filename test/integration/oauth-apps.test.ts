import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { resolveOAuthClient } from '../../src/oauth-apps/oauth-apps.service.ts';
import { buildTestApp, createProjectClient, type ProjectClient } from '../fixtures/app.ts';

function sdkFor(baseUrl: string, client: ProjectClient): PipedreamClient {
  return new PipedreamClient({
    baseUrl,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    projectId: client.projectId,
    projectEnvironment: 'production',
  });
}

t.test('oauthApps create/list/retrieve/update/delete through @pipedream/sdk; the secret never comes back', async (t) => {
  const testApp = await buildTestApp(t);
  const baseUrl = await testApp.listen();
  const client = await createProjectClient(testApp);
  const pd = sdkFor(baseUrl, client);
  const db = testApp.database.handle.db;
  const secret = 'gh-client-secret-0123456789-unique';

  const created = await pd.oauthApps.create({ app: 'github', clientId: 'gh-client-id', clientSecret: secret, name: 'Our GitHub', scopes: ['repo'] });
  t.match(created.id, /^oa_[A-Za-z0-9]+$/);
  t.equal(created.clientId, 'gh-client-id');
  t.equal(created.nameSlug, 'github');
  t.equal(created.name, 'Our GitHub');
  t.same(created.scopes, ['repo']);
  t.equal(created.ownerId, client.projectId);
  t.equal(created.redirectUri, `${testApp.config.publicUrl}/connect/oauth/callback`);
  t.ok(created.createdAt instanceof Date);
  t.notOk(JSON.stringify(created).includes(secret), 'secret not in the create response');

  const second = await pd.oauthApps.create({ app: 'slack', clientId: 'slack-id', clientSecret: 'slack-secret-xyz' });
  t.equal(second.name, 'Slack', 'defaults to the app name');

  const retrieved = await pd.oauthApps.retrieve(created.id!);
  t.equal(retrieved.clientId, 'gh-client-id');

  const listed: string[] = [];
  for await (const item of await pd.oauthApps.list({ limit: 1 })) listed.push(item.id!);
  t.same(listed.sort(), [created.id, second.id].sort(), 'paginates one at a time through both');
  const onlyGithub = await pd.oauthApps.list({ app: 'github' });
  t.same(
    onlyGithub.data.map((a) => a.id),
    [created.id],
  );

  const updated = await pd.oauthApps.update(created.id!, { clientId: 'gh-client-id-2', scopes: ['repo', 'read:user'] });
  t.equal(updated.clientId, 'gh-client-id-2');
  t.same(updated.scopes, ['repo', 'read:user']);
  const resolved = await resolveOAuthClient(db, testApp.app.vault, client.projectId, 'github');
  t.hasStrict(resolved, { id: created.id, clientId: 'gh-client-id-2', clientSecret: secret }, 'secret kept when not sent');

  await pd.oauthApps.update(created.id!, { clientSecret: 'rotated-secret-987' });
  t.equal((await resolveOAuthClient(db, testApp.app.vault, client.projectId, 'github', created.id))?.clientSecret, 'rotated-secret-987');
  t.equal(await resolveOAuthClient(db, testApp.app.vault, client.projectId, 'slack', created.id), undefined, 'named client of another app');
  t.equal(await resolveOAuthClient(db, testApp.app.vault, client.projectId, 'gitlab'), undefined, 'no client for the app');

  // A dump of the table holds no secret in plaintext; each ciphertext is bound to its row.
  const rows = await db.selectFrom('oauth_apps').selectAll().execute();
  const dump = rows
    .map((row) =>
      Object.values(row)
        .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') + v.toString('base64') : JSON.stringify(v)))
        .join('|'),
    )
    .join('\n');
  for (const plain of [secret, 'rotated-secret-987', 'slack-secret-xyz']) t.notOk(dump.includes(plain), 'no plaintext secret in oauth_apps');
  t.notOk(testApp.logs().includes('rotated-secret-987'), 'no secret in the logs');
  const githubRow = rows.find((row) => row.id === created.id)!;
  const slackRow = rows.find((row) => row.id === second.id)!;
  await db.updateTable('oauth_apps').set({ client_secret_enc: githubRow.client_secret_enc }).where('id', '=', second.id!).execute();
  await t.rejects(resolveOAuthClient(db, testApp.app.vault, client.projectId, 'slack'), 'a ciphertext moved to another row does not open');
  await db.updateTable('oauth_apps').set({ client_secret_enc: slackRow.client_secret_enc }).where('id', '=', second.id!).execute();

  await pd.oauthApps.delete(second.id!);
  await testApp.app.auditLog.flush();
  const audit = await db
    .selectFrom('audit_log')
    .select(['action', 'details'])
    .where('project_id', '=', client.projectId)
    .where('action', 'like', 'oauth_app.%')
    .orderBy('id')
    .execute();
  t.same(
    audit.map((row) => row.action),
    ['oauth_app.create', 'oauth_app.create', 'oauth_app.update', 'oauth_app.update', 'oauth_app.delete'],
    'every change audited',
  );
  t.same(audit[3]?.details, { oauth_app_id: created.id, fields: ['client_secret'] }, 'which field changed, not its value');
  t.notOk(JSON.stringify(audit).includes('rotated-secret-987'));
  const afterDelete = await testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/oauth_apps/${second.id}`,
    headers: { authorization: `Bearer ${client.accessToken}` },
  });
  t.equal(afterDelete.statusCode, 404);
});

t.test('oauth apps: validation, scopes, cross-project, newest wins, in-use delete refused', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const a = await createProjectClient(testApp);
  const b = await createProjectClient(testApp);
  const readOnly = await createProjectClient(testApp, ['connect:project:read']);
  const db = testApp.database.handle.db;
  const call = (client: ProjectClient, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: unknown) =>
    server.inject({
      method,
      url: `/v1/connect/${client.projectId}/oauth_apps${path}`,
      headers: { authorization: `Bearer ${client.accessToken}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  const valid = { app: 'github', client_id: 'cid', client_secret: 'csecret' };
  for (const [name, body] of [
    ['unknown app', { ...valid, app: 'no-such-app' }],
    ['keys app', { ...valid, app: 'stripe' }],
    ['path traversal slug', { ...valid, app: '../etc' }],
    ['missing secret', { app: 'github', client_id: 'cid' }],
    ['empty secret', { ...valid, client_secret: '' }],
    ['secret with newline', { ...valid, client_secret: 'a\nb' }],
    ['array client_id', { ...valid, client_id: ['cid'] }],
    ['scopes not array', { ...valid, scopes: 'repo' }],
    ['unknown field', { ...valid, owner_id: 'proj_other' }],
  ] as const) {
    const res = await call(a, 'POST', '', body);
    t.equal(res.statusCode, 400, name);
    t.notOk(res.body.includes('csecret'), `${name}: the error does not echo the secret`);
  }

  const first = (await call(a, 'POST', '', valid)).json();
  const newest = (await call(a, 'POST', '', { ...valid, client_id: 'cid-newer', client_secret: 'secret-newer' })).json();
  t.hasStrict(first, { client_secret_set: true });
  t.notOk('client_secret' in first);
  t.equal((await resolveOAuthClient(db, testApp.app.vault, a.projectId, 'github'))?.id, newest.id, 'newest for the app when none named');
  t.equal((await resolveOAuthClient(db, testApp.app.vault, a.projectId, 'github', first.id))?.clientId, 'cid', 'named one when given');
  t.equal(await resolveOAuthClient(db, testApp.app.vault, b.projectId, 'github', first.id), undefined, 'never another project’s');

  t.equal((await call(b, 'GET', `/${first.id}`)).statusCode, 404, 'other project cannot read it');
  t.equal((await call(b, 'DELETE', `/${first.id}`)).statusCode, 404, 'other project cannot delete it');
  t.equal((await call(b, 'PUT', `/${first.id}`, { client_id: 'x' })).statusCode, 404, 'other project cannot update it');
  t.equal((await call(b, 'GET', '')).json().data.length, 0, 'other project lists nothing');
  const crossPath = await server.inject({
    method: 'GET',
    url: `/v1/connect/${a.projectId}/oauth_apps`,
    headers: { authorization: `Bearer ${b.accessToken}` },
  });
  t.equal(crossPath.statusCode, 404, 'a bearer for B on A’s path');

  t.equal((await call(readOnly, 'GET', '')).statusCode, 200, 'read scope lists');
  t.equal((await call(readOnly, 'POST', '', valid)).statusCode, 403, 'read scope cannot create');
  t.equal((await call(a, 'PATCH', `/${first.id}`, { name: 'Renamed' })).json().name, 'Renamed', 'PATCH updates too');
  t.equal((await call(a, 'PUT', `/${first.id}`, { app: 'slack' })).statusCode, 400, 'app cannot change');
  t.equal((await call(a, 'GET', '/oa_missing')).statusCode, 404);
  t.equal((await call(a, 'GET', '/not-an-id')).statusCode, 400);

  // An account using the client keeps it alive.
  const user = await db
    .insertInto('external_users')
    .values({ id: 'exu_test', project_id: a.projectId, environment: 'production', external_id: 'u' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('accounts')
    .values({
      id: 'apn_test',
      project_id: a.projectId,
      environment: 'production',
      external_user_id: user.id,
      external_id: 'u',
      app_slug: 'github',
      oauth_app_id: first.id,
      name: null,
      credentials_enc: Buffer.from('x'),
      refresh_token_enc: null,
      authorized_scopes: '[]',
      expires_at: null,
    })
    .execute();
  const inUse = await call(a, 'DELETE', `/${first.id}`);
  t.equal(inUse.statusCode, 409);
  t.equal((await call(a, 'DELETE', `/${newest.id}`)).statusCode, 204);
  t.equal((await call(a, 'DELETE', `/${newest.id}`)).statusCode, 404);
});
