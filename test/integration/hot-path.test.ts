// What the performance work changed in behaviour (speed itself lives in the benchmark, never in
// a test): one log line per request with exactly its fields, the account read sent as a named
// (prepared) statement on PostgreSQL, the refresher's pool never above its concurrency, and a
// changed OAuth app secret used at once despite the refresher's client cache.
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import { findAccountById } from '../../src/accounts/account.repository.ts';
import { openPostgres } from '../../src/db/connect.ts';
import { updateProjectOAuthApp } from '../../src/oauth-apps/oauth-apps.service.ts';
import { createTestDatabase, usingPostgres } from '../fixtures/database.ts';
import type { TestApp } from '../fixtures/app.ts';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { accountRow, oauthTestApp, seedAccount, seedProject } from '../fixtures/refresh-seed.ts';

t.test('the account read is a named statement on PostgreSQL', { skip: usingPostgres() ? false : 'needs LATCHKEY_TEST_DATABASE_URL' }, async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  // One connection: the statement prepared by the read is visible to the next query.
  const handle = openPostgres(database.url!, 1);
  t.teardown(() => handle.close());
  t.equal(await findAccountById(handle.db, 'apn_missing'), undefined);
  t.equal(await findAccountById(handle.db, 'apn_missing_too'), undefined, 'a second call reuses it');
  const prepared = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(handle.db);
  t.same(
    prepared.rows.map((row) => row.name),
    ['account_by_id'],
  );
  t.equal(prepared.rows[0]?.statement, 'select * from "accounts" where "id" = $1');

  // A migration adding a column while the statement is prepared (a deploy with replicas running).
  await sql`alter table accounts add column added_by_a_later_migration integer`.execute(handle.db);
  t.equal(await findAccountById(handle.db, 'apn_missing'), undefined, 'the read still works after the table changed');
});

t.test('the refresher keeps at most its concurrency in flight and refreshes every due account once', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true, tuning: { background: { concurrency: 3 } } },
  });
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    provider.grant(`rt-pool-${i}-0123456789`);
    ids.push(await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: `rt-pool-${i}-0123456789`, expiresInSeconds: 60 }));
  }
  // Every answer waits for a gate of its own: the test decides when each call finishes.
  const releases: (() => void)[] = [];
  for (let i = 0; i < 10; i++) provider.queue.push({ gate: new Promise<void>((resolve) => releases.push(resolve)), then: 'rotate' });
  const round = seeded.testApp.app.tokenRefresher.runRefreshRound();
  const inFlight: number[] = [];
  for (let finished = 0; finished < 10; finished++) {
    await provider.waitForCalls(Math.min(finished + 3, 10));
    // A moment for a call beyond the concurrency to show up, if the pool would send one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    inFlight.push(provider.calls.length - finished);
    releases[finished]!();
  }
  t.same(await round, { claimed: 10, refreshed: 10, failed: 0 });
  t.same(inFlight, [3, 3, 3, 3, 3, 3, 3, 3, 2, 1], 'refilled as each finishes, never above the concurrency');
  t.equal(new Set(provider.calls.map((c) => c.refreshToken)).size, 10, 'each account once');
  for (const id of ids) t.equal(String((await accountRow(seeded, id)).credentials_version), '2');

  // (Here rather than in a test of its own: an app that served only this request sometimes
  // kept the PGlite test database from closing, on main too.)
  await assertOneLogLine(t, seeded.testApp);
});

t.test('a changed OAuth app secret is used by the next refresh (the client cache follows the row)', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true },
  });
  const testApp = seeded.testApp;
  const oauthDeps = { db: testApp.database.handle.db, vault: testApp.app.vault, registry: seeded.registry, publicUrl: testApp.config.publicUrl };
  const refresher = testApp.app.tokenRefresher;
  const dueAccount = async (name: string) => {
    provider.grant(`rt-${name}-0123456789`);
    return seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: `rt-${name}-0123456789`, expiresInSeconds: 60 });
  };

  await dueAccount('first');
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 1, failed: 0 }, 'the right secret: refreshed (and cached)');

  await updateProjectOAuthApp(oauthDeps, seeded.client.projectId, seeded.oauthAppId, { client_secret: 'a-rotated-secret-the-provider-does-not-know' });
  const refused = await dueAccount('second');
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 0, failed: 1 }, 'the new (wrong) secret was sent, not the cached one');
  t.equal((await accountRow(seeded, refused)).error_code, 'client_rejected');

  await updateProjectOAuthApp(oauthDeps, seeded.client.projectId, seeded.oauthAppId, { client_secret: provider.clientSecret });
  await dueAccount('third');
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 1, failed: 0 }, 'and the restored one after it');
});

/** One log line per request, built from the request serializers only. */
async function assertOneLogLine(t: Test, testApp: TestApp): Promise<void> {
  const before = testApp.logs().length;
  const response = await testApp.app.server.inject({ method: 'GET', url: '/metrics?secret=do-not-log' });
  t.equal(response.statusCode, 200);
  const lines = testApp
    .logs()
    .slice(before)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  t.same(
    lines.map((line) => line['msg']),
    ['request completed'],
    'no "incoming request" line',
  );
  const [line] = lines;
  t.equal(line?.['reqId'], response.headers['x-request-id']);
  t.same(line?.['req'], { id: response.headers['x-request-id'], method: 'GET', url: '/metrics', ip: '127.0.0.1' }, 'path only, no query string');
  t.same(line?.['res'], { statusCode: 200 });
  t.type(line?.['responseTime'], 'number');
}
