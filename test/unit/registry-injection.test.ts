// api.auth: the one declaration of how a credential goes on a request to the app's API (the test
// request uses it now, the Connect proxy next). Each shape produces exactly these headers and
// query parameters; every way the credential could go wrong is a refusal with a stable code.
import t from 'tap';
import { applyInjection, injectCredentials, type InjectionOutcome } from '../../src/registry/credential-injection.ts';
import { currentCredentialValues } from '../../src/registry/credential-values.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry, registryFromDefinitions } from '../../src/registry/loader.ts';
import type { RegistryApp } from '../../src/registry/registry.ts';

function app(definition: Record<string, unknown>): RegistryApp {
  return registryFromDefinitions([{ slug: 'a', name: 'A', ...definition }]).get('a')!;
}

const keysApp = (auth: Record<string, unknown>, fields: Record<string, unknown>[] = [{ name: 'api_key', label: 'Key', secret: true }]) =>
  app({ auth_type: 'keys', fields, api: { base_url: 'https://api.acme.example/v1', auth } });

const inject = (target: RegistryApp, credentials: Record<string, string | null>, url = 'https://api.acme.example/v1/me'): InjectionOutcome =>
  injectCredentials({ app: target, credentials, url: new URL(url) });

t.test('a header with a template, several headers, and the oauth default', async (t) => {
  t.same(inject(keysApp({ type: 'header', headers: { Authorization: 'Token {api_key}' } }), { api_key: 'k1' }), {
    ok: true,
    injection: { headers: { Authorization: 'Token k1' }, query: [] },
  });
  t.same(inject(keysApp({ type: 'header', headers: { 'x-api-key': '{api_key}', 'anthropic-version': '2023-06-01' } }), { api_key: 'sk-ant-1' }), {
    ok: true,
    injection: { headers: { 'x-api-key': 'sk-ant-1', 'anthropic-version': '2023-06-01' }, query: [] },
  });
  const oauth = app({
    auth_type: 'oauth',
    oauth: { authorize_url: 'https://acme.example/a', token_url: 'https://acme.example/t', scopes: [] },
    api: { base_url: 'https://api.acme.example/v1' },
  });
  t.same(inject(oauth, { oauth_access_token: 'at_1', oauth_refresh_token: 'rt_1' }), {
    ok: true,
    injection: { headers: { Authorization: 'Bearer at_1' }, query: [] },
  });
});

t.test('query parameters: raw values, set (not appended) by applyInjection and encoded by the URL', async (t) => {
  const trello = keysApp({ type: 'query', params: { key: '{api_key}', token: '{token}' } }, [
    { name: 'api_key', label: 'Key' },
    { name: 'token', label: 'Token', secret: true },
  ]);
  const outcome = inject(trello, { api_key: 'k 1', token: 'a&b=c' });
  t.same(outcome, {
    ok: true,
    injection: {
      headers: {},
      query: [
        ['key', 'k 1'],
        ['token', 'a&b=c'],
      ],
    },
  });
  if (!outcome.ok) return;
  const url = new URL('https://api.acme.example/v1/me?token=caller-supplied&fields=id');
  const headers = new Headers({ authorization: 'Bearer caller' });
  applyInjection(outcome.injection, url, headers);
  t.equal(url.href, 'https://api.acme.example/v1/me?token=a%26b%3Dc&fields=id&key=k+1', 'the credential replaces a same-named parameter');
  t.equal(headers.get('authorization'), 'Bearer caller', 'query injection leaves headers alone');
});

