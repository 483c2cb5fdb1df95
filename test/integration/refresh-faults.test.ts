// Fresh credentials against a small fake provider: the success path, each failure class and
// the state it leaves, two "replicas" (app instances) on one database, a lease held elsewhere,
// an interrupted refresh, and a dump of the database with no token in plaintext.
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { replaceAccountCredentials } from '../../src/accounts/account.repository.ts';
import { ACCOUNT_FAILURE_TEXTS } from '../../src/accounts/refresh-outcome.ts';
import { sealReplacement } from '../../src/accounts/stored-account.ts';
import { TEST_ADMIN_TOKEN, buildTestApp } from '../fixtures/app.ts';
import { startFakeProvider, type FakeProvider } from '../fixtures/refresh-fake-provider.ts';
import {
  accountRow,
  assertNoPlaintext,
  dumpDatabase,
  oauthTestApp,
  outboxEvents,
  seedAccount,
  seedProject,
  setProjectWebhook,
  storedTokens,
  type Seeded,
} from '../fixtures/refresh-seed.ts';

interface Fixture {
  provider: FakeProvider;
  seeded: Seeded;
  /** Through the seeded app, or another replica on its database. */
  fetch(id: string, server?: FastifyInstance): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | undefined }>;
  /** `issuedSecondsAgo` backdates the token's issue time (its lifetime bounds the margin). */
  account(options?: {
    expiresInSeconds?: number | null;
    refreshToken?: string | null;
    issuedSecondsAgo?: number;
  }): Promise<{ id: string; refreshToken: string | null }>;
  /** Seeded secrets, for the plaintext scan. */
  secrets: string[];
}

async function setup(t: Test): Promise<Fixture> {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base, { revoke_url: provider.revokeUrl, rotates_refresh_token: true })],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  await setProjectWebhook(seeded);
  const server = seeded.testApp.app.server;
  const secrets: string[] = [];
  return {
    provider,
    seeded,
    secrets,
    fetch: async (id, through = server) => {
      const res = await through.inject({
        method: 'GET',
        url: `/v1/connect/${seeded.client.projectId}/accounts/${id}?include_credentials=true`,
        headers: { authorization: `Bearer ${seeded.client.accessToken}` },
      });
      return { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] as string | undefined };
    },
    account: async (options = {}) => {
      const refreshToken = options.refreshToken === undefined ? `rt-${Math.random().toString(36).slice(2)}-seed-token` : options.refreshToken;
      if (refreshToken !== null) provider.grant(refreshToken);
      const accessToken = `at-${Math.random().toString(36).slice(2)}-seed-token`;
      secrets.push(accessToken);
      const id = await seedAccount(seeded, {
        appSlug: 'fakeauth',
        refreshToken,
        accessToken,
        expiresInSeconds: options.expiresInSeconds === undefined ? -60 : options.expiresInSeconds,
      });
      if (options.issuedSecondsAgo !== undefined) {
        await seeded.testApp.database.handle.db
          .updateTable('accounts')
          .set({ created_at: new Date(Date.now() - options.issuedSecondsAgo * 1000) })
          .where('id', '=', id)
          .execute();
      }
      return { id, refreshToken };
    },
  };
}

