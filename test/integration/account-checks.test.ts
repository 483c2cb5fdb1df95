// Testing an account (POST …/accounts/{id}/test) and the scheduled health check of key-based
// accounts: a key revoked at the provider (a fake API whose valid keys the test controls) turns
// the account unhealthy within one round, with ACCOUNT_UNHEALTHY delivered and signed; restoring
// the key recovers it with ACCOUNT_RECOVERED. The schedule is the claim: replicas never check
// the same account in one round, and accounts drift apart (±10 % of the interval).
import t from 'tap';
import { claimDueAccountChecks } from '../../src/accounts/account-check.repository.ts';
import { ACCOUNT_FAILURE_TEXTS } from '../../src/accounts/refresh-outcome.ts';
import { deliverDueWebhooks } from '../../src/webhooks/delivery.ts';
import { normalizeApp } from '../../src/registry/normalize.ts';
import { createProjectClient } from '../fixtures/app.ts';
import { seedAccount, seedProject } from '../fixtures/refresh-seed.ts';
import { callback, connectProject, postForm, startConnectServices, startOAuth, startServer, type ConnectEnv } from '../fixtures/connect-env.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';
import { startWebhookReceiver, verifyStandardWebhook } from '../fixtures/webhook-receiver.ts';

const validKeys = new Set<string>();
const providerApi = await startServer(t, (req, res) => {
  const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const ok = req.path === '/me' && key !== undefined && validKeys.has(key);
  res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify(ok ? { ok: true, email: 'someone@example.com' } : { ok: false }));
});

const services = await startConnectServices(t, {
  privateDatabase: true,
  // Every round finds every account due again, so one test can run several rounds.
  tuning: { accountChecks: { intervalSeconds: 0 } },
  extraApps: () => [
    {
      slug: 'keys-revocable',
      name: 'Keys Revocable',
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'API key', secret: true }],
      api: { base_url: providerApi.origin, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      test_request: { url: `${providerApi.origin}/me`, success_path: 'ok' },
    },
    {
      slug: 'keys-untested',
      name: 'Keys Untested',
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'API key', secret: true }],
      api: { base_url: providerApi.origin, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
    },
  ],
});
const { db } = services.testApp.database.handle;

async function connectKey(env: ConnectEnv, app: string, key: string): Promise<string> {
  const token = await env.mint();
  const res = await postForm(env, '/connect/keys', { token, app, f_api_key: key });
  if (res.status !== 303) throw new Error(`keys connect answered ${res.status}`);
  return (await env.pd.accounts.list({ app })).data[0]!.id;
}

