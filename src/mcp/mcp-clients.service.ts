// The OAuth client latchkey uses at a remote MCP server's authorization server, and the OAuth
// view of the app that goes with it. Three ways to have a client (the registry's `registration`):
//   dynamic        RFC 7591, once per authorization server and project environment; the secret
//                  is sealed and the row reused by every later flow and refresh
//   preregistered  the project's own OAuth app for this MCP app (oauth_apps), as for any app
//   client_id_metadata_document  not offered yet: discovery's flag is read, the flow refuses
// A flow starts with discovery (the server's metadata may have moved); the callback and every
// refresh use the endpoints stored with the client, never a fresh discovery, so a token request
// goes to the authorization server the user was sent to.
import type { Kysely } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { ConnectFlowError, flowError } from '../errors.ts';
import { mintId } from '../crypto/tokens.ts';
import type { SealContext, Vault } from '../keys/vault.ts';
import { oauthCallbackUrl, resolveOAuthClient, type ResolvedOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import type { RegistryMcpApp, RegistryOAuthApp } from '../registry/registry.ts';
import { McpDiscoveryError, discoverMcpServer, type McpServerMetadata } from './discovery.ts';
import {
  findMcpClient,
  findMcpClientByKey,
  insertMcpClient,
  updateMcpClientEndpoints,
  type McpClientKey,
  type McpClientRow,
} from './mcp-clients.repository.ts';
import { mcpOAuthView, mcpScopes } from './mcp-oauth-view.ts';
import { McpRegistrationError, registerClient } from './registration.ts';

export interface McpDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly egress: EgressGuard;
  readonly publicUrl: string;
}

export interface McpScope {
  readonly projectId: string;
  readonly environment: EnvironmentName;
}

/** What the authorization-code flow needs: the app's OAuth view and the client to use there. */
export interface McpAuthorizationTarget {
  readonly app: RegistryOAuthApp;
  /** `id` is the mcp_clients row (mcpc_…): it is what the state and the account name as their oauth_app_id. */
  readonly client: ResolvedOAuthClient;
}

export const MCP_CLIENT_NAME = 'latchkey';

export function mcpClientSecretContext(row: Pick<McpClientRow, 'id' | 'project_id' | 'environment'>): SealContext {
  return { table: 'mcp_clients', column: 'client_secret_enc', rowId: row.id, projectId: row.project_id, environment: row.environment };
}

// ─── the hosted page: discovery only ────────────────────────────────────────────────────────

/** The page shows the scopes and allows its form to lead to the authorization server (CSP form-action). */
export async function discoverMcpApp(deps: Pick<McpDeps, 'egress'>, app: RegistryMcpApp): Promise<RegistryOAuthApp> {
  const metadata = await discover(deps, app);
  const as = metadata.authorizationServer;
  return mcpOAuthView(
    app,
    {
      issuer: as.issuer,
      authorizationEndpoint: as.authorizationEndpoint,
      tokenEndpoint: as.tokenEndpoint,
      revocationEndpoint: as.revocationEndpoint,
      tokenAuthMethod: 'client_secret_basic',
    },
    mcpScopes(app, metadata.resource.scopesSupported),
  );
}

// ─── start: discovery, then the client ──────────────────────────────────────────────────────

export async function prepareMcpAuthorization(deps: McpDeps, scope: McpScope, app: RegistryMcpApp, oauthAppId: string | null): Promise<McpAuthorizationTarget> {
  const metadata = await discover(deps, app);
  const scopes = mcpScopes(app, metadata.resource.scopesSupported);
  const row = await ensureClient(deps, scope, app, metadata, oauthAppId);
  const client = await openClient(deps, scope, app, row);
  return { app: viewOf(app, row, scopes), client };
}

async function discover(deps: Pick<McpDeps, 'egress'>, app: RegistryMcpApp): Promise<McpServerMetadata> {
  try {
    return await discoverMcpServer(deps.egress, app.mcp.server_url);
  } catch (err) {
    if (err instanceof McpDiscoveryError) throw flowError('mcp_discovery_failed', err);
    throw err;
  }
}

async function ensureClient(
  deps: McpDeps,
  scope: McpScope,
  app: RegistryMcpApp,
  metadata: McpServerMetadata,
  oauthAppId: string | null,
): Promise<McpClientRow> {
  const as = metadata.authorizationServer;
  const preregistered = app.mcp.registration === 'preregistered' ? await requireOAuthApp(deps, scope, app, oauthAppId) : undefined;
  if (app.mcp.registration === 'client_id_metadata_document') {
    throw flowError('mcp_registration_failed', new McpRegistrationError('client id metadata documents are not offered by this latchkey'));
  }
  const key: McpClientKey = { projectId: scope.projectId, environment: scope.environment, issuer: as.issuer, registrationKey: preregistered?.id ?? 'dynamic' };
  const existing = await findMcpClientByKey(deps.db, key);
  if (existing !== undefined) return withCurrentEndpoints(deps, existing, metadata);
  const id = mintId('mcpc_');
  const endpoints = endpointsOf(metadata);
  const common = { id, project_id: scope.projectId, environment: scope.environment, issuer: as.issuer, registration_key: key.registrationKey, ...endpoints };
  let inserted: McpClientRow | undefined;
  if (preregistered !== undefined) {
    inserted = await insertMcpClient(deps.db, {
      ...common,
      registration: 'preregistered',
      oauth_app_id: preregistered.id,
      client_id: null,
      client_secret_enc: null,
      token_auth_method: 'client_secret_basic',
    });
  } else {
    const registered = await register(deps, metadata);
    inserted = await insertMcpClient(deps.db, {
      ...common,
      registration: 'dynamic',
      oauth_app_id: null,
      client_id: registered.clientId,
      client_secret_enc: await deps.vault.seal(mcpClientSecretContext(common), registered.clientSecret),
      token_auth_method: registered.tokenAuthMethod,
    });
  }
  // Lost the race to a sibling flow: its client is the one every flow uses from now on.
  return inserted ?? (await findMcpClientByKey(deps.db, key)) ?? failRegistration('the client row vanished');
}

