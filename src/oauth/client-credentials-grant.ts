// OAuth 2.0 client credentials (RFC 6749 §4.4) as named steps: the client the token is minted
// for (the user's entered client_id/client_secret, or the project's OAuth app), the token URL
// filled from the user's fields (a tenant, a My Domain, a region), the scope, then the one
// request (machine-token-request.ts). Used to mint the first token on the hosted form and to
// re-mint it whenever it goes stale: there is no refresh token in this grant (§4.4.3).
import type { RegistryOAuthApp } from '../registry/registry.ts';
import { CLIENT_ID_FIELD, CLIENT_SECRET_FIELD } from '../registry/machine-grant-checks.ts';
import { fillTemplate } from '../registry/templates.ts';
import { requestMachineToken, type ClientAuthentication, type MintEgress, type MintOutcome } from './machine-token-request.ts';

export interface OperatorClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface MintRequest {
  readonly app: RegistryOAuthApp;
  /** The account's field values (current names). */
  readonly values: Readonly<Record<string, string>>;
  /** The project's OAuth app, for entries with `client: oauth_app`. */
  readonly operatorClient: OperatorClient | undefined;
  readonly scopes: readonly string[];
  readonly egress: MintEgress;
  readonly now: Date;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export async function mintClientCredentialsToken(request: MintRequest): Promise<MintOutcome> {
  const client = clientOf(request);
  if (client === undefined) return { kind: 'refused', status: 0, code: 'client_missing' };
  const url = tokenUrlOf(request);
  if (url === undefined) return { kind: 'refused', status: 0, code: 'token_url_unfillable' };
  return requestMachineToken({
    oauth: request.app.oauth,
    url,
    params: { grant_type: 'client_credentials', ...scopeParam(request) },
    values: request.values,
    client,
    egress: request.egress,
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }),
  });
}

/** Step: who authenticates. An entered client uses the entry's token_auth_method, like an OAuth app. */
export function clientOf(request: Pick<MintRequest, 'app' | 'values' | 'operatorClient'>): Extract<ClientAuthentication, { clientId: string }> | undefined {
  const method = request.app.oauth.token_auth_method;
  if (request.app.oauth.client === 'oauth_app') {
    const operator = request.operatorClient;
    return operator === undefined ? undefined : { method, clientId: operator.clientId, clientSecret: operator.clientSecret };
  }
  const clientId = request.values[CLIENT_ID_FIELD];
  const clientSecret = request.values[CLIENT_SECRET_FIELD];
  if (clientId === undefined || clientId === '' || clientSecret === undefined || clientSecret === '') return undefined;
  return { method, clientId, clientSecret };
}

/** Step: the token endpoint, its placeholders filled from the user's fields (undefined: a value does not fit the URL). */
export function tokenUrlOf(request: Pick<MintRequest, 'app' | 'values'>): URL | undefined {
  try {
    return new URL(fillTemplate(request.app.oauth.token_url, request.values, 'url'));
  } catch {
    return undefined;
  }
}

/** Step: RFC 6749 §3.3 scope, joined with the entry's separator; none when the entry asks for none. */
export function scopeParam(request: Pick<MintRequest, 'app' | 'scopes'>): Record<string, string> {
  return request.scopes.length === 0 ? {} : { scope: request.scopes.join(request.app.oauth.scope_separator) };
}
