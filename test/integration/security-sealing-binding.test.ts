// Security suite, data at rest: the associated data of every sealed column names its project and
// environment besides its table, row and column (security catalogue §5 item 60, "ciphertext moved
// across projects"; item 34 covers rows and columns). Values sealed before that (format 1) are
// still read, and the online migration (reseal job, `keys reseal`) rewrites them in batches.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import t from 'tap';
import { aesGcmEncrypt, encodeAssociatedData } from '../../src/crypto/aead.ts';
import { unwrapDataKey } from '../../src/crypto/envelope.ts';
import { parseKeyring, type Keyring } from '../../src/crypto/keyring.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { runCli } from '../../src/cli.ts';
import type { Database } from '../../src/db/types.ts';
import { findDataKeyForProject } from '../../src/keys/data-key.repository.ts';
import { DecryptionError, Vault } from '../../src/keys/vault.ts';
import { clientSecretContext } from '../../src/oauth-apps/oauth-apps.service.ts';
import { ensureSigningKey } from '../../src/webhooks/signing-key.ts';
import { TEST_ADMIN_TOKEN, TEST_KEYS, createProjectClient } from '../fixtures/app.ts';
import { keysTestApp, oauthTestApp, seedAccount, seedProject, type Seeded } from '../fixtures/refresh-seed.ts';

/**
 * A value in format 1 as latchkey wrote it before this change: 0x01 ‖ dek id ‖ AES-GCM with the
 * associated data header ‖ lp("latchkey/value") ‖ lp(table) ‖ lp(column) ‖ lp(row id).
 */
async function sealLegacy(seeded: Seeded, where: { table: string; column: string; rowId: string }, plaintext: string): Promise<Buffer> {
  return sealLegacyIn(seeded.testApp.database.handle.db, seeded.testApp.keyring, seeded.client.projectId, where, plaintext);
}

async function sealLegacyIn(
  db: Kysely<Database>,
  keyring: Keyring,
  projectId: string,
  where: { table: string; column: string; rowId: string },
  plaintext: string,
): Promise<Buffer> {
  const row = await findDataKeyForProject(db, projectId);
  if (row === undefined) throw new Error('the project has no data key yet');
  const dek = unwrapDataKey(keyring, row.id, row.wrapped_key);
  const header = Buffer.concat([Buffer.from([0x01]), Buffer.from(dek.id.replace(/-/g, ''), 'hex')]);
  const aad = Buffer.concat([header, encodeAssociatedData(['latchkey/value', where.table, where.column, where.rowId])]);
  return Buffer.concat([header, aesGcmEncrypt(dek.material, Buffer.from(plaintext, 'utf8'), aad)]);
}

async function formats(db: Kysely<Database>, projectId: string): Promise<number[]> {
  const accounts = await db.selectFrom('accounts').select(['credentials_enc', 'refresh_token_enc']).where('project_id', '=', projectId).orderBy('id').execute();
  const apps = await db.selectFrom('oauth_apps').select('client_secret_enc').where('project_id', '=', projectId).execute();
  const environments = await db.selectFrom('environments').select('webhook_signing_key_enc').where('project_id', '=', projectId).orderBy('name').execute();
  return [
    ...accounts.flatMap((a) => [a.credentials_enc[0]!, ...(a.refresh_token_enc === null ? [] : [a.refresh_token_enc[0]!])]),
    ...apps.map((a) => a.client_secret_enc[0]!),
    ...environments.flatMap((e) => (e.webhook_signing_key_enc === null ? [] : [e.webhook_signing_key_enc[0]!])),
  ];
}

t.test('a row moved to another project or environment no longer opens', async (t) => {
  const seeded = await seedProject(t, { apps: [keysTestApp('keyed')] });
  const { testApp, client } = seeded;
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const other = await createProjectClient(testApp);
  const id = await seedAccount(seeded, {
    appSlug: 'keyed',
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
    credentials: { api_key: 'key-of-project-a-0123' },
  });

  // The attacker moves the row (say, by a write to the database) into a project it controls.
  await db.updateTable('accounts').set({ project_id: other.projectId }).where('id', '=', id).execute();
  const stolen = await server.inject({
    method: 'GET',
    url: `/v1/connect/${other.projectId}/accounts/${id}?include_credentials=true`,
    headers: { authorization: `Bearer ${other.accessToken}` },
  });
  t.equal(stolen.statusCode, 500, 'the other project cannot open it');
  t.equal(stolen.json<{ error: { code: string } }>().error.code, 'credential_unreadable');
  t.notOk(stolen.body.includes('key-of-project-a-0123'));

  // Nor can the other environment of the same project.
  await db.updateTable('accounts').set({ project_id: client.projectId, environment: 'development' }).where('id', '=', id).execute();
  const dev = await server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/accounts/${id}?include_credentials=true`,
    headers: { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(dev.statusCode, 500);
  t.equal(dev.json<{ error: { code: string } }>().error.code, 'credential_unreadable');

  // Back where it was sealed, it opens.
  await db.updateTable('accounts').set({ environment: 'production' }).where('id', '=', id).execute();
  const home = await server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/accounts/${id}?include_credentials=true`,
    headers: { authorization: `Bearer ${client.accessToken}` },
  });
  t.equal(home.statusCode, 200);
  t.same(home.json<{ credentials: unknown }>().credentials, { api_key: 'key-of-project-a-0123' });

  // A webhook signing key copied to another project's environment does not open there.
  const vault = testApp.app.vault;
  const signingKey = await ensureSigningKey(db, vault, { projectId: client.projectId, environment: 'production' });
  const sealedKey = await db
    .selectFrom('environments')
    .select('webhook_signing_key_enc')
    .where('project_id', '=', client.projectId)
    .where('name', '=', 'production')
    .executeTakeFirstOrThrow();
  await db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: sealedKey.webhook_signing_key_enc })
    .where('project_id', '=', other.projectId)
    .where('name', '=', 'production')
    .execute();
  await t.rejects(ensureSigningKey(db, vault, { projectId: other.projectId, environment: 'production' }), DecryptionError);
  t.match(signingKey, /^whsec_/);

  // An OAuth app's client secret is bound to its project (it serves both environments).
  const secret = await vault.seal(clientSecretContext(client.projectId, 'oa_moved'), 'client-secret-0123456789');
  t.equal(await vault.openString(clientSecretContext(client.projectId, 'oa_moved'), secret), 'client-secret-0123456789');
  await t.rejects(vault.openString(clientSecretContext(other.projectId, 'oa_moved'), secret), DecryptionError);
});

