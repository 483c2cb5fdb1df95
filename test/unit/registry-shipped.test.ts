// The shipped registry: it loads (with the production setting, no insecure loopback), has the
// content the product promises, and app-registry/schema.json is what the code generates.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import t from 'tap';
import { parse } from 'yaml';
import { REGISTRY_JSON_SCHEMA_FILE, registryJsonSchema } from '../../src/registry/json-schema.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../../src/registry/loader.ts';

const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });
const apps = registry.list();

t.test('the whole registry loads: at least 200 apps, 80 of them OAuth, every one with docs', async (t) => {
  const files = (await readdir(BUILTIN_REGISTRY_DIR)).filter((name) => name.endsWith('.yaml'));
  t.equal(apps.length, files.length, 'every file became an app');
  t.ok(apps.length >= 200, `${apps.length} apps`);
  const byType = { oauth: 0, keys: 0, none: 0 };
  for (const app of apps) byType[app.auth_type]++;
  t.ok(byType.oauth >= 80, `${byType.oauth} oauth apps`);
  t.comment(`apps: ${apps.length} (oauth ${byType.oauth}, keys ${byType.keys}, none ${byType.none})`);
  for (const app of apps) {
    t.match(app.docs, /^https:\/\/\S+$/, `${app.slug} has docs`);
  }
  t.same(
    apps.map((app) => app.slug),
    [...apps.map((app) => app.slug)].sort(),
    'listed sorted by slug',
  );
});

t.test('the apps the product promises are there, with the quirks that matter', async (t) => {
  const required = [
    'slack', 'github', 'gmail', 'google_calendar', 'google_drive', 'google_sheets', 'microsoft_outlook', 'salesforce', 'hubspot', 'notion', 'jira',
    'confluence', 'zendesk', 'shopify', 'dropbox', 'box', 'airtable', 'asana', 'linear', 'discord', 'zoom', 'quickbooks', 'xero', 'spotify',
    'twitter', 'linkedin', 'stripe', 'openai', 'anthropic', 'sendgrid', 'twilio', 'mailchimp', 'pipedrive', 'calendly', 'typeform', 'figma',
    'gitlab', 'bitbucket',
  ]; // prettier-ignore
  for (const slug of required) t.ok(registry.get(slug), slug);
  for (const slug of ['stripe', 'openai', 'anthropic', 'sendgrid', 'twilio']) t.equal(registry.get(slug)?.auth_type, 'keys', `${slug} is a keys app`);

  const slack = registry.get('slack');
  if (slack?.auth_type !== 'oauth') throw new Error('slack');
  t.equal(slack.oauth.scope_param, 'user_scope');
  t.equal(slack.oauth.token_response.access_token_path, 'authed_user.access_token');
  const gmail = registry.get('gmail');
  if (gmail?.auth_type !== 'oauth') throw new Error('gmail');
  t.hasStrict(gmail.oauth.authorize_params, { access_type: 'offline' });
  t.equal(gmail.oauth.pkce, true, 'pkce defaults to true');
  const twilio = registry.get('twilio');
  t.same(
    twilio?.fields.map((field) => [field.name, field.secret]),
    [
      ['AccountSid', false],
      ['AuthToken', true],
    ],
  );
  const zendesk = registry.get('zendesk');
  t.hasStrict(zendesk, {
    auth_type: 'oauth',
    fields: [{ name: 'subdomain' }],
    oauth: { authorize_url: 'https://{subdomain}.zendesk.com/oauth/authorizations/new' },
  });
  const quickbooks = registry.get('quickbooks');
  t.hasStrict(quickbooks, { oauth: { callback_params: { realm_id: 'realmId' } } });
});

t.test('PKCE where the provider takes it, and not where it rejects or does not document it', async (t) => {
  const pkce = (slug: string): boolean | undefined => {
    const app = registry.get(slug);
    return app?.auth_type === 'oauth' ? app.oauth.pkce : undefined;
  };
  // Rejected: LinkedIn and Meta fail the token exchange when a code_verifier is sent.
  t.equal(pkce('linkedin'), false);
  t.equal(pkce('facebook_pages'), false);
  // Verdicts from each provider's own docs (the source is cited in the file).
  const verdicts = { linear: true, monday: true, constant_contact: false, pipedrive: false, square: false, surveymonkey: false, typeform: false };
  for (const [slug, expected] of Object.entries(verdicts)) t.equal(pkce(slug), expected, slug);
  const monday = registry.get('monday');
  t.match(monday, { oauth: { token_url: 'https://auth.monday.com/oauth_ms/oauth/token' } }, 'monday: the OAuth 2.1 token endpoint');
  const calendly = registry.get('calendly');
  t.same(
    calendly?.auth_type === 'oauth' ? calendly.oauth.scopes : undefined,
    ['users:read', 'event_types:read', 'scheduled_events:read'],
    'calendly asks for scopes',
  );
});

