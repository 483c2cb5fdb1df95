// Project secrets: round trip, scopes, isolation between projects and environments, validation,
// audited reads, and the value never in plaintext in the database (every column, pg_dump on
// PostgreSQL) or the logs.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import t from 'tap';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient, type ProjectClient, type TestApp } from '../fixtures/app.ts';
import { dumpDatabase, findSecrets } from '../fixtures/dump.ts';

const run = promisify(execFile);

function call(
  testApp: TestApp,
  client: ProjectClient,
  method: 'GET' | 'PUT' | 'DELETE',
  path: string,
  options: { payload?: unknown; environment?: string } = {},
) {
  return testApp.app.server.inject({
    method,
    url: `/v1/connect/${client.projectId}/secrets${path}`,
    headers: { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': options.environment ?? 'development' },
    ...(options.payload === undefined ? {} : { payload: options.payload as Record<string, unknown> }),
  });
}

/** Another API client of the same project, with the given scopes. */
async function projectClient(testApp: TestApp, projectId: string, scopes: string[]): Promise<ProjectClient> {
  const server = testApp.app.server;
  const created = await server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${projectId}/clients`,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    payload: { scopes },
  });
  const { client_id: clientId, client_secret: clientSecret } = created.json<{ client_id: string; client_secret: string }>();
  const token = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
  });
  return { projectId, clientId, clientSecret, accessToken: token.json<{ access_token: string }>().access_token };
}

t.test('round trip, scopes, isolation, validation, audit, no plaintext at rest', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const client = await createProjectClient(testApp);
  const value = `secret-value-${randomBytes(12).toString('hex')}`;

  const created = await call(testApp, client, 'PUT', '/STRIPE_WEBHOOK_SECRET', { payload: { value } });
  t.equal(created.statusCode, 201);
  t.same(Object.keys(created.json<object>()).sort(), ['created_at', 'name', 'updated_at']);
  t.equal(created.json<{ name: string }>().name, 'STRIPE_WEBHOOK_SECRET');
  t.notOk(created.body.includes(value), 'the answer to a write holds no value');

  const read = await call(testApp, client, 'GET', '/STRIPE_WEBHOOK_SECRET');
  t.equal(read.statusCode, 200);
  t.equal(read.json<{ value: string }>().value, value);

  const replaced = await call(testApp, client, 'PUT', '/STRIPE_WEBHOOK_SECRET', { payload: { value: `${value}-2` } });
  t.equal(replaced.statusCode, 200, 'replacing answers 200');
  t.equal((await call(testApp, client, 'GET', '/STRIPE_WEBHOOK_SECRET')).json<{ value: string }>().value, `${value}-2`);
  t.equal((await call(testApp, client, 'PUT', '/OTHER', { payload: { value: 'x' } })).statusCode, 201);

  const list = await call(testApp, client, 'GET', '');
  t.equal(list.statusCode, 200);
  t.same(
    list.json<{ data: { name: string }[] }>().data.map((secret) => secret.name),
    ['OTHER', 'STRIPE_WEBHOOK_SECRET'],
  );
  t.notOk(list.body.includes(value), 'the list holds names only');

  // Scopes, for clients of the same project: without connect:secrets:read no read, without write no write.
  const reader = await projectClient(testApp, client.projectId, ['connect:accounts:read']);
  const denied = await call(testApp, reader, 'GET', '/STRIPE_WEBHOOK_SECRET');
  t.equal(denied.statusCode, 403);
  t.equal(denied.json<{ error: { code: string } }>().error.code, 'forbidden');
  t.notOk(denied.body.includes(value));
  t.equal((await call(testApp, reader, 'GET', '')).statusCode, 403);
  t.equal((await call(testApp, reader, 'PUT', '/ANY', { payload: { value: 'x' } })).statusCode, 403);
  const writer = await projectClient(testApp, client.projectId, ['connect:secrets:write']);
  t.equal((await call(testApp, writer, 'GET', '/STRIPE_WEBHOOK_SECRET')).statusCode, 403, 'write does not grant read');
  t.equal((await call(testApp, writer, 'PUT', '/WRITTEN', { payload: { value: 'w' } })).statusCode, 201);
  const secretsReader = await projectClient(testApp, client.projectId, ['connect:secrets:read']);
  t.equal((await call(testApp, secretsReader, 'GET', '/WRITTEN')).json<{ value: string }>().value, 'w');
  t.equal((await call(testApp, secretsReader, 'DELETE', '/WRITTEN')).statusCode, 403, 'read does not grant delete');
  t.equal((await call(testApp, writer, 'DELETE', '/WRITTEN')).statusCode, 204);

  // Another project (its own bearer) and another environment see nothing.
  const stranger = await createProjectClient(testApp);
  const otherProject = await testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/secrets/STRIPE_WEBHOOK_SECRET`,
    headers: { authorization: `Bearer ${stranger.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(otherProject.statusCode, 404, "a foreign project's id is an unknown project");
  t.equal((await call(testApp, stranger, 'GET', '/STRIPE_WEBHOOK_SECRET')).statusCode, 404, 'its own project has no such secret');
  const production = await call(testApp, client, 'GET', '/STRIPE_WEBHOOK_SECRET', { environment: 'production' });
  t.equal(production.statusCode, 404);
  t.equal(production.json<{ error: { code: string } }>().error.code, 'not_found');
  t.same((await call(testApp, client, 'GET', '', { environment: 'production' })).json<{ data: unknown[] }>().data, []);

  // Names and sizes.
  for (const bad of ['lower', '1LEADING_DIGIT', 'HAS-DASH', `A${'B'.repeat(128)}`, '_UNDERSCORE']) {
    const res = await call(testApp, client, 'PUT', `/${bad}`, { payload: { value: 'x' } });
    t.equal(res.statusCode, 400, `name ${bad.slice(0, 20)}`);
    t.equal(res.json<{ error: { code: string } }>().error.code, 'validation_failed');
  }
  t.equal((await call(testApp, client, 'PUT', `/${'A'.repeat(128)}`, { payload: { value: 'x' } })).statusCode, 201, '128 characters is the longest name');
  t.equal((await call(testApp, client, 'PUT', '/BIG', { payload: { value: 'é'.repeat(32 * 1024) } })).statusCode, 201, '64 KiB of UTF-8 fits');
  const tooBig = await call(testApp, client, 'PUT', '/BIG', { payload: { value: `${'é'.repeat(32 * 1024)}x` } });
  t.equal(tooBig.statusCode, 400, 'one byte more does not');
  t.equal(tooBig.json<{ error: { code: string } }>().error.code, 'validation_failed');
  t.equal((await call(testApp, client, 'PUT', '/EMPTY', { payload: { value: '' } })).statusCode, 400);
  t.equal((await call(testApp, client, 'PUT', '/EXTRA', { payload: { value: 'x', other: 1 } })).statusCode, 400);

  // Delete.
  t.equal((await call(testApp, client, 'DELETE', '/OTHER')).statusCode, 204);
  t.equal((await call(testApp, client, 'DELETE', '/OTHER')).statusCode, 404);
  t.equal((await call(testApp, client, 'GET', '/OTHER')).statusCode, 404);

  // Every read audited, with the name and never the value.
  await testApp.app.auditLog.flush();
  const audit = await testApp.database.handle.db
    .selectFrom('audit_log')
    .select(['action', 'result', 'actor', 'details'])
    .where('project_id', '=', client.projectId)
    .where('action', 'like', 'secret.%')
    .orderBy('id')
    .execute();
  const reads = audit.filter((entry) => entry.action === 'secret.read');
  const by = (c: ProjectClient): string => `client:${c.clientId}`;
  t.same(
    reads.map((entry) => [entry.result, entry.actor, entry.details]),
    [
      ['ok', by(client), { name: 'STRIPE_WEBHOOK_SECRET' }],
      ['ok', by(client), { name: 'STRIPE_WEBHOOK_SECRET' }],
      ['denied', by(reader), { name: 'STRIPE_WEBHOOK_SECRET', error_code: 'forbidden' }],
      ['denied', by(writer), { name: 'STRIPE_WEBHOOK_SECRET', error_code: 'forbidden' }],
      ['ok', by(secretsReader), { name: 'WRITTEN' }],
      ['not_found', by(client), { name: 'STRIPE_WEBHOOK_SECRET', error_code: 'not_found' }],
      ['not_found', by(client), { name: 'OTHER', error_code: 'not_found' }],
    ],
    'every read, refused ones too, is recorded with its reader and the name, never the value',
  );

  // No plaintext at rest or in the logs.
  const secrets = { value, replaced: `${value}-2` };
  const dump = await dumpDatabase(testApp.database.handle.db);
  t.ok(dump.includes('-- project_secrets') && dump.includes('STRIPE_WEBHOOK_SECRET'), 'positive control: the table and the name are in the dump');
  t.same(findSecrets(dump, secrets), [], 'no value in any column');
  t.same(findSecrets(testApp.logs(), secrets), [], 'no value in the logs');
  const url = testApp.database.url;
  if (url !== undefined) {
    const { stdout } = await run('pg_dump', ['--no-owner', '--dbname', url], { maxBuffer: 256 * 1024 * 1024 });
    t.ok(stdout.includes('STRIPE_WEBHOOK_SECRET'), 'positive control: pg_dump shows the name');
    t.same(findSecrets(stdout, secrets), [], 'no value in pg_dump');
  } else {
    t.comment('pg_dump: not a PostgreSQL run');
  }
});

t.test('a sealed value is bound to its project, environment and name', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  t.equal((await call(testApp, client, 'PUT', '/FIRST', { payload: { value: 'one' } })).statusCode, 201);
  t.equal((await call(testApp, client, 'PUT', '/SECOND', { payload: { value: 'two' } })).statusCode, 201);
  const db = testApp.database.handle.db;
  const first = await db
    .selectFrom('project_secrets')
    .select('value_enc')
    .where('project_id', '=', client.projectId)
    .where('name', '=', 'FIRST')
    .executeTakeFirstOrThrow();
  await db.updateTable('project_secrets').set({ value_enc: first.value_enc }).where('project_id', '=', client.projectId).where('name', '=', 'SECOND').execute();
  const moved = await call(testApp, client, 'GET', '/SECOND');
  t.equal(moved.statusCode, 500, 'a ciphertext moved to another name does not open');
  t.equal(moved.json<{ error: { code: string } }>().error.code, 'credential_unreadable');
  t.notOk(moved.body.includes('one'));
});
