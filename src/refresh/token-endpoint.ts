// The refresh request (RFC 6749 §6) and the revocation request (RFC 7009 §2.1), through
// simple-oauth2 (wreck underneath, on the egress guard's agents: https only, public addresses
// only) with a per-phase deadline, a response-size cap and no redirects (a 307 must not carry
// the client secret or a refresh token elsewhere). Nothing here
// throws for a provider's answer: every outcome is classified, because the class decides what
// happens to the account (dead, unhealthy with backoff, or an operator alarm).
import { AuthorizationCode } from 'simple-oauth2';
import { findEgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { RegistryOAuth } from '../registry/registry.ts';
import { decodeTokenBody } from '../oauth/token-body.ts';
import { tokenRequestClient, tokenRequestOptions } from '../oauth/token-request-options.ts';

export const PROVIDER_TIMEOUT_MS = 10_000;
export const TOKEN_RESPONSE_MAX_BYTES = 256 * 1024;

export interface ProviderClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** The only way out: its agents replace wreck's own. */
export type TokenEgress = Pick<EgressGuard, 'wreck'>;

/** RFC 6749 §5.2 codes (and provider spellings of them) that mean: this grant is gone. */
const GRANT_GONE = new Set(['invalid_grant', 'invalid_refresh_token', 'token_revoked', 'token_expired', 'refresh_token_expired']);

export type TokenEndpointOutcome =
  /** The provider issued tokens: the parsed body, for token_response normalisation. */
  | { kind: 'issued'; body: Record<string, unknown> }
  /** The refresh token is no longer valid (invalid_grant). */
  | { kind: 'grant_invalid'; status: number }
  /** The provider refused our client or request (invalid_client, unauthorized_client, …): configuration. */
  | { kind: 'client_rejected'; status: number; code: string }
  /**
   * No usable answer: 5xx, 429, timeout, network error, HTML, oversized. `uncertain` when the
   * request may have reached the provider without us seeing its answer (it may have rotated).
   */
  | { kind: 'unavailable'; reason: string; status: number | null; uncertain: boolean; retryAfterSeconds: number | undefined };

export interface RefreshRequest {
  readonly oauth: RegistryOAuth;
  readonly url: URL;
  readonly client: ProviderClient;
  readonly refreshToken: string;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly egress: TokenEgress;
}

const PROTECTED_PARAMS = new Set(['grant_type', 'refresh_token', 'client_id', 'client_secret']);

function oauthClient(oauth: RegistryOAuth, url: URL, client: ProviderClient, egress: TokenEgress, timeoutMs: number, maxBytes: number): AuthorizationCode {
  return new AuthorizationCode({
    client: tokenRequestClient(oauth, client),
    // Absolute paths: wreck resolves them against tokenHost, so revoke may live on another host.
    auth: { tokenHost: url.origin, tokenPath: url.href, refreshPath: url.href, revokePath: url.href },
    options: tokenRequestOptions(oauth),
    // json: true (neither 'strict' nor 'force'): a form-encoded body reaches decodeTokenBody as bytes.
    http: { ...egress.wreck, timeout: timeoutMs, maxBytes, redirects: 0, json: true, headers: { accept: 'application/json' } },
  });
}

const BUILT_CLIENTS_PER_OAUTH_CLIENT = 256;

/**
 * The built simple-oauth2 clients, per resolved OAuth client. Building one validates its whole
 * configuration with Joi, which was a large part of a background refresh's CPU; the background
 * refresher renews the same app's accounts one after another. Keyed by the resolved client
 * object: resolving again after the OAuth app changed (a new secret) yields a new object, so a
 * client built with an old secret is never used again (and is collected with it).
 */
export class OAuthClientCache {
  private readonly built = new WeakMap<ProviderClient, Map<string, AuthorizationCode>>();

  clientFor(oauth: RegistryOAuth, url: URL, client: ProviderClient, egress: TokenEgress, timeoutMs: number, maxBytes: number): AuthorizationCode {
    let byTarget = this.built.get(client);
    if (byTarget === undefined) {
      byTarget = new Map();
      this.built.set(client, byTarget);
    }
    // The registry entry is fixed for the process's life; what varies per account is the URL
    // (a templated subdomain) and the deadlines a caller sets; the egress guard is the app's one.
    const key = `${oauth.token_auth_method} ${oauth.token_request_format} ${oauth.token_param_names.client_id} ${oauth.token_param_names.client_secret} ${timeoutMs} ${maxBytes} ${url.href}`;
    let built = byTarget.get(key);
    if (built === undefined) {
      built = oauthClient(oauth, url, client, egress, timeoutMs, maxBytes);
      if (byTarget.size >= BUILT_CLIENTS_PER_OAUTH_CLIENT) byTarget.clear();
      byTarget.set(key, built);
    }
    return built;
  }
}

export async function requestRefresh(request: RefreshRequest, clients?: OAuthClientCache): Promise<TokenEndpointOutcome> {
  let client: AuthorizationCode;
  try {
    client =
      clients === undefined
        ? oauthClient(request.oauth, request.url, request.client, request.egress, request.timeoutMs, request.maxBytes)
        : clients.clientFor(request.oauth, request.url, request.client, request.egress, request.timeoutMs, request.maxBytes);
  } catch {
    return { kind: 'client_rejected', status: 0, code: 'client_configuration' };
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.oauth.refresh_params)) if (!PROTECTED_PARAMS.has(name)) params[name] = value;
  try {
    const token = await client.createToken({ refresh_token: request.refreshToken }).refresh(params);
    return { kind: 'issued', body: decodeTokenBody(token.token, ['expires_at', 'refresh_token']) };
  } catch (err) {
    return classifyError(err);
  }
}

