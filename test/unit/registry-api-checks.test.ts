// The loader's rules for the API side of an entry (api, api.auth, test_request) and for choice
// fields and aliases: each broken declaration is refused with its JSON pointer and one message.
import t from 'tap';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';

const KEY = { name: 'api_key', label: 'Key', secret: true };

function keys(api: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { slug: 'k', name: 'K', auth_type: 'keys', fields: [KEY], api: { base_url: 'https://api.k.example/v1', ...api }, ...extra };
}

function problems(definition: unknown): readonly string[] {
  try {
    registryFromDefinitions([definition]);
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

t.test('a keys app must say how its credential is sent; an app without credentials must not', async (t) => {
  t.same(problems(keys({})), ['<k>: /api/auth is required for keys apps: declare how the credential is sent (type header, query, basic or url)']);
  t.same(problems({ ...keys({}), api: undefined }), [], 'a keys app without an API has nothing to declare');
  t.same(problems({ ...keys({}), api: undefined, test_request: { url: 'https://api.k.example/me' } }), [
    '<k>: /test_request needs api (api.auth puts the credential on it, and only for api.allowed_hosts)',
  ]);
  t.same(problems({ slug: 'n', name: 'N', auth_type: 'none', api: { base_url: 'https://n.example', auth: { type: 'header', headers: { A: 'b' } } } }), [
    '<n>: /api/auth is not allowed: an app without credentials (auth_type none) sends none',
  ]);
});

t.test('each type takes its own keys and must place a credential', async (t) => {
  t.same(problems(keys({ auth: { type: 'header' } })), ['<k>: /api/auth/headers is required for type header']);
  t.same(problems(keys({ auth: { type: 'header', headers: { 'X-Version': '2' } } })), [
    '<k>: /api/auth/headers place no credential (no {placeholder} in any value)',
  ]);
  t.same(problems(keys({ auth: { type: 'header', headers: { A: '{api_key}' }, params: { k: '{api_key}' } } })), [
    '<k>: /api/auth/params is not used by type header',
  ]);
  t.same(problems(keys({ auth: { type: 'query', headers: { A: '{api_key}' } } })), ['<k>: /api/auth/params is required for type query']);
  t.same(problems(keys({ auth: { type: 'basic', username: '{api_key}' } })), ['<k>: /api/auth/password is required for type basic (use "" for none)']);
  t.same(problems(keys({ auth: { type: 'basic', username: 'api', password: 'x' } })), [
    '<k>: /api/auth places no credential (no {placeholder} in username or password)',
  ]);
  t.same(problems(keys({ auth: { type: 'basic', username: 'a:{api_key}', password: '' } })), ['<k>: /api/auth/username must not contain a colon']);
  t.same(problems(keys({ auth: { type: 'basic', username: '{api_key}', password: '', params: { a: 'b' } } })), [
    '<k>: /api/auth/params is not used by type basic',
  ]);
  t.same(problems(keys({ auth: { type: 'url' } })), ['<k>: /api/auth/type url needs a secret field in api.base_url (that is where the credential goes)']);
  t.same(problems(keys({ auth: { type: 'header', headers: { A: '{token}' } } })), ['<k>: /api/auth/headers/A placeholder {token} is not a declared field']);
  t.same(problems(keys({ auth: { type: 'oauth1' } })), ['<k>: /api/auth/type oauth1 is for auth_type oauth1 apps only']);
  t.same(problems(keys({ auth: { type: 'header', headers: { 'Bad Name': '{api_key}' } } })), [
    "<k>: /api/auth/headers/Bad Name is not a valid name (must match ^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$)",
  ]);
});

t.test('headers that frame or route the message, duplicates and control characters are refused', async (t) => {
  for (const name of ['Host', 'content-length', 'Transfer-Encoding', 'Connection']) {
    t.same(problems(keys({ auth: { type: 'header', headers: { A: '{api_key}', [name]: 'x' } } })), [
      `<k>: /api/auth/headers/${name} ${name} is set by the HTTP client and cannot be declared`,
    ]);
  }
  t.same(problems(keys({ auth: { type: 'header', headers: { Authorization: '{api_key}', authorization: 'x' } } })), [
    '<k>: /api/auth/headers/authorization authorization is declared twice (header names are case-insensitive)',
  ]);
  t.same(problems(keys({ auth: { type: 'header', headers: { A: 'Bearer {api_key}\r\nX-Evil: 1' } } })), [
    '<k>: /api/auth/headers/A contains a control character',
  ]);
  t.same(
    problems(keys({ auth: { type: 'header', headers: { A: '{api_key}' } } }, { test_request: { url: 'https://api.k.example/me', headers: { Host: 'x' } } })),
    ['<k>: /test_request/headers/Host Host is set by the HTTP client and cannot be declared'],
  );
});

t.test('a secret travels only through api.auth', async (t) => {
  const auth = { type: 'header', headers: { A: '{api_key}' } };
  for (const [where, test] of [
    ['headers/X', { headers: { X: '{api_key}' } }],
    ['query/k', { query: { k: '{api_key}' } }],
    ['body', { method: 'POST', body: 'k={api_key}' }],
  ] as const) {
    t.same(problems(keys({ auth }, { test_request: { url: 'https://api.k.example/me', ...test } })), [
      `<k>: /test_request/${where} placeholder {api_key} is a secret: only api.auth puts a credential on the request`,
    ]);
  }
  t.same(problems(keys({ auth }, { test_request: { url: 'https://api.k.example/keys/{api_key}' } })), [], 'a URL may name a resource by the key (Algolia)');
  t.same(problems(keys({ base_url: 'https://api.k.example/{api_key}', auth })), [
    '<k>: /api/base_url placeholder {api_key} is a secret: only api.auth type url puts a credential in the base URL',
  ]);
  t.same(problems(keys({ base_url: 'https://api.k.example/bot{api_key}', auth: { type: 'url' } })), [], 'Telegram');
});

t.test('a credential only goes to allowed hosts: fixed hosts and every choice are checked at load', async (t) => {
  const auth = { type: 'header', headers: { A: '{api_key}' } };
  t.same(problems(keys({ allowed_hosts: ['api.k.example'], auth }, { test_request: { url: 'https://other.k.example/me' } })), [
    '<k>: /test_request/url host other.k.example is not in api.allowed_hosts',
  ]);
  t.same(
    problems(keys({ auth }, { test_request: { url: 'https://other.k.example/me' } })),
    ['<k>: /test_request/url host other.k.example is not in api.allowed_hosts'],
    'the default list is the base URL host',
  );
  const region = {
    name: 'region',
    label: 'Region',
    choices: [
      { value: 'api.k.example', label: 'US' },
      { value: 'api.evil.example', label: 'Oops' },
    ],
    default: 'api.k.example',
  };
  t.same(problems({ ...keys({ base_url: 'https://{region}/v1', allowed_hosts: ['api.k.example', 'api.eu.k.example'], auth }), fields: [KEY, region] }), [
    '<k>: /api/base_url host api.evil.example is not in api.allowed_hosts (with region=api.evil.example)',
  ]);
});

t.test('an origin placeholder: only where api.auth guards the host, never a secret, with an explicit host list', async (t) => {
  const auth = { type: 'header', headers: { A: '{api_key}' } };
  const base = { name: 'base_url', label: 'Account URL' };
  const withBase = (api: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...keys(api, extra), fields: [KEY, base] });
  t.same(
    problems(withBase({ base_url: '{base_url}/api/3', allowed_hosts: ['*.api-us1.com'], auth }, { test_request: { url: '{base_url}/api/3/users/me' } })),
    [],
  );
  t.same(problems(withBase({ base_url: '{base_url}/api/3', auth })), [
    '<k>: /api/allowed_hosts is required when base_url starts with a placeholder (its host is not known in advance)',
  ]);
  t.same(problems(withBase({ base_url: '{api_key}/x', allowed_hosts: ['*.k.example'], auth })), [
    '<k>: /api/base_url {api_key} is a secret and cannot be the origin',
  ]);
  t.same(
    problems({
      slug: 'o',
      name: 'O',
      auth_type: 'oauth',
      fields: [base],
      oauth: { authorize_url: 'https://o.example/a', token_url: '{base_url}/token', scopes: [] },
    }),
    ['<o>: /oauth/token_url must start with a fixed scheme and host ({base_url} may hold an origin only in api.base_url and test_request.url)'],
    'the client secret never goes to a host a user typed',
  );
  t.same(
    problems({
      slug: 'o',
      name: 'O',
      auth_type: 'oauth',
      oauth: {
        authorize_url: 'https://o.example/a',
        token_url: 'https://o.example/t',
        scopes: [],
        token_response: { extra: { instance_url: 'instance_url' } },
      },
      api: { base_url: '{instance_url}/services/data', allowed_hosts: ['*.my.salesforce.com'] },
    }),
    [],
    'a kept token value (Salesforce instance_url) may be the origin',
  );
});

t.test('choice fields and aliases', async (t) => {
  const auth = { type: 'header', headers: { A: '{api_key}' } };
  const withField = (field: Record<string, unknown>, others: Record<string, unknown>[] = [KEY]) => ({ ...keys({ auth }), fields: [...others, field] });
  t.same(problems(withField({ name: 'r', label: 'R', default: 'us' })), ['<k>: /fields/1/default needs choices (a default is one of them)']);
  t.same(problems(withField({ name: 'r', label: 'R', choices: [{ value: 'us', label: 'US' }], default: 'eu' })), [
    '<k>: /fields/1/default eu is not one of the choices',
  ]);
  t.same(
    problems(
      withField({
        name: 'r',
        label: 'R',
        choices: [
          { value: 'us', label: 'US' },
          { value: 'us', label: 'Again' },
        ],
      }),
    ),
    ['<k>: /fields/1/choices/1/value duplicate choice us'],
  );
  t.same(problems(withField({ name: 'r', label: 'R', pattern: '^us$', choices: [{ value: 'us', label: 'US' }] })), [
    '<k>: /fields/1/pattern cannot be combined with choices (the choices are the pattern)',
  ]);
  t.same(problems(withField({ name: 'r', label: 'R', choices: [] })), ['<k>: /fields/1/choices expected array length to be greater or equal to 1']);
  t.same(problems(withField({ name: 'AccountSid', label: 'SID', aliases: ['account_sid'] })), [], 'mixed-case names and aliases');
  t.same(problems(withField({ name: 'token', label: 'T', aliases: ['api_key'] })), ['<k>: /fields/1/aliases/0 api_key is the name of a field']);
  t.same(problems(withField({ name: 'token', label: 'T', aliases: ['old'] }, [{ ...KEY, aliases: ['old'] }])), [
    '<k>: /fields/1/aliases/0 old is already an alias of api_key',
  ]);
  t.same(problems(withField({ name: 'token', label: 'T', aliases: ['oauth_uid'] })), [
    '<k>: /fields/1/aliases/0 oauth_uid is a credential name latchkey sets itself',
  ]);
});
