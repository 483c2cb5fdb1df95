// OAuth 2.0 Dynamic Client Registration (RFC 7591 §3) at an MCP server's authorization server:
// latchkey registers itself once per authorization server and project environment as a
// confidential web client with the one redirect URI every flow uses. Named steps:
//   chooseAuthMethod     client_secret_basic unless the server only takes client_secret_post
//   sendRegistration     one POST through the egress guard (deadlines, size cap, no redirects)
//   checkRegistration    a 201 (or 200) with a client_id and, for a confidential client, a secret
// The answer's client_secret is handed to the caller to seal; it is never logged or thrown.
import type { EgressGuard } from '../egress/egress-guard.ts';
import { readCappedBody } from '../egress/body-limit.ts';
import { findEgressError } from '../egress/egress-error.ts';
import type { AuthorizationServer } from './discovery.ts';

export const REGISTRATION_MAX_BYTES = 64 * 1024;
const REGISTRATION_TIMEOUTS = { firstByteMs: 10_000, totalMs: 15_000 } as const;

export interface RegistrationRequest {
  readonly server: AuthorizationServer;
  readonly redirectUri: string;
  readonly clientName: string;
}

export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokenAuthMethod: 'client_secret_basic' | 'client_secret_post';
}

/** Why registration failed: a stable reason (never the body: it may hold a secret). */
export class McpRegistrationError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`mcp client registration failed: ${reason}`, options);
    this.name = 'McpRegistrationError';
  }
}

export async function registerClient(egress: Pick<EgressGuard, 'request'>, request: RegistrationRequest): Promise<RegisteredClient> {
  const endpoint = request.server.registrationEndpoint;
  if (endpoint === null) throw new McpRegistrationError('the authorization server offers no registration endpoint');
  const method = chooseAuthMethod(request.server.tokenEndpointAuthMethods);
  const answer = await sendRegistration(egress, endpoint, {
    client_name: request.clientName,
    redirect_uris: [request.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
    // No `scope` (RFC 7591 §2: optional): an authorization server may refuse scopes a client
    // registers (oidc-provider does for a resource server's scopes), and it limits nothing we need.
  });
  return checkRegistration(answer, method);
}

export function chooseAuthMethod(supported: readonly string[]): 'client_secret_basic' | 'client_secret_post' {
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  throw new McpRegistrationError('the authorization server takes neither client_secret_basic nor client_secret_post');
}

async function sendRegistration(egress: Pick<EgressGuard, 'request'>, endpoint: string, metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
  let response;
  try {
    response = await egress.request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(metadata),
      timeouts: REGISTRATION_TIMEOUTS,
      maxResponseBytes: REGISTRATION_MAX_BYTES,
    });
  } catch (err) {
    const egressError = findEgressError(err);
    throw new McpRegistrationError(egressError === undefined ? 'request failed' : `request refused or failed (${egressError.code})`, { cause: egressError });
  }
  if (response.statusCode !== 201 && response.statusCode !== 200) {
    const body = await readCappedBody(response.body, REGISTRATION_MAX_BYTES, response.deadline).catch(() => Buffer.alloc(0));
    // RFC 7591 §3.2.2: `error` is a code such as invalid_client_metadata; only a code-shaped one is kept.
    const code = errorCode(body);
    throw new McpRegistrationError(`answered with status ${response.statusCode}${code === undefined ? '' : ` (${code})`}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readCappedBody(response.body, REGISTRATION_MAX_BYTES, response.deadline)).toString('utf8'));
  } catch {
    throw new McpRegistrationError('the answer is not JSON or could not be read');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new McpRegistrationError('the answer is not a JSON object');
  return parsed as Record<string, unknown>;
}

/** RFC 7591 §3.2.1: the server may change what we asked for; a confidential client needs its secret. */
function checkRegistration(answer: Record<string, unknown>, requested: RegisteredClient['tokenAuthMethod']): RegisteredClient {
  const clientId = answer['client_id'];
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > 512) throw new McpRegistrationError('the answer has no client_id');
  const method = answer['token_endpoint_auth_method'] ?? requested;
  if (method !== 'client_secret_basic' && method !== 'client_secret_post')
    throw new McpRegistrationError('the server registered another client authentication');
  const clientSecret = answer['client_secret'];
  if (typeof clientSecret !== 'string' || clientSecret === '' || clientSecret.length > 4096) throw new McpRegistrationError('the answer has no client_secret');
  return { clientId, clientSecret, tokenAuthMethod: method };
}

function errorCode(body: Buffer): string | undefined {
  try {
    const code = (JSON.parse(body.toString('utf8')) as { error?: unknown }).error;
    return typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
