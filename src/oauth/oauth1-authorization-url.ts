// RFC 5849 §2.2 resource owner authorization: the user is sent to the provider with the request
// token. Registry extras go first, so none can replace oauth_token.
import type { RegistryOAuth1 } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';

export interface OAuth1AuthorizationRequest {
  readonly oauth1: RegistryOAuth1;
  readonly requestToken: string;
  readonly scopes: readonly string[];
  readonly fields: Readonly<Record<string, string>>;
}

export function buildOAuth1AuthorizationUrl(request: OAuth1AuthorizationRequest): URL {
  const { oauth1 } = request;
  const url = new URL(fillTemplate(oauth1.authorize_url, request.fields, 'url'));
  for (const [name, value] of Object.entries(oauth1.authorize_params)) url.searchParams.set(name, fillTemplate(value, request.fields, 'query'));
  if (oauth1.scope_param !== undefined && request.scopes.length > 0) url.searchParams.set(oauth1.scope_param, request.scopes.join(oauth1.scope_separator));
  url.searchParams.set('oauth_token', request.requestToken);
  return url;
}