/** RFC 7009: revokes one token; true when the provider answered 2xx (also for unknown tokens, §2.2). */
export async function requestRevocation(request: {
  oauth: RegistryOAuth;
  url: URL;
  client: ProviderClient;
  token: string;
  tokenTypeHint: 'refresh_token' | 'access_token';
  timeoutMs: number;
  egress: TokenEgress;
}): Promise<{ ok: true } | { ok: false; reason: string; retryable: boolean }> {
  let client: AuthorizationCode;
  try {
    client = oauthClient(request.oauth, request.url, request.client, request.egress, request.timeoutMs, 64 * 1024);
  } catch {
    return { ok: false, reason: 'client configuration rejected', retryable: false };
  }
  // simple-oauth2 sends token + token_type_hint with the client's authentication.
  const token = client.createToken({ [request.tokenTypeHint]: request.token });
  try {
    await token.revoke(request.tokenTypeHint);
    return { ok: true };
  } catch (err) {
    const refused = findEgressError(err);
    if (refused?.code === 'host_not_allowed') return { ok: false, reason: `destination refused (${refused.reason})`, retryable: false };
    const status = statusOf(err);
    // An empty or non-JSON 200 fails wreck's parsing after the provider already said yes.
    if (status !== null && status >= 200 && status < 300) return { ok: true };
    return { ok: false, reason: status === null ? 'no answer' : `status ${status}`, retryable: status === 503 || status === null };
  }
}

interface BoomLike {
  isBoom?: boolean;
  output?: { statusCode?: number };
  data?: { isResponseError?: boolean; payload?: unknown; res?: { statusCode?: number; headers?: Record<string, unknown> } };
  code?: string;
}

function statusOf(err: unknown): number | null {
  const boom = err as BoomLike;
  return boom.data?.res?.statusCode ?? null;
}

function classifyError(err: unknown): TokenEndpointOutcome {
  // Refused by the egress guard before a socket opened: nothing reached the provider.
  const refused = findEgressError(err);
  if (refused?.code === 'host_not_allowed') {
    return { kind: 'unavailable', reason: `destination refused (${refused.reason})`, status: null, uncertain: false, retryAfterSeconds: undefined };
  }
  const boom = err as BoomLike;
  const status = statusOf(err);
  if (status === null) {
    // No HTTP answer. A refused connection or unknown host never reached the provider; a
    // timeout or a reset after sending may have, and the provider may have rotated the token.
    const code = (boom.data as { code?: string } | undefined)?.code ?? boom.code ?? findCode(err);
    const neverSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    const timedOut = boom.output?.statusCode === 504 || boom.output?.statusCode === 408;
    return { kind: 'unavailable', reason: timedOut ? 'timed out' : 'no answer', status: null, uncertain: !neverSent, retryAfterSeconds: undefined };
  }
  const payload = boom.data?.payload;
  const oauthError = payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload) ? (payload as { error?: unknown }).error : undefined;
  const code = typeof oauthError === 'string' && /^[\w.-]{1,64}$/.test(oauthError) ? oauthError : undefined;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429 && code !== undefined) {
    if (GRANT_GONE.has(code)) return { kind: 'grant_invalid', status };
    return { kind: 'client_rejected', status, code };
  }
  const retryAfter = Number(boom.data?.res?.headers?.['retry-after']);
  // A 2xx whose body could not be read (deadline, size cap, broken stream): the provider said
  // yes and may have rotated the refresh token, we just never saw the new one.
  const unreadSuccess = status >= 200 && status < 300 && boom.data?.isResponseError !== true;
  return {
    kind: 'unavailable',
    reason: unreadSuccess ? 'answered with a body that could not be read' : `answered with status ${status}`,
    status,
    uncertain: unreadSuccess,
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 3600) : undefined,
  };
}

function findCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause ?? (current as { data?: unknown }).data;
  }
  return undefined;
}
