// The key and basic-auth apps added for issue 12 (registry growth): they load with the production
// setting, each one says how its credential travels and how it is checked, its regional hosts
// are closed choices, and the credential lands exactly where the provider's docs put it and on
// no other host.
import t from 'tap';
import { injectCredentials, type InjectionOutcome } from '../../src/registry/credential-injection.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../../src/registry/loader.ts';
import type { RegistryApp } from '../../src/registry/registry.ts';

const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });

function shipped(slug: string): RegistryApp {
  const app = registry.get(slug);
  if (app === undefined) throw new Error(`${slug} is not in the registry`);
  return app;
}

const inject = (slug: string, credentials: Record<string, string>, url: string): InjectionOutcome =>
  injectCredentials({ app: shipped(slug), credentials, url: new URL(url) });

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** Every key app of this batch, by slug (popular ones of issue 12's list first). */
const KEY_APPS = [
  'vercel_token_auth', 'amplitude', 'braze', 'segment', 'gorgias', 'woocommerce', 'bigcommerce', 'iterable', 'freshsales',
  'servicenow_basic', 'aircall_basic', 'dialpad_api_key', 'gong_basic', 'hibob', 'qualtrics', 'dropbox_sign_api_key', 'brex_api_key',
  'front_api_key', 'zendesk_api_token', 'okta_api_token', 'pandadoc_api_key',
  'xai', 'cerebras', 'leonardo_ai', 'deepl', 'rev_ai', 'zerobounce', 'neverbounce', 'millionverifier', 'tavily', 'grist', 'upstash',
  'planetscale', 'turso', 'clickhouse_cloud', 'elastic_cloud', 'aiven', 'redis_cloud', 'cockroachdb_cloud', 'terraform_cloud', 'travis_ci',
  'opsgenie', 'incident_io', 'rootly', 'firehydrant', 'checkly', 'cronitor', 'healthchecks_io', 'honeybadger', 'raygun', 'axiom',
  'pingdom', 'statuscake', 'grafana_cloud', 'sonarcloud', 'bitrise', 'codemagic', 'statsig', 'gitguardian',
  'mailersend', 'loops_so', 'smtp2go', 'elastic_email', 'emailoctopus', 'sender', 'omnisend', 'mailtrap', 'telnyx', 'textmagic', 'infobip',
  'instantly', 'reply_io', 'canny', 'folk', 'shortcut', 'streak', 'moosend', 'emailable',
  'braintree', 'razorpay', 'paystack', 'flutterwave', 'gocardless', 'recharge', 'shipstation', 'aftership', 'printful', 'printify', 'crisp',
  'insightly', 'nocrm_io', 'twenty', 'guru', 'dixa', 'missive', 'sage_hr', 'timetastic',
  'teamtailor', 'jazzhr', 'humaans', 'fathom_analytics', 'simple_analytics', 'umami_cloud', 'dataforseo', 'semrush', 'youtrack', 'readwise',
  'paymo', 'everhour', 'fillout', 'delighted', 'savvycal',
  'wordpress_org', 'discourse', 'n8n', 'make', 'zulip', 'onesignal_rest_api', 'datocms', 'pushbullet', 'clerk', 'workos', 'wistia',
  'transistor', 'daily', 'cloudconvert', 'open_exchange_rates', 'coingecko', 'coinmarketcap',
  'jira_api_token', 'confluence_api_token', 'langfuse', 'configcat', 'fastly', 'tailscale', 'browserstack', 'uploadcare', 'docuseal',
  'affinity', 'shipengine', 'mercury', 'modern_treasury', 'increase', 'alpaca_api_key', 'twelve_data', 'dub', 'ahrefs',
  'whatsapp_cloud_api', 'mattermost', 'rocketchat', 'jenkins', 'ghost_org_content_api', 'tmdb', 'genius', 'discogs', 'deepinfra',
  'zerotier', 'codacy', 'readme', 'railway',
] as const; // prettier-ignore

/** The test requests that are POSTs because the provider offers no GET to check a credential. */
const POST_TEST_REQUESTS = new Set(['smtp2go', 'canny', 'braintree', 'railway']);

t.test('160 key apps: each is a keys app with docs, api.auth and a cheap test request', async (t) => {
  t.equal(KEY_APPS.length, 160);
  t.equal(new Set(KEY_APPS).size, KEY_APPS.length, 'no slug twice');
  t.ok(registry.list().length >= 502, `${registry.list().length} apps in the registry`);
  for (const slug of KEY_APPS) {
    const app = shipped(slug);
    t.equal(app.auth_type, 'keys', `${slug} is a keys app`);
    t.match(app.docs, /^https:\/\/\S+$/, `${slug} names its docs`);
    t.ok(app.api?.auth, `${slug} declares api.auth`);
    t.ok(
      app.fields.some((field) => field.secret),
      `${slug} has a secret field`,
    );
    t.equal(app.test_request?.method, POST_TEST_REQUESTS.has(slug) ? 'POST' : 'GET', `${slug} test request method`);
  }
});

t.test("field names are Pipedream's $auth names where its component reads them", async (t) => {
  // From PipedreamHQ/pipedream components/<app>/<app>.app.mjs (this.$auth.<name>), in our field order.
  const pipedream: Record<string, readonly string[]> = {
    vercel_token_auth: ['personal_access_token'],
    amplitude: ['region', 'api_key', 'api_secret'],
    segment: ['access_token', 'write_key'],
    gorgias: ['domain', 'email', 'api_key'],
    woocommerce: ['url', 'key', 'secret'],
    bigcommerce: ['store_hash', 'access_token'],
    opsgenie: ['instance_region', 'api_key'],
    grist: ['api_key'],
    sender: ['api_token'],
    mailtrap: ['api_token'],
    infobip: ['base_url', 'api_key'],
    instantly: ['api_key'],
    shortcut: ['api_key'],
    streak: ['api_key'],
    braintree: ['environment', 'public_key', 'private_key'],
    crisp: ['identifier', 'key', 'website_id'],
    dataforseo: ['api_login', 'api_password'],
    readwise: ['access_token'],
    wordpress_org: ['url', 'username', 'application_password'],
    discourse: ['domain', 'api_username', 'api_key'],
    zulip: ['domain', 'email', 'api_key'],
    onesignal_rest_api: ['app_id', 'rest_api_key'],
    uploadcare: ['api_key', 'api_secret'],
    jenkins: ['api_url', 'username', 'api_token'],
  };
  for (const [slug, names] of Object.entries(pipedream)) {
    t.same(
      shipped(slug).fields.map((field) => field.name),
      names,
      slug,
    );
  }
  // Mailtrap's component falls back to $auth.api_key: an account stored under it still reads.
  t.same(shipped('mailtrap').fields[0]?.aliases, ['api_key']);
});

t.test('regions and environments are closed choices with a default, and every host is allowed', async (t) => {
  const choices = (slug: string, name: string) => {
    const field = shipped(slug).fields.find((candidate) => candidate.name === name);
    return { values: field?.choices?.map((choice) => choice.value), default: field?.default };
  };
  const braze = choices('braze', 'rest_endpoint');
  t.equal(braze.values?.length, 12);
  t.equal(braze.default, 'rest.iad-01.braze.com');
  t.same(shipped('braze').api?.allowed_hosts, braze.values, 'braze: exactly the instance hosts');
  t.same(choices('amplitude', 'region'), { values: ['amplitude.com', 'analytics.eu.amplitude.com'], default: 'amplitude.com' });
  t.same(choices('iterable', 'api_host'), { values: ['api.iterable.com', 'api.eu.iterable.com'], default: 'api.iterable.com' });
  t.same(choices('deepl', 'api_host'), { values: ['api.deepl.com', 'api-free.deepl.com'], default: 'api.deepl.com' });
  t.same(choices('opsgenie', 'instance_region'), { values: ['api', 'api.eu'], default: 'api' });
  t.same(choices('pandadoc_api_key', 'api_host'), { values: ['api.pandadoc.com', 'api.pandadoc.eu'], default: 'api.pandadoc.com' });
  t.same(choices('gocardless', 'api_host'), { values: ['api.gocardless.com', 'api-sandbox.gocardless.com'], default: 'api.gocardless.com' });
  t.same(choices('braintree', 'environment'), { values: ['payments', 'payments.sandbox'], default: 'payments' });
  t.same(choices('dialpad_api_key', 'api_host'), { values: ['dialpad.com', 'sandbox.dialpad.com'], default: 'dialpad.com' });
  t.same(choices('make', 'zone').values, ['eu1.make.com', 'eu2.make.com', 'us1.make.com', 'us2.make.com', 'eu1.make.celonis.com', 'us1.make.celonis.com']);
  t.same(choices('okta_api_token', 'okta_domain'), { values: ['okta.com', 'oktapreview.com', 'okta-emea.com'], default: 'okta.com' });
});

t.test('header, query and basic injection put the credential exactly where the docs say', async (t) => {
  t.same(inject('vercel_token_auth', { personal_access_token: 'vt_1' }, 'https://api.vercel.com/v2/user'), {
    ok: true,
    injection: { headers: { Authorization: 'Bearer vt_1' }, query: [] },
  });
  t.same(inject('opsgenie', { instance_region: 'api.eu', api_key: 'og_1' }, 'https://api.eu.opsgenie.com/v2/account'), {
    ok: true,
    injection: { headers: { Authorization: 'GenieKey og_1' }, query: [] },
  });
  t.same(inject('planetscale', { service_token_id: 'tid', service_token: 'pscale_tkn_1' }, 'https://api.planetscale.com/v1/organizations'), {
    ok: true,
    injection: { headers: { Authorization: 'tid:pscale_tkn_1' }, query: [] },
  });
  t.same(inject('zerobounce', { api_key: 'zb 1&x' }, 'https://api.zerobounce.net/v2/getcredits'), {
    ok: true,
    injection: { headers: {}, query: [['api_key', 'zb 1&x']] },
  });
  t.same(inject('deepl', { api_host: 'api-free.deepl.com', api_key: 'k:fx' }, 'https://api-free.deepl.com/v2/usage'), {
    ok: true,
    injection: { headers: { Authorization: 'DeepL-Auth-Key k:fx' }, query: [] },
  });
  // Zendesk API tokens: the user name is the agent's email followed by /token.
  t.same(inject('zendesk_api_token', { subdomain: 'acme', email: 'agent@acme.test', api_token: 'zt_1' }, 'https://acme.zendesk.com/api/v2/users/me.json'), {
    ok: true,
    injection: { headers: { Authorization: basic('agent@acme.test/token', 'zt_1') }, query: [] },
  });
  // A key as the Basic user name with an empty password, and a fixed extra header beside Basic.
  t.same(inject('dropbox_sign_api_key', { api_key: 'ds_1' }, 'https://api.hellosign.com/v3/account'), {
    ok: true,
    injection: { headers: { Authorization: basic('ds_1', '') }, query: [] },
  });
  t.same(
    inject('braintree', { environment: 'payments.sandbox', public_key: 'pub', private_key: 'priv' }, 'https://payments.sandbox.braintree-api.com/graphql'),
    {
      ok: true,
      injection: { headers: { 'Braintree-Version': '2019-01-01', Authorization: basic('pub', 'priv') }, query: [] },
    },
  );
  // Atlassian API tokens and Uploadcare's scheme, and an empty Basic user name (Affinity v1).
  t.same(inject('jira_api_token', { subdomain: 'acme', email: 'ann@acme.test', api_token: 'at 1' }, 'https://acme.atlassian.net/rest/api/3/myself'), {
    ok: true,
    injection: { headers: { Authorization: basic('ann@acme.test', 'at 1') }, query: [] },
  });
  t.same(inject('uploadcare', { api_key: 'pub', api_secret: 'sec' }, 'https://api.uploadcare.com/project/'), {
    ok: true,
    injection: { headers: { Authorization: 'Uploadcare.Simple pub:sec', Accept: 'application/vnd.uploadcare-v0.7+json' }, query: [] },
  });
  t.same(inject('affinity', { api_key: 'af_1' }, 'https://api.affinity.co/auth/whoami'), {
    ok: true,
    injection: { headers: { Authorization: basic('', 'af_1') }, query: [] },
  });
  // A query credential beside a fixed header (Ghost's Content API).
  t.same(
    inject('ghost_org_content_api', { api_url: 'https://demo.ghost.io', content_api_key: 'a'.repeat(26) }, 'https://demo.ghost.io/ghost/api/content/settings/'),
    {
      ok: true,
      injection: { headers: { 'Accept-Version': 'v5.0' }, query: [['key', 'a'.repeat(26)]] },
    },
  );
  t.same(inject('crisp', { identifier: 'id-1', key: 'k-1' }, 'https://api.crisp.chat/v1/plugin/connect/account'), {
    ok: true,
    injection: { headers: { 'X-Crisp-Tier': 'plugin', Authorization: basic('id-1', 'k-1') }, query: [] },
  });
});

t.test('the credential goes to no other host, whatever the account holds', async (t) => {
  const refused = (outcome: InjectionOutcome) => (outcome.ok ? 'sent' : outcome.refusal.code);
  // A region value from the account cannot move the request: only the declared hosts pass.
  t.equal(refused(inject('opsgenie', { instance_region: 'api', api_key: 'og_1' }, 'https://api.eu.attacker.test/v2/account')), 'host_not_allowed');
  t.equal(
    refused(inject('braze', { rest_endpoint: 'rest.iad-01.braze.com', api_key: 'b' }, 'https://rest.iad-01.braze.com.attacker.test/campaigns/list')),
    'host_not_allowed',
  );
  // A host the user typed (self-hosted WordPress, Discourse, WooCommerce, n8n) is the only host allowed.
  const wordpress = { url: 'blog.example.com', username: 'ann', application_password: 'ap 1' };
  t.equal(refused(inject('wordpress_org', wordpress, 'https://blog.example.com/wp-json/wp/v2/users/me')), 'sent');
  t.equal(refused(inject('wordpress_org', wordpress, 'https://other.example.com/wp-json/wp/v2/users/me')), 'host_not_allowed');
  const woo = { url: 'https://shop.example.com', key: 'ck_1', secret: 'cs_1' };
  t.equal(refused(inject('woocommerce', woo, 'https://shop.example.com/wp-json/wc/v3/settings')), 'sent');
  t.equal(refused(inject('woocommerce', woo, 'https://evil.example.com/wp-json/wc/v3/settings')), 'host_not_allowed');
  t.equal(refused(inject('woocommerce', woo, 'http://shop.example.com/wp-json/wc/v3/settings')), 'insecure_url');
  // Self-hosted servers: the https origin the user entered is the only one the token reaches.
  const jenkins = { api_url: 'https://ci.example.com', username: 'ann', api_token: 't' };
  t.equal(refused(inject('jenkins', jenkins, 'https://ci.example.com/me/api/json')), 'sent');
  t.equal(refused(inject('jenkins', jenkins, 'https://ci.example.com.attacker.test/me/api/json')), 'host_not_allowed');
  t.equal(
    refused(inject('mattermost', { server_url: 'https://chat.example.com', access_token: 't' }, 'https://other.example.com/api/v4/users/me')),
    'host_not_allowed',
  );
  // A Basic user name with a colon would split into another user: refused, nothing sent.
  t.same(inject('gorgias', { domain: 'acme', email: 'a:b@acme.test', api_key: 'k' }, 'https://acme.gorgias.com/api/account'), {
    ok: false,
    refusal: { code: 'credential_invalid', placeholder: 'email' },
  });
  t.same(inject('amplitude', { region: 'amplitude.com', api_key: 'k' }, 'https://amplitude.com/api/2/events/list'), {
    ok: false,
    refusal: { code: 'credential_missing', placeholder: 'api_secret' },
  });
});
