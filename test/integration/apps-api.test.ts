// GET /v1/connect/apps and /v1/connect/apps/{app_id}, directly: pagination both ways, search,
// the App shape, the generated icon, and refusals (401, 400, 404) that never touch a file.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { registryFromDefinitions } from '../../src/registry/loader.ts';
import { buildTestApp, createProjectClient, type TestAppOptions } from '../fixtures/app.ts';

interface AppBody {
  id: string;
  name_slug: string;
  name: string;
  auth_type: string;
  description: string | null;
  img_src: string;
  categories: string[];
  featured_weight: number;
  custom_fields_json: string;
  scope_profiles: { name: string; scopes: string[] }[];
}
interface ListBody {
  data: AppBody[];
  page_info: { count: number; total_count: number; start_cursor: string | null; end_cursor: string | null };
}

async function client(t: Test, options?: TestAppOptions) {
  const testApp = await buildTestApp(t, options);
  const { accessToken } = await createProjectClient(testApp);
  const get = (url: string) => testApp.app.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${accessToken}` } });
  return { testApp, get };
}

t.test('list: pages forwards to the end and backwards to the start', async (t) => {
  const { testApp, get } = await client(t);
  const all = testApp.registry.list().map((app) => app.slug);

  const first = await get('/v1/connect/apps');
  t.equal(first.statusCode, 200);
  const firstBody = first.json<ListBody>();
  t.equal(firstBody.data.length, 20, 'default limit 20');
  t.match(firstBody.page_info, { count: 20, total_count: all.length, start_cursor: String, end_cursor: String });

  const seen: string[] = [];
  const pages: ListBody[] = [];
  let after: string | null = null;
  do {
    const response = await get(`/v1/connect/apps?limit=30${after === null ? '' : `&after=${after}`}`);
    t.equal(response.statusCode, 200);
    const body = response.json<ListBody>();
    pages.push(body);
    seen.push(...body.data.map((app) => app.name_slug));
    after = body.page_info.end_cursor;
  } while (after !== null && pages.length < 50);
  t.same(seen, all, 'every app exactly once, in slug order');
  t.equal(pages.length, Math.ceil(all.length / 30));
  t.equal(pages.at(-1)?.page_info.end_cursor, null, 'end_cursor is null on the last page');

  // Backwards from the last page: the page before it, then on to the first.
  const backSeen: string[] = [];
  let before = pages.at(-1)?.page_info.start_cursor ?? null;
  backSeen.unshift(...(pages.at(-1)?.data.map((app) => app.name_slug) ?? []));
  while (before !== null) {
    const body = (await get(`/v1/connect/apps?limit=30&before=${before}`)).json<ListBody>();
    if (body.data.length === 0) break;
    backSeen.unshift(...body.data.map((app) => app.name_slug));
    before = body.data.length < 30 || backSeen.length === all.length ? null : body.page_info.start_cursor;
  }
  t.same(backSeen, all, 'backwards reaches the first app with nothing repeated');

  const max = (await get('/v1/connect/apps?limit=100')).json<ListBody>();
  t.equal(max.data.length, Math.min(100, all.length));
});

t.test('list: search by name, slug and category, case-insensitive; sorting', async (t) => {
  const { get } = await client(t);
  const slugs = async (query: string) => (await get(`/v1/connect/apps?limit=100&${query}`)).json<ListBody>().data.map((app) => app.name_slug);

  const gitApps = (await get('/v1/connect/apps?limit=100&q=GIT')).json<ListBody>().data;
  const git = gitApps.map((app) => app.name_slug);
  t.ok(git.includes('github') && git.includes('gitlab') && git.includes('bitbucket') === false, 'by slug/name');
  for (const app of gitApps) {
    t.ok(
      [app.name_slug, app.name, ...app.categories].some((text) => text.toLowerCase().includes('git')),
      `${app.name_slug} matches`,
    );
  }
  const byName = await slugs(`q=${encodeURIComponent('Microsoft Out')}`);
  t.same(byName, ['microsoft_outlook', 'microsoft_outlook_calendar'], 'by name with a space');
  const crm = await slugs('q=crm');
  t.ok(crm.includes('salesforce') && crm.includes('hubspot') && crm.includes('pipedrive'), 'by category');
  t.same(await slugs('q=zzzz-no-such-app'), []);
  const empty = (await get('/v1/connect/apps?q=zzzz-no-such-app')).json<ListBody>();
  t.same(empty.page_info, { count: 0, total_count: 0, start_cursor: null, end_cursor: null });

  const byCategory = await slugs('category_ids=crm');
  t.ok(byCategory.includes('salesforce') && !byCategory.includes('github'), 'category filter');

  const desc = await slugs('sort_key=name_slug&sort_direction=desc');
  t.same(desc, [...desc].sort().reverse());
  const weighted = (await get('/v1/connect/apps?limit=100&sort_key=featured_weight&sort_direction=desc')).json<ListBody>().data;
  for (let i = 1; i < weighted.length; i++) t.ok(weighted[i - 1]!.featured_weight >= weighted[i]!.featured_weight, 'by featured weight');
  t.same(
    weighted.slice(0, 5).map((app) => [app.name_slug, app.featured_weight]),
    [
      ['slack', 1000],
      ['google_sheets', 980],
      ['gmail', 960],
      ['github', 940],
      ['openai', 920],
    ],
    'the most used apps first',
  );

  // A cursor stays valid within its query and is refused by another one.
  const page = (await get('/v1/connect/apps?q=google&limit=2')).json<ListBody>();
  t.equal(page.data.length, 2);
  const next = (await get(`/v1/connect/apps?q=google&limit=2&after=${page.page_info.end_cursor}`)).json<ListBody>();
  t.notSame(next.data[0]?.name_slug, page.data[0]?.name_slug);
  const foreign = await get(`/v1/connect/apps?q=slack&after=${page.page_info.end_cursor}`);
  t.equal(foreign.statusCode, 400);
  t.hasStrict(foreign.json(), { error: { code: 'validation_failed', message: 'after is not a valid cursor for this query' } });
});

t.test('list: refusals', async (t) => {
  const { testApp, get } = await client(t);
  const noAuth = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps' });
  t.equal(noAuth.statusCode, 401);
  const badToken = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps', headers: { authorization: 'Bearer lka_nope' } });
  t.equal(badToken.statusCode, 401);
  for (const query of [
    'limit=0',
    'limit=101',
    'limit=abc',
    'after=***',
    'after=YQ&before=YQ',
    'after=Li4vLi4vZXRjL3Bhc3N3ZA',
    `q=${'x'.repeat(101)}`,
    'sort_key=secret',
  ]) {
    const response = await get(`/v1/connect/apps?${query}`);
    t.equal(response.statusCode, 400, query);
    t.equal(response.json().error.code, 'validation_failed', query);
  }
});

t.test('retrieve: the App object by slug or id; 404 and 400 without any lookup', async (t) => {
  const { testApp, get } = await client(t);
  const github = await get('/v1/connect/apps/github');
  t.equal(github.statusCode, 200);
  const app = github.json<{ data: AppBody }>().data;
  t.match(app, {
    id: 'app_github',
    name_slug: 'github',
    name: 'GitHub',
    auth_type: 'oauth',
    categories: Array,
    featured_weight: Number,
    scope_profiles: Array,
  });
  t.same(JSON.parse(app.custom_fields_json), []);
  t.same((await get('/v1/connect/apps/app_github')).json(), github.json(), 'the id works like the slug');

  const twilio = (await get('/v1/connect/apps/twilio')).json<{ data: AppBody }>().data;
  t.equal(twilio.auth_type, 'keys');
  t.hasStrict(JSON.parse(twilio.custom_fields_json), [
    { name: 'AccountSid', label: 'Account SID', type: 'string', secret: false, optional: false },
    { name: 'AuthToken', type: 'string', secret: true, optional: false },
  ]);
  const zendesk = (await get('/v1/connect/apps/zendesk')).json<{ data: AppBody }>().data;
  t.hasStrict(JSON.parse(zendesk.custom_fields_json), [{ name: 'subdomain', type: 'string', secret: false }], 'pre-authorization fields of an oauth app');
  t.ok(zendesk.scope_profiles.length > 0);
  t.same(
    Object.keys(zendesk).sort(),
    [
      'auth_type',
      'categories',
      'credential_fields',
      'custom_fields_json',
      'description',
      'featured_weight',
      'id',
      'img_src',
      'name',
      'name_slug',
      'scope_profiles',
    ],
    'descriptive fields only: no endpoints, parameters or test request',
  );

  const unknown = await get('/v1/connect/apps/no_such_app');
  t.equal(unknown.statusCode, 404);
  t.hasStrict(unknown.json(), { error: { code: 'not_found', message: 'app not found' } });
  t.equal((await get('/v1/connect/apps/app_no_such_app')).statusCode, 404);

  for (const bad of ['GitHub', '..%2f..%2fetc%2fpasswd', '..%2F..%2Fpackage.json', 'git%00hub', 'a'.repeat(65), 'slack.yaml']) {
    const response = await get(`/v1/connect/apps/${bad}`);
    t.equal(response.statusCode, 400, bad);
    t.notMatch(response.body, /root:|"name":"latchkey"/, 'no file content');
  }
  // Dot segments are resolved before routing (to another, unknown path): 404, never a file.
  for (const traversal of ['../../etc/passwd', '%2e%2e', '%2e%2e/%2e%2e/etc/passwd']) {
    const response = await get(`/v1/connect/apps/${traversal}`);
    t.ok([400, 404].includes(response.statusCode), `${traversal} is 400/404`);
    t.notMatch(response.body, /root:/);
  }
  const noAuth = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/github' });
  t.equal(noAuth.statusCode, 401);
});

t.test('img_src: the file’s own image, or a generated monogram served without auth', async (t) => {
  const registry = registryFromDefinitions([
    { slug: 'pictured', name: 'Pictured', auth_type: 'none', img_src: 'https://cdn.example/pictured.png' },
    { slug: 'plain', name: '<b>plain</b> & "co"', auth_type: 'none' },
    { slug: 'symbols', name: '&&&', auth_type: 'none' },
  ]);
  const { testApp, get } = await client(t, { registry });
  const publicUrl = testApp.config.publicUrl;
  t.equal((await get('/v1/connect/apps/pictured')).json().data.img_src, 'https://cdn.example/pictured.png');
  const plain = (await get('/v1/connect/apps/plain')).json<{ data: AppBody }>().data;
  t.equal(plain.img_src, `${publicUrl}/v1/connect/apps/plain/icon.svg`);
  t.equal(plain.description, null);

  const icon = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/plain/icon.svg' });
  t.equal(icon.statusCode, 200);
  t.match(icon.headers['content-type'], /^image\/svg\+xml/);
  t.equal(icon.headers['x-content-type-options'], 'nosniff');
  t.match(icon.headers['content-security-policy'], /default-src 'none'/);
  t.match(icon.body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*>B<\/text><\/svg>$/);
  t.notMatch(icon.body, /<b>|"co"/, 'the name never reaches the SVG unescaped');
  const symbols = await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/symbols/icon.svg' });
  t.match(symbols.body, />\?<\/text>/);
  t.notMatch(symbols.body, /&&/);
  t.equal((await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/nope/icon.svg' })).statusCode, 404);
  t.equal((await testApp.app.server.inject({ method: 'GET', url: '/v1/connect/apps/..%2fx/icon.svg' })).statusCode, 400);
});

t.test('logos: the brand mark from simple-icons when there is one, the monogram otherwise', async (t) => {
  const registry = registryFromDefinitions([
    { slug: 'github', name: 'GitHub', auth_type: 'none' },
    { slug: 'google_sheets', name: 'Google Sheets', auth_type: 'none' },
    { slug: 'zoho_crm', name: 'Zoho CRM', auth_type: 'none' },
    { slug: 'acme_cloud', name: 'Acme', auth_type: 'none', brand_icon: 'stripe' },
    { slug: 'polygon_io', name: 'Polygon.io', auth_type: 'none', brand_icon: false },
    { slug: 'no_such_brand', name: 'Qqzx Corp', auth_type: 'none' },
  ]);
  const { testApp } = await client(t, { registry });
  const icon = (slug: string) => testApp.app.server.inject({ method: 'GET', url: `/v1/connect/apps/${slug}/icon.svg` });
  const markOf = async (slug: string) => {
    const file = await readFile(createRequire(import.meta.url).resolve(`simple-icons/icons/${slug}.svg`), 'utf8');
    return /<path d="([^"]+)"/.exec(file)![1]!;
  };

  const github = await icon('github');
  t.equal(github.statusCode, 200);
  t.equal(github.headers['cache-control'], 'public, max-age=604800');
  t.equal(github.headers['content-type'], 'image/svg+xml; charset=utf-8');
  const githubPath = /<path transform="[^"]+" fill="#([0-9A-F]{6})" d="([^"]+)"\/>/.exec(github.body);
  t.same(githubPath?.slice(1), ['181717', await markOf('github')], 'GitHub’s mark in GitHub’s colour');
  t.equal(/ d="([^"]+)"/.exec((await icon('google_sheets')).body)?.[1], await markOf('googlesheets'), 'slug without underscores');
  t.equal(/ d="([^"]+)"/.exec((await icon('zoho_crm')).body)?.[1], await markOf('zoho'), 'the slug’s leading word');
  t.equal(/ d="([^"]+)"/.exec((await icon('acme_cloud')).body)?.[1], await markOf('stripe'), 'the entry’s brand_icon wins');
  t.match((await icon('polygon_io')).body, />P<\/text><\/svg>$/, 'brand_icon: false keeps the monogram');
  t.match((await icon('no_such_brand')).body, />Q<\/text><\/svg>$/, 'no mark: the monogram');
});

t.test('/favicon.ico: the pages’ origin answers it (an image of latchkey’s own), so no page logs a 404', async (t) => {
  const { testApp } = await client(t);
  const icon = await testApp.app.server.inject({ method: 'GET', url: '/favicon.ico' });
  t.equal(icon.statusCode, 200);
  t.equal(icon.headers['content-type'], 'image/svg+xml; charset=utf-8');
  t.match(icon.body, />L<\/text><\/svg>$/);
});