function testAccount(env: ConnectEnv, accountId: string, query = '', accessToken = env.client.accessToken) {
  return env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${env.client.projectId}/accounts/${accountId}/test${query}`,
    headers: { authorization: `Bearer ${accessToken}`, 'x-pd-environment': 'development' },
  });
}

const deliver = () => deliverDueWebhooks({ db, vault: services.testApp.app.vault, egress: services.testApp.app.egress });

t.test('a revoked key turns the account unhealthy within one scheduled round; restoring it recovers', async (t) => {
  const env = await connectProject(services);
  const key = 'key-revocable-0001';
  validKeys.add(key);
  const accountId = await connectKey(env, 'keys-revocable', key);
  await deliver(); // the connect token's CONNECTION_SUCCESS
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const signingKey = (await env.pd.projectEnvironment.updateWebhook({ url: receiver.url })).data.signingKey!;
  const checks = env.testApp.app.accountChecks;

  t.same(await checks.runOnce(), { claimed: 1, ok: 1, failed: 0, skipped: 0 }, 'a good key passes');
  t.same(await deliver(), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'healthy stays healthy: no event');

  validKeys.delete(key);
  t.same(await checks.runOnce(), { claimed: 1, ok: 0, failed: 1, skipped: 0 }, 'the revoked key fails');
  const unhealthy = await env.pd.accounts.retrieve(accountId);
  t.equal(unhealthy.healthy, false);
  t.equal(unhealthy.dead, false, 'a failed check is not a dead grant: the key may come back');
  t.equal(unhealthy.error, `${ACCOUNT_FAILURE_TEXTS.test_request_failed} (status 401)`);
  const row = await db.selectFrom('accounts').select(['error_code', 'last_checked_at']).where('id', '=', accountId).executeTakeFirstOrThrow();
  t.equal(row.error_code, 'test_request_failed');
  t.ok(row.last_checked_at instanceof Date);

  t.same(await deliver(), { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 });
  const unhealthyEvent = receiver.received.at(-1)!;
  t.equal(unhealthyEvent.json['event'], 'ACCOUNT_UNHEALTHY');
  t.hasStrict(unhealthyEvent.json, { environment: 'development', account: { id: accountId, healthy: false, app: { name_slug: 'keys-revocable' } } });
  t.ok(verifyStandardWebhook(unhealthyEvent, signingKey), 'signed with the environment key');
  t.notOk(unhealthyEvent.body.includes(key), 'no credential in the webhook');
  t.notOk('credentials' in (unhealthyEvent.json['account'] as object));

  t.same(await checks.runOnce(), { claimed: 1, ok: 0, failed: 1, skipped: 0 }, 'still revoked');
  t.same(await deliver(), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'unhealthy stays unhealthy: no second event');

  validKeys.add(key);
  t.same(await checks.runOnce(), { claimed: 1, ok: 1, failed: 0, skipped: 0 }, 'the restored key passes');
  const recovered = await env.pd.accounts.retrieve(accountId);
  t.equal(recovered.healthy, true);
  t.equal(recovered.error ?? null, null);
  t.same(await deliver(), { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 });
  const recoveredEvent = receiver.received.at(-1)!;
  t.equal(recoveredEvent.json['event'], 'ACCOUNT_RECOVERED');
  t.hasStrict(recoveredEvent.json, { account: { id: accountId, healthy: true } });
  t.ok(verifyStandardWebhook(recoveredEvent, signingKey));
  t.equal(receiver.received.length, 2, 'exactly the two health changes were sent');
  t.notOk(env.testApp.logs().includes(key), 'the key is in no log line');
});

t.test('POST …/test: {ok, status, checked_at}, the body only with include_response and the credentials scope', async (t) => {
  const env = await connectProject(services);
  const key = 'key-revocable-0002';
  validKeys.add(key);
  const accountId = await connectKey(env, 'keys-revocable', key);

  const passed = await testAccount(env, accountId);
  t.equal(passed.statusCode, 200);
  const body = passed.json<{ ok: boolean; status: number; checked_at: string }>();
  t.same(Object.keys(body).sort(), ['checked_at', 'ok', 'status'], 'no provider body unless asked');
  t.equal(body.ok, true);
  t.equal(body.status, 200);
  t.ok(Number.isFinite(Date.parse(body.checked_at)));

  const withBody = await testAccount(env, accountId, '?include_response=true');
  t.equal(withBody.statusCode, 200);
  t.equal(withBody.json<{ response: string }>().response, '{"ok":true,"email":"someone@example.com"}');

  const reader = await createProjectClient(env.testApp, ['connect:accounts:read']);
  const readerAccount = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${reader.projectId}/accounts/${accountId}/test`,
    headers: { authorization: `Bearer ${reader.accessToken}`, 'x-pd-environment': 'development' },
  });
  t.equal(readerAccount.statusCode, 404, "another project's account is unknown");

  validKeys.delete(key);
  const failed = await testAccount(env, accountId);
  t.same(failed.json<object>(), { ok: false, status: 401, checked_at: failed.json<{ checked_at: string }>().checked_at });
  t.equal((await env.pd.accounts.retrieve(accountId)).healthy, false, 'a failed test marks a key account unhealthy');
  validKeys.add(key);
  t.equal((await testAccount(env, accountId)).json<{ ok: boolean }>().ok, true);
  t.equal((await env.pd.accounts.retrieve(accountId)).healthy, true, 'and a later success recovers it');

  t.equal((await testAccount(env, 'apn_doesnotexist')).statusCode, 404);
  t.equal((await testAccount(env, accountId, '?include_response=maybe')).statusCode, 400);
  const untested = await connectKey(env, 'keys-untested', 'whatever-key');
  const conflict = await testAccount(env, untested);
  t.equal(conflict.statusCode, 409);
  t.equal(conflict.json<{ error: { code: string } }>().error.code, 'conflict');
});

