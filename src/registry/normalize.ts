// Turns a validated file into the registry's view of an app: every default filled in one place
// (the schema's `default`s, the README's documented behaviour) and the result deeply frozen.
import type { RegistryApi, RegistryApiAuth, RegistryApp, RegistryAuthorizeUrlRewrite, RegistryField, RegistryOAuth, RegistryTestRequest } from './registry.ts';
import type { ApiAuthDefinition, ApiDefinition, AppDefinition, OAuthDefinition, TestRequestDefinition } from './schema.ts';
import { templateHost } from './templates.ts';

export const DEFAULT_REFRESH_MARGIN_SECONDS = 300;

export function normalizeApp(definition: AppDefinition, source: string): RegistryApp {
  // A copy: freezing must not reach into objects a caller (a test's fixture) still holds.
  const app = structuredClone(definition);
  const fields: RegistryField[] = (app.fields ?? []).map((field) => ({
    ...field,
    secret: field.secret ?? false,
    optional: field.optional ?? false,
    aliases: field.aliases ?? [],
  }));
  const base = {
    slug: app.slug,
    name: app.name,
    ...(app.description === undefined ? {} : { description: app.description }),
    categories: app.categories ?? [],
    ...(app.img_src === undefined ? {} : { img_src: app.img_src }),
    ...(app.brand_icon === undefined ? {} : { brand_icon: app.brand_icon }),
    ...(app.docs === undefined ? {} : { docs: app.docs }),
    featured_weight: app.featured_weight ?? 0,
    fields,
    scope_profiles: app.auth_type === 'oauth' ? (app.scope_profiles ?? []) : [],
    ...(app.api === undefined ? {} : { api: normalizeApi(app.api, app.auth_type) }),
    ...(app.test_request === undefined ? {} : { test_request: normalizeTestRequest(app.test_request) }),
    source,
  };
  const normalized: RegistryApp =
    app.auth_type === 'oauth' ? { ...base, auth_type: 'oauth', oauth: normalizeOAuth(app.oauth) } : { ...base, auth_type: app.auth_type };
  return deepFreeze(normalized);
}

function normalizeOAuth(oauth: OAuthDefinition): RegistryOAuth {
  const response = oauth.token_response ?? {};
  const optional = <K extends keyof OAuthDefinition>(key: K) => (oauth[key] === undefined ? {} : { [key]: oauth[key] });
  return {
    grant: oauth.grant ?? 'authorization_code',
    authorize_url: oauth.authorize_url,
    token_url: oauth.token_url,
    refresh_url: oauth.refresh_url ?? oauth.token_url,
    ...optional('revoke_url'),
    scopes: oauth.scopes,
    scope_descriptions: oauth.scope_descriptions ?? {},
    scope_separator: oauth.scope_separator ?? ' ',
    scope_param: oauth.scope_param ?? 'scope',
    token_auth_method: oauth.token_auth_method ?? 'client_secret_basic',
    token_request_format: oauth.token_request_format ?? 'form',
    callback_code_param: oauth.callback_code_param ?? 'code',
    authorize_url_rewrite: normalizeAuthorizeUrlRewrite(oauth.authorize_url_rewrite),
    token_param_names: {
      client_id: oauth.token_param_names?.client_id ?? 'client_id',
      client_secret: oauth.token_param_names?.client_secret ?? 'client_secret',
    },
    pkce: oauth.pkce ?? true,
    authorize_params: oauth.authorize_params ?? {},
    token_params: oauth.token_params ?? {},
    refresh_params: oauth.refresh_params ?? {},
    token_response: {
      access_token_path: response.access_token_path ?? 'access_token',
      refresh_token_path: response.refresh_token_path ?? 'refresh_token',
      expires_in_path: response.expires_in_path ?? 'expires_in',
      scope_path: response.scope_path ?? 'scope',
      ...(response.error_path === undefined ? {} : { error_path: response.error_path }),
      extra: response.extra ?? {},
      ...(response.account_name_path === undefined ? {} : { account_name_path: response.account_name_path }),
    },
    callback_params: oauth.callback_params ?? {},
    ...optional('issuer'),
    refresh_margin_seconds: oauth.refresh_margin_seconds ?? DEFAULT_REFRESH_MARGIN_SECONDS,
    rotates_refresh_token: oauth.rotates_refresh_token ?? false,
    ...optional('refresh_token_idle_ttl_seconds'),
    ...optional('default_expires_in_seconds'),
  } as RegistryOAuth;
}

function normalizeAuthorizeUrlRewrite(rewrite: OAuthDefinition['authorize_url_rewrite']): RegistryAuthorizeUrlRewrite {
  return {
    rename_params: rewrite?.rename_params ?? {},
    omit_params: rewrite?.omit_params ?? [],
    ...(rewrite?.query_in_fragment === undefined ? {} : { query_in_fragment: rewrite.query_in_fragment }),
  };
}

function normalizeApi(api: ApiDefinition, authType: AppDefinition['auth_type']): RegistryApi {
  // Without a list, a credential may go to the base URL's host only. The host part of the
  // template is kept as written so `{subdomain}.zendesk.com` stays a pattern to fill.
  const auth = normalizeAuth(api.auth, authType);
  return { base_url: api.base_url, allowed_hosts: api.allowed_hosts ?? [templateHost(api.base_url)], ...(auth === undefined ? {} : { auth }) };
}

/** The OAuth 2.0 default (RFC 6750 §2.1) when an oauth app declares nothing; keys apps must declare (the loader says so). */
export const OAUTH_DEFAULT_AUTH: RegistryApiAuth = { type: 'header', headers: { Authorization: 'Bearer {oauth_access_token}' } };

function normalizeAuth(auth: ApiAuthDefinition | undefined, authType: AppDefinition['auth_type']): RegistryApiAuth | undefined {
  if (authType === 'none') return undefined;
  // A keys app without a declaration never loads (cross-checks); sending nothing is the safe fallback.
  if (auth === undefined) return authType === 'oauth' ? OAUTH_DEFAULT_AUTH : undefined;
  const headers = auth.headers ?? {};
  switch (auth.type) {
    case 'header':
      return { type: 'header', headers };
    case 'query':
      return { type: 'query', params: auth.params ?? {}, headers };
    case 'basic':
      return { type: 'basic', username: auth.username ?? '', password: auth.password ?? '', headers };
    case 'url':
      return { type: 'url', headers };
  }
}

function normalizeTestRequest(test: TestRequestDefinition): RegistryTestRequest {
  return {
    method: test.method ?? 'GET',
    url: test.url,
    headers: test.headers ?? {},
    query: test.query ?? {},
    ...(test.body === undefined ? {} : { body: test.body }),
    ...(test.success_path === undefined ? {} : { success_path: test.success_path }),
    ...(test.account_name_path === undefined ? {} : { account_name_path: test.account_name_path }),
    ...(test.uid_path === undefined ? {} : { uid_path: test.uid_path }),
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
