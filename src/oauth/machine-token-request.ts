// The token request both machine grants send (RFC 6749 §4.4.2 client credentials, RFC 7523
// §2.1 JWT bearer): a form POST to the token endpoint on the egress guard (https only, public
// addresses only, connected to the address that was checked: the URL may hold a host the user
// typed), with a deadline per phase and in total, a response-size cap, and no redirects (a 30x
// must not carry a client secret or an assertion elsewhere). Nothing here throws for the
// provider's answer: every outcome is classified, because the class decides what happens to the
// account — a mint that is refused means the user's client or key is no good (the form's error,
// or a dead account on re-mint); no usable answer means try again later.
import { readCappedBody } from '../egress/body-limit.ts';
import { findEgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { EgressResponse } from '../egress/egress-request.ts';
import type { RegistryOAuth } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';

export const MINT_TIMEOUT_MS = 10_000;
export const MINT_RESPONSE_MAX_BYTES = 256 * 1024;

/** The only way out. */
export type MintEgress = Pick<EgressGuard, 'request'>;

/** How the client authenticates at the token endpoint; none for a JWT bearer grant whose assertion is the authentication (Google). */
export type ClientAuthentication =
  { readonly method: 'client_secret_basic' | 'client_secret_post'; readonly clientId: string; readonly clientSecret: string } | { readonly method: 'none' };

/** RFC 6749 §5.2 codes (and provider spellings of them) that say: these credentials or this key are not accepted. */
const CREDENTIALS_REFUSED = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_grant',
  'access_denied',
  'invalid_client_id',
  'bad_client_secret',
  'invalid_scope',
  'unsupported_grant_type',
]);

export type MintOutcome =
  /** The provider issued a token: the parsed body, for token_response normalisation. */
  | { readonly kind: 'issued'; readonly body: Record<string, unknown> }
  /** The provider refused the client, the key or the grant (invalid_client, invalid_grant, …): `code` is the OAuth error. */
  | { readonly kind: 'refused'; readonly status: number; readonly code: string }
  /** No usable answer: 5xx, 429, timeout, network error, HTML, oversized, refused destination. */
  | { readonly kind: 'unavailable'; readonly reason: string; readonly status: number | null; readonly retryAfterSeconds: number | undefined };

export interface MachineTokenRequest {
  readonly oauth: RegistryOAuth;
  readonly url: URL;
  /** grant_type, assertion, scope: the grant's own parameters (they win over token_params). */
  readonly params: Readonly<Record<string, string>>;
  /** Fill the entry's token_params templates (Auth0's audience `https://{domain}/api/v2/`, Box's `{enterprise_id}`). */
  readonly values: Readonly<Record<string, string>>;
  readonly client: ClientAuthentication;
  readonly egress: MintEgress;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

/** Parameters the grant modules set; an entry's token_params never replace them. */
const PROTECTED_PARAMS = new Set(['grant_type', 'assertion', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type']);

export async function requestMachineToken(request: MachineTokenRequest): Promise<MintOutcome> {
  const timeoutMs = request.timeoutMs ?? MINT_TIMEOUT_MS;
  const maxBytes = request.maxBytes ?? MINT_RESPONSE_MAX_BYTES;
  let encoded: { headers: Record<string, string>; body: string };
  try {
    encoded = encodeRequest(request);
  } catch {
    // A token_params value the user's fields cannot fill: nothing was sent.
    return { kind: 'refused', status: 0, code: 'token_params_unfillable' };
  }
  const { headers, body } = encoded;
  let response: EgressResponse;
  try {
    response = await request.egress.request(request.url, {
      method: 'POST',
      headers,
      body,
      timeouts: { firstByteMs: timeoutMs, totalMs: 2 * timeoutMs },
      maxResponseBytes: maxBytes,
    });
  } catch (err) {
    return { kind: 'unavailable', reason: failureReason(err), status: null, retryAfterSeconds: undefined };
  }
  let text: string;
  try {
    text = (await readCappedBody(response.body, maxBytes, response.deadline)).toString('utf8');
  } catch (err) {
    return { kind: 'unavailable', reason: failureReason(err), status: response.statusCode, retryAfterSeconds: undefined };
  }
  return classifyAnswer(response, text);
}

/** The body and the headers: the grant's parameters, then the client's authentication (RFC 6749 §2.3.1). */
function encodeRequest(request: MachineTokenRequest): { headers: Record<string, string>; body: string } {
  const form = new URLSearchParams();
  for (const [name, template] of Object.entries(request.oauth.token_params)) {
    // Header rules (no control character); URLSearchParams does the form encoding.
    if (!PROTECTED_PARAMS.has(name) && !(name in request.params)) form.set(name, fillTemplate(template, request.values, 'header'));
  }
  for (const [name, value] of Object.entries(request.params)) form.set(name, value);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'latchkey' };
  const client = request.client;
  if (client.method === 'client_secret_basic') {
    // §2.3.1: each part form-encoded before Base64, so a colon in the id cannot split it.
    const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
    headers['authorization'] = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
  } else if (client.method === 'client_secret_post') {
    // Under the provider's names where it renames them (token_param_names; TikTok's client_key).
    form.set(request.oauth.token_param_names.client_id, client.clientId);
    form.set(request.oauth.token_param_names.client_secret, client.clientSecret);
  }
  // token_request_format: json, for token endpoints that take only a JSON body (the same parameters).
  if (request.oauth.token_request_format === 'json')
    return { headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(Object.fromEntries(form)) };
  return { headers, body: form.toString() };
}

function classifyAnswer(response: EgressResponse, text: string): MintOutcome {
  const status = response.statusCode;
  // An HTML page (a proxy's error, a login page) or an unreadable body holds no token.
  const body = /^\s*</.test(text) ? {} : parseBody(text);
  const error = typeof body['error'] === 'string' && /^[\w.-]{1,64}$/.test(body['error']) ? body['error'] : undefined;
  if (status >= 200 && status < 300 && error === undefined) return { kind: 'issued', body };
  if (error !== undefined && CREDENTIALS_REFUSED.has(error) && status !== 429 && status < 500) return { kind: 'refused', status, code: error };
  // 401 without an OAuth error (Basic challenge only): the client was not accepted either.
  if (status === 401) return { kind: 'refused', status, code: error ?? 'invalid_client' };
  const retryAfter = Number(singleValue(response.headers['retry-after']));
  return {
    kind: 'unavailable',
    reason: error === undefined ? `answered with status ${status}` : `answered with status ${status} (${error})`,
    status,
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 3600) : undefined,
  };
}

function parseBody(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    return {};
  } catch {
    // A few token endpoints answer form-encoded (RFC 6749 says JSON; GitHub-style servers differ).
    return text.includes('=') ? Object.fromEntries(new URLSearchParams(text)) : {};
  }
}

function singleValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Our own words for a failed exchange (an egress refusal names its reason, never the URL). */
function failureReason(err: unknown): string {
  const egressError = findEgressError(err);
  if (egressError?.code === 'host_not_allowed') return `destination refused (${egressError.reason})`;
  if (egressError?.code === 'upstream_timeout') return 'timed out';
  if (egressError?.code === 'upstream_response_too_large') return 'response too large';
  return 'no answer';
}