t.test('include_response needs connect:credentials:read; the test itself only connect:accounts:read', async (t) => {
  const env = await connectProject(services);
  const key = 'key-revocable-0003';
  validKeys.add(key);
  const accountId = await connectKey(env, 'keys-revocable', key);
  const created = await env.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${env.client.projectId}/clients`,
    headers: { authorization: `Bearer test-admin-token-0123456789abcdef0123456789` },
    payload: { scopes: ['connect:accounts:read'] },
  });
  const { client_id: clientId, client_secret: clientSecret } = created.json<{ client_id: string; client_secret: string }>();
  const token = await env.testApp.app.server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
  });
  const readerToken = token.json<{ access_token: string }>().access_token;
  const denied = await testAccount(env, accountId, '?include_response=true', readerToken);
  t.equal(denied.statusCode, 403);
  t.equal(denied.json<{ error: { code: string } }>().error.code, 'forbidden');
  const allowed = await testAccount(env, accountId, '', readerToken);
  t.equal(allowed.statusCode, 200);
  t.equal(allowed.json<{ ok: boolean }>().ok, true);
});

t.test('an OAuth account is tested with its fresh token; its health stays the refresh engine’s', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const { authorizeUrl, jar } = await startOAuth(env, token);
  t.equal((await callback(await authorizeHeadless(authorizeUrl.toString()), jar)).status, 303);
  const accountId = (await env.pd.accounts.list({ app: 'oidc-test' })).data[0]!.id;
  const res = await testAccount(env, accountId, '?include_response=true');
  t.equal(res.statusCode, 200);
  t.equal(res.json<{ ok: boolean }>().ok, true);
  t.equal(res.json<{ status: number }>().status, 200, "oidc-provider's userinfo accepted the token");
  t.equal(JSON.parse(res.json<{ response: string }>().response).sub, 'alice');
});

t.test('the schedule is the claim: one claimer per account and round, then the interval ±10 %', async (t) => {
  const env = await connectProject(services);
  validKeys.add('key-revocable-0004');
  const ids = [await connectKey(env, 'keys-revocable', 'key-revocable-0004')];
  const day = 86_400;
  const start = new Date('2030-01-01T00:00:00Z');
  const claim = (now: Date) => claimDueAccountChecks(db, { appSlugs: ['keys-revocable'], limit: 100, now, intervalSeconds: day });
  const [first, second] = await Promise.all([claim(start), claim(start)]);
  const firstIds = first.map((row) => row.id);
  const secondIds = second.map((row) => row.id);
  t.same(
    firstIds.filter((id) => secondIds.includes(id)),
    [],
    'two replicas claiming at once never share an account',
  );
  t.ok(
    ids.every((id) => [...firstIds, ...secondIds].includes(id)),
    'between them every due account is claimed',
  );
  for (const row of [...first, ...second]) {
    const offset = (row.next_check_at!.getTime() - start.getTime()) / 1000;
    t.ok(offset >= 0.9 * day && offset <= 1.1 * day, `next check ${offset}s later`);
  }
  t.same(await claim(new Date(start.getTime() + 60_000)), [], 'nothing is due again a minute later');
  const later = await claim(new Date(start.getTime() + 1.2 * day * 1000));
  t.ok(
    ids.every((id) => later.some((row) => row.id === id)),
    'due again after the interval',
  );
  t.same(
    await claimDueAccountChecks(db, { appSlugs: [], limit: 100, now: start, intervalSeconds: day }),
    [],
    'no key apps with a test request: nothing to claim',
  );
});

t.test('the check goes through the egress guard: a name that resolves to a private address is refused', async (t) => {
  const app = normalizeApp(
    {
      slug: 'keys-internal',
      name: 'Keys Internal',
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'API key', secret: true }],
      api: { base_url: 'https://api.internal-corp.com', auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      test_request: { url: 'https://api.internal-corp.com/me' },
    },
    'test:keys-internal',
  );
  const resolved: string[] = [];
  const seeded = await seedProject(t, {
    apps: [app],
    app: {
      resolveHost: async (hostname) => {
        resolved.push(hostname);
        return [{ address: '10.0.0.5', family: 4 }];
      },
    },
  });
  const id = await seedAccount(seeded, {
    appSlug: 'keys-internal',
    oauthAppId: null,
    refreshToken: null,
    expiresInSeconds: null,
    credentials: { api_key: 'k-internal' },
  });
  const res = await seeded.testApp.app.server.inject({
    method: 'POST',
    url: `/v1/connect/${seeded.client.projectId}/accounts/${id}/test`,
    headers: { authorization: `Bearer ${seeded.client.accessToken}` },
  });
  t.equal(res.statusCode, 200);
  t.same(res.json<object>(), { ok: false, status: null, checked_at: res.json<{ checked_at: string }>().checked_at });
  t.same(resolved, ['api.internal-corp.com'], 'the guard resolved the name itself');
  const row = await seeded.testApp.database.handle.db.selectFrom('accounts').select(['healthy', 'error']).where('id', '=', id).executeTakeFirstOrThrow();
  t.same(row, { healthy: false, error: `${ACCOUNT_FAILURE_TEXTS.test_request_failed} (destination refused (address_private))` });
});
