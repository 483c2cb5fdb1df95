// Plaintext at rest (catalogue §5 item 39): after creating a client, a token, a connect token,
// an OAuth app, a webhook signing key and an account with credentials, nothing secret is in the
// database in any form: not in any column (test/fixtures/dump.ts), not in `pg_dump`'s output
// (PostgreSQL, when pg_dump is on PATH), not in the embedded database's files on disk (PGlite,
// WAL included). Each check has a positive control that proves it can see plain data.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { insertAccount } from '../../src/accounts/account.repository.ts';
import { sealNewAccount } from '../../src/accounts/stored-account.ts';
import { mintId } from '../../src/crypto/tokens.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrator.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../fixtures/database.ts';
import { dumpDatabase, encodings, findSecrets } from '../fixtures/dump.ts';

const run = promisify(execFile);

async function onPath(command: string): Promise<boolean> {
  try {
    await run(command, ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

t.test('no secret in plaintext: every column, pg_dump, the data files', async (t) => {
  // A file-backed embedded database (so its files can be read), or a PostgreSQL test database.
  let dataDir: string | undefined;
  let database: TestDatabase;
  let closed = false;
  if (usingPostgres()) {
    database = await createTestDatabase();
  } else {
    dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-dump-'));
    const handle = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
    await migrateToLatest(handle.db);
    database = { handle, url: undefined, close: () => handle.close() };
  }
  const closeDatabase = async (): Promise<void> => {
    if (!closed) await database.close();
    closed = true;
  };
  t.teardown(async () => {
    await closeDatabase();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  const testApp = await buildTestApp(t, { database });
  const server = testApp.app.server;
  const db = database.handle.db;
  const canary = `dump-canary-${randomBytes(6).toString('hex')}`;
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  const client = await createProjectClient(testApp);
  const bearer = { authorization: `Bearer ${client.accessToken}` };
  const named = await server.inject({ method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: canary } });
  t.equal(named.statusCode, 201);

  const oauthClientSecret = `provider-client-secret-${randomBytes(12).toString('hex')}`;
  const oauthApp = await server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/oauth_apps`,
    headers: bearer,
    payload: { app: 'github', client_id: `${canary}-client-id`, client_secret: oauthClientSecret },
  });
  t.equal(oauthApp.statusCode, 201, 'an OAuth app with a sealed client secret');
  t.notOk(oauthApp.body.includes(oauthClientSecret), 'its secret is not returned');

  const webhook = await server.inject({
    method: 'PUT',
    url: `/v1/connect/${client.projectId}/webhook`,
    headers: { ...bearer, 'x-pd-environment': 'development' },
    payload: { url: 'https://hooks.example.com/latchkey' },
  });
  t.equal(webhook.statusCode, 200, 'a webhook with a sealed signing key');
  const signingKey = webhook.json<{ data: { signing_key?: string } }>().data.signing_key;
  t.match(signingKey, /^whsec_/);

  const connect = await server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/tokens`,
    headers: bearer,
    payload: { external_user_id: `${canary}-user` },
  });
  t.equal(connect.statusCode, 200, 'a connect token');
  const connectToken = connect.json<{ token: string }>().token;
  t.match(connectToken, /^ctok_/);

  // An account with OAuth credentials and an API key, stored through the shared account store.
  const externalUserId = mintId('exu_');
  await db
    .insertInto('external_users')
    .values({ id: externalUserId, project_id: client.projectId, environment: 'production', external_id: `${canary}-account-user` })
    .execute();
  const accountSecrets = {
    oauth_access_token: `xoxb-access-${randomBytes(12).toString('hex')}`,
    api_key: `sk_live_${randomBytes(12).toString('hex')}`,
  };
  const refreshToken = `xoxe-refresh-${randomBytes(12).toString('hex')}`;
  await insertAccount(
    db,
    await sealNewAccount(testApp.app.vault, {
      id: mintId('apn_'),
      projectId: client.projectId,
      environment: 'production',
      externalUserId,
      externalId: `${canary}-external-id`,
      appSlug: 'slack',
      oauthAppId: null,
      name: `${canary}-account-name`,
      credentials: { ...accountSecrets, oauth_client_id: 'public-client-id' },
      refreshToken,
      authorizedScopes: ['chat:write'],
      expiresAt: new Date(Date.now() + 3600_000),
    }),
  );

  const secrets: Record<string, string> = {
    'API client secret': client.clientSecret,
    'API access token': client.accessToken,
    'admin token': TEST_ADMIN_TOKEN,
    'provider client secret': oauthClientSecret,
    'webhook signing key': signingKey!,
    'webhook signing key (body)': signingKey!.replace(/^whsec_/, ''),
    'connect token': connectToken,
    'account access token': accountSecrets.oauth_access_token,
    'account API key': accountSecrets.api_key,
    'account refresh token': refreshToken,
  };

  // 1. Every column of every table.
  const dump = await dumpDatabase(db);
  t.ok(dump.includes(canary), 'positive control: the dump shows plain data (a project name)');
  t.ok(dump.includes(`${canary}-client-id`), 'positive control: the provider client id, which is not secret');
  t.ok(dump.includes(`${canary}-external-id`), 'positive control: an account column');
  t.ok(dump.includes('-- accounts') && dump.includes('-- data_keys') && dump.includes('-- api_clients'), 'every table is in the dump');
  t.same(findSecrets(dump, secrets), [], 'no secret in any column, in any encoding');
  t.same(findSecrets(dump, { 'the canary': canary }), ['the canary'], 'positive control for findSecrets');
  t.same(findSecrets(testApp.logs(), secrets), [], 'and none in the logs');

  // 2. pg_dump of the whole database (PostgreSQL mode).
  if (database.url !== undefined && (await onPath('pg_dump'))) {
    const { stdout } = await run('pg_dump', ['--no-owner', '--dbname', database.url], { maxBuffer: 256 * 1024 * 1024 });
    t.ok(stdout.includes(canary), 'positive control: pg_dump shows plain data');
    t.same(findSecrets(stdout, secrets), [], 'no secret in pg_dump');
  } else {
    t.comment(database.url === undefined ? 'pg_dump: not a PostgreSQL run' : 'pg_dump: not on PATH');
  }

  // 3. The embedded database's files on disk, WAL included, after a clean close.
  if (dataDir !== undefined) {
    await server.close();
    await closeDatabase();
    const files = await filesUnder(dataDir);
    t.ok(files.length > 100, `${files.length} files in the data directory`);
    const contents = await Promise.all(files.map((file) => readFile(file)));
    const hits = (needle: string): number => contents.filter((content) => encodings(needle).some((form) => content.includes(form))).length;
    t.ok(hits(canary) > 0, 'positive control: the plain project name is in the files');
    const found = Object.entries(secrets).filter(([, secret]) => hits(secret) > 0);
    t.same(
      found.map(([name]) => name),
      [],
      'no secret in any file of the data directory',
    );
  }
});
