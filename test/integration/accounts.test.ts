// The accounts API through @pipedream/sdk and inject: envelopes, pagination, filters, scopes,
// project and environment isolation, deletes that revoke at the provider (RFC 7009), and a
// credential hot path that runs one primary-key SELECT and writes nothing.
import { PipedreamClient } from '@pipedream/sdk';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import t from 'tap';
import { replaceAccountCredentials } from '../../src/accounts/account.repository.ts';
import { RecentCredentials, type SecretOpener } from '../../src/accounts/account-secrets.ts';
import { sealReplacement } from '../../src/accounts/stored-account.ts';
import { createClient } from '../../src/admin/admin.service.ts';
import { createProjectClient } from '../fixtures/app.ts';
import { createTestDatabase } from '../fixtures/database.ts';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { accountRow, keysTestApp, oauthTestApp, seedAccount, seedProject, storedTokens } from '../fixtures/refresh-seed.ts';

t.test('list, retrieve, per-user list and deletes, as the SDK sees them', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base, { revoke_url: provider.revokeUrl }), oauthTestApp('otherauth', provider.base), keysTestApp('keyed')],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  const { testApp, client } = seeded;
  const baseUrl = await testApp.listen();
  const pd = new PipedreamClient({
    baseUrl,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    projectId: client.projectId,
    projectEnvironment: 'production',
  });

  const ids: string[] = [];
  for (const user of ['alice', 'alice', 'bob', 'bob', 'carol']) {
    const refreshToken = `rt-${user}-${ids.length}-0123456789`;
    provider.grant(refreshToken);
    ids.push(await seedAccount(seeded, { appSlug: 'fakeauth', externalUserId: user, refreshToken, name: `${user}@example.com` }));
  }
  const otherId = await seedAccount(seeded, { appSlug: 'otherauth', externalUserId: 'alice', oauthAppId: null });
  const keyedId = await seedAccount(seeded, {
    appSlug: 'keyed',
    externalUserId: 'bob',
    credentials: { api_key: 'key-0123456789abcdef' },
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
  });
  const devId = await seedAccount(seeded, { appSlug: 'fakeauth', externalUserId: 'alice', environment: 'development' });

  // Auto-pagination through page_info.end_cursor, in creation order, production only.
  const listed: string[] = [];
  for await (const account of await pd.accounts.list({ limit: 2 })) listed.push(account.id);
  t.same(listed, [...ids, otherId, keyedId], 'every production account once, in creation order');
  t.notOk(listed.includes(devId), 'development accounts are separate');

  const byApp: string[] = [];
  for await (const account of await pd.accounts.list({ app: 'fakeauth' })) byApp.push(account.id);
  t.same(byApp, ids);
  const byUser: string[] = [];
  for await (const account of await pd.accounts.list({ externalUserId: 'bob' })) byUser.push(account.id);
  t.same(byUser, [ids[2], ids[3], keyedId]);
  const byOAuthApp: string[] = [];
  for await (const account of await pd.accounts.list({ oauthAppId: seeded.oauthAppId })) byOAuthApp.push(account.id);
  t.same(byOAuthApp, ids);

  const auth = { authorization: `Bearer ${client.accessToken}` };
  const page = (await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts?limit=3`, headers: auth })).json();
  t.same(page.page_info, { count: 3, total_count: 7, start_cursor: ids[0], end_cursor: ids[2] });
  t.same(Object.keys(page), ['data', 'page_info']);
  const account = page.data[0];
  t.same(Object.keys(account).sort(), [
    'app',
    'authorized_scopes',
    'created_at',
    'dead',
    'error',
    'expires_at',
    'external_id',
    'healthy',
    'id',
    'last_refreshed_at',
    'last_used_at',
    'name',
    'next_refresh_at',
    'updated_at',
  ]);
  t.hasStrict(account, { id: ids[0], name: 'alice@example.com', external_id: 'alice', healthy: true, dead: false, authorized_scopes: ['read'], error: null });
  t.hasStrict(account.app, {
    id: 'app_fakeauth',
    name_slug: 'fakeauth',
    name: 'Test fakeauth',
    auth_type: 'oauth',
    custom_fields_json: '[]',
    categories: [],
    scope_profiles: [],
  });
  await t.test('the account carries the app exactly as /v1/connect/apps shows it', async (t) => {
    const listed = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/fakeauth', headers: auth });
    t.equal(listed.statusCode, 200);
    // A todo assertion still runs (a todo subtest would not): its diff shows until the views are one.
    t.same(account.app, listed.json().data, 'one app view', { todo: 'two app views (issue 8, core branch)' });
  });
  const before = (
    await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts?limit=2&before=${ids[2]}`, headers: auth })
  ).json();
  t.same(
    before.data.map((a: { id: string }) => a.id),
    [ids[0], ids[1]],
    'before goes back',
  );
  for (const bad of ['limit=0', 'limit=101', 'after=nope', "app=x'%20or%201=1", 'include_credentials=maybe', 'extra=1']) {
    t.equal((await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts?${bad}`, headers: auth })).statusCode, 400, bad);
  }

  // Retrieve: a bare object; credentials only when asked.
  const one = await pd.accounts.retrieve(ids[0]!);
  t.equal(one.id, ids[0]);
  t.equal(one.externalId, 'alice');
  t.ok(one.createdAt instanceof Date);
  t.equal(one.credentials, undefined);
  const withCreds = await pd.accounts.retrieve(ids[0]!, { includeCredentials: true });
  t.hasStrict(withCreds.credentials, {
    oauthAccessToken: `seed-at-${ids[0]}`,
    oauthRefreshToken: 'rt-alice-0-0123456789',
    oauthClientId: 'fake-client',
    oauthUid: 'uid-1',
  });
  const keyed = await pd.accounts.retrieve(keyedId, { includeCredentials: true });
  t.same(keyed.credentials, { api_key: 'key-0123456789abcdef' }, 'a keys app returns its fields');

  // In a list, an account whose token cannot be made fresh comes without credentials (and says
  // why) instead of failing the page; the others still come with theirs.
  await testApp.database.handle.db
    .updateTable('accounts')
    .set({ dead: true, healthy: false, error: 'the provider no longer accepts the refresh token (invalid_grant); reconnect the account' })
    .where('id', '=', ids[4]!)
    .execute();
  const carolListed = await pd.accounts.list({ externalUserId: 'carol', includeCredentials: true });
  t.hasStrict(carolListed.data[0], { id: ids[4], dead: true, healthy: false });
  t.match(carolListed.data[0]?.error, /reconnect/);
  t.equal(carolListed.data[0]?.credentials, undefined, 'no (stale) credentials for a dead account');
  t.equal((await pd.accounts.list({ externalUserId: 'bob', includeCredentials: true })).data[0]?.credentials?.oauthRefreshToken, 'rt-bob-2-0123456789');
  const deadRetrieve = await testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/accounts/${ids[4]}?include_credentials=true`,
    headers: auth,
  });
  t.equal(deadRetrieve.statusCode, 409, 'retrieving it says: reconnect');

  // One user's accounts: a bare array (the SDK throws on an envelope).
  const alice = await pd.accounts.listByExternalUser('alice', { includeCredentials: true });
  t.same(
    alice.map((a) => a.id),
    [ids[0], ids[1], otherId],
  );
  t.ok(alice.every((a) => a.credentials?.oauthAccessToken !== undefined));
  const raw = await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users/alice/accounts?app=fakeauth`, headers: auth });
  t.ok(Array.isArray(raw.json()));
  t.equal(raw.json().length, 2);
  t.same((await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users/nobody/accounts`, headers: auth })).json(), []);

  // Delete one: revoked at the provider with the client's authentication, then gone.
  await pd.accounts.delete(ids[0]!);
  t.same(provider.revocations.at(-1), { token: 'rt-alice-0-0123456789', hint: 'refresh_token', authorized: true });
  t.notOk(provider.isValidRefreshToken('rt-alice-0-0123456789'), 'the provider revoked it');
  t.equal((await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts/${ids[0]}`, headers: auth })).statusCode, 404);
  t.equal((await testApp.app.server.inject({ method: 'DELETE', url: `/v1/connect/${client.projectId}/accounts/${ids[0]}`, headers: auth })).statusCode, 404);

  // A failed revocation is logged (without the token) and the account is deleted anyway.
  provider.revokeStatus = 500;
  const revocations = provider.revocations.length;
  await pd.accounts.delete(ids[1]!);
  t.equal(provider.revocations.length, revocations + 1, 'tried once (500 is not retryable)');
  t.equal((await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts/${ids[1]}`, headers: auth })).statusCode, 404);
  t.match(testApp.logs(), /revocation at the provider failed/);
  t.notMatch(testApp.logs(), /rt-alice-1-0123456789/);
  provider.revokeStatus = 200;

  // Delete by app; deleting a user revokes their remaining accounts too.
  await pd.accounts.deleteByApp('otherauth');
  t.equal((await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts/${otherId}`, headers: auth })).statusCode, 404);
  t.equal((await testApp.app.server.inject({ method: 'DELETE', url: `/v1/connect/${client.projectId}/apps/nothing/accounts`, headers: auth })).statusCode, 204);
  await pd.users.deleteExternalUser('bob');
  t.same(
    provider.revocations
      .slice(-2)
      .map((r) => r.token)
      .sort(),
    ['rt-bob-2-0123456789', 'rt-bob-3-0123456789'],
    "the user's accounts were revoked",
  );
  const remaining: string[] = [];
  for await (const a of await pd.accounts.list({})) remaining.push(a.id);
  t.same(remaining, [ids[4]]);
});

t.test('scopes, projects and environments', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  const { testApp, client } = seeded;
  const server = testApp.app.server;
  const id = await seedAccount(seeded, { appSlug: 'fakeauth' });
  const devId = await seedAccount(seeded, { appSlug: 'fakeauth', environment: 'development' });
  const url = (accountId: string, query = '') => `/v1/connect/${client.projectId}/accounts/${accountId}${query}`;

  // createProjectClient makes a second project: its client must not see project A's accounts.
  const readOnly = await createProjectClient(testApp, ['connect:accounts:read']);
  const readerHeaders = { authorization: `Bearer ${readOnly.accessToken}` };
  t.equal((await server.inject({ method: 'GET', url: url(id), headers: readerHeaders })).statusCode, 404, 'another project: 404, not 403');
  const projectB = await server.inject({ method: 'GET', url: `/v1/connect/${readOnly.projectId}/accounts`, headers: readerHeaders });
  t.equal(projectB.json().data.length, 0, "project B does not see project A's accounts");

  const headers = { authorization: `Bearer ${client.accessToken}` };
  t.equal((await server.inject({ method: 'GET', url: url(devId), headers })).statusCode, 404, 'production does not see development');
  t.equal((await server.inject({ method: 'GET', url: url(devId), headers: { ...headers, 'x-pd-environment': 'development' } })).statusCode, 200);
  t.equal((await server.inject({ method: 'GET', url: url(id), headers: { ...headers, 'x-pd-environment': 'development' } })).statusCode, 404);
  t.equal((await server.inject({ method: 'GET', url: url('apn_unknown1'), headers })).statusCode, 404);
  t.equal((await server.inject({ method: 'GET', url: url(id) })).statusCode, 401);

  // A client limited to connect:accounts:read in the same project sees accounts, not secrets.
  const limited = await createClient(testApp.database.handle.db, client.projectId, { scopes: ['connect:accounts:read'] });
  const tokenRes = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: limited.client_id, client_secret: limited.client_secret },
  });
  const limitedHeaders = { authorization: `Bearer ${tokenRes.json().access_token}` };
  t.equal((await server.inject({ method: 'GET', url: url(id), headers: limitedHeaders })).statusCode, 200);
  const refused = await server.inject({ method: 'GET', url: url(id, '?include_credentials=true'), headers: limitedHeaders });
  t.equal(refused.statusCode, 403);
  t.match(refused.json().error.message, /connect:credentials:read/);
  t.equal(
    (await server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts?include_credentials=true`, headers: limitedHeaders })).statusCode,
    403,
  );
  t.equal((await server.inject({ method: 'DELETE', url: url(id), headers: limitedHeaders })).statusCode, 403, 'deletes need connect:accounts:write');
  t.equal((await storedTokens(seeded, id)).row.id, id, 'nothing deleted');

  // Every credential read is audited (and the refusal too), never with the secret.
  await testApp.app.auditLog.flush();
  const audit = await testApp.database.handle.db
    .selectFrom('audit_log')
    .selectAll()
    .where('account_id', '=', id)
    .where('action', '=', 'credentials.read')
    .execute();
  t.same(
    audit.map((row) => row.result),
    ['denied'],
    'the refused read is in the audit log',
  );
  t.notMatch(JSON.stringify(audit), /seed-at-|seed-rt-/);
});

