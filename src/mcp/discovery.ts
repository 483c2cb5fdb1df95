// Finding a remote MCP server's authorization server (MCP authorization 2025-11-25 §"Authorization
// Server Discovery"), as named steps, every request through the egress guard (https, public
// addresses, deadlines, a size cap, no redirects):
//   probeServer                  an unauthenticated request; a 401's WWW-Authenticate may name the
//                                protected resource metadata (RFC 9728 §5.1 resource_metadata)
//   resourceMetadataUrls         else the well-known URIs: path-inserted, then the root (RFC 9728 §3.1)
//   checkProtectedResource       `resource` is exactly the server URL (RFC 9728 §3.3: a mismatch
//                                means the document speaks for another resource), and names an AS
//   authorizationServerUrls      RFC 8414 §3.1 path-inserted, then OpenID Connect Discovery (both forms)
//   checkAuthorizationServer     `issuer` is the one the resource named (RFC 8414 §3.3, mix-up),
//                                S256 is supported (the MCP spec: refuse otherwise), endpoints usable
import type { EgressGuard } from '../egress/egress-guard.ts';
import { readCappedBody } from '../egress/body-limit.ts';
import { findEgressError } from '../egress/egress-error.ts';

export const DISCOVERY_MAX_BYTES = 64 * 1024;
export const DISCOVERY_TIMEOUTS = { firstByteMs: 5_000, totalMs: 10_000 } as const;

export interface ProtectedResource {
  /** = the server URL (checked). */
  readonly resource: string;
  readonly authorizationServer: string;
  readonly scopesSupported: readonly string[];
}

export interface AuthorizationServer {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly registrationEndpoint: string | null;
  readonly revocationEndpoint: string | null;
  readonly clientIdMetadataDocumentSupported: boolean;
  readonly tokenEndpointAuthMethods: readonly string[];
}

export interface McpServerMetadata {
  readonly resource: ProtectedResource;
  readonly authorizationServer: AuthorizationServer;
}

/** Why discovery stopped: a stable reason for the log (never a URL or a body). */
export class McpDiscoveryError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`mcp discovery failed: ${reason}`, options);
    this.name = 'McpDiscoveryError';
  }
}

type Egress = Pick<EgressGuard, 'request' | 'checkUrl'>;

export async function discoverMcpServer(egress: Egress, serverUrl: string): Promise<McpServerMetadata> {
  const resource = await findProtectedResource(egress, serverUrl);
  const authorizationServer = await findAuthorizationServer(egress, resource.authorizationServer);
  return { resource, authorizationServer };
}

// ─── the protected resource ──────────────────────────────────────────────────────────────────

async function findProtectedResource(egress: Egress, serverUrl: string): Promise<ProtectedResource> {
  const named = await probeServer(egress, serverUrl);
  const candidates = named === undefined ? resourceMetadataUrls(serverUrl) : [named];
  for (const url of candidates) {
    const document = await fetchMetadata(egress, url);
    if (document === undefined) continue;
    return checkProtectedResource(egress, document, serverUrl);
  }
  throw new McpDiscoveryError('no protected resource metadata');
}

/**
 * An MCP request without a token. A server that needs one answers 401 and may say where its
 * metadata is; any other answer says nothing, and the well-known URIs are tried.
 */
export async function probeServer(egress: Egress, serverUrl: string): Promise<string | undefined> {
  let response;
  try {
    response = await egress.request(serverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
      timeouts: DISCOVERY_TIMEOUTS,
      maxResponseBytes: DISCOVERY_MAX_BYTES,
    });
  } catch (err) {
    throw unreachable(err);
  }
  // Never read: an unauthenticated answer is not ours to keep, and an event stream may not end.
  response.body.on('error', () => {}).destroy();
  if (response.statusCode !== 401) return undefined;
  const header = response.headers['www-authenticate'];
  const named = resourceMetadataParameter(Array.isArray(header) ? header.join(', ') : header);
  if (named === undefined) return undefined;
  // RFC 9728 §5.1: an absolute URL; the guard checks it like any destination when it is fetched.
  try {
    return new URL(named).toString();
  } catch {
    throw new McpDiscoveryError('resource_metadata is not an absolute URL');
  }
}

/** The `resource_metadata` auth-param of a Bearer challenge (RFC 9728 §5.1), quoted or a token. */
export function resourceMetadataParameter(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /(?:^|[\s,])resource_metadata\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/i.exec(header);
  if (match === null) return undefined;
  return match[1] === undefined ? match[2] : match[1].replace(/\\(.)/g, '$1');
}

/** RFC 9728 §3.1: the well-known suffix goes between the host and the path; then the root. */
export function resourceMetadataUrls(serverUrl: string): string[] {
  const url = new URL(serverUrl);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const root = `${url.origin}/.well-known/oauth-protected-resource`;
  return path === '' ? [root] : [`${root}${path}`, root];
}

