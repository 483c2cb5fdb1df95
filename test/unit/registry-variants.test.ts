// The token-endpoint variants as the loader sees them (defaults, refusals) and as the
// authorization request is built from them (oauth.authorize_url_rewrite, step by step).
import t from 'tap';
import { buildAuthorizationUrl } from '../../src/oauth/authorization-url.ts';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';
import type { RegistryOAuthApp } from '../../src/registry/registry.ts';

const definition = (oauth: Record<string, unknown>) => ({
  slug: 'x',
  name: 'X',
  auth_type: 'oauth',
  oauth: { authorize_url: 'https://x.example/authorize', token_url: 'https://x.example/token', scopes: ['read', 'write'], ...oauth },
});

function problems(oauth: Record<string, unknown>): readonly string[] {
  try {
    registryFromDefinitions([definition(oauth)]);
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

function loaded(oauth: Record<string, unknown>): RegistryOAuthApp {
  const app = registryFromDefinitions([definition(oauth)]).get('x');
  if (app?.auth_type !== 'oauth') throw new Error('x is not an oauth app');
  return app;
}

const request = (app: RegistryOAuthApp) => ({
  oauth: app.oauth,
  clientId: 'cid',
  redirectUri: 'https://latchkey.example/connect/oauth/callback',
  state: 'lkst_state',
  scopes: app.oauth.scopes,
  pkce: { verifier: 'v', challenge: 'CHALLENGE', method: 'S256' as const },
  fields: {},
});

t.test('an entry that names no variant is RFC 6749: form bodies, the code under code, no rewrite', async (t) => {
  const app = loaded({});
  t.equal(app.oauth.token_request_format, 'form');
  t.equal(app.oauth.callback_code_param, 'code');
  t.same(app.oauth.authorize_url_rewrite, { rename_params: {}, omit_params: [] });
  t.equal(
    buildAuthorizationUrl(request(app)).toString(),
    'https://x.example/authorize?response_type=code&client_id=cid&redirect_uri=https%3A%2F%2Flatchkey.example%2Fconnect%2Foauth%2Fcallback&scope=read+write&state=lkst_state&code_challenge=CHALLENGE&code_challenge_method=S256',
  );
});

t.test('authorize_url_rewrite: renames keep their place, omissions drop, the query moves behind the fragment route', async (t) => {
  const renamed = loaded({ authorize_url_rewrite: { rename_params: { client_id: 'client_key' } } });
  t.equal(
    buildAuthorizationUrl(request(renamed)).toString(),
    'https://x.example/authorize?response_type=code&client_key=cid&redirect_uri=https%3A%2F%2Flatchkey.example%2Fconnect%2Foauth%2Fcallback&scope=read+write&state=lkst_state&code_challenge=CHALLENGE&code_challenge_method=S256',
  );
  const omitted = loaded({ authorize_url_rewrite: { omit_params: ['response_type'] } });
  t.notOk(buildAuthorizationUrl(request(omitted)).searchParams.has('response_type'));
  const fragment = loaded({ authorize_url: 'https://x.example', authorize_url_rewrite: { query_in_fragment: '/oauth/authorize' } });
  t.equal(
    buildAuthorizationUrl(request(fragment)).toString(),
    'https://x.example/#/oauth/authorize?response_type=code&client_id=cid&redirect_uri=https%3A%2F%2Flatchkey.example%2Fconnect%2Foauth%2Fcallback&scope=read+write&state=lkst_state&code_challenge=CHALLENGE&code_challenge_method=S256',
  );
});

t.test('authorize_url_rewrite: only client_id, redirect_uri and response_type can change, never onto a name in use', async (t) => {
  t.same(problems({ authorize_url_rewrite: { rename_params: { state: 'customField' } } }), [
    '<x>: /oauth/authorize_url_rewrite/rename_params/state unexpected property',
  ]);
  t.same(problems({ authorize_url_rewrite: { rename_params: { client_id: 'state' } } }), [
    '<x>: /oauth/authorize_url_rewrite/rename_params/client_id state is already a parameter of the authorization request',
  ]);
  t.same(problems({ authorize_params: { app_id: 'x' }, authorize_url_rewrite: { rename_params: { client_id: 'app_id' } } }), [
    '<x>: /oauth/authorize_url_rewrite/rename_params/client_id app_id is already a parameter of the authorization request',
  ]);
  t.same(problems({ authorize_url_rewrite: { rename_params: { client_id: 'redirect_uri' } } }), [
    '<x>: /oauth/authorize_url_rewrite/rename_params/client_id redirect_uri is already a parameter of the authorization request',
  ]);
  t.same(problems({ authorize_url_rewrite: { rename_params: { client_id: 'id', redirect_uri: 'id' } } }), [
    '<x>: /oauth/authorize_url_rewrite/rename_params/redirect_uri id is already a parameter of the authorization request',
  ]);
  t.same(problems({ authorize_url_rewrite: { rename_params: { response_type: 'responseType' }, omit_params: ['response_type'] } }), [
    '<x>: /oauth/authorize_url_rewrite/omit_params/0 response_type cannot be both renamed and omitted',
  ]);
  t.same(problems({ authorize_url_rewrite: { omit_params: ['state'] } }), ["<x>: /oauth/authorize_url_rewrite/omit_params/0 expected 'response_type'"]);
  t.same(problems({ authorize_url: 'https://x.example/#/login', authorize_url_rewrite: { query_in_fragment: 'oauth/authorize' } }), [
    '<x>: /oauth/authorize_url must not contain a fragment',
  ]);
  t.same(problems({ authorize_url_rewrite: { query_in_fragment: '/a?b=c' } }), [
    '<x>: /oauth/authorize_url_rewrite/query_in_fragment must match ^/?[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$',
  ]);
});

t.test('callback_code_param: not a parameter the flow reads itself, not also kept as a credential', async (t) => {
  t.same(problems({ callback_code_param: 'state' }), ['<x>: /oauth/callback_code_param state is read by latchkey itself and cannot carry the code']);
  t.same(problems({ callback_code_param: 'auth_code', callback_params: { auth_code_copy: 'auth_code' } }), [
    '<x>: /oauth/callback_code_param auth_code is also listed in callback_params',
  ]);
  t.same(problems({ callback_code_param: 'spapi_oauth_code' }), []);
});

t.test('token_request_format is form or json', async (t) => {
  t.equal(loaded({ token_request_format: 'json' }).oauth.token_request_format, 'json');
  t.same(problems({ token_request_format: 'xml' }), ['<x>: /oauth/token_request_format expected union value']);
});

t.test('token_param_names: client_secret_post only, never onto a parameter of the token request', async (t) => {
  t.same(loaded({}).oauth.token_param_names, { client_id: 'client_id', client_secret: 'client_secret' });
  t.same(loaded({ token_auth_method: 'client_secret_post', token_param_names: { client_id: 'client_key' } }).oauth.token_param_names, {
    client_id: 'client_key',
    client_secret: 'client_secret',
  });
  t.same(problems({ token_param_names: { client_id: 'client_key' } }), [
    '<x>: /oauth/token_param_names needs token_auth_method client_secret_post (with Basic the credentials carry no parameter name)',
  ]);
  t.same(problems({ token_auth_method: 'client_secret_post', token_param_names: { client_id: 'code' } }), [
    '<x>: /oauth/token_param_names/client_id code is already a parameter of the token request',
  ]);
  t.same(problems({ token_auth_method: 'client_secret_post', token_params: { app_id: 'x' }, token_param_names: { client_id: 'app_id' } }), [
    '<x>: /oauth/token_param_names/client_id app_id is already a parameter of the token request',
  ]);
  t.same(problems({ token_auth_method: 'client_secret_post', token_param_names: { client_id: 'key', client_secret: 'key' } }), [
    '<x>: /oauth/token_param_names client_id and client_secret cannot travel under one name',
  ]);
});
