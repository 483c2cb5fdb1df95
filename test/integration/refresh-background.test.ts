// The background refresher: claims due accounts (SKIP LOCKED + lease in one statement), renews
// them before the request path would see them stale, shares the work between replicas, handles
// each account at most once per round, and keeps idle refresh tokens alive. Each test runs on a
// database of its own: a round claims every due account in it.
import t from 'tap';
import { sql } from 'kysely';
import { ACCOUNT_FAILURE_TEXTS } from '../../src/accounts/refresh-outcome.ts';
import { buildTestApp } from '../fixtures/app.ts';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { accountRow, oauthTestApp, outboxEvents, seedAccount, seedProject, setProjectWebhook, storedTokens } from '../fixtures/refresh-seed.ts';

t.test('rounds refresh what is due, once, and move next_refresh_at ahead with jitter', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true },
  });
  await setProjectWebhook(seeded);
  const db = seeded.testApp.database.handle.db;
  const job = seeded.testApp.app.jobs.find((j) => j.name === 'token-refresher');
  t.ok(job, 'the app schedules the refresher as a background job');
  const refresher = seeded.testApp.app.tokenRefresher;
  t.equal(refresher, job, 'the same job');

  const grant = (id: string) => {
    const token = `rt-${id}-0123456789`;
    provider.grant(token);
    return token;
  };
  // Expiring in 200 s: inside the 300 s margin, so due now.
  const due = [];
  for (let i = 0; i < 3; i++) due.push(await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant(`due${i}`), expiresInSeconds: 200 }));
  const later = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant('later'), expiresInSeconds: 3 * 3600 });
  const dead = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant('dead'), expiresInSeconds: 200 });
  await db.updateTable('accounts').set({ dead: true, healthy: false }).where('id', '=', dead).execute();
  const backingOff = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant('backoff'), expiresInSeconds: 200 });
  await db
    .updateTable('accounts')
    .set({ refresh_backoff_until: sql`now() + interval '1 minute'`, refresh_failures: 1 })
    .where('id', '=', backingOff)
    .execute();
  const leasedElsewhere = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant('leased'), expiresInSeconds: 200 });
  await db
    .updateTable('accounts')
    .set({ refresh_lease_owner: 'other', refresh_lease_until: sql`now() + interval '1 minute'`, refresh_attempt_id: 'other:1' })
    .where('id', '=', leasedElsewhere)
    .execute();

  const report = await refresher.runRefreshRound();
  t.same(report, { claimed: 3, refreshed: 3, failed: 0 });
  t.equal(provider.calls.length, 3);
  t.same(
    new Set(provider.calls.map((c) => c.refreshToken)),
    new Set(['rt-due0-0123456789', 'rt-due1-0123456789', 'rt-due2-0123456789']),
    'exactly the due accounts, each once',
  );
  for (const id of due) {
    const row = await accountRow(seeded, id);
    const expires = row.expires_at!.getTime();
    t.equal(String(row.credentials_version), '2');
    t.ok(row.next_refresh_at!.getTime() <= expires - 300_000, 'before the margin');
    t.ok(row.next_refresh_at!.getTime() >= expires - 360_000, 'at most a minute of jitter');
    t.equal(row.refresh_lease_owner, null);
  }
  const nextTimes = new Set(await Promise.all(due.map(async (id) => (await accountRow(seeded, id)).next_refresh_at!.getTime())));
  t.ok(nextTimes.size > 1, 'jitter spreads the next refreshes');
  t.equal(String((await accountRow(seeded, later)).credentials_version), '1', 'not yet due');
  t.equal((await accountRow(seeded, leasedElsewhere)).refresh_lease_owner, 'other', 'a leased account is left alone');

  t.same(await refresher.runRefreshRound(), { claimed: 0, refreshed: 0, failed: 0 }, 'nothing due any more');
  t.equal(provider.calls.length, 3);

  // Failures are recorded on the account, not thrown out of the round.
  const failing = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: grant('failing'), expiresInSeconds: 200 });
  provider.queue.push('status500');
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 0, failed: 1 });
  const failed = await accountRow(seeded, failing);
  t.equal(failed.healthy, false);
  t.ok(failed.next_refresh_at!.getTime() === failed.refresh_backoff_until!.getTime(), 'retried after the backoff');
  t.same(await refresher.runRefreshRound(), { claimed: 0, refreshed: 0, failed: 0 }, 'not retried inside the backoff');

  // No refresh token: kept until expiry, then dead (and told) by the refresher.
  const noRefresh = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: null, expiresInSeconds: 200 });
  await refresher.runRefreshRound();
  const waiting = await accountRow(seeded, noRefresh);
  t.equal(waiting.dead, false);
  t.equal(waiting.next_refresh_at?.getTime(), waiting.expires_at?.getTime(), 'looked at again when it expires');
  await db
    .updateTable('accounts')
    .set({ expires_at: sql`now() - interval '1 second'`, next_refresh_at: sql`now() - interval '1 second'` })
    .where('id', '=', noRefresh)
    .execute();
  await refresher.runRefreshRound();
  t.equal((await accountRow(seeded, noRefresh)).error, ACCOUNT_FAILURE_TEXTS.expired_without_refresh_token);
  t.equal((await accountRow(seeded, noRefresh)).error_code, 'expired_without_refresh_token');
  t.ok((await outboxEvents(seeded)).some((e) => e.event === 'ACCOUNT_DEAD' && (e.payload['account'] as { id: string }).id === noRefresh));
});

