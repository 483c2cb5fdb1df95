// One view of an app: an account's `app`, the app in its ACCOUNT_* webhook and the app of
// GET /v1/connect/apps/{slug} are the same object, generated icon URL included.
import t from 'tap';
import { startFakeProvider } from '../fixtures/refresh-fake-provider.ts';
import { keysTestApp, oauthTestApp, outboxEvents, seedAccount, seedProject, setProjectWebhook } from '../fixtures/refresh-seed.ts';

t.test('accounts, ACCOUNT_* webhooks and /v1/connect/apps carry the same app object', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const seeded = await seedProject(t, {
    apps: [oauthTestApp('fakeauth', provider.base), keysTestApp('keyed')],
    oauthApp: { slug: 'fakeauth', clientId: provider.clientId, clientSecret: provider.clientSecret },
  });
  await setProjectWebhook(seeded);
  const server = seeded.testApp.app.server;
  const bearer = { authorization: `Bearer ${seeded.client.accessToken}` };
  const appOf = async (slug: string): Promise<Record<string, unknown>> =>
    (await server.inject({ method: 'GET', url: `/v1/connect/apps/${slug}`, headers: bearer })).json<{ data: Record<string, unknown> }>().data;

  const keyed = await seedAccount(seeded, { appSlug: 'keyed', credentials: { api_key: 'key-0123456789' }, refreshToken: null, expiresInSeconds: null });
  const keyedApp = await appOf('keyed');
  t.equal(keyedApp['img_src'], `${seeded.testApp.config.publicUrl}/v1/connect/apps/keyed/icon.svg`, 'the generated icon, not an empty string');
  const account = await server.inject({ method: 'GET', url: `/v1/connect/${seeded.client.projectId}/accounts/${keyed}`, headers: bearer });
  t.equal(account.statusCode, 200);
  t.same(account.json<{ app: unknown }>().app, keyedApp, 'the account embeds the app of /v1/connect/apps');
  const listed = await server.inject({ method: 'GET', url: `/v1/connect/${seeded.client.projectId}/accounts`, headers: bearer });
  t.same(
    listed.json<{ data: { id: string; app: unknown }[] }>().data.map((a) => [a.id, a.app]),
    [[keyed, keyedApp]],
    'and so does the list',
  );

  // A refresh the provider refuses: the account dies and ACCOUNT_DEAD carries the same app.
  const oauth = await seedAccount(seeded, { appSlug: 'fakeauth', expiresInSeconds: -5 });
  provider.queue.push('invalid_grant');
  const dead = await server.inject({
    method: 'GET',
    url: `/v1/connect/${seeded.client.projectId}/accounts/${oauth}?include_credentials=true`,
    headers: bearer,
  });
  t.equal(dead.statusCode, 409);
  const events = (await outboxEvents(seeded)).filter((e) => e.event === 'ACCOUNT_DEAD');
  t.same(
    events.map((e) => (e.payload['account'] as { id: string; app: unknown }).app),
    [await appOf('fakeauth')],
    'the webhook embeds the app of /v1/connect/apps',
  );
});
