// The shipped registry: it loads (with the production setting, no insecure loopback), has the
// content the product promises, and app-registry/schema.json is what the code generates.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import t from 'tap';
import { parse } from 'yaml';
import { REGISTRY_JSON_SCHEMA_FILE, registryJsonSchema } from '../src/registry/json-schema.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../src/registry/loader.ts';

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
      ['account_sid', false],
      ['auth_token', true],
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
