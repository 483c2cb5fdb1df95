// The loader's checks of the machine grants (client_credentials, jwt_bearer), each refusal with
// its exact pointer and message, and what a valid entry turns into. In-memory definitions go
// through exactly the loader's checks (registryFromDefinitions).
import t from 'tap';
import { describeEntry } from '../../src/registry/describe-entry.ts';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';

const clientFields = [
  { name: 'client_id', label: 'Client ID' },
  { name: 'client_secret', label: 'Client secret', secret: true },
];

const cc = (oauth: Record<string, unknown> = {}, fields: unknown[] = clientFields) => ({
  slug: 'cc',
  name: 'CC',
  auth_type: 'oauth',
  fields,
  oauth: { grant: 'client_credentials', token_url: 'https://cc.example/token', scopes: [], ...oauth },
});

const jwt = (assertion: Record<string, unknown>, fields: unknown[]) => ({
  slug: 'jwt',
  name: 'JWT',
  auth_type: 'oauth',
  fields,
  oauth: {
    grant: 'jwt_bearer',
    token_url: 'https://jwt.example/token',
    scopes: [],
    assertion: { algorithm: 'RS256', private_key: '{private_key}', iss: '{issuer}', aud: 'https://jwt.example/token', ...assertion },
  },
});

function problemsOf(definition: unknown): readonly string[] {
  try {
    registryFromDefinitions([definition]);
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

t.test('a client credentials entry needs no authorize_url; defaults: an entered client', async (t) => {
  const app = registryFromDefinitions([cc()]).get('cc');
  if (app?.auth_type !== 'oauth') throw new Error('cc is not an oauth app');
  t.hasStrict(app.oauth, { grant: 'client_credentials', authorize_url: '', client: 'entered', token_auth_method: 'client_secret_basic' });
  t.equal(app.oauth.assertion, undefined);
  t.match(describeEntry(app), { slug: 'cc', authType: 'oauth', grant: 'client_credentials' }, 'registry:check names the grant');
});

t.test('authorization_code still needs its authorize_url, and takes no client or assertion', async (t) => {
  t.same(problemsOf({ slug: 'ac', name: 'AC', auth_type: 'oauth', oauth: { token_url: 'https://ac.example/token', scopes: [], client: 'entered' } }), [
    '<ac>: /oauth/authorize_url is required for the authorization_code grant',
    '<ac>: /oauth/client applies to client_credentials and jwt_bearer only (authorization_code always uses the OAuth app)',
  ]);
});

t.test('an entered client needs client_id and a secret client_secret; oauth_app needs neither', async (t) => {
  t.same(problemsOf(cc({}, [])), [
    '<cc>: /fields needs a field named client_id (the client is entered by the user; or set oauth.client: oauth_app)',
    '<cc>: /fields needs a field named client_secret (the client is entered by the user; or set oauth.client: oauth_app)',
  ]);
  t.same(problemsOf(cc({}, [clientFields[0], { name: 'client_secret', label: 'Secret' }])), ['<cc>: /fields/1/secret client_secret must be secret']);
  t.same(problemsOf(cc({ client: 'oauth_app' }, [])), []);
});

t.test('the authorization step’s keys have no use without one', async (t) => {
  t.same(problemsOf(cc({ authorize_url: 'https://cc.example/auth', issuer: 'https://cc.example' })), [
    '<cc>: /oauth/authorize_url has no use in the client_credentials grant (there is no authorization step)',
    '<cc>: /oauth/issuer has no use in the client_credentials grant (there is no authorization step)',
  ]);
});

t.test('jwt_bearer: an assertion whose placeholders are fields or key file members, and a secret key', async (t) => {
  const fields = [
    { name: 'issuer', label: 'Issuer' },
    { name: 'private_key', label: 'Key', secret: true },
  ];
  t.same(problemsOf(jwt({}, fields)), []);
  t.same(problemsOf({ ...jwt({}, fields), oauth: { grant: 'jwt_bearer', token_url: 'https://jwt.example/token', scopes: [] } }), [
    '<jwt>: /oauth/assertion is required for the jwt_bearer grant',
  ]);
  t.same(problemsOf(jwt({ sub: '{user}' }, fields)), ['<jwt>: /oauth/assertion/sub placeholder {user} is not a declared field or key file member']);
  t.same(problemsOf(jwt({ private_key: '-----BEGIN PRIVATE KEY-----{private_key}' }, fields)), [
    '<jwt>: /oauth/assertion/private_key must be exactly one placeholder (the field or key file member holding the key)',
  ]);
  t.same(problemsOf(jwt({}, [fields[0], { name: 'private_key', label: 'Key' }])), [
    '<jwt>: /oauth/assertion/private_key private_key holds a private key and must be a secret field',
  ]);
  t.same(problemsOf(jwt({ claims: { exp: '1' } }, fields)), ['<jwt>: /oauth/assertion/claims/exp exp is set by latchkey (or by its own key)']);
  t.same(problemsOf(jwt({ algorithm: 'HS256' }, fields)).length, 1, 'HMAC is not an algorithm the schema allows');
});

t.test('jwt_bearer with a key file: its members may fill templates; the file is a secret field', async (t) => {
  const keyFile = { name: 'key_json', label: 'Key file', secret: true };
  const assertion = { key_file: 'key_json', key_file_members: ['client_email', 'private_key'], iss: '{client_email}' };
  t.same(problemsOf(jwt(assertion, [keyFile])), []);
  t.same(problemsOf(jwt(assertion, [{ ...keyFile, secret: false }])), [
    '<jwt>: /oauth/assertion/key_file key_json holds a private key and must be a secret field',
  ]);
  t.same(problemsOf(jwt({ key_file_members: ['client_email'], iss: '{client_email}' }, [keyFile])), [
    '<jwt>: /oauth/assertion/key_file_members needs key_file',
    '<jwt>: /oauth/assertion/private_key placeholder {private_key} is not a declared field or key file member',
    '<jwt>: /oauth/assertion/iss placeholder {client_email} is not a declared field or key file member',
  ]);
});