t.test('HTTP basic from two fields, or a key as the user name with an empty password (RFC 7617)', async (t) => {
  const basic = (username: string, password: string): string => `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  const twilio = keysApp({ type: 'basic', username: '{AccountSid}', password: '{AuthToken}' }, [
    { name: 'AccountSid', label: 'Account SID' },
    { name: 'AuthToken', label: 'Auth token', secret: true },
  ]);
  t.same(inject(twilio, { AccountSid: 'AC1', AuthToken: 'tök' }), { ok: true, injection: { headers: { Authorization: basic('AC1', 'tök') }, query: [] } });
  const keyOnly = keysApp({ type: 'basic', username: '{api_key}', password: '' });
  t.same(inject(keyOnly, { api_key: 'sk_1' }), { ok: true, injection: { headers: { Authorization: basic('sk_1', '') }, query: [] } });
  t.same(
    inject(twilio, { AccountSid: 'AC1:x', AuthToken: 't' }),
    { ok: false, refusal: { code: 'credential_invalid', placeholder: 'AccountSid' } },
    'a colon would move the split',
  );

  const headers = new Headers({ Authorization: 'Bearer caller' });
  const outcome = inject(keyOnly, { api_key: 'sk_1' });
  if (outcome.ok) applyInjection(outcome.injection, new URL('https://api.acme.example/'), headers);
  t.equal(headers.get('authorization'), basic('sk_1', ''), "the caller's own Authorization is replaced");
});

t.test('url: the credential is in api.base_url, so only the extra headers are added', async (t) => {
  const telegram = app({
    auth_type: 'keys',
    fields: [{ name: 'token', label: 'Bot token', secret: true }],
    api: { base_url: 'https://api.telegram.org/bot{token}', auth: { type: 'url' } },
  });
  t.same(inject(telegram, { token: '1:abc' }, 'https://api.telegram.org/bot1:abc/getMe'), { ok: true, injection: { headers: {}, query: [] } });
});

t.test('refusals: no API, a host outside the list, a missing value, a value that cannot go in a header', async (t) => {
  const header = keysApp({ type: 'header', headers: { Authorization: 'Bearer {api_key}' } });
  const noApi = app({ auth_type: 'keys', fields: [{ name: 'api_key', label: 'Key', secret: true }] });
  t.same(inject(noApi, { api_key: 'k' }), { ok: false, refusal: { code: 'no_api' } });
  for (const url of [
    'https://evil.example/v1/me',
    'https://api.acme.example.evil.example/',
    'https://evil.example/?https://api.acme.example/',
    'https://api.acme.example:444/v1',
  ]) {
    t.same(inject(header, { api_key: 'k' }, url), { ok: false, refusal: { code: 'host_not_allowed' } }, url);
  }
  for (const url of ['http://api.acme.example/v1', 'ws://api.acme.example/v1', 'ftp://api.acme.example/']) {
    t.same(inject(header, { api_key: 'k' }, url), { ok: false, refusal: { code: 'insecure_url' } }, url);
  }
  t.same(inject(header, {}), { ok: false, refusal: { code: 'credential_missing', placeholder: 'api_key' } });
  t.same(inject(header, { api_key: '' }), { ok: false, refusal: { code: 'credential_missing', placeholder: 'api_key' } });
  t.same(inject(header, { api_key: null }), { ok: false, refusal: { code: 'credential_missing', placeholder: 'api_key' } });
  for (const evil of ['k\r\nX-Evil: 1', 'k\n', 'k\0']) {
    t.same(inject(header, { api_key: evil }), { ok: false, refusal: { code: 'credential_invalid', placeholder: 'api_key' } }, JSON.stringify(evil));
  }
  const query = keysApp({ type: 'query', params: { key: '{api_key}' } });
  t.same(inject(query, { api_key: 'k\r\n' }), { ok: false, refusal: { code: 'credential_invalid', placeholder: 'api_key' } });
});

t.test('the host check uses the account values: a templated host, a choice and its default', async (t) => {
  const zendesk = app({
    auth_type: 'keys',
    fields: [
      { name: 'subdomain', label: 'Subdomain' },
      { name: 'api_key', label: 'Key', secret: true },
    ],
    api: {
      base_url: 'https://{subdomain}.zendesk.com/api/v2',
      allowed_hosts: ['{subdomain}.zendesk.com'],
      auth: { type: 'basic', username: '{api_key}', password: 'X' },
    },
  });
  t.match(inject(zendesk, { subdomain: 'acme', api_key: 'k' }, 'https://acme.zendesk.com/api/v2/me'), { ok: true });
  t.same(
    inject(zendesk, { subdomain: 'acme', api_key: 'k' }, 'https://other.zendesk.com/api/v2/me'),
    { ok: false, refusal: { code: 'host_not_allowed' } },
    "another customer's host",
  );

  const regional = app({
    auth_type: 'keys',
    fields: [
      {
        name: 'region',
        label: 'Region',
        choices: [
          { value: 'api.acme.example', label: 'US' },
          { value: 'api.eu.acme.example', label: 'EU' },
        ],
        default: 'api.acme.example',
      },
      { name: 'api_key', label: 'Key', secret: true },
    ],
    api: { base_url: 'https://{region}/v1', allowed_hosts: ['{region}'], auth: { type: 'header', headers: { 'X-Key': '{api_key}' } } },
  });
  t.match(inject(regional, { region: 'api.eu.acme.example', api_key: 'k' }, 'https://api.eu.acme.example/v1'), { ok: true });
  t.same(inject(regional, { region: 'api.eu.acme.example', api_key: 'k' }, 'https://api.acme.example/v1'), {
    ok: false,
    refusal: { code: 'host_not_allowed' },
  });
  t.match(inject(regional, { api_key: 'k' }, 'https://api.acme.example/v1'), { ok: true }, 'an account stored before the field existed reads as the default');
});

t.test('older field names: stored values read under the current name, in injection and everywhere', async (t) => {
  const renamed = keysApp({ type: 'header', headers: { 'X-Postmark-Server-Token': '{api_key}' } }, [
    { name: 'api_key', label: 'Server token', secret: true, aliases: ['server_token'] },
  ]);
  t.same(inject(renamed, { server_token: 'old-1' }), { ok: true, injection: { headers: { 'X-Postmark-Server-Token': 'old-1' }, query: [] } });
  t.same(
    currentCredentialValues(renamed, { server_token: 'old-1', note: 'kept' }),
    { api_key: 'old-1', note: 'kept' },
    'the old key is gone, others pass through',
  );
  t.same(currentCredentialValues(renamed, { server_token: 'old-1', api_key: 'new-1' }), { api_key: 'new-1' }, 'a value under the current name wins');
  t.same(currentCredentialValues(renamed, { oauth_access_token: 'at', expires_at: null }), { oauth_access_token: 'at', expires_at: null });
});

t.test('the shipped declarations produce what each provider documents', async (t) => {
  const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR], insecureLoopback: false });
  const shipped = (slug: string): RegistryApp => registry.get(slug)!;
  t.same(inject(shipped('anthropic'), { api_key: 'sk-ant-1' }, 'https://api.anthropic.com/v1/messages'), {
    ok: true,
    injection: { headers: { 'x-api-key': 'sk-ant-1', 'anthropic-version': '2023-06-01' }, query: [] },
  });
  t.same(inject(shipped('github'), { oauth_access_token: 'gho_1' }, 'https://api.github.com/user'), {
    ok: true,
    injection: { headers: { Authorization: 'Bearer gho_1' }, query: [] },
  });
  t.same(inject(shipped('trello'), { api_key: 'a'.repeat(32), token: 't1' }, 'https://api.trello.com/1/members/me'), {
    ok: true,
    injection: {
      headers: {},
      query: [
        ['key', 'a'.repeat(32)],
        ['token', 't1'],
      ],
    },
  });
  t.same(inject(shipped('telegram_bot_api'), { token: '1:x' }, 'https://api.telegram.org/bot1:x/getMe'), { ok: true, injection: { headers: {}, query: [] } });
  t.same(inject(shipped('github'), { oauth_access_token: 'gho_1' }, 'https://evil.example/user'), { ok: false, refusal: { code: 'host_not_allowed' } });
  const open = shipped('open_meteo');
  if (open.api !== undefined) {
    t.same(inject(open, {}, open.api.base_url), { ok: true, injection: { headers: {}, query: [] } }, 'an app without credentials gets nothing');
  }
});
