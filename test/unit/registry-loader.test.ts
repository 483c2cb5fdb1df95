// The loader's refusals, one small fixture folder per rule (test/fixtures/registry/<rule>/), and
// what a valid file turns into.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { RegistryError, loadRegistry, registryFromDefinitions } from '../../src/registry/loader.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'registry');
const dir = (name: string): string => path.join(FIXTURES, name);
/** How the loader names a file: relative to the working directory. */
const label = (folder: string, file: string): string => path.relative(process.cwd(), path.join(FIXTURES, folder, file));

async function problemsOf(dirs: string[], insecureLoopback = false): Promise<readonly string[]> {
  try {
    await loadRegistry({ dirs: dirs.map(dir), insecureLoopback });
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  throw new Error('the registry loaded');
}

t.test('a file with only the core keys is a valid oauth app, defaults filled and frozen', async (t) => {
  const registry = await loadRegistry({ dirs: [dir('valid')], insecureLoopback: false });
  t.same(
    registry.list().map((app) => app.slug),
    ['acme', 'acme_keys'],
  );
  const acme = registry.get('acme');
  if (acme?.auth_type !== 'oauth') throw new Error('acme is not an oauth app');
  t.hasStrict(acme.oauth, {
    grant: 'authorization_code',
    scope_separator: ' ',
    scope_param: 'scope',
    token_auth_method: 'client_secret_basic',
    pkce: true,
    refresh_url: 'https://acme.example/oauth/token',
    refresh_margin_seconds: 300,
    rotates_refresh_token: false,
    authorize_params: {},
    token_response: { access_token_path: 'access_token', refresh_token_path: 'refresh_token', expires_in_path: 'expires_in', scope_path: 'scope', extra: {} },
    callback_params: {},
  });
  t.same(acme.fields, []);
  t.same(acme.categories, []);
  t.equal(acme.featured_weight, 0);
  t.equal(acme.source, label('valid', 'acme.yaml'));
  t.ok(Object.isFrozen(acme) && Object.isFrozen(acme.oauth) && Object.isFrozen(acme.oauth.scopes) && Object.isFrozen(acme.oauth.token_response));
  t.throws(() => (acme.oauth.scopes as string[]).push('admin'), TypeError, 'scopes cannot be changed');

  const keys = registry.get('acme_keys');
  t.hasStrict(keys?.fields, [
    { name: 'api_key', secret: true, optional: false },
    { name: 'region', secret: false, optional: true },
  ]);
  t.same(keys?.api?.auth, { type: 'header', headers: { Authorization: 'Bearer {api_key}' } }, 'the declared injection');
  t.same(keys?.test_request?.headers, {}, 'the test request carries no credential of its own');
  t.equal(keys?.test_request?.method, 'GET');
  t.same(
    keys?.fields.map((field) => field.aliases),
    [[], []],
  );
  t.equal(registry.get('nope'), undefined);
});

t.test('slug must equal the file name', async (t) => {
  t.same(await problemsOf(['slug-mismatch']), [`${label('slug-mismatch', 'wrong_name.yaml')}: /slug must equal the file name (wrong_name), found acme`]);
});

t.test('a scope description must describe a scope the entry or one of its profiles requests', async (t) => {
  t.same(await problemsOf(['unknown-scope-description']), [
    `${label('unknown-scope-description', 'acme.yaml')}: /oauth/scope_descriptions/admin admin is not a scope of this entry or its profiles`,
  ]);
});

t.test('every placeholder must be a declared field', async (t) => {
  t.same(await problemsOf(['undeclared-placeholder']), [
    `${label('undeclared-placeholder', 'acme.yaml')}: /oauth/token_url placeholder {tenant} is not a declared field`,
  ]);
});

t.test('http: URLs are refused, even with insecure loopback, unless the host is loopback', async (t) => {
  const expected = [`${label('http-url', 'acme.yaml')}: /oauth/authorize_url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])`];
  t.same(await problemsOf(['http-url'], false), expected);
  t.same(await problemsOf(['http-url'], true), expected);
});

t.test('http://127.0.0.1 needs LATCHKEY_INSECURE_LOOPBACK, and is fine with it', async (t) => {
  const problems = await problemsOf(['loopback'], false);
  t.same(problems, [
    `${label('loopback', 'acme.yaml')}: /oauth/authorize_url must be an https: URL (http: to a loopback host needs LATCHKEY_INSECURE_LOOPBACK=true)`,
    `${label('loopback', 'acme.yaml')}: /oauth/token_url must be an https: URL (http: to a loopback host needs LATCHKEY_INSECURE_LOOPBACK=true)`,
  ]);
  const registry = await loadRegistry({ dirs: [dir('loopback')], insecureLoopback: true });
  t.equal(registry.get('acme')?.name, 'Acme (local test provider)');

  // The other loopback spellings, and hosts that only look local.
  const app = (authorizeUrl: string) => ({
    slug: 'local',
    name: 'Local',
    auth_type: 'oauth',
    oauth: { authorize_url: authorizeUrl, token_url: 'https://local.example/token', scopes: [] },
  });
  for (const url of ['http://localhost:8080/authorize', 'http://[::1]:8080/authorize', 'http://127.0.0.1/authorize']) {
    t.doesNotThrow(() => registryFromDefinitions([app(url)], { insecureLoopback: true }), url);
  }
  for (const url of ['http://127.0.0.2/authorize', 'http://localhost.example/authorize', 'http://0.0.0.0/authorize']) {
    t.same(
      definitionProblems([app(url)], { insecureLoopback: true }),
      ['<local>: /oauth/authorize_url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])'],
      url,
    );
  }
  // A host filled from a field is never loopback-exempt.
  t.same(definitionProblems([{ ...app('http://{host}/authorize'), fields: [{ name: 'host', label: 'Host' }] }], { insecureLoopback: true }), [
    '<local>: /oauth/authorize_url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])',
  ]);
  t.same(definitionProblems([app('ftp://local.example/authorize')]), ['<local>: /oauth/authorize_url must be an https: URL']);
  t.same(definitionProblems([app('https://user:pw@local.example/authorize')]), ['<local>: /oauth/authorize_url must not contain a user name or password']);
  t.same(definitionProblems([app('/authorize')]), ['<local>: /oauth/authorize_url is not an absolute URL']);
});

t.test('bad YAML is reported with its line and column', async (t) => {
  const problems = await problemsOf(['bad-yaml']);
  t.equal(problems.length, 1);
  t.match(problems[0], new RegExp(`^${escape(label('bad-yaml', 'acme.yaml'))}: / invalid YAML at line \\d+, column \\d+: .+`));
  // Duplicate keys are errors too: a second `scopes:` silently winning would hide a mistake.
  const tmp = await mkdtemp(path.join(tmpdir(), 'latchkey-registry-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  await writeFile(path.join(tmp, 'dup.yaml'), 'slug: dup\nname: Dup\nauth_type: none\nname: Again\n');
  await writeFile(path.join(tmp, 'old.yml'), 'slug: old\n');
  const error = await loadRegistry({ dirs: [tmp], insecureLoopback: false }).catch((err: unknown) => err);
  t.match((error as RegistryError).problems, [
    /dup\.yaml: \/ invalid YAML at line 4, column 1: Map keys must be unique/,
    /old\.yml: \/ registry files must end in \.yaml/,
  ]);
});

t.test('schema errors name the JSON pointer', async (t) => {
  t.same(await problemsOf(['schema-error']), [
    `${label('schema-error', 'acme.yaml')}: /name is required`,
    `${label('schema-error', 'acme.yaml')}: /oauth/scopes expected array`,
  ]);
  t.same(definitionProblems([{ slug: 'x', name: 'X', auth_type: 'none', surprise: true }]), ['<x>: /surprise unexpected property']);
  t.same(definitionProblems([{ slug: 'x', name: 'X' }]), ['<x>: /auth_type is required (oauth, oauth1, keys, none or mcp)']);
  t.same(definitionProblems([['a list']]), ['<definition 0>: / must be a mapping (key: value pairs)']);
  t.same(definitionProblems([{ slug: 'Bad Slug', name: 'X', auth_type: 'none' }]), ['<Bad Slug>: /slug must match ^[a-z0-9_-]{1,64}$']);
});

t.test('a slug defined twice across folders is an error naming both files', async (t) => {
  t.same(await problemsOf(['valid', 'duplicate-slug']), [
    `${label('duplicate-slug', 'acme.yaml')}: /slug acme is already defined by ${label('valid', 'acme.yaml')}`,
  ]);
  // The same folder listed twice is not a duplicate.
  const registry = await loadRegistry({ dirs: [dir('valid'), dir('valid'), `${dir('valid')}/`], insecureLoopback: false });
  t.equal(registry.list().length, 2);
});

t.test('field patterns must compile as regular expressions', async (t) => {
  const problems = await problemsOf(['bad-pattern']);
  t.equal(problems.length, 1);
  t.match(problems[0], `${label('bad-pattern', 'acme.yaml')}: /fields/0/pattern is not a valid regular expression (`);
});

t.test('field names must be unique', async (t) => {
  t.same(await problemsOf(['duplicate-field']), [`${label('duplicate-field', 'acme.yaml')}: /fields/1/name duplicate field name api_key`]);
});

t.test('no plain PKCE, and no overriding the parameters latchkey sets', async (t) => {
  t.same(await problemsOf(['pkce-method']), [
    `${label('pkce-method', 'acme.yaml')}: /oauth/authorize_params/code_challenge_method code_challenge_method is set by latchkey and cannot be overridden`,
  ]);
  const app = (oauth: Record<string, unknown>) => ({
    slug: 'x',
    name: 'X',
    auth_type: 'oauth',
    oauth: { authorize_url: 'https://x.example/a', token_url: 'https://x.example/t', scopes: [], ...oauth },
  });
  t.same(definitionProblems([app({ pkce: 'plain' })]), ['<x>: /oauth/pkce must be true or false (PKCE is always S256; plain is never allowed)']);
  t.same(definitionProblems([app({ authorize_params: { state: 'fixed', Redirect_URI: 'https://evil.example' } })]), [
    '<x>: /oauth/authorize_params/state state is set by latchkey and cannot be overridden',
    '<x>: /oauth/authorize_params/Redirect_URI Redirect_URI is set by latchkey and cannot be overridden',
  ]);
  t.same(definitionProblems([app({ token_params: { code_verifier: 'x' } })]), [
    '<x>: /oauth/token_params/code_verifier code_verifier is set by latchkey and cannot be overridden',
  ]);
  t.same(definitionProblems([app({ token_response: { extra: { oauth_access_token: 'id_token' } } })]), [
    '<x>: /oauth/token_response/extra/oauth_access_token oauth_access_token is a credential name latchkey sets itself',
  ]);
});

t.test('test_request placeholders: fields, and for oauth apps the access token and kept values', async (t) => {
  const oauthApp = {
    slug: 'o',
    name: 'O',
    auth_type: 'oauth',
    fields: [{ name: 'shop', label: 'Shop' }],
    oauth: {
      authorize_url: 'https://{shop}.shop.example/a',
      token_url: 'https://{shop}.shop.example/t',
      scopes: [],
      token_response: { extra: { instance_url: 'instance_url' } },
      callback_params: { realm_id: 'realmId' },
    },
    api: { base_url: 'https://{shop}.shop.example' },
    test_request: { url: 'https://{shop}.shop.example/{realm_id}/me', query: { i: '{instance_url}' } },
  };
  const registry = registryFromDefinitions([oauthApp]);
  t.same(registry.get('o')?.api?.auth, { type: 'header', headers: { Authorization: 'Bearer {oauth_access_token}' } }, 'the oauth default injection');
  t.same(registry.get('o')?.test_request?.query, { i: '{instance_url}' }, 'kept values may go in the query');

  const placed = registryFromDefinitions([
    { ...oauthApp, api: { base_url: 'https://{shop}.shop.example', auth: { type: 'header', headers: { 'X-Token': '{oauth_access_token}' } } } },
  ]);
  t.same(placed.get('o')?.api?.auth, { type: 'header', headers: { 'X-Token': '{oauth_access_token}' } }, 'no default bearer when the token is placed');

  t.same(definitionProblems([{ ...oauthApp, test_request: { url: 'https://{shop}.shop.example/me', headers: { 'X-Token': '{oauth_access_token}' } } }]), [
    '<o>: /test_request/headers/X-Token placeholder {oauth_access_token} is a secret: only api.auth puts a credential on the request',
  ]);
  t.same(definitionProblems([{ ...oauthApp, api: undefined }]), [
    '<o>: /test_request needs api (api.auth puts the credential on it, and only for api.allowed_hosts)',
  ]);

  t.same(definitionProblems([{ ...oauthApp, api: { base_url: 'https://{shop}.shop.example', allowed_hosts: ['{store}.shop.example', '*.com'] } }]), [
    '<o>: /api/allowed_hosts/0 placeholder {store} is not a declared field',
    '<o>: /api/allowed_hosts/1 a *. wildcard needs at least two labels after it',
  ]);
  const api = registryFromDefinitions([{ ...oauthApp, api: { base_url: 'https://{shop}.shop.example/admin' } }]).get('o')?.api;
  t.same(
    api,
    {
      base_url: 'https://{shop}.shop.example/admin',
      allowed_hosts: ['{shop}.shop.example'],
      auth: { type: 'header', headers: { Authorization: 'Bearer {oauth_access_token}' } },
    },
    'allowed_hosts defaults to the base URL host',
  );
});

t.test('every problem of several files is reported at once', async (t) => {
  const problems = await problemsOf(['several-broken', 'slug-mismatch', 'missing-folder']);
  t.same(problems, [
    `${label('several-broken', 'alpha.yaml')}: /oauth/pkce must be true or false (PKCE is always S256; plain is never allowed)`,
    `${label('several-broken', 'beta.yaml')}: /api/auth/headers/Authorization placeholder {api_key} is not a declared field`,
    `${label('several-broken', 'beta.yaml')}: /test_request/url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])`,
    `${label('several-broken', 'gamma.yaml')}: /auth_type must be oauth, oauth1, keys, none or mcp`,
    `${label('slug-mismatch', 'wrong_name.yaml')}: /slug must equal the file name (wrong_name), found acme`,
    `${path.relative(process.cwd(), dir('missing-folder'))}: / folder cannot be read (ENOENT)`,
  ]);
  const error = await loadRegistry({ dirs: [dir('several-broken')], insecureLoopback: false }).catch((err: unknown) => err);
  t.type(error, RegistryError);
  t.match((error as Error).message, /^app registry is invalid \(4 problems\):\n {2}.*alpha\.yaml: \/oauth\/pkce/);
});

t.test('registryFromDefinitions does not freeze the caller’s objects', async (t) => {
  const definition = { slug: 'n', name: 'N', auth_type: 'none', categories: ['Tools'] };
  const registry = registryFromDefinitions([definition]);
  definition.categories.push('More');
  t.same(registry.get('n')?.categories, ['Tools']);
});

function definitionProblems(definitions: unknown[], options: { insecureLoopback?: boolean } = {}): readonly string[] {
  try {
    registryFromDefinitions(definitions, options);
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
