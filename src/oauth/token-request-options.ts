// How a token request is sent, from the registry entry: the one place the code exchange
// (oauth/code-exchange.ts) and the refresh and revocation (refresh/token-endpoint.ts) read it, so
// an entry's JSON body, client authentication or parameter names can never apply to one path
// and not the other.
import type { RegistryOAuth } from '../registry/registry.ts';

/** simple-oauth2's `options` for the entry. */
export interface TokenRequestOptions {
  /** RFC 6749 §2.3.1: HTTP Basic (`header`) or client_id/client_secret among the parameters (`body`). */
  readonly authorizationMethod: 'header' | 'body';
  /**
   * `form`: application/x-www-form-urlencoded (RFC 6749 §4.1.3); `json`: the same parameters as
   * one JSON object (Notion, Apollo), with Content-Type application/json.
   */
  readonly bodyFormat: 'form' | 'json';
}

/** simple-oauth2's `client` for the entry: the credentials, under the provider's names when it posts them. */
export function tokenRequestClient(
  oauth: Pick<RegistryOAuth, 'token_param_names'>,
  client: { readonly clientId: string; readonly clientSecret: string },
): { id: string; secret: string; idParamName: string; secretParamName: string } {
  return {
    id: client.clientId,
    secret: client.clientSecret,
    idParamName: oauth.token_param_names.client_id,
    secretParamName: oauth.token_param_names.client_secret,
  };
}

export function tokenRequestOptions(oauth: Pick<RegistryOAuth, 'token_auth_method' | 'token_request_format'>): TokenRequestOptions {
  return {
    authorizationMethod: oauth.token_auth_method === 'client_secret_post' ? 'body' : 'header',
    bodyFormat: oauth.token_request_format,
  };
}