t.test('token-endpoint variants where the provider documents them', async (t) => {
  // Notion: "Body application/json" for the code and the refresh, client authenticated by Basic.
  t.match(registry.get('notion'), { oauth: { token_request_format: 'json', token_auth_method: 'client_secret_basic', rotates_refresh_token: true } });
  // Apollo's consent page routes on the fragment: https://app.apollo.io/#/oauth/authorize?client_id=…
  t.match(registry.get('apollo_io_oauth'), {
    oauth: {
      authorize_url: 'https://app.apollo.io/',
      authorize_url_rewrite: { rename_params: {}, omit_params: [], query_in_fragment: '/oauth/authorize' },
      token_request_format: 'form',
      callback_code_param: 'code',
      pkce: false,
    },
  });
  // TikTok: the app's id is client_key, in the authorization request and the token requests' bodies.
  t.match(registry.get('tiktok'), {
    oauth: {
      authorize_url_rewrite: { rename_params: { client_id: 'client_key' } },
      token_auth_method: 'client_secret_post',
      token_param_names: { client_id: 'client_key', client_secret: 'client_secret' },
      scope_separator: ',',
    },
  });
  // Everything else is RFC 6749 as written: form bodies, the code under code, no rewrite.
  const variants = apps.filter(
    (app) =>
      app.auth_type === 'oauth' &&
      (app.oauth.token_request_format !== 'form' ||
        app.oauth.callback_code_param !== 'code' ||
        app.oauth.authorize_url_rewrite.query_in_fragment !== undefined ||
        app.oauth.authorize_url_rewrite.omit_params.length > 0 ||
        Object.keys(app.oauth.authorize_url_rewrite.rename_params).length > 0 ||
        app.oauth.token_param_names.client_id !== 'client_id' ||
        app.oauth.token_param_names.client_secret !== 'client_secret'),
  );
  t.same(
    variants.map((app) => app.slug),
    ['apollo_io_oauth', 'notion', 'tiktok'],
  );
});

t.test('regions and sandboxes: a closed choice where one app serves all, a variant where each needs its own', async (t) => {
  const choices = (slug: string, name: string) => {
    const field = registry.get(slug)?.fields.find((candidate) => candidate.name === name);
    return { values: field?.choices?.map((choice) => choice.value), default: field?.default };
  };
  t.same(choices('salesforce', 'environment'), { values: ['login', 'test'], default: 'login' });
  t.match(registry.get('salesforce'), {
    oauth: {
      authorize_url: 'https://{environment}.salesforce.com/services/oauth2/authorize',
      token_url: 'https://{environment}.salesforce.com/services/oauth2/token',
    },
    api: { base_url: '{instance_url}/services/data' },
  });
  t.match(registry.get('salesforce_my_domain'), { oauth: { authorize_url: 'https://{my_domain}.my.salesforce.com/services/oauth2/authorize' } });
  t.same(choices('intercom', 'api_host'), { values: ['api.intercom.io', 'api.eu.intercom.io', 'api.au.intercom.io'], default: 'api.intercom.io' });
  t.same(choices('typeform', 'api_host'), { values: ['api.typeform.com', 'api.eu.typeform.com'], default: 'api.typeform.com' });
  t.same(choices('datadog', 'site').values?.length, 7);
  for (const [slug, host] of [
    ['smartsheet_eu', 'smartsheet.eu'],
    ['smartsheet_au', 'smartsheet.au'],
    ['smartsheet_gov', 'smartsheetgov.com'],
    ['gusto_demo', 'gusto-demo.com'],
  ] as const) {
    const app = registry.get(slug);
    if (app?.auth_type !== 'oauth') throw new Error(slug);
    t.ok(new URL(app.oauth.token_url).hostname.endsWith(host), `${slug} token_url`);
    t.same(
      app.api?.allowed_hosts.every((allowed) => allowed.endsWith(host)),
      true,
      `${slug} credentials stay on ${host}`,
    );
  }
});

t.test('app-registry/schema.json is the generated one (run npm run registry:schema)', async (t) => {
  const committed = await readFile(path.join(BUILTIN_REGISTRY_DIR, REGISTRY_JSON_SCHEMA_FILE), 'utf8');
  t.equal(committed, registryJsonSchema(), 'schema.json matches src/registry/schema.ts');
});

t.test('schema.json, as an editor uses it, accepts every shipped file and refuses a broken one', async (t) => {
  const schema = JSON.parse(await readFile(path.join(BUILTIN_REGISTRY_DIR, REGISTRY_JSON_SCHEMA_FILE), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  for (const app of apps) {
    const document: unknown = parse(await readFile(path.join(BUILTIN_REGISTRY_DIR, `${app.slug}.yaml`), 'utf8'));
    if (!validate(document)) t.fail(`${app.slug}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
  t.notOk(validate({ slug: 'x', name: 'X', auth_type: 'oauth', oauth: { authorize_url: 'https://x', token_url: 'https://x', scopes: [], pkce: 'plain' } }));
  t.notOk(validate({ slug: 'x', name: 'X', auth_type: 'keys' }), 'keys apps need fields');
  t.ok(validate({ slug: 'x', name: 'X', auth_type: 'none' }));
});