t.test('fresh credentials and every failure class', async (t) => {
  const f = await setup(t);
  const { provider, seeded } = f;
  const calls = () => provider.calls.length;

  t.test('a fresh token is returned as is, without a provider call', async (t) => {
    const { id } = await f.account({ expiresInSeconds: 3600 });
    const before = calls();
    const res = await f.fetch(id);
    t.equal(res.status, 200);
    t.match(res.body, { id, healthy: true, dead: false, credentials: { oauth_access_token: /^at-/, oauth_refresh_token: /^rt-/ } });
    t.equal(calls(), before, 'no refresh');
  });

  t.test('an expired token is refreshed first; the rotated refresh token is stored with it', async (t) => {
    const { id, refreshToken } = await f.account();
    const before = calls();
    const res = await f.fetch(id);
    t.equal(res.status, 200);
    t.equal(calls(), before + 1, 'one refresh');
    t.equal(provider.calls.at(-1)?.refreshToken, refreshToken, 'refreshed with the stored refresh token');
    t.equal(provider.calls.at(-1)?.grantType, 'refresh_token');
    const creds = res.body['credentials'] as Record<string, string>;
    t.ok(provider.isLiveAccessToken(creds['oauth_access_token']!), 'the returned access token is one the provider issued');
    const stored = await storedTokens(seeded, id);
    t.equal(stored.accessToken, creds['oauth_access_token']);
    t.not(stored.refreshToken, refreshToken, 'the refresh token was rotated');
    t.ok(provider.isValidRefreshToken(stored.refreshToken!), 'the stored refresh token is the newest one');
    t.equal(String(stored.row.credentials_version), '2');
    t.ok(stored.row.last_refreshed_at !== null && stored.row.next_refresh_at !== null);
    t.ok(stored.row.next_refresh_at!.getTime() < stored.row.expires_at!.getTime() - 299_000, 'next refresh before the margin');
    t.equal(stored.row.refresh_lease_owner, null, 'lease released');
    t.equal(stored.row.refresh_attempt_id, null, 'attempt record cleared');
    const again = await f.fetch(id);
    t.equal(again.status, 200);
    t.equal(calls(), before + 1, 'now fresh: no second refresh');
  });

  t.test('200 without refresh_token keeps the stored one', async (t) => {
    const { id, refreshToken } = await f.account();
    provider.queue.push('keep');
    const res = await f.fetch(id);
    t.equal(res.status, 200);
    const stored = await storedTokens(seeded, id);
    t.equal(stored.refreshToken, refreshToken, 'old refresh token kept');
    t.not(stored.accessToken?.startsWith('at-'), true, 'new access token stored');
    t.equal((res.body['credentials'] as Record<string, string>)['oauth_refresh_token'], refreshToken);
  });

  for (const [behaviour, label] of [
    ['status500', 'a 500'],
    ['html', 'an HTML 200'],
    ['malformed', 'malformed JSON'],
    ['no_access_token', 'a 200 without access_token'],
  ] as const) {
    t.test(`${label} → 503 retry, unhealthy with backoff, credentials untouched`, async (t) => {
      const { id, refreshToken } = await f.account();
      const before = await accountRow(seeded, id);
      provider.queue.push(behaviour);
      const res = await f.fetch(id);
      t.equal(res.status, 503);
      t.equal((res.body['error'] as { code: string }).code, 'provider_unavailable');
      t.match((res.body['error'] as { message: string }).message, /retry later/);
      t.notMatch((res.body['error'] as { message: string }).message, /reconnect the account/);
      t.ok(Number(res.retryAfter) >= 1, 'Retry-After');
      const after = await storedTokens(seeded, id);
      t.equal(after.row.dead, false);
      t.equal(after.row.healthy, false);
      t.equal(after.row.refresh_failures, 1);
      t.ok(after.row.refresh_backoff_until !== null && after.row.refresh_backoff_until.getTime() > Date.now());
      t.match(after.row.error, /retries automatically/);
      t.equal(String(after.row.credentials_version), String(before.credentials_version), 'credentials untouched');
      t.equal(after.refreshToken, refreshToken);
      t.equal(after.row.refresh_lease_owner, null, 'lease released');

      // Within the backoff: no provider call, the same answer.
      const count = calls();
      const retry = await f.fetch(id);
      t.equal(retry.status, 503);
      t.equal(calls(), count, 'backoff respected');

      // Listing and retrieving without credentials still works and shows the health.
      const plain = await seeded.testApp.app.server.inject({
        method: 'GET',
        url: `/v1/connect/${seeded.client.projectId}/accounts/${id}`,
        headers: { authorization: `Bearer ${seeded.client.accessToken}` },
      });
      t.hasStrict(plain.json(), { healthy: false, dead: false });
      t.notOk('credentials' in plain.json());

      // Once the provider is back, a recovery: healthy again and ACCOUNT_RECOVERED.
      await seeded.testApp.database.handle.db.updateTable('accounts').set({ refresh_backoff_until: null }).where('id', '=', id).execute();
      const recovered = await f.fetch(id);
      t.equal(recovered.status, 200);
      const row = await accountRow(seeded, id);
      t.equal(row.healthy, true);
      t.equal(row.error, null);
      t.equal(row.refresh_failures, 0);
      const events = (await outboxEvents(seeded)).filter((e) => (e.payload['account'] as { id: string }).id === id).map((e) => e.event);
      t.same(events, ['ACCOUNT_UNHEALTHY', 'ACCOUNT_RECOVERED']);
    });
  }

  t.test('timeout → 503; the attempt stays recorded because the outcome is unknown', async (t) => {
    const impatient = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry, tuning: { refresh: { providerTimeoutMs: 300 } } });
    for (const behaviour of ['hang', 'stall_body'] as const) {
      const { id } = await f.account();
      provider.queue.push(behaviour);
      const started = Date.now();
      const res = await f.fetch(id, impatient.app.server);
      t.equal(res.status, 503, behaviour);
      t.ok(Date.now() - started < 3000, 'aborted by the deadline');
      const row = await accountRow(seeded, id);
      t.equal(row.healthy, false);
      t.equal(row.dead, false);
      t.equal(row.refresh_lease_owner, null, 'lease released');
      t.not(row.refresh_attempt_id, null, 'attempt kept: the provider may have rotated');
      t.match(row.error, /timed out|could not be read/);
    }
  });

  t.test('invalid_grant → dead, ACCOUNT_DEAD, no more provider calls until a reconnect', async (t) => {
    const { id } = await f.account();
    provider.queue.push('invalid_grant');
    const res = await f.fetch(id);
    t.equal(res.status, 409);
    t.equal((res.body['error'] as { code: string }).code, 'account_dead');
    t.match((res.body['error'] as { message: string }).message, /reconnected/);
    const row = await accountRow(seeded, id);
    t.equal(row.dead, true);
    t.equal(row.healthy, false);
    t.equal(row.error, ACCOUNT_FAILURE_TEXTS.grant_revoked);
    t.equal(row.error_code, 'grant_revoked');
    t.equal(row.next_refresh_at, null);
    const dead = (await outboxEvents(seeded)).filter((e) => e.event === 'ACCOUNT_DEAD' && (e.payload['account'] as { id: string }).id === id);
    t.equal(dead.length, 1, 'ACCOUNT_DEAD enqueued once');
    t.notOk('credentials' in (dead[0]!.payload['account'] as object), 'no credentials in the webhook');

    const count = calls();
    t.equal((await f.fetch(id)).status, 409);
    const force = await seeded.testApp.app.server.inject({
      method: 'POST',
      url: `/v1/admin/projects/${seeded.client.projectId}/accounts/${id}/refresh`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    t.equal(force.json<{ error: { code: string } }>().error.code, 'account_dead', 'a forced refresh does not retry a dead account either');
    t.equal(calls(), count, 'no further provider calls');

    // A reconnect replaces the credentials and clears the state.
    provider.grant('rt-after-reconnect-0001');
    await replaceAccountCredentials(
      seeded.testApp.database.handle.db,
      id,
      await sealReplacement(
        seeded.testApp.app.vault,
        { id, projectId: seeded.client.projectId, environment: 'production' },
        {
          credentials: { oauth_access_token: 'at-after-reconnect-0001' },
          refreshToken: 'rt-after-reconnect-0001',
          authorizedScopes: ['read'],
          expiresAt: new Date(Date.now() - 1000),
        },
      ),
    );
    const back = await f.fetch(id);
    t.equal(back.status, 200);
    t.equal((await accountRow(seeded, id)).dead, false);
  });

  t.test('invalid_client → unhealthy with an operator-facing error, not dead', async (t) => {
    const { id } = await f.account();
    provider.queue.push('invalid_client');
    const res = await f.fetch(id);
    t.equal(res.status, 502);
    t.equal((res.body['error'] as { code: string }).code, 'provider_error');
    t.match((res.body['error'] as { message: string }).message, /operator/);
    const row = await accountRow(seeded, id);
    t.equal(row.dead, false);
    t.equal(row.healthy, false);
    t.equal(row.error, ACCOUNT_FAILURE_TEXTS.client_rejected);
    t.equal(row.error_code, 'client_rejected');
    const count = calls();
    const again = await f.fetch(id);
    t.equal(again.status, 502, 'still the operator error during the backoff');
    t.equal(calls(), count);
  });

  t.test('invalid_grant after a sibling rotated the token is not death', async (t) => {
    // Replica B shares the database. A's provider call is slow and its lease short, so B takes
    // over and rotates; A's call then meets invalid_grant, re-reads, and returns B's token.
    const replicaB = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry });
    const { id } = await f.account();
    // Replica A's leases are short.
    const replicaA = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry, tuning: { refresh: { leaseMs: 200 } } });
    let releaseA: () => void = () => {};
    provider.queue.push({ gate: new Promise<void>((resolve) => (releaseA = resolve)), then: 'rotate' });
    const count = calls();
    const slow = f.fetch(id, replicaA.app.server);
    await provider.waitForCalls(count + 1);
    // Let A's lease run out while its call is still with the provider.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const viaB = await replicaB.app.server.inject({
      method: 'GET',
      url: `/v1/connect/${seeded.client.projectId}/accounts/${id}?include_credentials=true`,
      headers: { authorization: `Bearer ${seeded.client.accessToken}` },
    });
    t.equal(viaB.statusCode, 200, 'replica B refreshed after A’s lease expired');
    releaseA();
    const resA = await slow;
    t.equal(resA.status, 200, 'A is not told the account is dead');
    t.equal(
      (resA.body['credentials'] as Record<string, string>)['oauth_access_token'],
      viaB.json<{ credentials: Record<string, string> }>().credentials['oauth_access_token'],
      "A returns B's token",
    );
    const row = await storedTokens(seeded, id);
    t.equal(row.row.dead, false);
    t.equal(row.row.healthy, true);
    t.ok(provider.isValidRefreshToken(row.refreshToken!), 'the stored refresh token still works');
    t.equal(calls(), count + 2);
  });

  t.test('two replicas, 40 concurrent requests: one provider call, one token for all', async (t) => {
    const replicaB = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry });
    const { id } = await f.account();
    provider.queue.push({ delayMs: 150, then: 'rotate' });
    const count = calls();
    const servers = [seeded.testApp.app.server, replicaB.app.server];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        servers[i % 2]!.inject({
          method: 'GET',
          url: `/v1/connect/${seeded.client.projectId}/accounts/${id}?include_credentials=true`,
          headers: { authorization: `Bearer ${seeded.client.accessToken}` },
        }),
      ),
    );
    t.same(
      results.map((r) => r.statusCode),
      Array(40).fill(200),
    );
    t.equal(calls(), count + 1, 'exactly one refresh');
    const tokens = new Set(results.map((r) => r.json<{ credentials: Record<string, string> }>().credentials['oauth_access_token']));
    t.equal(tokens.size, 1, 'everyone got the same token');
  });

  t.test('a lease held elsewhere past the wait limit → 503 refresh_in_progress, account untouched', async (t) => {
    const { id } = await f.account();
    const db = seeded.testApp.database.handle.db;
    await db
      .updateTable('accounts')
      .set({ refresh_lease_owner: 'other-replica', refresh_lease_until: sql`now() + interval '60 seconds'`, refresh_attempt_id: 'other-replica:1' })
      .where('id', '=', id)
      .execute();
    const before = await accountRow(seeded, id);
    const hurried = await buildTestApp(t, { database: seeded.testApp.database, registry: seeded.registry, tuning: { refresh: { waitLimitMs: 300 } } });
    const count = calls();
    const res = await f.fetch(id, hurried.app.server);
    t.equal(res.status, 503);
    t.equal((res.body['error'] as { code: string }).code, 'refresh_in_progress');
    t.ok(Number(res.retryAfter) >= 1);
    t.equal(calls(), count, 'no provider call');
    const after = await accountRow(seeded, id);
    t.same(
      { healthy: after.healthy, dead: after.dead, error: after.error, version: String(after.credentials_version), owner: after.refresh_lease_owner },
      { healthy: true, dead: false, error: null, version: String(before.credentials_version), owner: 'other-replica' },
    );
  });

  t.test('an interrupted refresh is retried once with the old token', async (t) => {
    const db = seeded.testApp.database.handle.db;
    const interrupt = async (id: string) =>
      db
        .updateTable('accounts')
        .set({
          refresh_lease_owner: 'crashed-replica',
          refresh_lease_until: sql`now() - interval '1 second'`,
          refresh_attempt_id: 'crashed-replica:attempt',
          refresh_attempt_started_at: sql`now() - interval '40 seconds'`,
        })
        .where('id', '=', id)
        .execute();

    // The crashed replica's call rotated the token at the provider, which still honours the old one.
    provider.graceOldTokens = true;
    const honoured = await f.account();
    await interrupt(honoured.id);
    const lostRotation = await (async () => {
      provider.queue.push('rotate');
      const res = await fetch(provider.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${provider.clientId}:${provider.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: honoured.refreshToken! }),
      });
      return res.json() as Promise<{ refresh_token: string }>;
    })();
    t.ok(lostRotation.refresh_token, 'the provider rotated (the answer was lost with the process)');
    const count = calls();
    const ok = await f.fetch(honoured.id);
    t.equal(ok.status, 200, 'recovered with the old refresh token');
    t.equal(calls(), count + 1);
    const row = await accountRow(seeded, honoured.id);
    t.equal(row.dead, false);
    t.equal(row.refresh_attempt_id, null);
    provider.graceOldTokens = false;

    // A strict provider: the one retry meets invalid_grant → dead, saying why, and no loop.
    const strict = await f.account();
    await interrupt(strict.id);
    provider.queue.push('invalid_grant');
    const before = calls();
    const res = await f.fetch(strict.id);
    t.equal(res.status, 409);
    t.equal(calls(), before + 1, 'exactly one retry');
    const deadRow = await accountRow(seeded, strict.id);
    t.equal(deadRow.dead, true);
    t.equal(deadRow.error, ACCOUNT_FAILURE_TEXTS.grant_lost_in_interrupted_refresh);
    t.equal(deadRow.error_code, 'grant_lost_in_interrupted_refresh');
    t.equal((await f.fetch(strict.id)).status, 409);
    t.equal(calls(), before + 1, 'never loops');
  });

  t.test('no refresh token: usable until expiry, then dead (never handed out expired)', async (t) => {
    const valid = await f.account({ refreshToken: null, expiresInSeconds: 120, issuedSecondsAgo: 3600 });
    const res = await f.fetch(valid.id);
    t.equal(res.status, 200, 'within the margin but not expired: returned');
    const expired = await f.account({ refreshToken: null, expiresInSeconds: -5 });
    const count = calls();
    const gone = await f.fetch(expired.id);
    t.equal(gone.status, 409);
    t.equal((await accountRow(seeded, expired.id)).error, ACCOUNT_FAILURE_TEXTS.expired_without_refresh_token);
    t.equal((await accountRow(seeded, expired.id)).error_code, 'expired_without_refresh_token');
    t.equal(calls(), count);
    const unknown = await f.account({ refreshToken: null, expiresInSeconds: null });
    t.equal((await f.fetch(unknown.id)).status, 200, 'unknown expiry: returned as is');
  });

  t.test('a still-valid token is returned when the refresh fails transiently', async (t) => {
    const { id } = await f.account({ expiresInSeconds: 200, issuedSecondsAgo: 3600 });
    provider.queue.push('status500');
    const res = await f.fetch(id);
    t.equal(res.status, 200);
    t.match((res.body['credentials'] as Record<string, string>)['oauth_access_token'], /^at-/, 'the current token, which still works');
    t.equal((await accountRow(seeded, id)).healthy, false);
  });

  t.test('the database holds no token in plaintext', async (t) => {
    const secrets = [...provider.issued, ...f.secrets, provider.clientSecret, seeded.client.clientSecret, seeded.client.accessToken];
    assertNoPlaintext(t, await dumpDatabase(seeded), secrets);
    t.notMatch(seeded.testApp.logs(), new RegExp(provider.issued.map((s) => s.replace(/[^\w-]/g, '')).join('|')), 'no token in the logs');
  });
});
