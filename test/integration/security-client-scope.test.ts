// Issue 10, smaller holes: `DELETE /v1/admin/projects/{A}/clients/{client of B}` answered 404
// but dropped B's client's access tokens. Every client mutation is scoped by the project named in
// the path (clients.repository revokeClient), so the call changes nothing of B.
// Catalogue §5 items 1 (cross-project) and 3 (revocation).
import t from 'tap';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

t.test("revoking a client through another project's path is a 404 that leaves the client and its tokens alone", async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const a = await createProjectClient(testApp);
  const b = await createProjectClient(testApp);
  const tokensOfB = async (): Promise<number> =>
    (await db.selectFrom('api_access_tokens').select('digest').where('client_id', '=', b.clientId).execute()).length;
  t.equal(await tokensOfB(), 1, "B's client holds one access token");

  const crossed = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${a.projectId}/clients/${b.clientId}`, headers: admin });
  t.equal(crossed.statusCode, 404);
  t.equal(crossed.json().error.code, 'not_found');
  t.equal(await tokensOfB(), 1, "B's access token is still stored");
  const client = await db.selectFrom('api_clients').select('revoked_at').where('id', '=', b.clientId).executeTakeFirstOrThrow();
  t.equal(client.revoked_at, null, "B's client is not revoked");
  const info = await server.inject({ method: 'GET', url: `/v1/connect/${b.projectId}/projects/info`, headers: { authorization: `Bearer ${b.accessToken}` } });
  t.equal(info.statusCode, 200, "B's token still works");

  // The positive control: the right project's path revokes it and drops its tokens.
  const own = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${b.projectId}/clients/${b.clientId}`, headers: admin });
  t.equal(own.statusCode, 204);
  t.equal(await tokensOfB(), 0, 'revoked through its own project: its tokens are gone');
});
