// A backend moving from Pipedream reads `credentials.<name>` as Pipedream's components read
// `this.$auth.<name>`. These are the names in PipedreamHQ/pipedream components/<app>/<app>.app.mjs
// for a sample of the shipped key apps; an entry that renames a field keeps the old name as an
// alias so accounts stored before still read under the new one.
import t from 'tap';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../../src/registry/loader.ts';

const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });

/** slug → the `$auth` names its Pipedream app file uses (every one we store), in our field order. */
const PIPEDREAM_AUTH_NAMES: Record<string, readonly string[]> = {
  twilio: ['AccountSid', 'AuthToken'],
  postmark: ['api_key'],
  telegram_bot_api: ['token'],
  mux: ['access_key', 'secret_key'],
  supabase: ['subdomain', 'service_key'],
  replicate: ['api_key'],
  clicksend: ['username', 'password'],
  mailerlite: ['api_key'],
  datadog: ['api_key', 'application_key'],
  mailgun: ['api_key'],
  freshdesk: ['domain', 'api_key'],
  chargebee: ['sub_url', 'api_key'],
  activecampaign: ['base_url', 'api_key'],
  sparkpost: ['api_key', 'domain'],
  algolia: ['application_id', 'api_key'],
  apify: ['api_token'],
  mailjet: ['api_key', 'secret_key'],
  cloudflare: ['api_token'],
};

/** Names an entry renamed, so that stored accounts keep reading. */
const ALIASES: Record<string, Record<string, readonly string[]>> = {
  twilio: { AccountSid: ['account_sid'], AuthToken: ['auth_token'] },
  postmark: { api_key: ['server_token'] },
  telegram_bot_api: { token: ['bot_token'] },
  mux: { access_key: ['token_id'], secret_key: ['token_secret'] },
  supabase: { subdomain: ['project_ref'], service_key: ['secret_key'] },
  customer_io: { api_key: ['track_api_key'] },
  replicate: { api_key: ['api_token'] },
  clicksend: { password: ['api_key'] },
  posthog: { api_key: ['personal_api_key'] },
  mailerlite: { api_key: ['api_token'] },
  datadog: { application_key: ['app_key'] },
  freshdesk: { domain: ['subdomain'] },
  chargebee: { sub_url: ['site'] },
  algolia: { application_id: ['app_id'] },
};

t.test("a sample of key apps stores its values under Pipedream's $auth names", async (t) => {
  t.ok(Object.keys(PIPEDREAM_AUTH_NAMES).length >= 15, 'at least 15 apps pinned');
  for (const [slug, names] of Object.entries(PIPEDREAM_AUTH_NAMES)) {
    const app = registry.get(slug);
    const stored = app?.fields.map((field) => field.name).filter((name) => names.includes(name));
    t.same(stored, names, slug);
  }
  // Pipedream's customer_io and posthog keep the secret as api_key; we add fields it lacks.
  t.same(
    registry.get('customer_io')?.fields.map((field) => field.name),
    ['site_id', 'api_key', 'app_api_key'],
  );
  t.same(
    registry.get('posthog')?.fields.map((field) => field.name),
    ['posthog_host', 'api_key'],
  );
});

t.test('renamed fields keep their older names as aliases', async (t) => {
  for (const [slug, expected] of Object.entries(ALIASES)) {
    const aliases = Object.fromEntries(
      (registry.get(slug)?.fields ?? []).filter((field) => field.aliases.length > 0).map((field) => [field.name, field.aliases]),
    );
    t.same(aliases, expected, slug);
  }
});
