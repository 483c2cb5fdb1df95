// The authorization request (RFC 6749 §4.1.1 + RFC 7636 §4.3). Registry extras are applied first
// so they can never override the parameters the security of the flow rests on.
import type { RegistryOAuth } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import { rewriteAuthorizeUrl } from './authorize-url-rewrite.ts';
import type { PkcePair } from './pkce.ts';

export interface AuthorizationRequest {
  readonly oauth: RegistryOAuth;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly scopes: readonly string[];
  /** undefined only when the registry entry says `pkce: false`. */
  readonly pkce: PkcePair | undefined;
  readonly fields: Readonly<Record<string, string>>;
}

const PROTECTED_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method']);

export function buildAuthorizationUrl(request: AuthorizationRequest): URL {
  const { oauth } = request;
  const url = new URL(fillTemplate(oauth.authorize_url, request.fields, 'url'));
  for (const [name, value] of Object.entries(oauth.authorize_params)) {
    if (!PROTECTED_PARAMS.has(name)) url.searchParams.set(name, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', request.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  if (request.scopes.length > 0) url.searchParams.set(oauth.scope_param, request.scopes.join(oauth.scope_separator));
  url.searchParams.set('state', request.state);
  if (request.pkce !== undefined) {
    url.searchParams.set('code_challenge', request.pkce.challenge);
    url.searchParams.set('code_challenge_method', request.pkce.method);
  }
  return rewriteAuthorizeUrl(url, oauth.authorize_url_rewrite);
}