function checkProtectedResource(egress: Egress, document: Record<string, unknown>, serverUrl: string): ProtectedResource {
  if (document['resource'] !== serverUrl) throw new McpDiscoveryError('protected resource metadata is for another resource');
  const servers = document['authorization_servers'];
  if (!Array.isArray(servers) || servers.length === 0 || typeof servers[0] !== 'string') {
    throw new McpDiscoveryError('protected resource metadata names no authorization server');
  }
  const authorizationServer = servers[0];
  checkEndpoint(egress, authorizationServer, 'authorization server');
  const scopes = document['scopes_supported'];
  const scopesSupported = Array.isArray(scopes) ? scopes.filter((scope): scope is string => typeof scope === 'string' && scope.length <= 512) : [];
  return { resource: serverUrl, authorizationServer, scopesSupported };
}

// ─── the authorization server ────────────────────────────────────────────────────────────────

async function findAuthorizationServer(egress: Egress, issuer: string): Promise<AuthorizationServer> {
  for (const url of authorizationServerUrls(issuer)) {
    const document = await fetchMetadata(egress, url);
    if (document === undefined) continue;
    return checkAuthorizationServer(egress, document, issuer);
  }
  throw new McpDiscoveryError('no authorization server metadata');
}

/** RFC 8414 §3.1, then OpenID Connect Discovery path-inserted and appended (the MCP spec's order). */
export function authorizationServerUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  if (path === '') return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`];
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

function checkAuthorizationServer(egress: Egress, document: Record<string, unknown>, issuer: string): AuthorizationServer {
  if (document['issuer'] !== issuer) throw new McpDiscoveryError('authorization server metadata is for another issuer');
  const methods = document['code_challenge_methods_supported'];
  if (!Array.isArray(methods) || !methods.includes('S256')) throw new McpDiscoveryError('authorization server does not support PKCE S256');
  const authorizationEndpoint = requiredEndpoint(egress, document, 'authorization_endpoint');
  const tokenEndpoint = requiredEndpoint(egress, document, 'token_endpoint');
  const authMethods = document['token_endpoint_auth_methods_supported'];
  return {
    issuer,
    authorizationEndpoint,
    tokenEndpoint,
    registrationEndpoint: optionalEndpoint(egress, document, 'registration_endpoint'),
    revocationEndpoint: optionalEndpoint(egress, document, 'revocation_endpoint'),
    clientIdMetadataDocumentSupported: document['client_id_metadata_document_supported'] === true,
    // RFC 8414 §2: absent means client_secret_basic.
    tokenEndpointAuthMethods: Array.isArray(authMethods) ? authMethods.filter((m): m is string => typeof m === 'string') : ['client_secret_basic'],
  };
}

function requiredEndpoint(egress: Egress, document: Record<string, unknown>, name: string): string {
  const value = optionalEndpoint(egress, document, name);
  if (value === null) throw new McpDiscoveryError(`authorization server metadata has no ${name}`);
  return value;
}

function optionalEndpoint(egress: Egress, document: Record<string, unknown>, name: string): string | null {
  const value = document[name];
  if (value === undefined) return null;
  if (typeof value !== 'string') throw new McpDiscoveryError(`${name} is not a string`);
  checkEndpoint(egress, value, name);
  return value;
}

/**
 * An endpoint must be a URL the guard would send to (https, no literal private address), without
 * a fragment, and free of `{`/`}`: the OAuth modules treat endpoint strings as templates.
 */
function checkEndpoint(egress: Egress, value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new McpDiscoveryError(`${name} is not an absolute URL`);
  }
  if (url.hash !== '' || url.username !== '' || url.password !== '' || /[{}]/.test(value)) throw new McpDiscoveryError(`${name} is not a usable URL`);
  try {
    egress.checkUrl(url);
  } catch (err) {
    throw new McpDiscoveryError(`${name} is not an allowed destination`, { cause: err });
  }
}

// ─── fetching a metadata document ────────────────────────────────────────────────────────────

/** A JSON object from a 200, undefined for a 404 (try the next URI); anything else stops discovery. */
async function fetchMetadata(egress: Egress, url: string): Promise<Record<string, unknown> | undefined> {
  let response;
  try {
    response = await egress.request(url, {
      method: 'GET',
      headers: { accept: 'application/json', 'mcp-protocol-version': '2025-11-25' },
      timeouts: DISCOVERY_TIMEOUTS,
      maxResponseBytes: DISCOVERY_MAX_BYTES,
    });
  } catch (err) {
    throw unreachable(err);
  }
  if (response.statusCode !== 200) {
    response.body.on('error', () => {}).destroy();
    if (response.statusCode === 404) return undefined;
    throw new McpDiscoveryError(`metadata answered with status ${response.statusCode}`);
  }
  let body: Buffer;
  try {
    body = await readCappedBody(response.body, DISCOVERY_MAX_BYTES, response.deadline);
  } catch (err) {
    throw unreachable(err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new McpDiscoveryError('metadata is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new McpDiscoveryError('metadata is not a JSON object');
  return parsed as Record<string, unknown>;
}

function unreachable(err: unknown): McpDiscoveryError {
  const egressError = findEgressError(err);
  return new McpDiscoveryError(egressError === undefined ? 'request failed' : `request refused or failed (${egressError.code})`, { cause: egressError ?? err });
}