t.test('the credential hot path: one primary-key SELECT, no write', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const base = await createTestDatabase();
  t.teardown(() => base.close());
  const statements: string[] = [];
  const counter: KyselyPlugin = {
    transformQuery: (args) => {
      statements.push(describeStatement(args.node));
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  const database = { ...base, handle: { ...base.handle, db: base.handle.db.withPlugin(counter) } };
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    // No timer flush while the 25 reads run, however slow the machine: only the batch size or flush() writes.
    app: { database, tuning: { auditFlushIntervalMs: 60_000, accountUsageFlushIntervalMs: 60_000 } },
  });
  const id = await seedAccount(seeded, { appSlug: 'fakeauth', expiresInSeconds: 3600 });
  const server = seeded.testApp.app.server;
  const fetchOnce = () =>
    server.inject({
      method: 'GET',
      url: `/v1/connect/${seeded.client.projectId}/accounts/${id}?include_credentials=true`,
      headers: { authorization: `Bearer ${seeded.client.accessToken}` },
    });
  t.equal((await fetchOnce()).statusCode, 200, 'warm-up (loads the data key once)');
  await seeded.testApp.app.auditLog.flush();

  statements.length = 0;
  const requests = 25;
  for (let i = 0; i < requests; i++) t.equal((await fetchOnce()).statusCode, 200);
  const duringRequests = [...statements];
  await seeded.testApp.app.auditLog.flush();
  const withAudit = [...statements];

  const writes = duringRequests.filter((s) => !s.startsWith('select'));
  t.same(
    writes.filter((s) => s !== 'insert audit_log'),
    [],
    'no write on the hot path',
  );
  t.equal(duringRequests.filter((s) => s === 'select accounts').length, requests, 'one account SELECT per request');
  t.ok(
    duringRequests.filter((s) => s === 'select accounts' || s === 'select api_access_tokens').length ===
      duringRequests.filter((s) => s.startsWith('select')).length,
    'no other reads (access tokens are cached, the data key too)',
  );
  const auditInserts = withAudit.filter((s) => s === 'insert audit_log').length;
  t.ok(auditInserts >= 1 && auditInserts <= 3, `audit entries are batched (${auditInserts} inserts for ${requests} reads)`);
  statements.length = 0;
  await seeded.testApp.app.accountUsage.flush();
  t.same(statements, ['update'], 'last_used_at: one batched UPDATE for all the reads, after them');
  t.equal(provider.calls.length, 0, 'no refresh');
});