async function register(deps: McpDeps, metadata: McpServerMetadata) {
  try {
    return await registerClient(deps.egress, {
      server: metadata.authorizationServer,
      redirectUri: oauthCallbackUrl(deps.publicUrl),
      clientName: MCP_CLIENT_NAME,
    });
  } catch (err) {
    if (err instanceof McpRegistrationError) throw flowError('mcp_registration_failed', err);
    throw err;
  }
}

/** The authorization server's endpoints as mcp_clients keeps them. */
function endpointsOf(metadata: McpServerMetadata): Pick<McpClientRow, 'authorization_endpoint' | 'token_endpoint' | 'revocation_endpoint'> {
  const as = metadata.authorizationServer;
  return { authorization_endpoint: as.authorizationEndpoint, token_endpoint: as.tokenEndpoint, revocation_endpoint: as.revocationEndpoint };
}

async function withCurrentEndpoints(deps: McpDeps, row: McpClientRow, metadata: McpServerMetadata): Promise<McpClientRow> {
  const endpoints = endpointsOf(metadata);
  const unchanged =
    row.authorization_endpoint === endpoints.authorization_endpoint &&
    row.token_endpoint === endpoints.token_endpoint &&
    row.revocation_endpoint === endpoints.revocation_endpoint;
  if (unchanged) return row;
  return (await updateMcpClientEndpoints(deps.db, row.id, endpoints)) ?? row;
}

async function requireOAuthApp(deps: McpDeps, scope: McpScope, app: RegistryMcpApp, oauthAppId: string | null): Promise<ResolvedOAuthClient> {
  const client = await resolveOAuthClient(deps.db, deps.vault, scope.projectId, app.slug, oauthAppId);
  if (client === undefined) throw flowError('app_not_configured');
  return client;
}

function failRegistration(reason: string): never {
  throw flowError('mcp_registration_failed', new McpRegistrationError(reason));
}

// ─── callback and refresh: the stored client ────────────────────────────────────────────────

/** The callback's target: the client the flow started with (the state names it), its stored endpoints. */
export async function resumeMcpAuthorization(deps: McpDeps, scope: McpScope, app: RegistryMcpApp, mcpClientId: string): Promise<McpAuthorizationTarget> {
  const target = await storedTarget(deps, scope, app, mcpClientId);
  if (target === undefined) throw flowError('app_not_configured');
  return target;
}

/** For the refresher: undefined when the client (or a preregistered client's OAuth app) is gone. */
export async function storedTarget(
  deps: Pick<McpDeps, 'db' | 'vault'>,
  scope: McpScope,
  app: RegistryMcpApp,
  mcpClientId: string | null,
): Promise<McpAuthorizationTarget | undefined> {
  if (mcpClientId === null) return undefined;
  const row = await findMcpClient(deps.db, scope.projectId, scope.environment, mcpClientId);
  if (row === undefined) return undefined;
  try {
    return { app: viewOf(app, row, app.mcp.scopes), client: await openClient(deps, scope, app, row) };
  } catch (err) {
    if (err instanceof ConnectFlowError && err.kind === 'app_not_configured') return undefined;
    throw err;
  }
}

function viewOf(app: RegistryMcpApp, row: McpClientRow, scopes: readonly string[]): RegistryOAuthApp {
  return mcpOAuthView(
    app,
    {
      issuer: row.issuer,
      authorizationEndpoint: row.authorization_endpoint,
      tokenEndpoint: row.token_endpoint,
      revocationEndpoint: row.revocation_endpoint,
      tokenAuthMethod: row.token_auth_method === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic',
    },
    scopes,
  );
}

async function openClient(deps: Pick<McpDeps, 'db' | 'vault'>, scope: McpScope, app: RegistryMcpApp, row: McpClientRow): Promise<ResolvedOAuthClient> {
  if (row.registration === 'preregistered') {
    const own = await resolveOAuthClient(deps.db, deps.vault, scope.projectId, app.slug, row.oauth_app_id);
    if (own === undefined) throw flowError('app_not_configured');
    return Object.freeze({ ...own, id: row.id });
  }
  if (row.client_id === null || row.client_secret_enc === null) throw flowError('app_not_configured');
  return Object.freeze({
    id: row.id,
    clientId: row.client_id,
    clientSecret: await deps.vault.openString(mcpClientSecretContext(row), row.client_secret_enc),
    scopes: null,
    additionalScopes: null,
  });
}
