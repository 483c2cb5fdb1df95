// The apps endpoints through the official @pipedream/sdk, against the app listening on 127.0.0.1:
// auto-pagination over page_info.end_cursor, search, retrieve and a 404.
import { PipedreamClient, PipedreamError } from '@pipedream/sdk';
import t from 'tap';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

t.test('apps.list (auto-paginated) and apps.retrieve through @pipedream/sdk', async (t) => {
  const testApp = await buildTestApp(t);
  const { projectId, clientId, clientSecret } = await createProjectClient(testApp);
  const baseUrl = await testApp.listen();
  const pd = new PipedreamClient({ baseUrl, clientId, clientSecret, projectId, projectEnvironment: 'development' });

  const expected = testApp.registry
    .list()
    .filter((app) => [app.slug, app.name, ...app.categories].some((text) => text.toLowerCase().includes('google')))
    .map((app) => app.slug);
  t.ok(expected.length > 3, `${expected.length} google apps to page through`);

  const page = await pd.apps.list({ q: 'google', limit: 2 });
  t.equal(page.data.length, 2, 'the first page has limit items');
  const slugs: string[] = [];
  for await (const app of page) slugs.push(app.nameSlug);
  t.same(slugs, expected, 'auto-pagination visits every match once, in order');

  const everything: string[] = [];
  for await (const app of await pd.apps.list({ limit: 100 })) everything.push(app.nameSlug);
  t.equal(everything.length, testApp.registry.list().length, 'the whole registry in pages of 100');

  const slack = await pd.apps.retrieve('slack');
  t.hasStrict(slack.data, { id: 'app_slack', nameSlug: 'slack', name: 'Slack', authType: 'oauth', categories: ['Communication'] });
  t.ok(slack.data.scopeProfiles.length > 0);
  t.match(slack.data.imgSrc, /^http:\/\/127\.0\.0\.1:\d+\/v1\/connect\/apps\/slack\/icon\.svg$|^https:\/\//);

  const twilio = await pd.apps.retrieve('twilio');
  t.equal(twilio.data.authType, 'keys');
  t.hasStrict(JSON.parse(twilio.data.customFieldsJson ?? '[]'), [{ name: 'AccountSid' }, { name: 'AuthToken', secret: true }]);

  const missing = await pd.apps.retrieve('no_such_app').catch((err: unknown) => err);
  t.type(missing, PipedreamError);
  t.equal((missing as PipedreamError).statusCode, 404);
});
