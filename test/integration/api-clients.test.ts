import t from 'tap';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

t.test('client credentials: JSON and form bodies, Basic auth, scopes', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const { projectId, clientId, clientSecret, accessToken } = await createProjectClient(testApp);
  t.match(projectId, /^proj_[A-Za-z0-9]+$/);
  t.match(accessToken, /^lka_[A-Za-z0-9]{36}$/);

  const form = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'connect:accounts:read',
    }).toString(),
  });
  t.equal(form.statusCode, 200);
  t.hasStrict(form.json(), { token_type: 'Bearer', expires_in: 3600, scope: 'connect:accounts:read' });
  t.equal(form.headers['cache-control'], 'no-store');

  const basic = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
  t.equal(basic.statusCode, 200);

  const wrongSecret = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'lks_nope' },
  });
  t.equal(wrongSecret.statusCode, 401);
  t.same(wrongSecret.json(), { error: 'invalid_client', error_description: 'client authentication failed' });

  const unknownClient = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: 'lkc_unknown', client_secret: clientSecret },
  });
  t.equal(unknownClient.statusCode, 401);

  const badGrant = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'password', client_id: clientId, client_secret: clientSecret },
  });
  t.equal(badGrant.json().error, 'unsupported_grant_type');

  const badScope = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'admin:everything' },
  });
  t.equal(badScope.json().error, 'invalid_scope');

  const malformed = await server.inject({ method: 'POST', url: '/v1/oauth/token', headers: { 'content-type': 'application/json' }, payload: '{"grant_type":' });
  t.equal(malformed.statusCode, 400);
  t.notMatch(malformed.body, /at .*\.ts/);

  const wrongTypes = await server.inject({ method: 'POST', url: '/v1/oauth/token', payload: { grant_type: ['client_credentials'], client_id: 5 } });
  t.equal(wrongTypes.statusCode, 400);
  t.equal(wrongTypes.json().error, 'invalid_request');
});

t.test('admin API: projects, clients, revocation; secrets never stored or logged in plaintext', async (t) => {
  // A database of its own: the project list below is every project there is.
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const server = testApp.app.server;
  const { projectId, clientId, clientSecret, accessToken } = await createProjectClient(testApp, ['connect:accounts:read']);

  const projects = await server.inject({ method: 'GET', url: '/v1/admin/projects', headers: admin });
  t.equal(projects.statusCode, 200);
  t.equal(projects.json().data.length, 1);

  const clients = await server.inject({ method: 'GET', url: `/v1/admin/projects/${projectId}/clients`, headers: admin });
  t.hasStrict(clients.json().data, [{ client_id: clientId, scopes: ['connect:accounts:read'], revoked_at: null }]);
  t.notMatch(clients.body, clientSecret);

  const db = testApp.database.handle.db;
  const row = await db.selectFrom('api_clients').selectAll().where('id', '=', clientId).executeTakeFirstOrThrow();
  t.match(row.secret_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const tokenRows = await db.selectFrom('api_access_tokens').selectAll().execute();
  t.ok(tokenRows.length >= 1);
  for (const tokenRow of tokenRows) t.notOk(tokenRow.digest.toString('latin1').includes(accessToken));
  t.notOk(testApp.logs().includes(clientSecret), 'client secret not in logs');
  t.notOk(testApp.logs().includes(accessToken), 'access token not in logs');

  const notAdmin = await server.inject({ method: 'GET', url: '/v1/admin/projects', headers: { authorization: `Bearer ${accessToken}` } });
  t.equal(notAdmin.statusCode, 403);
  const noAuth = await server.inject({ method: 'GET', url: '/v1/admin/projects' });
  t.equal(noAuth.statusCode, 401);
  t.match(noAuth.json(), { error: { code: 'unauthorized', request_id: String } });

  const unknownProject = await server.inject({ method: 'POST', url: '/v1/admin/projects/proj_nope/clients', headers: admin, payload: {} });
  t.equal(unknownProject.statusCode, 404);
  const badScope = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/clients`, headers: admin, payload: { scopes: ['root'] } });
  t.equal(badScope.statusCode, 400);
  t.equal(badScope.json().error.code, 'validation_failed');
  const extraField = await server.inject({
    method: 'POST',
    url: '/v1/admin/projects',
    headers: admin,
    payload: { name: 'x', __proto__: { admin: true }, evil: 1 },
  });
  t.equal(extraField.statusCode, 400);
  const oversized = await server.inject({
    method: 'POST',
    url: '/v1/admin/projects',
    headers: { ...admin, 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
  });
  t.equal(oversized.statusCode, 413);
  t.equal(oversized.json().error.code, 'payload_too_large');

  const revoke = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${projectId}/clients/${clientId}`, headers: admin });
  t.equal(revoke.statusCode, 204);
  const again = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${projectId}/clients/${clientId}`, headers: admin });
  t.equal(again.statusCode, 404);
  const afterRevoke = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
  });
  t.equal(afterRevoke.statusCode, 401);
});

t.test('health, readiness, metrics, docs, unknown routes', async (t) => {
  const { app } = await buildTestApp(t);
  const server = app.server;
  t.same((await server.inject('/healthz')).json(), { status: 'ok' });
  t.same((await server.inject('/readyz')).json(), { status: 'ready' });
  const metrics = await server.inject('/metrics');
  t.match(metrics.body, /latchkey_http_requests_total/);
  t.equal((await server.inject('/docs/json')).statusCode, 200);
  const missing = await server.inject('/nope?code=secret-code');
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'not_found');
  app.beginShutdown();
  t.equal((await server.inject('/readyz')).statusCode, 503);
});