/** `select accounts`, `insert audit_log`, … from a Kysely operation node. */
function describeStatement(node: RootOperationNode): string {
  const json = JSON.stringify(node);
  if (node.kind === 'RawNode') {
    // SQL written out: its verb, and the table of an `insert into <table>` (the audit batch).
    const words = node.sqlFragments.join(' ').trim().toLowerCase().split(/\s+/);
    return words[0] === 'insert' && words[1] === 'into' ? `insert ${words[2]}` : (words[0] ?? 'raw');
  }
  const table = /"kind":"TableNode","table":\{"kind":"SchemableIdentifierNode","identifier":\{"kind":"IdentifierNode","name":"(\w+)"/.exec(json)?.[1] ?? '?';
  const verb = { SelectQueryNode: 'select', InsertQueryNode: 'insert', UpdateQueryNode: 'update', DeleteQueryNode: 'delete' }[node.kind as string] ?? node.kind;
  return `${verb} ${table}`;
}

t.test('recently opened credentials are reused only while the ciphertexts are unchanged', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  const vault = seeded.testApp.app.vault;
  const db = seeded.testApp.database.handle.db;
  let clock = 1_000_000;
  let opens = 0;
  // Counts every ciphertext opened through the vault (each account has two).
  const countingVault: SecretOpener = {
    open: (context, sealed) => {
      opens += 1;
      return vault.open(context, sealed);
    },
  };
  const recent = new RecentCredentials(countingVault, 60_000, 2, () => clock);
  const id = await seedAccount(seeded, { appSlug: 'fakeauth', accessToken: 'at-first-0123456789', refreshToken: 'rt-first-0123456789' });
  const first = await recent.open(await accountRow(seeded, id));
  t.equal(first.values['oauth_access_token'], 'at-first-0123456789');
  t.equal(opens, 2, 'credentials and refresh token opened');
  const again = await recent.open(await accountRow(seeded, id));
  t.equal(again, first, 'same bytes: reused');
  t.equal(opens, 2);
  t.ok(Object.isFrozen(again.values), 'callers cannot alter the shared values');

  // A rewrite of the ciphertext (a refresh, a reconnect) is seen at once.
  await replaceAccountCredentials(
    db,
    id,
    await sealReplacement(
      vault,
      { id, projectId: seeded.client.projectId, environment: 'production' },
      {
        credentials: { oauth_access_token: 'at-second-0123456789' },
        refreshToken: 'rt-second-0123456789',
        authorizedScopes: ['read'],
        expiresAt: null,
      },
    ),
  );
  const changed = await recent.open(await accountRow(seeded, id));
  t.same(changed, { values: { oauth_access_token: 'at-second-0123456789' }, refreshToken: 'rt-second-0123456789' });
  t.equal(opens, 4);

  // A ciphertext copied in from another account is not served from the reuse (and fails to open).
  const other = await seedAccount(seeded, { appSlug: 'fakeauth' });
  const row = await accountRow(seeded, id);
  const foreign = await accountRow(seeded, other);
  await t.rejects(recent.open({ ...row, credentials_enc: foreign.credentials_enc }), { code: 'credential_unreadable' });

  // Bounded in age and size.
  clock += 60_001;
  await recent.open(await accountRow(seeded, id));
  t.equal(opens, 7, 'reopened after the time-to-live (plus the failed foreign open)');
  await recent.open(await accountRow(seeded, other));
  const third = await seedAccount(seeded, { appSlug: 'fakeauth' });
  await recent.open(await accountRow(seeded, third));
  t.equal(recent.size, 2, 'the oldest entry made room');
  recent.forget(third);
  t.equal(recent.size, 1);
});
