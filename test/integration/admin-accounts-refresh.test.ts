// POST /v1/admin/projects/{project_id}/accounts/{account_id}/refresh through the real refresh
// engine against the small fake provider (for the 500 a real server will not produce on demand):
// success, provider down → 503, invalid_grant → 409 account_dead, dead stays dead, key apps → 409.
import t from 'tap';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { accountRow, keysTestApp, oauthTestApp, seedAccount, seedProject, storedTokens } from '../fixtures/refresh-seed.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

t.test('force refresh maps the engine outcomes to the catalogue and audits each', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base, { rotates_refresh_token: true }), keysTestApp('keyed')],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  const server = seeded.testApp.app.server;
  const projectId = seeded.client.projectId;
  const refresh = (id: string) => server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/accounts/${id}/refresh`, headers: admin });
  const account = async (): Promise<{ id: string; refreshToken: string }> => {
    const refreshToken = `rt-${Math.random().toString(36).slice(2)}-admin`;
    provider.grant(refreshToken);
    // Fresh for another hour: only a forced refresh calls the provider.
    const id = await seedAccount(seeded, { appSlug: 'fakeauth', refreshToken, expiresInSeconds: 3600 });
    return { id, refreshToken };
  };

  // Success: the provider is called although the token is fresh; the answer is the admin view.
  const ok = await account();
  const before = provider.calls.length;
  const res = await refresh(ok.id);
  t.equal(res.statusCode, 200);
  t.equal(provider.calls.length, before + 1, 'one refresh request reached the provider');
  t.hasStrict(res.json(), { id: ok.id, healthy: true, dead: false, error: null, app_slug: 'fakeauth' });
  t.ok(res.json().last_refreshed_at !== null);
  t.notMatch(res.body, /credentials|oauth_access_token|rt-/, 'no credential in the answer');
  const stored = await storedTokens(seeded, ok.id);
  t.not(stored.refreshToken, ok.refreshToken);
  t.ok(provider.isValidRefreshToken(stored.refreshToken!), 'the rotated refresh token is stored');

  // Provider down: 503 that says retry, the account kept (unhealthy, not dead).
  const down = await account();
  provider.queue.push('status500');
  const unavailable = await refresh(down.id);
  t.equal(unavailable.statusCode, 503);
  t.equal(unavailable.json().error.code, 'provider_unavailable');
  t.hasStrict((await accountRow(seeded, down.id)) as object, { healthy: false, dead: false });

  // invalid_grant: 409 account_dead; the account is dead and a second force stays 409 without a call.
  const revoked = await account();
  provider.queue.push('invalid_grant');
  const dead = await refresh(revoked.id);
  t.equal(dead.statusCode, 409);
  t.equal(dead.json().error.code, 'account_dead');
  t.hasStrict((await accountRow(seeded, revoked.id)) as object, { dead: true });
  const callsAfterDeath = provider.calls.length;
  const again = await refresh(revoked.id);
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'account_dead');
  t.equal(provider.calls.length, callsAfterDeath, 'a dead account is not retried');

  // A key-based account has nothing to refresh.
  const keyed = await seedAccount(seeded, {
    appSlug: 'keyed',
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
    credentials: { api_key: 'k-123' },
  });
  const conflict = await refresh(keyed);
  t.equal(conflict.statusCode, 409);
  t.equal(conflict.json().error.code, 'conflict');
  t.equal((await refresh('apn_nope')).statusCode, 404);

  const audit = await server.inject({ method: 'GET', url: `/v1/admin/audit?project_id=${projectId}&action=account.refresh&limit=100`, headers: admin });
  const results = audit.json<{ data: { account_id: string; result: string; actor: string }[] }>().data.map((e) => [e.account_id, e.result]);
  t.same(results.reverse(), [
    [ok.id, 'ok'],
    [down.id, 'unavailable'],
    [revoked.id, 'conflict'],
    [revoked.id, 'conflict'],
    [keyed, 'conflict'],
    ['apn_nope', 'not_found'],
  ]);
  t.notMatch(audit.body, /rt-|seed-at-|k-123/, 'no secret in the audit log');
});