t.test('legacy values are still read, then re-sealed online in batches; a second pass finds nothing', async (t) => {
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', 'http://127.0.0.1:9')],
    oauthApp: { slug: 'fakeauth', clientId: 'client-id-legacy', clientSecret: 'client-secret-legacy-0123' },
    app: { privateDatabase: true, tuning: { reseal: { batchSize: 2 } } },
  });
  const { testApp, client } = seeded;
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const headers = { authorization: `Bearer ${client.accessToken}` };
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await seedAccount(seeded, { appSlug: 'fakeauth', externalUserId: `user-${i}` }));
  ids.sort();

  // Three accounts, the OAuth app and the production signing key as an older latchkey stored them.
  const legacyIds = [ids[0]!, ids[2]!, ids[4]!];
  for (const id of legacyIds) {
    const credentials = { oauth_access_token: `at-legacy-${id}`, oauth_client_id: 'client-id-legacy', oauth_uid: 'uid-1' };
    await db
      .updateTable('accounts')
      .set({
        credentials_enc: await sealLegacy(seeded, { table: 'accounts', column: 'credentials_enc', rowId: id }, JSON.stringify(credentials)),
        refresh_token_enc: await sealLegacy(seeded, { table: 'accounts', column: 'refresh_token_enc', rowId: id }, `rt-legacy-${id}`),
      })
      .where('id', '=', id)
      .execute();
  }
  await db
    .updateTable('oauth_apps')
    .set({
      client_secret_enc: await sealLegacy(seeded, { table: 'oauth_apps', column: 'client_secret_enc', rowId: seeded.oauthAppId }, 'client-secret-legacy-0123'),
    })
    .where('id', '=', seeded.oauthAppId)
    .execute();
  const legacyWhsec = 'whsec_bGVnYWN5LXNpZ25pbmcta2V5LW9mLTMyLWJ5dGVzISE=';
  await db
    .updateTable('environments')
    .set({
      webhook_signing_key_enc: await sealLegacy(
        seeded,
        { table: 'environments', column: 'webhook_signing_key_enc', rowId: `${client.projectId}/production` },
        legacyWhsec,
      ),
    })
    .where('project_id', '=', client.projectId)
    .where('name', '=', 'production')
    .execute();
  t.same(await formats(db, client.projectId), [1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1], 'legacy values in place (accounts in id order, app, key)');

  // Still read while not re-sealed.
  const read = async (id: string) => server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts/${id}?include_credentials=true`, headers });
  const before = await read(ids[2]!);
  t.equal(before.statusCode, 200);
  t.equal(before.json<{ credentials: Record<string, string> }>().credentials['oauth_access_token'], `at-legacy-${ids[2]}`);
  t.equal(before.json<{ credentials: Record<string, string> }>().credentials['oauth_refresh_token'], `rt-legacy-${ids[2]}`);
  const vault = testApp.app.vault;
  t.equal(
    await vault.openString(
      clientSecretContext(client.projectId, seeded.oauthAppId),
      (await db.selectFrom('oauth_apps').select('client_secret_enc').executeTakeFirstOrThrow()).client_secret_enc,
    ),
    'client-secret-legacy-0123',
  );
  t.equal(await ensureSigningKey(db, vault, { projectId: client.projectId, environment: 'production' }), legacyWhsec);
  const versions = await db.selectFrom('accounts').select(['id', 'credentials_version', 'updated_at']).orderBy('id').execute();

  // The migration: accounts in batches of 2, then the app and the key.
  const report = await testApp.app.reseal.runResealPass();
  t.same(report, { accounts: 3, oauthApps: 1, environments: 1, raced: 0, unreadable: 0, batches: 4 });
  t.same(await formats(db, client.projectId), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 'every value in format 2');
  t.same(
    await db.selectFrom('accounts').select(['id', 'credentials_version', 'updated_at']).orderBy('id').execute(),
    versions,
    'values unchanged: no version bump',
  );

  for (const id of legacyIds) {
    const after = await read(id);
    t.equal(after.statusCode, 200);
    t.same(
      [
        after.json<{ credentials: Record<string, string> }>().credentials['oauth_access_token'],
        after.json<{ credentials: Record<string, string> }>().credentials['oauth_refresh_token'],
      ],
      [`at-legacy-${id}`, `rt-legacy-${id}`],
      'the same values, re-sealed',
    );
  }
  t.equal(await ensureSigningKey(db, vault, { projectId: client.projectId, environment: 'production' }), legacyWhsec);

  // Re-sealed, a moved row no longer opens elsewhere.
  const other = await createProjectClient(testApp);
  await db.updateTable('accounts').set({ project_id: other.projectId }).where('id', '=', ids[0]!).execute();
  const moved = await server.inject({
    method: 'GET',
    url: `/v1/connect/${other.projectId}/accounts/${ids[0]}?include_credentials=true`,
    headers: { authorization: `Bearer ${other.accessToken}` },
  });
  t.equal(moved.statusCode, 500);
  await db.updateTable('accounts').set({ project_id: client.projectId }).where('id', '=', ids[0]!).execute();

  t.same(await testApp.app.reseal.runResealPass(), { accounts: 0, oauthApps: 0, environments: 0, raced: 0, unreadable: 0, batches: 0 }, 'idempotent');

  // A legacy value that does not open is reported and left alone; the rest of the pass goes on.
  const broken = await sealLegacy(seeded, { table: 'accounts', column: 'credentials_enc', rowId: 'apn_somewhere_else' }, '{}');
  await db.updateTable('accounts').set({ credentials_enc: broken }).where('id', '=', ids[1]!).execute();
  await db
    .updateTable('accounts')
    .set({ credentials_enc: await sealLegacy(seeded, { table: 'accounts', column: 'credentials_enc', rowId: ids[3]! }, '{"oauth_access_token":"at-3"}') })
    .where('id', '=', ids[3]!)
    .execute();
  t.same(await testApp.app.reseal.runResealPass(), { accounts: 1, oauthApps: 0, environments: 0, raced: 0, unreadable: 1, batches: 1 });
  t.match(testApp.logs(), /a sealed value could not be opened to re-seal it/);
  t.same(
    await testApp.app.reseal.runResealPass(),
    { accounts: 0, oauthApps: 0, environments: 0, raced: 0, unreadable: 1, batches: 1 },
    'reported again, never rewritten',
  );
  for (const secret of ['at-legacy-', 'rt-legacy-', 'client-secret-legacy-0123', legacyWhsec]) t.notOk(testApp.logs().includes(secret), 'no plaintext logged');
});

t.test('`keys reseal` runs the same pass from the command line and prints what it did', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-reseal-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_KEYS: TEST_KEYS, LATCHKEY_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'silent' };
  const cli = async (args: string[]): Promise<{ code: number; stdout: string }> => {
    let stdout = '';
    const code = await runCli(args, { env, stdout: (text) => (stdout += text), stderr: (text) => (stdout += text) });
    return { code, stdout };
  };
  const project = await cli(['projects', 'create', 'legacy']);
  t.equal(project.code, 0);
  const projectId = (JSON.parse(project.stdout) as { id: string }).id;

  // The embedded database is single-process: write the legacy value, then close it for the CLI.
  const keyring = parseKeyring(TEST_KEYS);
  const database = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
  await new Vault(database.db, keyring).loadProjectKey(projectId);
  const legacy = await sealLegacyIn(
    database.db,
    keyring,
    projectId,
    { table: 'environments', column: 'webhook_signing_key_enc', rowId: `${projectId}/development` },
    'whsec_bGVnYWN5LWNsaS1zaWduaW5nLWtleS0wMTIzNDU2Nzg5',
  );
  await database.db
    .updateTable('environments')
    .set({ webhook_signing_key_enc: legacy })
    .where('project_id', '=', projectId)
    .where('name', '=', 'development')
    .execute();
  await database.close();

  const first = await cli(['keys', 'reseal', '--batch-size', '10']);
  t.equal(first.code, 0);
  t.same(JSON.parse(first.stdout), { accounts: 0, oauthApps: 0, environments: 1, raced: 0, unreadable: 0, batches: 1 });
  const second = await cli(['keys', 'reseal']);
  t.same(JSON.parse(second.stdout), { accounts: 0, oauthApps: 0, environments: 0, raced: 0, unreadable: 0, batches: 0 }, 'resumable: nothing left');

  const reopened = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
  t.teardown(() => reopened.close());
  const key = await ensureSigningKey(reopened.db, new Vault(reopened.db, keyring), { projectId, environment: 'development' });
  t.equal(key, 'whsec_bGVnYWN5LWNsaS1zaWduaW5nLWtleS0wMTIzNDU2Nzg5', 'the same key, now in format 2');
  t.same(await formats(reopened.db, projectId), [2]);
});
