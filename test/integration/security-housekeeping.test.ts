// Security suite, data at rest: expired one-time records (connect tokens, OAuth states, API
// access tokens) are deleted by the housekeeping background job, in batches; live ones stay.
// Until now the repository functions existed and nothing called them.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

t.test('the housekeeping job deletes expired connect tokens, OAuth states and access tokens in batches, and nothing live', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true, tuning: { housekeeping: { batchSize: 2 } } });
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  t.ok(
    testApp.app.jobs.some((job) => job.name === 'housekeeping'),
    'registered among the background jobs',
  );
  const client = await createProjectClient(testApp);
  const headers = { authorization: `Bearer ${client.accessToken}` };
  const hourAndMore = new Date(Date.now() - 2 * 60 * 60 * 1000);

  // Five connect tokens: three expired over the grace period, one expired just now (a flow
  // started before its expiry may still finish), one live.
  const tokenIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await server.inject({ method: 'POST', url: `/v1/connect/${client.projectId}/tokens`, headers, payload: { external_user_id: `user-${i}` } });
    t.equal(res.statusCode, 200);
  }
  for (const row of await db.selectFrom('connect_tokens').select('id').orderBy('created_at').orderBy('id').execute()) tokenIds.push(row.id);
  t.equal(tokenIds.length, 5);
  await db.updateTable('connect_tokens').set({ expires_at: hourAndMore }).where('id', 'in', tokenIds.slice(0, 3)).execute();
  await db
    .updateTable('connect_tokens')
    .set({ expires_at: new Date(Date.now() - 60_000) })
    .where('id', '=', tokenIds[3]!)
    .execute();

  // Four OAuth states: three abandoned over an hour ago, one in flight.
  for (let i = 0; i < 4; i++) {
    await db
      .insertInto('oauth_states')
      .values({
        digest: randomBytes(32),
        cookie_digest: randomBytes(32),
        connect_token_digest: randomBytes(32),
        project_id: client.projectId,
        environment: 'production',
        external_user_id: `user-${i}`,
        app_slug: 'github',
        oauth_app_id: 'oa_test',
        account_id: null,
        redirect_uri: 'http://127.0.0.1/connect/oauth/callback',
        issuer: null,
        code_verifier_enc: null,
        fields_enc: null,
        expires_at: i < 3 ? hourAndMore : new Date(Date.now() + 10 * 60 * 1000),
      })
      .execute();
  }

  // Three more access tokens for the client; two of them (and nothing else) expired long ago.
  for (let i = 0; i < 3; i++) {
    const res = await server.inject({
      method: 'POST',
      url: '/v1/oauth/token',
      payload: { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret },
    });
    t.equal(res.statusCode, 200);
  }
  const accessTokens = await db.selectFrom('api_access_tokens').select('digest').orderBy('created_at').execute();
  t.equal(accessTokens.length, 4);
  await db
    .updateTable('api_access_tokens')
    .set({ expires_at: hourAndMore })
    .where(
      'digest',
      'in',
      accessTokens.slice(2).map((row) => row.digest),
    )
    .execute();

  const report = await testApp.app.housekeeping.runHousekeepingRound();
  t.same(report, { connectTokens: 3, oauthStates: 3, accessTokens: 2 }, 'every expired record, over several batches of 2');

  t.same(
    (await db.selectFrom('connect_tokens').select('id').orderBy('created_at').orderBy('id').execute()).map((row) => row.id),
    tokenIds.slice(3),
    'the recently expired and the live connect token stay',
  );
  t.equal((await db.selectFrom('oauth_states').select('digest').execute()).length, 1, 'the in-flight state stays');
  t.equal((await db.selectFrom('api_access_tokens').select('digest').execute()).length, 2);
  const stillWorks = await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts`, headers });
  t.equal(stillWorks.statusCode, 200, "the client's live access token still authenticates");

  t.same(await testApp.app.housekeeping.runHousekeepingRound(), { connectTokens: 0, oauthStates: 0, accessTokens: 0 }, 'a second round finds nothing');
});