t.test('an account is refreshed at most once per round, even when it is due again at once', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  provider.expiresIn = 1;
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true },
  });
  provider.grant('rt-short-lived-0123456789');
  const id = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: 'rt-short-lived-0123456789', expiresInSeconds: 1 });
  const refresher = seeded.testApp.app.tokenRefresher;
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 1, failed: 0 });
  t.ok((await accountRow(seeded, id)).next_refresh_at!.getTime() < Date.now() + 60_000, 'due again within the lookahead');
  t.equal(provider.calls.length, 1, 'but not refreshed twice in the round');
});

t.test('replicas share the work: each due account is refreshed exactly once', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base)],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true },
  });
  const tuning = { background: { concurrency: 2 } };
  const replicaA = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry, tuning });
  const replicaB = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry, tuning });
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    provider.grant(`rt-shared-${i}-0123456789`);
    ids.push(await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken: `rt-shared-${i}-0123456789`, expiresInSeconds: 60 }));
  }
  provider.defaultBehaviour = 'rotate';
  // Slow answers so both replicas' rounds overlap.
  for (let i = 0; i < 12; i++) provider.queue.push({ delayMs: 40, then: 'rotate' });
  const a = replicaA.app.tokenRefresher;
  const b = replicaB.app.tokenRefresher;
  const [ra, rb] = await Promise.all([a.runRefreshRound(), b.runRefreshRound()]);
  t.equal(ra.claimed + rb.claimed, 12, `the work was split (${ra.claimed} + ${rb.claimed})`);
  t.equal(provider.calls.length, 12, 'one provider call per account');
  t.equal(new Set(provider.calls.map((c) => c.refreshToken)).size, 12, 'no account twice');
  for (const id of ids) {
    const stored = await storedTokens(seeded, id);
    t.ok(provider.isValidRefreshToken(stored.refreshToken!), 'the stored refresh token is the live one');
  }
});

t.test('keep-alive: idle refresh tokens are used before half their idle lifetime', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  provider.expiresIn = null;
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('idleauth', provider.base, { refresh_token_idle_ttl_seconds: 7200 })],
    oauthApp: { slug: 'idleauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
    app: { privateDatabase: true },
  });
  provider.grant('rt-idle-0123456789');
  const id = await seedAccount(seeded, { appSlug: 'idleauth', refreshToken: 'rt-idle-0123456789', expiresInSeconds: null });
  const db = seeded.testApp.database.handle.db;
  await db
    .updateTable('accounts')
    .set({ next_refresh_at: sql`now() - interval '1 second'` })
    .where('id', '=', id)
    .execute();
  const refresher = seeded.testApp.app.tokenRefresher;
  t.same(await refresher.runRefreshRound(), { claimed: 1, refreshed: 1, failed: 0 });
  const row = await accountRow(seeded, id);
  t.equal(row.expires_at, null, 'the provider sent no expiry');
  const inSeconds = (row.next_refresh_at!.getTime() - Date.now()) / 1000;
  t.ok(inSeconds > 3500 && inSeconds <= 3600, `next keep-alive at ttl/2 (${Math.round(inSeconds)} s)`);
});
