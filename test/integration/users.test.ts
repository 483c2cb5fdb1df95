import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

t.test('users.list pages through external users; deleteExternalUser removes the user with accounts and tokens', async (t) => {
  const testApp = await buildTestApp(t);
  const baseUrl = await testApp.listen();
  const client = await createProjectClient(testApp);
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const pd = new PipedreamClient({
    baseUrl,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    projectId: client.projectId,
    projectEnvironment: 'development',
  });

  const ids = ['alice', 'bob', 'carol', 'dave', 'eve'];
  for (const id of ids) await pd.tokens.create({ externalUserId: id });
  await pd.tokens.create({ externalUserId: 'alice' });

  const seen: string[] = [];
  for await (const user of await pd.users.list({ limit: 2 })) {
    t.match(user.id, /^exu_/);
    t.ok(user.createdAt instanceof Date);
    seen.push(user.externalId);
  }
  t.same(seen, ids, 'every user once, in creation order, across three pages');

  const auth = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'development' };
  const page1 = (await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users?limit=2`, headers: auth })).json();
  t.hasStrict(page1.page_info, { count: 2, total_count: 5, start_cursor: page1.data[0].id, end_cursor: page1.data[1].id });
  const page2 = (
    await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users?limit=2&after=${page1.page_info.end_cursor}`, headers: auth })
  ).json();
  t.same(
    page2.data.map((u: { external_id: string }) => u.external_id),
    ['carol', 'dave'],
  );
  const back = (
    await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users?limit=2&before=${page2.page_info.start_cursor}`, headers: auth })
  ).json();
  t.same(
    back.data.map((u: { external_id: string }) => u.external_id),
    ['alice', 'bob'],
    'before goes back a page',
  );
  const last = (
    await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users?limit=2&after=${page2.page_info.end_cursor}`, headers: auth })
  ).json();
  t.equal(last.page_info.end_cursor, null, 'no cursor on the last page');
  for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'after=x%27%20OR%201%3D1--', 'extra=1']) {
    t.equal((await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users?${bad}`, headers: auth })).statusCode, 400, bad);
  }
  t.equal(
    (await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users`, headers: { ...auth, 'x-pd-environment': 'production' } })).json().data
      .length,
    0,
    'production has its own users',
  );

  // An account of bob's goes with him.
  const bob = await db.selectFrom('external_users').selectAll().where('external_id', '=', 'bob').executeTakeFirstOrThrow();
  await db
    .insertInto('accounts')
    .values({
      id: 'apn_bob',
      project_id: client.projectId,
      environment: 'development',
      external_user_id: bob.id,
      external_id: 'bob',
      app_slug: 'github',
      oauth_app_id: null,
      name: null,
      credentials_enc: Buffer.from('x'),
      refresh_token_enc: null,
      authorized_scopes: '[]',
      expires_at: null,
    })
    .execute();
  await pd.users.deleteExternalUser('bob');
  t.equal((await db.selectFrom('external_users').selectAll().where('external_id', '=', 'bob').execute()).length, 0);
  t.equal((await db.selectFrom('accounts').selectAll().where('id', '=', 'apn_bob').execute()).length, 0, 'accounts deleted');
  t.equal((await db.selectFrom('connect_tokens').selectAll().where('external_user_id', '=', bob.id).execute()).length, 0, 'tokens deleted');
  await t.rejects(pd.users.deleteExternalUser('bob'), 'a second delete is a 404');

  // Path-encoded ids with odd characters are data, not syntax.
  await pd.tokens.create({ externalUserId: "o'brien/../x y" });
  await pd.users.deleteExternalUser("o'brien/../x y");
  t.equal((await db.selectFrom('external_users').selectAll().where('external_id', '=', "o'brien/../x y").execute()).length, 0);

  const other = await createProjectClient(testApp);
  const cross = await server.inject({
    method: 'DELETE',
    url: `/v1/connect/${client.projectId}/users/alice`,
    headers: { authorization: `Bearer ${other.accessToken}` },
  });
  t.equal(cross.statusCode, 404);
  const readOnly = await createProjectClient(testApp, ['connect:accounts:read']);
  const forbidden = await server.inject({
    method: 'DELETE',
    url: `/v1/connect/${readOnly.projectId}/users/alice`,
    headers: { authorization: `Bearer ${readOnly.accessToken}` },
  });
  t.equal(forbidden.statusCode, 403, 'delete needs connect:accounts:write');
  t.equal((await db.selectFrom('external_users').selectAll().where('external_id', '=', 'alice').execute()).length, 1);
});
