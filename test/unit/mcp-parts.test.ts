// The pieces of remote MCP support that need no server: the registry entry (what loads, what is
// refused, the app it becomes), the well-known URI lists of RFC 9728 and RFC 8414, the
// WWW-Authenticate parameter, the registration's choice of client authentication, and the
// OAuth view the flow runs on.
import t from 'tap';
import { toAppView } from '../../src/apps/app-view.ts';
import { authorizationServerUrls, resourceMetadataParameter, resourceMetadataUrls } from '../../src/mcp/discovery.ts';
import { mcpOAuthView, mcpScopes } from '../../src/mcp/mcp-oauth-view.ts';
import { McpRegistrationError, chooseAuthMethod } from '../../src/mcp/registration.ts';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';
import type { RegistryMcpApp } from '../../src/registry/registry.ts';

const entry = (mcp: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  slug: 'acme_mcp',
  name: 'Acme (MCP)',
  auth_type: 'mcp',
  docs: 'https://acme.example/docs/mcp',
  mcp,
  ...extra,
});

function problems(definition: unknown): readonly string[] {
  try {
    registryFromDefinitions([definition], { insecureLoopback: false });
  } catch (err) {
    if (err instanceof RegistryError) return err.problems;
    throw err;
  }
  return [];
}

t.test('an mcp entry loads with its defaults; its API is the server; its view says oauth', async (t) => {
  const registry = registryFromDefinitions([entry({ server_url: 'https://mcp.acme.example/mcp' })], { insecureLoopback: false });
  const app = registry.get('acme_mcp') as RegistryMcpApp;
  t.same(app.mcp, { server_url: 'https://mcp.acme.example/mcp', scopes: [], registration: 'dynamic', refresh_margin_seconds: 300 });
  t.same(app.api, {
    base_url: 'https://mcp.acme.example/mcp',
    allowed_hosts: ['mcp.acme.example'],
    auth: { type: 'header', headers: { Authorization: 'Bearer {oauth_access_token}' } },
  });
  const view = toAppView(app, 'https://latchkey.example');
  t.equal(view.auth_type, 'oauth');
  t.same(view.credential_fields, ['oauth_access_token', 'oauth_refresh_token', 'oauth_client_id', 'expires_at']);
});

t.test('an mcp entry that cannot work is refused with its pointer', async (t) => {
  t.same(problems(entry({ server_url: 'http://mcp.acme.example/mcp' })), [
    '<acme_mcp>: /mcp/server_url must be an https: URL (http: only for 127.0.0.1, localhost or [::1])',
  ]);
  t.same(problems(entry({ server_url: 'https://{tenant}.acme.example/mcp' })), [
    '<acme_mcp>: /mcp/server_url cannot hold placeholders: it is the RFC 8707 resource',
  ]);
  t.same(problems(entry({ server_url: 'https://mcp.acme.example/mcp' }, { api: { base_url: 'https://api.acme.example' } })), [
    '<acme_mcp>: /api is not used by mcp apps (the API is the server at mcp.server_url)',
  ]);
  t.same(problems(entry({ server_url: 'https://mcp.acme.example/mcp' }, { fields: [{ name: 'tenant', label: 'Tenant' }] })), [
    '<acme_mcp>: /fields is not used by mcp apps (the server URL is fixed)',
  ]);
  t.same(problems(entry({ server_url: 'https://mcp.acme.example/mcp', registration: 'manual' })), ['<acme_mcp>: /mcp/registration expected union value']);
  t.same(problems(entry({ server_url: 'https://mcp.acme.example/mcp', registration: 'client_id_metadata_document' })), [
    '<acme_mcp>: /mcp/registration client_id_metadata_document is not supported yet: use dynamic or preregistered',
  ]);
});

t.test('RFC 9728 and RFC 8414 well-known URIs, in the order the MCP specification gives', async (t) => {
  t.same(resourceMetadataUrls('https://mcp.acme.example/v1/mcp'), [
    'https://mcp.acme.example/.well-known/oauth-protected-resource/v1/mcp',
    'https://mcp.acme.example/.well-known/oauth-protected-resource',
  ]);
  t.same(resourceMetadataUrls('https://mcp.acme.example'), ['https://mcp.acme.example/.well-known/oauth-protected-resource']);
  t.same(authorizationServerUrls('https://auth.acme.example/tenant1'), [
    'https://auth.acme.example/.well-known/oauth-authorization-server/tenant1',
    'https://auth.acme.example/.well-known/openid-configuration/tenant1',
    'https://auth.acme.example/tenant1/.well-known/openid-configuration',
  ]);
  t.same(authorizationServerUrls('https://auth.acme.example'), [
    'https://auth.acme.example/.well-known/oauth-authorization-server',
    'https://auth.acme.example/.well-known/openid-configuration',
  ]);
});

t.test('resource_metadata from a Bearer challenge, quoted or not', async (t) => {
  t.equal(
    resourceMetadataParameter('Bearer realm="mcp", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp", scope="x"'),
    'https://a.example/.well-known/oauth-protected-resource/mcp',
  );
  t.equal(resourceMetadataParameter('Bearer resource_metadata=https://a.example/m'), 'https://a.example/m');
  t.equal(resourceMetadataParameter('Bearer error="invalid_token"'), undefined);
  t.equal(resourceMetadataParameter(undefined), undefined);
});

t.test('registration authenticates with basic, else post, else refuses', async (t) => {
  t.equal(chooseAuthMethod(['client_secret_post', 'client_secret_basic']), 'client_secret_basic');
  t.equal(chooseAuthMethod(['none', 'client_secret_post']), 'client_secret_post');
  t.throws(() => chooseAuthMethod(['none', 'private_key_jwt']), McpRegistrationError);
});

t.test('the OAuth view: discovered endpoints, resource on every request, PKCE always', async (t) => {
  const registry = registryFromDefinitions([entry({ server_url: 'https://mcp.acme.example/mcp', scopes: ['read'] })], { insecureLoopback: false });
  const app = registry.get('acme_mcp') as RegistryMcpApp;
  const view = mcpOAuthView(
    app,
    {
      issuer: 'https://auth.acme.example',
      authorizationEndpoint: 'https://auth.acme.example/authorize',
      tokenEndpoint: 'https://auth.acme.example/token',
      revocationEndpoint: 'https://auth.acme.example/revoke',
      tokenAuthMethod: 'client_secret_post',
    },
    mcpScopes(app, ['ignored']),
  );
  t.equal(view.auth_type, 'oauth');
  t.equal(view.slug, 'acme_mcp');
  t.hasStrict(view.oauth, {
    authorize_url: 'https://auth.acme.example/authorize',
    token_url: 'https://auth.acme.example/token',
    refresh_url: 'https://auth.acme.example/token',
    revoke_url: 'https://auth.acme.example/revoke',
    issuer: 'https://auth.acme.example',
    scopes: ['read'],
    pkce: true,
    token_auth_method: 'client_secret_post',
    authorize_params: { resource: 'https://mcp.acme.example/mcp' },
    token_params: { resource: 'https://mcp.acme.example/mcp' },
    refresh_params: { resource: 'https://mcp.acme.example/mcp' },
  });
  t.same(mcpScopes({ ...app, mcp: { ...app.mcp, scopes: [] } }, ['mcp:tools']), ['mcp:tools'], 'without registry scopes, the metadata’s');
});
