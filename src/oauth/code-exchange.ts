// The token request (RFC 6749 §4.1.3) through simple-oauth2. It is made once per state: the
// caller consumed the state first, so a replayed callback never reaches here. The HTTP client
// goes out through the egress guard's agents (https only, public addresses only, connected to
// the address that was checked: the token URL may hold a host the end user typed) and gets a
// deadline, a response-size cap and no redirects (a 30x must not carry our client secret
// elsewhere).
import { AuthorizationCode, type AuthorizationTokenConfig } from 'simple-oauth2';
import { findEgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { RegistryOAuth } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import { ConnectFlowError } from '../errors.ts';
import { decodeTokenBody } from './token-body.ts';
import { tokenRequestClient, tokenRequestOptions } from './token-request-options.ts';
import { normaliseTokenResponse, type NormalisedTokens } from './token-response.ts';

export const TOKEN_REQUEST_TIMEOUT_MS = 10_000;
export const TOKEN_RESPONSE_MAX_BYTES = 256 * 1024;

export interface ProviderClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface CodeExchange {
  readonly oauth: RegistryOAuth;
  readonly client: ProviderClient;
  readonly fields: Readonly<Record<string, string>>;
  readonly code: string;
  /** Byte-identical to the authorization request's (RFC 6749 §4.1.3). */
  readonly redirectUri: string;
  readonly codeVerifier: string | undefined;
  /** The only way out: its agents replace wreck's own. */
  readonly egress: Pick<EgressGuard, 'wreck'>;
  /** Overrides TOKEN_REQUEST_TIMEOUT_MS (tests of a hanging provider). */
  readonly timeoutMs?: number;
}

const PROTECTED_PARAMS = new Set(['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret']);

/** The provider's token response as a plain object (JSON or, GitHub-style, form-encoded). */
export async function exchangeCode(exchange: CodeExchange): Promise<Record<string, unknown>> {
  let client: AuthorizationCode;
  try {
    const tokenUrl = new URL(fillTemplate(exchange.oauth.token_url, exchange.fields, 'url'));
    client = new AuthorizationCode({
      client: tokenRequestClient(exchange.oauth, exchange.client),
      auth: { tokenHost: tokenUrl.origin, tokenPath: `${tokenUrl.pathname}${tokenUrl.search}` },
      options: tokenRequestOptions(exchange.oauth),
      // json: true (neither 'strict' nor 'force'): a form-encoded body (GitHub) reaches us as bytes
      // for decodeTokenBody, instead of a 406 ('strict') or a JSON parse error ('force').
      http: { ...exchange.egress.wreck, timeout: exchange.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS, maxBytes: TOKEN_RESPONSE_MAX_BYTES, redirects: 0, json: true },
    });
  } catch {
    // Not the original error: Joi quotes the offending value, which may be the client secret.
    throw new ConnectFlowError('provider_error', { cause: new Error('the token endpoint or OAuth client configuration was rejected') });
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(exchange.oauth.token_params)) {
    if (!PROTECTED_PARAMS.has(name)) params[name] = value;
  }
  params['code'] = exchange.code;
  params['redirect_uri'] = exchange.redirectUri;
  if (exchange.codeVerifier !== undefined) params['code_verifier'] = exchange.codeVerifier;
  try {
    const token = await client.getToken(params as unknown as AuthorizationTokenConfig);
    return decodeTokenBody(token.token);
  } catch (err) {
    throw new ConnectFlowError('provider_error', { cause: describeTokenError(err) });
  }
}

/** Evidence for the log only: the status and the OAuth error code, never the body (it may hold tokens). */
function describeTokenError(err: unknown): Error {
  // The guard refused the destination before a byte was sent: its reason, never the URL.
  const refused = findEgressError(err);
  if (refused !== undefined) return refused;
  const boom = err as { isBoom?: boolean; output?: { statusCode?: number }; data?: { payload?: unknown } };
  if (boom.isBoom === true) {
    const payload = boom.data?.payload;
    let code: unknown;
    if (payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload)) code = (payload as { error?: unknown }).error;
    const oauthError = typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? ` (${code})` : '';
    // Not boom.message: a JSON parse error quotes the start of the body, which may be a token.
    return new Error(`token request failed with status ${boom.output?.statusCode ?? 'none'}${oauthError}`);
  }
  return new Error(`token request failed: ${err instanceof Error ? err.name : typeof err}`);
}

/** The exchange's answer as tokens to store; one the registry's paths cannot read is the provider's error. */
export function readTokenResponse(oauth: RegistryOAuth, response: Record<string, unknown>, requestedScopes: readonly string[], now: Date): NormalisedTokens {
  const parsed = normaliseTokenResponse(oauth, response, requestedScopes, now);
  if (!parsed.ok) throw new ConnectFlowError('provider_error', { cause: new Error(parsed.problem) });
  return parsed.tokens;
}
