// One line of `npm run registry:check` per entry: what an operator reviewing a registry folder
// wants to see at a glance. Only templates are shown, never a value: the registry holds none.
import { OAUTH_DEFAULT_AUTH } from './normalize.ts';
import type { RegistryApiAuth, RegistryApp } from './registry.ts';
import { templatePlaceholders } from './templates.ts';

export interface EntryDescription {
  readonly slug: string;
  readonly authType: RegistryApp['auth_type'];
  /** OAuth entries: the grant (authorization_code, client_credentials, jwt_bearer). */
  readonly grant?: string;
  /** Names filled into URLs (endpoints, base URL, allowed hosts, test URL), with where they come from. */
  readonly templated: readonly string[];
  readonly injection: string;
  readonly testRequest: string;
}

export function describeEntry(app: RegistryApp): EntryDescription {
  return {
    slug: app.slug,
    authType: app.auth_type,
    ...(app.auth_type === 'oauth' ? { grant: app.oauth.grant } : {}),
    templated: templatedNames(app),
    injection: describeInjection(app.api?.auth, app.api !== undefined),
    testRequest: app.test_request === undefined ? '-' : `${app.test_request.method} ${app.test_request.url}`,
  };
}

function templatedNames(app: RegistryApp): string[] {
  const urls: string[] = [];
  if (app.auth_type === 'oauth') {
    const { authorize_url, token_url, refresh_url, revoke_url } = app.oauth;
    urls.push(authorize_url, token_url, refresh_url, ...(revoke_url === undefined ? [] : [revoke_url]));
  }
  if (app.auth_type === 'oauth1') urls.push(app.oauth1.request_token_url, app.oauth1.authorize_url, app.oauth1.access_token_url);
  if (app.auth_type === 'mcp') urls.push(app.mcp.server_url);
  if (app.api !== undefined) urls.push(app.api.base_url, ...app.api.allowed_hosts);
  if (app.test_request !== undefined) urls.push(app.test_request.url);
  const names = new Set(urls.flatMap((url) => templatePlaceholders(url)));
  const fields = new Map(app.fields.map((field) => [field.name, field]));
  return [...names].map((name) => {
    const field = fields.get(name);
    if (field === undefined) return `${name} (token)`;
    if (field.choices !== undefined) return `${name} (choice of ${field.choices.length})`;
    return field.secret ? `${name} (secret)` : name;
  });
}

function describeInjection(auth: RegistryApiAuth | undefined, hasApi: boolean): string {
  if (!hasApi) return '- (no api)';
  if (auth === undefined) return 'none';
  const headers = Object.entries(auth.headers).map(([name, template]) => `${name}: ${template}`);
  const extras = headers.length === 0 ? '' : ` + headers ${headers.join('; ')}`;
  switch (auth.type) {
    case 'header':
      return `header ${headers.join('; ')}${auth === OAUTH_DEFAULT_AUTH ? ' (oauth default)' : ''}`;
    case 'query':
      return `query ${Object.entries(auth.params)
        .map(([name, template]) => `${name}=${template}`)
        .join('&')}${extras}`;
    case 'basic':
      return `basic ${auth.username}:${auth.password}${extras}`;
    case 'url':
      return `in base URL${extras}`;
    case 'oauth1':
      return `oauth1 signature${extras}`;
  }
}
