// An MCP app as the OAuth modules know apps: the authorization-code flow (src/oauth/, src/connect/)
// and the refresher run unchanged on this view. Its endpoints are the authorization server's, as
// discovered (or as stored with the client); `resource` (RFC 8707 §2) is the server URL on the
// authorization request, the token request and every refresh, so the tokens are audience-bound
// to this one MCP server. PKCE is always S256 (discovery refused a server without it).
import { normalizeOAuth } from '../registry/normalize.ts';
import type { RegistryMcpApp, RegistryOAuth, RegistryOAuthApp } from '../registry/registry.ts';

export interface McpEndpoints {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string | null;
  readonly tokenAuthMethod: RegistryOAuth['token_auth_method'];
}

export function mcpOAuthView(app: RegistryMcpApp, endpoints: McpEndpoints, scopes: readonly string[]): RegistryOAuthApp {
  const resource = { resource: app.mcp.server_url };
  const { mcp: _mcp, auth_type: _authType, ...base } = app;
  // Through the registry's own normalisation: every default a file-declared OAuth app gets.
  const oauth = normalizeOAuth({
    authorize_url: endpoints.authorizationEndpoint,
    token_url: endpoints.tokenEndpoint,
    scopes: [...scopes],
    token_auth_method: endpoints.tokenAuthMethod,
    pkce: true,
    authorize_params: resource,
    token_params: resource,
    refresh_params: resource,
    ...(endpoints.revocationEndpoint === null ? {} : { revoke_url: endpoints.revocationEndpoint }),
    issuer: endpoints.issuer,
    refresh_margin_seconds: app.mcp.refresh_margin_seconds,
  });
  return Object.freeze({ ...base, auth_type: 'oauth', oauth });
}

/** The registry's scopes, else those the protected resource metadata lists (MCP: scopes_supported). */
export function mcpScopes(app: RegistryMcpApp, scopesSupported: readonly string[]): string[] {
  return app.mcp.scopes.length > 0 ? [...app.mcp.scopes] : [...scopesSupported];
}
