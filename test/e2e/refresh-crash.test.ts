// kill -9 of a latchkey process while its refresh is at the provider. The provider rotates the
// token but the answer dies with the process; the provider (like Cognito or Auth0 within their
// reuse window) still honours the old refresh token. After the lease expires, the next request
// (another process) sees the interrupted attempt, retries once with the old token and succeeds:
// no account is declared dead that the provider still honours, with exactly one extra call.
// PostgreSQL only (the crashed process and its successor share the database).
import t from 'tap';
import { sql } from 'kysely';
import { createOAuthApp } from '../../src/oauth-apps/oauth-apps.service.ts';
import { loadRegistry } from '../../src/registry/loader.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';
import { createTestDatabase, usingPostgres } from '../fixtures/database.ts';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { registryDir, startLatchkey } from '../fixtures/refresh-process.ts';
import { accountRow, seedAccount, storedTokens, type Seeded } from '../fixtures/refresh-seed.ts';

const skip = usingPostgres() ? false : 'needs LATCHKEY_TEST_DATABASE_URL: the crashed process and its successor share a PostgreSQL';

t.test('kill -9 mid-refresh: the next process retries once with the old token and recovers', { skip }, async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  provider.graceOldTokens = true;
  const dir = await registryDir(t, [
    {
      slug: 'fakeauth',
      name: 'Fake',
      auth_type: 'oauth',
      oauth: { authorize_url: `${provider.base}/auth`, token_url: provider.tokenUrl, scopes: ['read'], rotates_refresh_token: true },
    },
  ]);
  const registry = await loadRegistry({ dirs: [dir], insecureLoopback: true });
  const seeder = await buildTestApp(t, { database, registry });
  const client = await createProjectClient(seeder);
  const oauthApp = await createOAuthApp({ db: database.handle.db, vault: seeder.app.vault, registry, publicUrl: seeder.config.publicUrl }, client.projectId, {
    app: 'fakeauth',
    client_id: provider.clientId,
    client_secret: provider.clientSecret,
  });
  const seeded = { testApp: seeder, client, oauthAppId: oauthApp.id, registry } as Seeded;
  provider.grant('rt-before-crash-0123456789');
  const id = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: 'rt-before-crash-0123456789', expiresInSeconds: -30 });
  const retrieve = (base: string) =>
    fetch(`${base}/v1/connect/${client.projectId}/accounts/${id}?include_credentials=true`, { headers: { authorization: `Bearer ${client.accessToken}` } });

  const first = await startLatchkey(t, { databaseUrl: database.url!, registryDir: dir });
  let answer: () => void = () => {};
  provider.queue.push({ gate: new Promise<void>((resolve) => (answer = resolve)), then: 'rotate' });
  const doomed = retrieve(first.url).catch((err: unknown) => err);
  await provider.waitForCalls(1);
  const during = await accountRow(seeded, id);
  t.match(during.refresh_lease_owner, new RegExp(`:${first.child.pid}:`), 'the first process holds the lease');
  t.ok(during.refresh_attempt_id !== null && during.refresh_attempt_started_at !== null, 'the attempt was recorded before the provider call');

  await first.kill9();
  t.ok((await doomed) instanceof Error, 'the request died with the process');
  answer(); // The provider rotates; nobody hears the answer.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(provider.wasRotated('rt-before-crash-0123456789'), 'the provider rotated the token');
  t.ok(provider.isValidRefreshToken('rt-before-crash-0123456789'), 'but still honours the old one (reuse window)');

  const orphan = await accountRow(seeded, id);
  t.equal(orphan.refresh_attempt_id, during.refresh_attempt_id, 'the interrupted attempt is still on record');
  t.equal(orphan.dead, false);
  // Time passes: the dead process's lease runs out.
  await database.handle.db
    .updateTable('accounts')
    .set({ refresh_lease_until: sql`now() - interval '1 second'` })
    .where('id', '=', id)
    .execute();

  const second = await startLatchkey(t, { databaseUrl: database.url!, registryDir: dir });
  const res = await retrieve(second.url);
  t.equal(res.status, 200, 'recovered');
  t.equal(provider.calls.length, 2, 'exactly one extra provider call');
  t.equal(provider.calls[1]?.refreshToken, 'rt-before-crash-0123456789', 'the retry used the old refresh token');
  const body = (await res.json()) as { credentials: { oauth_access_token: string } };
  t.ok(provider.isLiveAccessToken(body.credentials.oauth_access_token));
  const after = await storedTokens(seeded, id);
  t.hasStrict(after.row, { dead: false, healthy: true, error: null, refresh_attempt_id: null, refresh_lease_owner: null });
  t.ok(provider.isValidRefreshToken(after.refreshToken!), 'the stored refresh token works');
  t.not(after.refreshToken, 'rt-before-crash-0123456789');
});
