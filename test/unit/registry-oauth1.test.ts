// The registry's oauth1 entries: the defaults an `oauth1:` block gets, the app view (Pipedream's
// auth_type oauth and the credential names), and every refusal the loader gives such an entry.
import t from 'tap';
import { toAppView } from '../../src/apps/app-view.ts';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';

const base = {
  slug: 'acme1',
  name: 'Acme 1',
  auth_type: 'oauth1',
  oauth1: {
    request_token_url: 'https://acme.example/oauth/request_token',
    authorize_url: 'https://acme.example/oauth/authorize',
    access_token_url: 'https://acme.example/oauth/access_token',
  },
};

function problemsOf(definition: unknown): readonly string[] {
  try {
    registryFromDefinitions([definition]);
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

t.test('defaults: HMAC-SHA1, POST, no scopes, comma separator, api.auth oauth1', async (t) => {
  const app = registryFromDefinitions([{ ...base, api: { base_url: 'https://api.acme.example/v1' } }]).get('acme1')!;
  t.equal(app.auth_type, 'oauth1');
  if (app.auth_type !== 'oauth1') return;
  t.same(app.oauth1, {
    ...base.oauth1,
    signature_method: 'HMAC-SHA1',
    token_request_method: 'POST',
    token_params_in: 'header',
    request_token_params: {},
    authorize_params: {},
    scopes: [],
    scope_separator: ',',
    token_response_extra: {},
  });
  t.same(app.api?.auth, { type: 'oauth1', headers: {} });
  const view = toAppView(app, 'https://latchkey.example');
  t.equal(view.auth_type, 'oauth', 'the SDK sees an app that redirects to its provider');
  t.same(view.credential_fields, ['oauth_token', 'oauth_token_secret', 'oauth_consumer_key', 'oauth_access_token', 'oauth_refresh_token']);
});

t.test('refusals', async (t) => {
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, request_token_url: 'http://acme.example/rt' } }), [
    '<acme1>: /oauth1/request_token_url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])',
  ]);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, authorize_params: { oauth_token: 'x' }, request_token_params: { oauth_callback: 'x' } } }), [
    '<acme1>: /oauth1/request_token_params/oauth_callback oauth_callback is an OAuth protocol parameter latchkey sets itself',
    '<acme1>: /oauth1/authorize_params/oauth_token oauth_token is an OAuth protocol parameter latchkey sets itself',
  ]);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, scopes: ['read'] } }), ['<acme1>: /oauth1/scope_param is required when scopes are listed']);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, token_response_extra: { oauth_token: 'x', oauth_uid: 'y' } } }), [
    '<acme1>: /oauth1/token_response_extra/oauth_token oauth_token is a credential name latchkey sets itself',
    '<acme1>: /oauth1/token_response_extra/oauth_uid oauth_uid is a credential name latchkey sets itself',
  ]);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, realm: 'a"b' } }), [
    '<acme1>: /oauth1/realm must not contain a quote, a backslash or a control character',
  ]);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, realm: '{tenant}' } }), ['<acme1>: /oauth1/realm placeholder {tenant} is not a declared field']);
  t.same(problemsOf({ ...base, oauth1: { ...base.oauth1, signature_method: 'RSA-SHA256' } }).length, 1, 'an unknown signature method');
  t.same(problemsOf({ ...base, api: { base_url: 'https://api.acme.example', auth: { type: 'header', headers: { Authorization: 'Bearer {oauth_token}' } } } }), [
    '<acme1>: /api/auth/type must be oauth1 for an auth_type oauth1 app (each request is signed)',
  ]);
  t.same(
    problemsOf({
      slug: 'keys1',
      name: 'Keys',
      auth_type: 'keys',
      fields: [{ name: 'api_key', label: 'Key', secret: true }],
      api: { base_url: 'https://api.acme.example', auth: { type: 'oauth1' } },
    }),
    ['<keys1>: /api/auth/type oauth1 is for auth_type oauth1 apps only'],
  );
  t.same(
    problemsOf({
      ...base,
      test_request: { url: 'https://api.acme.example/me', headers: { 'X-Secret': '{oauth_token_secret}' } },
      api: { base_url: 'https://api.acme.example' },
    }),
    ['<acme1>: /test_request/headers/X-Secret placeholder {oauth_token_secret} is a secret: only api.auth puts a credential on the request'],
  );
});
